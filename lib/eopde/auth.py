"""Where the bearer token for the platform's services comes from.

In order:

1. `EOPDE_TOKEN`, set by hand or by a platform;
2. the hub's `auth_state` access token (OIDC platforms such as EOEPCA's, where the hub keeps
   the user's Keycloak token): read fresh from `$JUPYTERHUB_API_URL/user` when
   `EOPDE_TOKEN_SOURCE=auth_state`;
3. the server's own `JUPYTERHUB_API_TOKEN`, which the local platform's services accept;
4. the token saved by `eopde login` for the current platform (`eopde.credentials`);
5. none.
"""

from __future__ import annotations

import os


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


def get_user() -> str | None:
    """The user name for `{user}` URL parts: JUPYTERHUB_USER, else the `eopde login` user."""
    return os.environ.get("JUPYTERHUB_USER") or _saved_login().get("user") or None


def _saved_login() -> dict[str, str]:
    from .credentials import current_platform, saved

    return saved(current_platform())


def _auth_state_token() -> str:
    import httpx

    api = os.environ.get("JUPYTERHUB_API_URL")
    hub_token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not (api and hub_token):
        raise AuthError("EOPDE_TOKEN_SOURCE=auth_state needs JUPYTERHUB_API_URL and "
                        "JUPYTERHUB_API_TOKEN (run inside a hub user's server)")
    response = httpx.get(f"{api}/user", headers={"Authorization": f"token {hub_token}"},
                         timeout=10)
    response.raise_for_status()
    state = response.json().get("auth_state") or {}
    token = state.get("access_token")
    if not token:
        raise AuthError("the hub returned no auth_state access token: the hub needs "
                        "enable_auth_state and the `admin:auth_state!user` scope for servers")
    return token


def auth_headers() -> dict[str, str]:
    """`{"Authorization": "Bearer ..."}` when there is a token, else `{}`."""
    token = get_token()
    return {"Authorization": f"Bearer {token}"} if token else {}
