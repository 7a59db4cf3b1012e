"""OpenID Connect login for the hub (`EOPDE_AUTH=oidc`): Keycloak or any OIDC provider.

EOEPCA's Application Hub hands the ID token to the user's server once, at spawn, and never
renews it: notebooks and jobs fail minutes later. Here the hub keeps the user's tokens
encrypted in `auth_state` and renews the access token with the refresh token before it expires;
kernels ask the hub for the current one whenever they need it (`eopde.auth`). A refresh token
that expired or was revoked makes `refresh_user` answer False: the next page of the hub the user
opens is the login page, and kernels are told to log in again.

Settings (the environment of `eopde up`, handed to the hub):

- EOPDE_OIDC_ISSUER: the issuer URL (Keycloak: `https://<host>/realms/<realm>`); the endpoints
  come from its discovery document;
- EOPDE_OIDC_CLIENT_ID, EOPDE_OIDC_CLIENT_SECRET (or EOPDE_OIDC_CLIENT_SECRET_FILE): the hub's
  confidential client;
- EOPDE_OIDC_USERNAME_CLAIM (`preferred_username`), EOPDE_OIDC_GROUPS_CLAIM (`groups`, copied
  to hub groups), EOPDE_OIDC_ALLOWED_GROUPS (comma-separated; unset: every user the provider
  authenticates), EOPDE_OIDC_SCOPE (`openid profile email`);
- EOPDE_OIDC_REFRESH_MARGIN (60 s, at most half a token's life): renew when the access token has
  less than this left; EOPDE_OIDC_REFRESH_AGE (10 s): how often the hub checks at most;
- EOPDE_HUB_PUBLIC_URL: the hub's address as browsers see it (for the callback URL).
"""

from __future__ import annotations

import os
import time
from typing import Any, Mapping

from oauthenticator.generic import GenericOAuthenticator
from traitlets import Float

from ..auth import jwt_expiry
from ..services.secrets import read_secret
from ..services.settings import PlatformSettings

#: Scopes of a user's server token: JupyterHub's default `server` role plus reading the user's
#: auth_state, where the current access token is (`GET $JUPYTERHUB_API_URL/user`).
SERVER_SCOPES = ["users:activity!user", "access:servers!server", "admin:auth_state!user"]
#: Scopes of users: JupyterHub's default (`self`) plus their own auth_state.
USER_SCOPES = ["self", "admin:auth_state!user"]


def token_expiry(token_info: Mapping[str, Any], now: float | None = None) -> float | None:
    """When the access token of a token response expires (epoch seconds): its `expires_in`,
    else the `exp` of a JWT access token, else None (unknown)."""
    now = time.time() if now is None else now
    expires_in = token_info.get("expires_in")
    if isinstance(expires_in, (int, float)) and expires_in > 0:
        return now + float(expires_in)
    return jwt_expiry(str(token_info.get("access_token") or ""))


class OIDCAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator whose access tokens are renewed before they expire."""

    refresh_margin = Float(
        60.0,
        help="""Renew the access token when less than this many seconds of it are left (at
        most half its lifetime, so that short-lived tokens are not renewed on every check).""",
    ).tag(config=True)

    def build_auth_state_dict(self, token_info: dict, user_info: dict) -> dict:
        state = super().build_auth_state_dict(token_info, user_info)
        now = time.time()
        state["issued_at"] = now
        state["expires_at"] = token_expiry(token_info, now)
        return state

    def needs_refresh(self, state: Mapping[str, Any], now: float | None = None) -> bool:
        """Whether the access token of `state` should be renewed now."""
        now = time.time() if now is None else now
        expires_at, issued_at = state.get("expires_at"), state.get("issued_at")
        if not expires_at:
            return True  # unknown lifetime: renew whenever the hub checks
        margin = self.refresh_margin
        if issued_at is not None:
            margin = min(margin, (expires_at - issued_at) / 2)
        return now >= expires_at - margin

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """True while the access token is fresh; a renewed auth model when it was renewed;
        False (log in again) when there is nothing to renew it with or the provider refuses."""
        if not self.enable_auth_state:
            return True
        state = await user.get_auth_state()
        if not state:
            return False
        if not self.needs_refresh(state):
            return True
        refresh_token = state.get("refresh_token")
        if not refresh_token:
            self.log.info("no refresh token for %s: login required", user.name)
            return False
        try:
            token_info = await self.get_token_info(
                handler, self.build_refresh_token_request_params(refresh_token))
        except Exception as err:  # expired or revoked: the provider says invalid_grant
            self.log.info("refresh token of %s refused (%s): login required", user.name,
                          type(err).__name__)
            return False
        if not token_info.get("refresh_token"):  # providers may keep the same one
            token_info["refresh_token"] = refresh_token
        try:
            return await self._token_to_auth_model(token_info)
        except Exception as err:
            self.log.error("fresh access token of %s does not work (%s): login required",
                           user.name, err)
            return False


def configure(c: Any, settings: PlatformSettings, secrets: Mapping[str, str],
              env: Mapping[str, str] | None = None) -> None:
    """Configure the hub `c` for OIDC login from `env` (see the module doc)."""
    from ..services.jwt_auth import discover

    env = os.environ if env is None else env
    issuer, client_id = env.get("EOPDE_OIDC_ISSUER"), env.get("EOPDE_OIDC_CLIENT_ID")
    if not (issuer and client_id):
        raise RuntimeError("EOPDE_AUTH=oidc needs EOPDE_OIDC_ISSUER (e.g. "
                           "https://keycloak.example.org/realms/eo) and EOPDE_OIDC_CLIENT_ID")
    document = discover(issuer)  # the hub does not start against an issuer it cannot reach
    public = (env.get("EOPDE_HUB_PUBLIC_URL") or settings.url("hub")).rstrip("/")

    c.JupyterHub.authenticator_class = "eopde.hub.oidc.OIDCAuthenticator"
    a = c.OIDCAuthenticator
    a.authorize_url = document["authorization_endpoint"]
    a.token_url = document["token_endpoint"]
    a.userdata_url = document["userinfo_endpoint"]
    a.client_id = client_id
    a.client_secret = read_secret("EOPDE_OIDC_CLIENT_SECRET", env) or ""
    # HTTP Basic client authentication (`client_secret_basic`), which every provider must accept
    # (RFC 6749 2.3.1; Keycloak's default), for the code and the refresh grants alike.
    a.basic_auth = True
    a.oauth_callback_url = f"{public}/hub/oauth_callback"
    a.scope = (env.get("EOPDE_OIDC_SCOPE") or "openid profile email").split()
    a.username_claim = env.get("EOPDE_OIDC_USERNAME_CLAIM") or "preferred_username"
    a.login_service = env.get("EOPDE_OIDC_NAME") or "the identity service"
    a.manage_groups = True
    a.auth_state_groups_key = f"oauth_user.{env.get('EOPDE_OIDC_GROUPS_CLAIM') or 'groups'}"
    allowed = [g.strip() for g in (env.get("EOPDE_OIDC_ALLOWED_GROUPS") or "").split(",")
               if g.strip()]
    if allowed:
        a.allowed_groups = set(allowed)
        a.allow_all = False  # more specific than the demo's Authenticator.allow_all
    else:
        a.allow_all = True
    a.refresh_margin = float(env.get("EOPDE_OIDC_REFRESH_MARGIN") or 60)

    # The tokens are kept encrypted in the hub's database with the platform's own key.
    a.enable_auth_state = True
    c.CryptKeeper.keys = [bytes.fromhex(secrets["hub_crypt_key"])]
    a.refresh_pre_spawn = True
    a.auth_refresh_age = int(env.get("EOPDE_OIDC_REFRESH_AGE") or 10)
    # A server token holds at most its user's scopes: the user gets their own auth_state too
    # (their own tokens, which they hold anyway).
    roles = c.JupyterHub.load_roles if isinstance(c.JupyterHub.load_roles, list) else []
    c.JupyterHub.load_roles = [*roles,
                               {"name": "user", "scopes": USER_SCOPES},
                               {"name": "server", "scopes": SERVER_SCOPES}]
    # Kernels take the access token from the hub (eopde.auth), not their server's hub token.
    environment = c.Spawner.environment if isinstance(c.Spawner.environment, dict) else {}
    c.Spawner.environment = {**environment, "EOPDE_TOKEN_SOURCE": "auth_state"}
    c.JupyterHub.template_vars = {}  # no demo-password hint on the login page
