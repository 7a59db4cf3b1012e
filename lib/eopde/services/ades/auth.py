"""Who is asking: bearer tokens of the local ADES.

A verifier is a callable `token -> username | None` (None: the token is not valid). Two real ones:

- `hub_verifier(api_url, service_token)`: the token is a JupyterHub API token; the hub says whose
  (jupyterhub.services.auth.HubAuth, answers cached for a minute);
- `jwt_verifier(issuer, jwks_url, audience)`: an OIDC bearer JWT, signature checked against the
  issuer's JWKS (PyJWT's PyJWKClient), `exp`, `iss` and `aud` checked; the user name is
  `preferred_username` (else `username`/`user_name`/`sub`).

`verifier_from_env()` picks one from the service's environment. Tests pass their own callable.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

Verifier = Callable[[str], "str | None"]

log = logging.getLogger(__name__)


class VerifierUnavailable(RuntimeError):
    """The token could not be checked (hub or issuer unreachable): not the client's fault."""


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    kind, _, token = header.partition(" ")
    if kind.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    return None


def hub_verifier(api_url: str, service_token: str) -> Verifier:
    from jupyterhub.services.auth import HubAuth

    auth = HubAuth(api_url=api_url, api_token=service_token, cache_max_age=60)

    def verify(token: str) -> str | None:
        try:
            model = auth.user_for_token(token, sync=True)
        except Exception as err:  # hub down
            raise VerifierUnavailable(f"cannot check the token with the hub: {err}") from err
        if not model or model.get("kind", "user") != "user":
            return None
        return model.get("name")

    return verify


def jwt_verifier(issuer: str, jwks_url: str | None = None, audience: str | None = None,
                 *, leeway: int = 30) -> Verifier:
    import jwt

    jwks_url = jwks_url or issuer.rstrip("/") + "/protocol/openid-connect/certs"
    client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)

    def verify(token: str) -> str | None:
        try:
            key = client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as err:
            raise VerifierUnavailable(f"cannot fetch the issuer's keys: {err}") from err
        except jwt.PyJWTError as err:
            log.info("bearer JWT refused: %s", err)
            return None
        options = {"require": ["exp", "iss"], "verify_aud": bool(audience)}
        try:
            claims = jwt.decode(token, key.key, algorithms=["RS256", "RS384", "RS512", "ES256",
                                                            "ES384", "PS256"],
                                issuer=issuer, audience=audience, options=options,
                                leeway=leeway)
        except jwt.PyJWTError as err:
            log.info("bearer JWT refused: %s", err)
            return None
        for claim in ("preferred_username", "username", "user_name", "sub"):
            if isinstance(claims.get(claim), str) and claims[claim]:
                return claims[claim]
        return None

    return verify


def verifier_from_env(env: dict | None = None) -> Verifier:
    """OIDC when EOPDE_ADES_OIDC_ISSUER is set, else the hub (EOPDE_HUB_API_URL +
    EOPDE_SERVICE_TOKEN). With neither, every token is refused (never open by default)."""
    env = os.environ if env is None else env
    issuer = env.get("EOPDE_ADES_OIDC_ISSUER")
    from ..secrets import read_secret  # EOPDE_SERVICE_TOKEN_FILE (or EOPDE_SERVICE_TOKEN)

    hub_api, service_token = env.get("EOPDE_HUB_API_URL"), read_secret("EOPDE_SERVICE_TOKEN", env)
    verifiers: list[Verifier] = []
    if issuer:
        verifiers.append(jwt_verifier(issuer, env.get("EOPDE_ADES_OIDC_JWKS_URL"),
                                      env.get("EOPDE_ADES_OIDC_AUDIENCE")))
    if hub_api and service_token:
        verifiers.append(hub_verifier(hub_api, service_token))
    if not verifiers:
        log.warning("no token verifier configured (EOPDE_HUB_API_URL/EOPDE_SERVICE_TOKEN or "
                    "EOPDE_ADES_OIDC_ISSUER): every request will be refused")
        return lambda token: None
    if len(verifiers) == 1:
        return verifiers[0]

    def chain(token: str) -> str | None:
        looks_like_jwt = token.count(".") == 2
        ordered = verifiers if looks_like_jwt else verifiers[::-1]
        for verify in ordered:
            user = verify(token)
            if user:
                return user
        return None

    return chain
