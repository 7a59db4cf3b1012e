"""Forged and stale OIDC bearer JWTs are refused by the ADES, the workspace API and the
catalogue's token check: 401 with a JSON body, nothing else.

The issuer is a real OpenID Connect provider on loopback (`tests/oidc_provider.py`: PyPI's
oidc-provider-mock, standing in for Keycloak, a remote third party); the services are the
platform's own apps, in this process. Attacks: another issuer, another audience, a signature by
another key under the issuer's key id, an expired token, `alg: none`, an HMAC "signed" with the
issuer's public key (algorithm confusion), an unknown key id, garbage.
"""

from __future__ import annotations

import base64
import hmac
import json
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oidc_provider import running_provider  # noqa: E402

CLIENT = "eopde-hub"


@pytest.fixture(scope="module")
def provider():
    with running_provider(lifetime=60) as running:
        running.set_user("alice", preferred_username="alice", groups=["eo-dev", "gpu"])
        yield running


@pytest.fixture(scope="module")
def good(provider) -> str:
    return provider.tokens("alice", CLIENT)["access_token"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict]:
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(head))),
            json.loads(base64.urlsafe_b64decode(pad(body))))


def _forged(good: str, provider) -> dict[str, str]:
    """Tokens an attacker can make, each with the real token's claims but one thing wrong."""
    header, claims = _parts(good)
    kid = header["kid"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())

    def signed(key=other, headers=None, **changes) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="RS256",
                          headers=headers or {"kid": kid})

    # The issuer's public key as PEM: what an HS256 "signature" of algorithm confusion uses.
    jwks = provider.jwks()
    public_pem = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = _b64(json.dumps(claims).encode())
    hs_head = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    hs_sig = _b64(hmac.new(public_pem, f"{hs_head}.{body}".encode(), "sha256").digest())
    return {
        "wrong signature": signed(),
        "alg none": f"{_b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{body}.",
        "alg none, no kid": f"{_b64(json.dumps({'alg': 'none'}).encode())}.{body}.",
        "hmac with the public key": f"{hs_head}.{body}.{hs_sig}",
        "unknown key id": signed(headers={"kid": "not-a-key-of-the-issuer"}),
        "garbage": "a.b.c",
        "payload changed": ".".join([good.split(".")[0], _b64(json.dumps(
            {**claims, "preferred_username": "mallory"}).encode()), good.split(".")[2]]),
    }


def test_the_real_token_is_accepted_with_its_groups(provider, good):
    from eopde.services.ades.auth import jwt_verifier

    who = jwt_verifier(provider.url, audience=CLIENT)(good)
    assert who is not None
    assert (who.name, who.identity, who.groups) == (
        "alice", f"oidc:{provider.url}#alice", ("eo-dev", "gpu"))


def test_stale_and_foreign_tokens_are_refused(provider, good):
    from eopde.services.ades.auth import jwt_verifier

    verify = jwt_verifier(provider.url, audience=CLIENT)
    _, claims = _parts(good)
    expired = provider.sign({**claims, "iat": claims["iat"] - 600, "exp": claims["exp"] - 600})
    assert verify(expired) is None
    assert verify(provider.sign({**claims, "iss": "http://127.0.0.1:1"})) is None
    assert verify(provider.sign({**claims, "aud": "another-client"})) is None
    assert verify(provider.sign({k: v for k, v in claims.items() if k != "exp"})) is None
    assert verify(provider.sign({**claims, "preferred_username": ""})) is None
    # Another issuer that also calls itself the right name is not the configured one.
    assert jwt_verifier("http://127.0.0.1:1", audience=CLIENT,
                        jwks_url=f"{provider.url}/jwks")(good) is None
    assert jwt_verifier(provider.url, audience="ades")(good) is None


def test_forged_tokens_are_refused(provider, good):
    from eopde.services.ades.auth import jwt_verifier

    verify = jwt_verifier(provider.url, audience=CLIENT)
    for name, token in _forged(good, provider).items():
        assert verify(token) is None, name


def test_ades_answers_401_json_to_bad_jwts(provider, good, tmp_path):
    from test_ades_api import FakeExecutor

    from eopde.services.ades.app import create_app
    from eopde.services.ades.auth import jwt_verifier
    from eopde.services.ades.store import JobStore

    store = JobStore(f"sqlite:///{tmp_path / 'ades.db'}")
    app = create_app(store=store, executor=FakeExecutor(store, tmp_path),
                     verify_token=jwt_verifier(provider.url, audience=CLIENT))
    _, claims = _parts(good)
    bad = {**_forged(good, provider),
           "expired": provider.sign({**claims, "exp": int(time.time()) - 120}),
           "wrong issuer": provider.sign({**claims, "iss": "https://evil.example.org"}),
           "wrong audience": provider.sign({**claims, "aud": "someone-else"})}
    with TestClient(app) as client:
        ok = client.get("/alice/ogc-api/processes", headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200
        for name, token in bad.items():
            answer = client.get("/alice/ogc-api/processes",
                                headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, name
            assert answer.headers["content-type"].startswith("application/"), name
            assert answer.json()["title"] == "Unauthorized", name


def test_workspace_answers_401_json_to_bad_jwts(provider, good, tmp_path):
    from eopde.services.ades.auth import jwt_verifier
    from eopde.services.workspace import WorkspaceSettings, create_app

    settings = WorkspaceSettings(home=tmp_path, s3_endpoint="http://127.0.0.1:1",
                                 public_s3_endpoint="http://127.0.0.1:1",
                                 catalogue_url="http://127.0.0.1:1",
                                 hub_api_url="http://127.0.0.1:1/hub/api", service_token="x")
    app = create_app(settings, verify=jwt_verifier(provider.url, audience=CLIENT))
    _, claims = _parts(good)
    with TestClient(app) as client:
        for name, token in {**_forged(good, provider), "expired": provider.sign(
                {**claims, "exp": int(time.time()) - 120})}.items():
            answer = client.get("/workspaces/ws-alice",
                                headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, name
            assert answer.json()["code"] == "Unauthorized", name


def test_keys_rotated_by_the_issuer_are_fetched_again():
    """A token under a key id the verifier has not seen makes it fetch the JWKS again (at
    most once per cooldown, 30 s by default; none here)."""
    from eopde.services.jwt_auth import JWTVerifier, OIDCSettings

    with running_provider() as provider:
        provider.set_user("alice", preferred_username="alice")
        old = provider.tokens("alice", CLIENT)["access_token"]
        verify = JWTVerifier(OIDCSettings(provider.url, CLIENT), refetch_cooldown=0).verify
        assert verify(old) is not None  # the JWKS is now cached
        provider.rotate()
        fresh = provider.tokens("alice", CLIENT)["access_token"]
        assert _parts(fresh)[0]["kid"] != _parts(old)[0]["kid"]
        assert verify(fresh) is not None
        # (A key the issuer dropped stays usable until the cache's lifespan, 300 s, ends:
        # PyJWKClient keeps the keys it looked up; issuers keep old keys a while anyway.)
