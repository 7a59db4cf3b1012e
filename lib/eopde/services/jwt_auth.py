"""OpenID Connect bearer JWTs for the platform's services (ADES, workspace API).

An identity service (Keycloak in EOEPCA) signs access tokens with a key it publishes in its
JWKS. A token is accepted when, and only when:

- its header names an asymmetric algorithm of `ALGORITHMS` (never `none`, never HMAC: an HMAC
  "signed" with the public key must not pass) and a `kid` found in the issuer's JWKS;
- the signature verifies with that key;
- `iss` is the configured issuer, `aud` holds the configured audience (when one is set), `exp`
  is in the future (with `leeway` seconds for clocks that differ) and `iat`/`nbf` are not;
- the user claim (`preferred_username` by default) is a non-empty string.

The JWKS is fetched from the issuer's discovery document (or `jwks_url`), kept for
`jwks_lifespan` seconds and fetched again when a token names a key it does not hold (at most
once per `refetch_cooldown` seconds): an issuer that rotates its keys is followed without a
restart (PyJWT's PyJWKClient does both).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

log = logging.getLogger(__name__)

#: Asymmetric signatures only: what Keycloak and other OIDC providers sign tokens with.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
              "EdDSA"]


class IssuerUnavailable(RuntimeError):
    """The issuer's discovery document or keys could not be fetched: not the client's fault."""


@dataclass(frozen=True)
class Claims:
    """Who an accepted token is: the user name, a stable identity, the groups, all claims."""

    user: str
    identity: str | None
    groups: tuple[str, ...]
    claims: Mapping[str, Any]


@dataclass(frozen=True)
class OIDCSettings:
    """What the services check a JWT against (see `from_env`)."""

    issuer: str
    audience: str | None = None
    jwks_url: str | None = None
    user_claim: str = "preferred_username"
    groups_claim: str = "groups"
    leeway: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "OIDCSettings | None":
        """EOPDE_OIDC_ISSUER (or the older EOPDE_ADES_OIDC_ISSUER), EOPDE_OIDC_AUDIENCE
        (default: EOPDE_OIDC_CLIENT_ID), EOPDE_OIDC_JWKS_URL, EOPDE_OIDC_USERNAME_CLAIM,
        EOPDE_OIDC_GROUPS_CLAIM, EOPDE_OIDC_LEEWAY; None when no issuer is set."""
        issuer = env.get("EOPDE_OIDC_ISSUER") or env.get("EOPDE_ADES_OIDC_ISSUER")
        if not issuer:
            return None
        return cls(
            issuer=issuer.rstrip("/"),
            audience=(env.get("EOPDE_OIDC_AUDIENCE") or env.get("EOPDE_ADES_OIDC_AUDIENCE")
                      or env.get("EOPDE_OIDC_CLIENT_ID") or None),
            jwks_url=env.get("EOPDE_OIDC_JWKS_URL") or env.get("EOPDE_ADES_OIDC_JWKS_URL"),
            user_claim=env.get("EOPDE_OIDC_USERNAME_CLAIM") or "preferred_username",
            groups_claim=env.get("EOPDE_OIDC_GROUPS_CLAIM") or "groups",
            leeway=int(env.get("EOPDE_OIDC_LEEWAY") or 5),
        )


def discover(issuer: str, timeout: float = 10.0) -> dict[str, Any]:
    """The issuer's OpenID Connect discovery document (`/.well-known/openid-configuration`),
    checked to be the issuer's own (its `issuer` is the one asked for)."""
    import httpx

    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=timeout, trust_env=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as err:
        raise IssuerUnavailable(f"cannot read the discovery document of {issuer} "
                                f"({type(err).__name__})") from err
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != \
            issuer.rstrip("/"):
        raise IssuerUnavailable(f"the discovery document at {url} is not issuer {issuer}'s")
    return document


class JWTVerifier:
    """Checks bearer JWTs of one issuer; `verify(token)` is a Claims or None (refused)."""

    def __init__(self, settings: OIDCSettings, *, jwks_lifespan: float = 300,
                 refetch_cooldown: float = 30):
        self.settings = settings
        self._lifespan = jwks_lifespan
        self._cooldown = refetch_cooldown
        self._client: Any = None
        self._lock = threading.Lock()

    def _keys(self) -> Any:
        import jwt

        with self._lock:
            if self._client is None:
                url = self.settings.jwks_url or discover(self.settings.issuer).get("jwks_uri")
                if not url:
                    raise IssuerUnavailable(f"issuer {self.settings.issuer} publishes no jwks_uri")
                # An unknown kid refetches the JWKS at most once per cooldown: tokens with
                # made-up key ids cannot make the service hammer the issuer.
                self._client = jwt.PyJWKClient(url, cache_keys=True,
                                               lifespan=int(self._lifespan), timeout=10,
                                               cooldown_duration=self._cooldown)
            return self._client

    def verify(self, token: str) -> Claims | None:
        """The token's Claims if every check of the module doc passes, else None."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            log.info("bearer JWT refused: %s", err)
            return None
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            log.info("bearer JWT refused: algorithm %r or no key id", header.get("alg"))
            return None
        try:
            key = self._keys().get_signing_key(header["kid"])  # refetches on an unknown kid
        except jwt.PyJWKClientConnectionError as err:
            raise IssuerUnavailable(f"cannot fetch the issuer's keys ({err})") from err
        except jwt.PyJWTError as err:
            log.info("bearer JWT refused: %s", err)
            return None
        s = self.settings
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[header["alg"]], issuer=s.issuer,
                audience=s.audience, leeway=s.leeway,
                options={"require": ["exp", "iss"], "verify_aud": bool(s.audience)})
        except jwt.PyJWTError as err:
            log.info("bearer JWT refused: %s", err)
            return None
        return _claims(claims, s)


def _claims(claims: dict[str, Any], settings: OIDCSettings) -> Claims | None:
    user = claims.get(settings.user_claim)
    if not isinstance(user, str) or not user:
        log.info("bearer JWT refused: no %r claim", settings.user_claim)
        return None
    groups = claims.get(settings.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    # Keycloak's group mapper may give full paths ("/eo/dev"): kept as given.
    kept = tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else ()
    sub = claims.get("sub")
    identity = f"oidc:{settings.issuer}#{sub}" if isinstance(sub, str) and sub else None
    return Claims(user=user, identity=identity, groups=kept, claims=claims)


def verifier_from_env(env: Mapping[str, str]) -> Callable[[str], Claims | None] | None:
    """`JWTVerifier(...).verify` from the environment (`OIDCSettings.from_env`), or None."""
    settings = OIDCSettings.from_env(env)
    return JWTVerifier(settings).verify if settings else None
