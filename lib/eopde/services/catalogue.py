"""The local STAC catalogue: stac-fastapi-pgstac, with writes open only to the platform's users.

Reading (landing page, collections, items, search) is open, as on public EO catalogues.
Transactions (POST/PUT/PATCH/DELETE on collections and items) need a bearer token that the
local hub accepts: a user's JupyterHub API token, or one made by `eopde token USER`.

Launched as `uvicorn eopde.services.catalogue:create_app --factory`; the database settings come
from stac-fastapi-pgstac's own environment variables (PGHOST, PGPORT, PGUSER, ...).
"""

from __future__ import annotations

import json
import os
from typing import Any

#: Methods that change the catalogue. POST /search is a read and stays open.
_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_READ_POSTS = ("/search",)


class HubTokenMiddleware:
    """ASGI middleware: writes need a token the hub knows; answers 401 JSON otherwise."""

    def __init__(self, app: Any, hub_api_url: str, service_token: str):
        from jupyterhub.services.auth import HubAuth

        self.app = app
        # HubAuth asks the hub who owns a token (GET /hub/api/user) and caches the answer.
        self.auth = HubAuth(api_url=hub_api_url, api_token=service_token, cache_max_age=60)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self._is_write(scope):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        user = None
        if token:
            try:
                user = await self.auth.user_for_token(token, sync=False)
            except Exception as err:  # hub down: say so rather than "bad token"
                await _json_error(send, 503, "Service Unavailable",
                                  f"cannot check the token with the hub: {err}")
                return
        if not user:
            await _json_error(
                send, 401, "Unauthorized",
                "writing to the catalogue needs `Authorization: Bearer <token>` with a token of "
                "the platform's hub (in a user's server: $JUPYTERHUB_API_TOKEN; in a shell: "
                "`eopde token USER`)",
            )
            return
        scope.setdefault("state", {})["user"] = user.get("name")
        await self.app(scope, receive, send)

    @staticmethod
    def _is_write(scope: dict) -> bool:
        if scope["method"] not in _WRITE_METHODS:
            return False
        return not (scope["method"] == "POST" and scope["path"].rstrip("/").endswith(_READ_POSTS))


def _bearer(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() in ("bearer", "token") and token.strip():
                return token.strip()
    return None


async def _json_error(send: Any, status: int, title: str, detail: str) -> None:
    body = json.dumps({"code": title.replace(" ", ""), "description": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="eopde"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> Any:
    """The catalogue app: stac-fastapi-pgstac with transactions, behind HubTokenMiddleware."""
    os.environ.setdefault("ENABLE_TRANSACTIONS_EXTENSIONS", "true")
    os.environ.setdefault("STAC_FASTAPI_TITLE", "eopde local catalogue")
    os.environ.setdefault(
        "STAC_FASTAPI_DESCRIPTION",
        "STAC API of the eopde local platform (stac-fastapi-pgstac on PostgreSQL/PostGIS).",
    )
    from stac_fastapi.pgstac.app import create_app as create_stac_app

    from .secrets import read_secret

    # Secrets come as files (EOPDE_SERVICE_TOKEN_FILE, PGPASSWORD_FILE): set in-process, they
    # are not in /proc/<pid>/environ, which shows the environment the process started with.
    if password := read_secret("PGPASSWORD"):
        os.environ["PGPASSWORD"] = password
    app = create_stac_app()
    hub_api = os.environ.get("EOPDE_HUB_API_URL")
    token = read_secret("EOPDE_SERVICE_TOKEN")
    if not (hub_api and token):
        raise RuntimeError("EOPDE_HUB_API_URL and EOPDE_SERVICE_TOKEN must be set to check tokens")
    app.add_middleware(HubTokenMiddleware, hub_api_url=hub_api, service_token=token)
    return app
