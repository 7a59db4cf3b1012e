"""The hub's OIDC login (`eopde.hub.oidc`) against a real OpenID Connect provider on loopback
(`tests/oidc_provider.py`, PyPI's oidc-provider-mock standing in for Keycloak, a remote third
party): configuration from the discovery document, and `refresh_user` renewing the access token
before it expires, keeping it while fresh, and asking for a new login once the refresh token is
revoked. No platform needed: fast."""

from __future__ import annotations

import asyncio
import time

import pytest
from traitlets.config import Config

from oidc_provider import running_provider

from eopde.hub.oidc import OIDCAuthenticator, configure
from eopde.services.settings import PlatformSettings


@pytest.fixture(scope="module")
def provider():
    with running_provider(lifetime=60) as running:
        running.set_user("alice", preferred_username="alice", groups=["eo-dev"])
        yield running


def _env(provider) -> dict[str, str]:
    return {"EOPDE_OIDC_ISSUER": provider.url, "EOPDE_OIDC_CLIENT_ID": "eopde-hub",
            "EOPDE_OIDC_CLIENT_SECRET": "s3cret"}


def _config(provider, tmp_path) -> Config:
    c = Config()
    c.JupyterHub.load_roles = [{"name": "eopde-platform", "scopes": ["tokens"]}]
    c.Spawner.environment = {"EOPDE_ADES_URL": "x"}
    settings = PlatformSettings(home=str(tmp_path), base_port=19520, hub_port=19591)
    configure(c, settings, {"hub_crypt_key": "ab" * 32}, _env(provider))
    return c


def test_configured_from_the_discovery_document(provider, tmp_path):
    c = _config(provider, tmp_path)
    a = c.OIDCAuthenticator
    assert c.JupyterHub.authenticator_class == "eopde.hub.oidc.OIDCAuthenticator"
    assert (a.authorize_url, a.token_url, a.userdata_url) == (
        f"{provider.url}/oauth2/authorize", f"{provider.url}/oauth2/token",
        f"{provider.url}/userinfo")
    assert a.oauth_callback_url == "http://127.0.0.1:19591/hub/oauth_callback"
    assert (a.enable_auth_state, a.refresh_pre_spawn, a.auth_refresh_age) == (True, True, 10)
    assert c.CryptKeeper["keys"] == [bytes.fromhex("ab" * 32)]
    assert c.JupyterHub.load_roles[1:] == [
        {"name": "user", "scopes": ["self", "admin:auth_state!user"]},
        {"name": "server", "scopes": [
            "users:activity!user", "access:servers!server", "admin:auth_state!user"]}]
    assert c.Spawner.environment == {"EOPDE_ADES_URL": "x", "EOPDE_TOKEN_SOURCE": "auth_state"}
    assert a.auth_state_groups_key == "oauth_user.groups" and a.allow_all is True


def test_allowed_groups_close_the_door_to_others(provider, tmp_path):
    c = Config()
    c.Authenticator.allow_all = True  # what the demo's configuration sets
    env = {**_env(provider), "EOPDE_OIDC_ALLOWED_GROUPS": "eo-dev, eo-ops"}
    configure(c, PlatformSettings(home=str(tmp_path)), {"hub_crypt_key": "ab" * 32}, env)
    authenticator = OIDCAuthenticator(config=c)
    assert authenticator.allowed_groups == {"eo-dev", "eo-ops"}
    assert authenticator.allow_all is False


def test_missing_settings_are_explained(tmp_path):
    with pytest.raises(RuntimeError, match="EOPDE_OIDC_ISSUER"):
        configure(Config(), PlatformSettings(home=str(tmp_path)), {}, {})


class _User:
    def __init__(self, state: dict):
        self.name, self.state = "alice", state

    async def get_auth_state(self) -> dict:
        return self.state


def _authenticator(provider, tmp_path) -> OIDCAuthenticator:
    return OIDCAuthenticator(config=_config(provider, tmp_path))


def _state(authenticator: OIDCAuthenticator, tokens: dict, issued: float) -> dict:
    state = authenticator.build_auth_state_dict(tokens, {"preferred_username": "alice"})
    state["issued_at"], state["expires_at"] = issued, issued + tokens["expires_in"]
    return state


def test_refresh_user_renews_before_expiry_and_gives_up_when_revoked(provider, tmp_path):
    authenticator = _authenticator(provider, tmp_path)
    tokens = provider.tokens("alice")
    now = time.time()
    fresh = _User(_state(authenticator, tokens, now))
    assert asyncio.run(authenticator.refresh_user(fresh)) is True  # 60 s left: kept

    # 25 s left of 60: less than half its life, so renewed (before it expires).
    aging = _User(_state(authenticator, tokens, now - 35))
    model = asyncio.run(authenticator.refresh_user(aging))
    assert model["name"] == "alice"
    renewed = model["auth_state"]
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["refresh_token"] == tokens["refresh_token"]  # the provider kept it
    assert renewed["expires_at"] == pytest.approx(time.time() + 60, abs=5)
    assert model["groups"] == ["eo-dev"]

    provider.revoke("alice")
    assert asyncio.run(authenticator.refresh_user(aging)) is False  # log in again
    assert asyncio.run(authenticator.refresh_user(_User({}))) is False


def test_needs_refresh_uses_at_most_half_the_lifetime(provider, tmp_path):
    a = _authenticator(provider, tmp_path)
    hour = {"issued_at": 0.0, "expires_at": 3600.0}
    assert (a.needs_refresh(hour, now=3539), a.needs_refresh(hour, now=3540)) == (False, True)
    minute = {"issued_at": 0.0, "expires_at": 60.0}
    assert (a.needs_refresh(minute, now=29), a.needs_refresh(minute, now=30)) == (False, True)
    assert a.needs_refresh({"access_token": "opaque"}, now=0) is True
