"""Who is asking: bearer tokens of the local ADES.

A verifier is a callable `token -> Principal | str | None` (None: the token is not valid; a plain
user name is accepted from test verifiers). A `Principal` is the user's name and an identity that
changes when a user of that name is deleted and created again, so a new user never inherits the
old one's processes and jobs (the store binds a name to an identity: see JobStore.claim_user).
Two real ones:

- `hub_verifier(api_url, service_token)`: the token is a JupyterHub API token; the hub says whose
  (`GET /hub/api/user` with that token). The identity is the hub user's creation time (asked with
  the service token when the token may not read it). Answers are cached for `ttl` seconds
  (EOPDE_ADES_TOKEN_CACHE_SECONDS, default 3): a revoked token, or a deleted user's, stops
  working within that time;
- `jwt_verifier(issuer, jwks_url, audience)`: an OIDC bearer JWT, checked by
  `eopde.services.jwt_auth` (signature against the issuer's JWKS, `iss`, `aud`, `exp`); the user
  name is a configurable claim (`preferred_username`), the identity the issuer and `sub`, the
  groups from a claim (`groups`).

`verifier_from_env()` picks one from the service's environment. Tests pass their own callable.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import quote

log = logging.getLogger(__name__)

DEFAULT_TTL = 3.0


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to: ``name`` (the URL's user) and ``identity`` (None: unknown)."""

    name: str
    identity: str | None = None
    #: Groups from the token's claims (OIDC); empty for hub tokens.
    groups: tuple[str, ...] = ()


Verifier = Callable[[str], "Principal | str | None"]


class VerifierUnavailable(RuntimeError):
    """The token could not be checked (hub or issuer unreachable): not the client's fault."""


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    kind, _, token = header.partition(" ")
    if kind.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    return None


class _TTLCache:
    """A small thread-safe map whose entries expire after ``ttl`` seconds."""

    def __init__(self, ttl: float, size: int = 10000):
        self.ttl, self.size = ttl, size
        self._data: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, object]:
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > time.monotonic():
                return True, hit[1]
            self._data.pop(key, None)
            return False, None

    def put(self, key: str, value: object) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._data) >= self.size:  # drop what expired, else everything
                self._data = {k: v for k, v in self._data.items() if v[0] > now}
                if len(self._data) >= self.size:
                    self._data.clear()
            self._data[key] = (now + self.ttl, value)


def _token_key(token: str) -> str:
    """What a token is cached under (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def hub_verifier(api_url: str, service_token: str, *, ttl: float = DEFAULT_TTL,
                 timeout: float = 10.0) -> Verifier:
    """Tokens of the JupyterHub at ``api_url`` (``.../hub/api``); see the module doc."""
    import httpx

    api = api_url.rstrip("/")
    client = httpx.Client(timeout=timeout, trust_env=False)
    tokens, created = _TTLCache(ttl), _TTLCache(ttl)

    def ask(path: str, token: str) -> dict | None:
        try:
            resp = client.get(f"{api}/{path}", headers={"Authorization": f"token {token}"})
        except httpx.HTTPError as err:
            raise VerifierUnavailable(f"cannot check the token with the hub "
                                      f"({type(err).__name__})") from err
        if resp.status_code in (401, 403, 404):
            return None
        if resp.status_code != 200:
            raise VerifierUnavailable(f"the hub answered {resp.status_code} to a token check")
        return resp.json()

    def creation_of(name: str) -> str | None:
        hit, value = created.get(name)
        if not hit:
            model = ask(f"users/{quote(name, safe='')}", service_token) or {}
            value = model.get("created")
            if not value:  # a user the hub keeps no creation time for: no identity binding
                log.warning("the hub gives no creation time for user %r", name)
            created.put(name, value)
        return str(value) if value else None

    pending: dict[str, threading.Lock] = {}
    pending_lock = threading.Lock()

    def verify(token: str) -> Principal | None:
        key = _token_key(token)
        hit, value = tokens.get(key)
        if hit:
            return value  # type: ignore[return-value]
        # one hub request per token at a time: pollers sharing a token wait for its answer
        with pending_lock:
            lock = pending.setdefault(key, threading.Lock())
        with lock:
            hit, value = tokens.get(key)
            if hit:
                return value  # type: ignore[return-value]
            try:
                model = ask("user", token)
                who = None
                if model and model.get("kind", "user") == "user" and model.get("name"):
                    name = model["name"]
                    when = model.get("created") or creation_of(name)
                    who = Principal(name, f"hub:{when}" if when else None)
                tokens.put(key, who)
            finally:
                with pending_lock:
                    pending.pop(key, None)
        return who

    def cached(token: str) -> tuple[bool, Principal | None]:
        """(hit, answer) from the cache alone: no hub request, safe on the event loop."""
        hit, value = tokens.get(_token_key(token))
        return hit, value if isinstance(value, Principal) else None

    verify.cached = cached  # type: ignore[attr-defined]
    return verify


def jwt_verifier(issuer: str, jwks_url: str | None = None, audience: str | None = None,
                 *, leeway: int = 5, user_claim: str = "preferred_username",
                 groups_claim: str = "groups") -> Verifier:
    """OIDC bearer JWTs of ``issuer`` (see `eopde.services.jwt_auth`) as Principals."""
    from ..jwt_auth import IssuerUnavailable, JWTVerifier, OIDCSettings

    checker = JWTVerifier(OIDCSettings(issuer.rstrip("/"), audience, jwks_url, user_claim,
                                       groups_claim, leeway))

    def verify(token: str) -> Principal | None:
        try:
            claims = checker.verify(token)
        except IssuerUnavailable as err:
            raise VerifierUnavailable(str(err)) from err
        return Principal(claims.user, claims.identity, claims.groups) if claims else None

    return verify


def verifier_from_env(env: Mapping[str, str] | None = None) -> Verifier:
    """OIDC JWTs when EOPDE_OIDC_ISSUER (or EOPDE_ADES_OIDC_ISSUER) is set, and hub tokens
    (EOPDE_HUB_API_URL + EOPDE_SERVICE_TOKEN). With neither, every token is refused (never open by default)."""
    env = os.environ if env is None else env
    from ..jwt_auth import OIDCSettings

    oidc = OIDCSettings.from_env(env)  # EOPDE_OIDC_ISSUER (or EOPDE_ADES_OIDC_ISSUER), ...
    from ..secrets import read_secret  # EOPDE_SERVICE_TOKEN_FILE (or EOPDE_SERVICE_TOKEN)

    hub_api, service_token = env.get("EOPDE_HUB_API_URL"), read_secret("EOPDE_SERVICE_TOKEN", env)
    verifiers: list[Verifier] = []
    if oidc:
        verifiers.append(jwt_verifier(oidc.issuer, oidc.jwks_url, oidc.audience,
                                      leeway=oidc.leeway, user_claim=oidc.user_claim,
                                      groups_claim=oidc.groups_claim))
    if hub_api and service_token:
        ttl = float(env.get("EOPDE_ADES_TOKEN_CACHE_SECONDS") or DEFAULT_TTL)
        verifiers.append(hub_verifier(hub_api, service_token, ttl=ttl))
    if not verifiers:
        log.warning("no token verifier configured (EOPDE_HUB_API_URL/EOPDE_SERVICE_TOKEN or "
                    "EOPDE_ADES_OIDC_ISSUER): every request will be refused")
        return lambda token: None
    if len(verifiers) == 1:
        return verifiers[0]

    def chain(token: str) -> Principal | str | None:
        looks_like_jwt = token.count(".") == 2
        ordered = verifiers if looks_like_jwt else verifiers[::-1]
        for verify in ordered:
            user = verify(token)
            if user:
                return user
        return None

    def cached(token: str) -> tuple[bool, Principal | str | None]:
        """A hub token the hub verifier has answered for lately (see hub_verifier)."""
        hub = getattr(verifiers[-1], "cached", None)
        if hub is None or token.count(".") == 2:
            return False, None
        hit, who = hub(token)
        return (True, who) if hit and who else (False, None)

    chain.cached = cached  # type: ignore[attr-defined]
    return chain
