"""A real OpenID Connect provider on loopback for the tests: PyPI's `oidc-provider-mock`.

It stands in for Keycloak (EOEPCA's identity service), a remote third party the tests cannot
run: authorization code flow with a login page (type the subject, press "Authorize"), refresh
tokens, a discovery document, JWKS, `POST /users/<sub>/revoke-tokens` to revoke a user's tokens.

Two things are set here that Keycloak does and the mock does not by default:

- access tokens are RS256 JWTs (issuer, audience = the client id, `exp`, the user's claims),
  signed with the provider's own key and verifiable against its JWKS, as Keycloak's are;
- every token (the first one and each refresh) lives `access_token_max_age`, so a test can
  make them expire after 60 s.
"""

from __future__ import annotations

import os
import secrets
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator
from urllib.parse import quote

import httpx


def _app(lifetime: int, holder: dict):
    import flask
    from authlib.oauth2.rfc6750 import BearerTokenGenerator
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    import oidc_provider_mock

    app = oidc_provider_mock.app(access_token_max_age=timedelta(seconds=lifetime))

    def access_token(client, grant_type, user, scope) -> str:
        private = flask.g.oidc_provider_mock_storage.jwk.as_dict(is_private=True)
        key = RSAKey.import_key(private)
        now = int(time.time())
        claims: dict[str, Any] = {k: v for k, v in user.claims.items()}
        claims.update({
            "iss": flask.request.host_url.rstrip("/"), "sub": user.sub,
            "aud": client.get_client_id(), "azp": client.get_client_id(),
            "iat": now, "exp": now + lifetime, "scope": scope or "",
            "jti": secrets.token_hex(8),
        })
        return jwt.encode({"alg": "RS256", "kid": private["kid"]}, claims, key)

    generator = BearerTokenGenerator(
        access_token_generator=access_token,
        refresh_token_generator=lambda **kwargs: secrets.token_urlsafe(32),
        expires_generator=lambda client, grant_type: lifetime,
    )

    @app.before_request
    def our_tokens() -> None:
        holder["storage"] = flask.g.oidc_provider_mock_storage
        # The mock's own generator makes opaque tokens living 1 h after a refresh; ours is
        # registered for every grant (the authorization server only exists per request).
        flask.g._authlib_authorization_server.register_token_generator("default", generator)

    return app


class Provider:
    """A running provider: `url` is the issuer; `set_user`, `revoke` act on it."""

    def __init__(self, url: str, holder: dict):
        self.url = url
        self._holder = holder

    def jwks(self) -> dict:
        return httpx.get(f"{self.url}/jwks").json()

    def _key(self) -> tuple[Any, str]:
        from joserfc.jwk import RSAKey

        self.jwks()  # a request first: the provider's storage exists per app, made lazily
        private = self._holder["storage"].jwk.as_dict(is_private=True)
        return RSAKey.import_key(private), private["kid"]

    def sign(self, claims: dict) -> str:
        """`claims` signed with the provider's own key (tests make tokens it would not)."""
        from joserfc import jwt

        key, kid = self._key()
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)

    def rotate(self) -> None:
        """Replace the provider's signing key by a new one (its JWKS then has only that)."""
        from authlib.jose import RSAKey

        self.jwks()
        self._holder["storage"].jwk = RSAKey.generate_key(is_private=True)

    def set_user(self, sub: str, **claims: Any) -> None:
        response = httpx.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims)
        assert response.status_code == 204, response.text

    def revoke(self, sub: str) -> None:
        """Revoke every access and refresh token of `sub` (as an admin does in Keycloak)."""
        response = httpx.post(f"{self.url}/users/{quote(sub, safe='')}/revoke-tokens")
        assert response.status_code == 204, response.text

    def tokens(self, sub: str, client_id: str = "eopde-hub") -> dict:
        """Tokens for `sub` through the authorization code flow, without a browser."""
        redirect = "http://127.0.0.1:1/callback"
        answer = httpx.post(f"{self.url}/oauth2/authorize", params={
            "client_id": client_id, "redirect_uri": redirect, "response_type": "code",
            "scope": "openid profile email"}, data={"sub": sub})
        assert answer.status_code == 302, answer.text
        code = httpx.URL(answer.headers["location"]).params["code"]
        token = httpx.post(f"{self.url}/oauth2/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
            auth=(client_id, "secret"))
        assert token.status_code == 200, token.text
        return token.json()


@contextmanager
def running_provider(port: int = 0, lifetime: int = 3600) -> Iterator[Provider]:
    """The provider on 127.0.0.1 (`port` 0: any free one), in a thread of this process."""
    import werkzeug.serving

    # authlib refuses plain HTTP unless told; loopback only, as Keycloak is TLS in production.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    holder: dict = {}
    server = werkzeug.serving.make_server("127.0.0.1", port, _app(lifetime, holder),
                                          threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}", holder)
    finally:
        server.shutdown()
        thread.join(5)
