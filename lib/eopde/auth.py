"""Where the bearer token for the platform's services comes from.

In order:

1. `EOPDE_TOKEN`, set by hand or by a platform;
2. the hub's `auth_state` access token (OIDC login, `EOPDE_AUTH=oidc`, or EOEPCA's hub with
   Keycloak) when `EOPDE_TOKEN_SOURCE=auth_state`: asked from the hub's API (the
   server's token has the `admin:auth_state!user` scope) and kept only until shortly before it
   expires, so a job `wait()`ed on for hours never sends a stale token; never a value frozen in
   the environment at spawn;
3. the server's own `JUPYTERHUB_API_TOKEN`, which the local platform's services accept;
4. the token saved by `eopde login` for the current platform (`eopde.credentials`);
5. none.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any


class AuthError(RuntimeError):
    """No usable token could be found; the message says where one was looked for."""


def get_token() -> str | None:
    """The bearer token for the platform's services, or None if there is none."""
    token = os.environ.get("EOPDE_TOKEN")
    if token:
        return token
    if os.environ.get("EOPDE_TOKEN_SOURCE") == "auth_state":
        return _auth_state_token()
    return os.environ.get("JUPYTERHUB_API_TOKEN") or _saved_login().get("token") or None


class TokenSetting:
    """A client attribute holding the token a user gave, else `get_token()` asked at each
    request (cached there until near its expiry): on an OIDC platform the hub renews the access
    token, so a job waited on for hours never sends a stale one. Used as ``token = TokenSetting()``
    on a class; instances keep what is set in ``_token``."""

    def __get__(self, obj: object, owner: type | None = None) -> str | None:
        if obj is None:
            return None
        given: str | None = getattr(obj, "_token", None)
        return given if given is not None else get_token()

    def __set__(self, obj: object, value: str | None) -> None:
        obj.__dict__["_token"] = value


def get_user() -> str | None:
    """The user name for `{user}` URL parts: JUPYTERHUB_USER, else the `eopde login` user."""
    return os.environ.get("JUPYTERHUB_USER") or _saved_login().get("user") or None


def _saved_login() -> dict[str, str]:
    from .credentials import current_platform, saved

    return saved(current_platform())


#: Seconds before its expiry that a cached access token is asked for again. The hub renews it
#: earlier than that (eopde.hub.oidc: a minute, or half its life, before it expires).
REFRESH_MARGIN = 15.0
#: How long a token whose expiry is unknown (not a JWT, no `expires_at`) is kept.
UNKNOWN_LIFETIME = 30.0

_cached: dict[str, Any] = {}
_lock = threading.Lock()


def _auth_state_token() -> str:
    """The current access token from the hub's auth_state, cached until near its expiry."""
    now = time.time()
    key = (os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN"))
    with _lock:
        if _cached and _cached["key"] == key and _cached["until"] > now:
            return str(_cached["token"])
        token, expires = _ask_hub()
        if expires is not None and expires <= now:
            _cached.clear()
            raise AuthError("your login has expired and the hub could not renew it (the "
                            "identity service ended the session): log in again at the hub's "
                            "/hub/login page, then run this again")
        until = now + UNKNOWN_LIFETIME if expires is None else expires - REFRESH_MARGIN
        _cached.update(token=token, until=until, key=key)
        return token


def _ask_hub() -> tuple[str, float | None]:
    """(access token, its expiry in epoch seconds or None) from the hub's model of this user,
    `GET $JUPYTERHUB_API_URL/users/$JUPYTERHUB_USER` (JupyterHub's `/user` "whoami" leaves
    auth_state out). Asking also makes the hub renew the token when it is due."""
    from urllib.parse import quote

    import httpx

    api = os.environ.get("JUPYTERHUB_API_URL")
    hub_token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not (api and hub_token):
        raise AuthError("EOPDE_TOKEN_SOURCE=auth_state needs JUPYTERHUB_API_URL and "
                        "JUPYTERHUB_API_TOKEN (run inside a hub user's server)")
    try:
        user = os.environ.get("JUPYTERHUB_USER")
        path = f"users/{quote(user, safe='')}" if user else "user"
        response = httpx.get(f"{api}/{path}", headers={"Authorization": f"token {hub_token}"},
                             timeout=10)
    except httpx.HTTPError as err:
        raise AuthError(f"cannot ask the hub for your access token ({type(err).__name__}); "
                        "try again in a moment") from None
    if response.status_code in (401, 403):
        raise AuthError("the hub refused to give this server your access token: log in again "
                        "at the hub's /hub/login page (or restart your server)")
    response.raise_for_status()
    state = response.json().get("auth_state") or {}
    token = state.get("access_token")
    if not token:
        raise AuthError("the hub returned no auth_state access token: the hub needs "
                        "enable_auth_state and the `admin:auth_state!user` scope for servers")
    expires = state.get("expires_at")
    if not isinstance(expires, (int, float)):
        expires = jwt_expiry(token)
    return str(token), float(expires) if expires is not None else None


def jwt_expiry(token: str) -> float | None:
    """The `exp` of a JWT, read without checking the signature (only to plan a refresh: the
    services check the signature)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) else None


def auth_headers() -> dict[str, str]:
    """`{"Authorization": "Bearer ..."}` when there is a token, else `{}`."""
    token = get_token()
    return {"Authorization": f"Bearer {token}"} if token else {}
