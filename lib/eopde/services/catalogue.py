"""The local STAC catalogue: stac-fastapi-pgstac, with writes open only to the platform's users.

Reading (landing page, collections, items, search) is open, as on public EO catalogues.
Transactions (POST/PUT/PATCH/DELETE on collections and items) need a bearer token of a *user*
that the local hub accepts: a user's JupyterHub API token, or one made by `eopde token USER`
(the platform's service token is refused: the platform loads its data straight into the
database). A user writes only to collections they own (`eopde.services.ownership`); the
platform's collections are read-only. Malformed requests get 4xx JSON answers, an unreachable
database 503 (`eopde.services.catalogue_input`).

Launched as `uvicorn eopde.services.catalogue:create_app --factory`; the database settings come
from stac-fastapi-pgstac's own environment variables (PGHOST, PGPORT, PGUSER, ...).
"""

from __future__ import annotations

import os
from typing import Any

from .asgi import HttpMiddleware
from .catalogue_input import (
    ErrorsAsJson,
    RequestGuard,
    install_error_handlers,
    is_write,
    send_json,
)

#: Seconds a token's owner is remembered: a revoked token, or a deleted user's, is refused at
#: most this long after. Each miss costs one request to the hub (a few ms on loopback).
TOKEN_CACHE_SECONDS = 5


class HubTokenMiddleware(HttpMiddleware):
    """ASGI middleware: writes need a user's token the hub knows; 401/403 JSON otherwise."""

    def __init__(self, app: Any, hub_api_url: str, service_token: str):
        from jupyterhub.services.auth import HubAuth

        super().__init__(app)
        # HubAuth asks the hub who owns a token (GET /hub/api/user) and caches the answer.
        self.auth = HubAuth(api_url=hub_api_url, api_token=service_token,
                            cache_max_age=TOKEN_CACHE_SECONDS)
        from .jwt_auth import verifier_from_env

        # The identity service's JWTs too, when EOPDE_OIDC_ISSUER is set (EOPDE_AUTH=oidc).
        self.jwt = verifier_from_env(os.environ)

    async def _user(self, token: str) -> dict | None:
        if self.jwt is not None and token.count(".") == 2:
            from starlette.concurrency import run_in_threadpool

            claims = await run_in_threadpool(self.jwt, token)
            if claims:
                return {"kind": "user", "name": claims.user}
        return await self.auth.user_for_token(token, sync=False)

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        if not is_write(scope):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        user = None
        if token:
            try:
                user = await self._user(token)
            except Exception:  # hub down: say so rather than "bad token"
                await send_json(send, 503, "ServiceUnavailable",
                                "cannot check the token with the platform's hub right now; try "
                                "again in a few seconds (`eopde status`)",
                                [(b"retry-after", b"5")])
                return
        if not user:
            await send_json(
                send, 401, "Unauthorized",
                "writing to the catalogue needs `Authorization: Bearer <token>` with a token of "
                "the platform's hub (in a user's server: $JUPYTERHUB_API_TOKEN; in a shell: "
                "`eopde token USER`)",
                [(b"www-authenticate", b'Bearer realm="eopde"')],
            )
            return
        if user.get("kind") != "user":
            await send_json(
                send, 403, "Forbidden",
                "this token is not a user's: the platform's service token is for the platform's "
                "own use; write with a user's token (`eopde token USER`)")
            return
        scope.setdefault("state", {})["user"] = user.get("name")
        await self.app(scope, receive, send)


def _bearer(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() in ("bearer", "token") and token.strip():
                return token.strip()
    return None


def create_app() -> Any:
    """The catalogue app: stac-fastapi-pgstac with owned transactions, behind ErrorsAsJson,
    HubTokenMiddleware and RequestGuard (outermost first)."""
    os.environ.setdefault("ENABLE_TRANSACTIONS_EXTENSIONS", "true")
    os.environ.setdefault("STAC_FASTAPI_TITLE", "eopde local catalogue")
    os.environ.setdefault(
        "STAC_FASTAPI_DESCRIPTION",
        "STAC API of the eopde local platform (stac-fastapi-pgstac on PostgreSQL/PostGIS).",
    )
    from stac_fastapi.pgstac.app import instantiate_api

    from .secrets import read_secret

    # Secrets come as files (EOPDE_SERVICE_TOKEN_FILE, PGPASSWORD_FILE): set in-process, they
    # are not in /proc/<pid>/environ, which shows the environment the process started with.
    if password := read_secret("PGPASSWORD"):
        os.environ["PGPASSWORD"] = password
    app = instantiate_api(extensions=_owned_extensions()).app
    install_error_handlers(app)
    hub_api = os.environ.get("EOPDE_HUB_API_URL")
    token = read_secret("EOPDE_SERVICE_TOKEN")
    if not (hub_api and token):
        raise RuntimeError("EOPDE_HUB_API_URL and EOPDE_SERVICE_TOKEN must be set to check tokens")
    # Added last = outermost: the token is checked before a write's body is read.
    app.add_middleware(RequestGuard)
    app.add_middleware(HubTokenMiddleware, hub_api_url=hub_api, service_token=token)
    app.add_middleware(ErrorsAsJson)
    return app


def _owned_extensions() -> Any:
    """stac-fastapi-pgstac's extensions, with transaction clients that check ownership."""
    from stac_fastapi.extensions import BulkTransactionExtension, TransactionExtension
    from stac_fastapi.pgstac.models.extensions import Extensions
    from stac_fastapi.api.models import JSONResponse

    from .catalogue_transactions import OwnedBulkTransactionsClient, OwnedTransactionsClient

    class OwnedExtensions(Extensions):
        @property
        def transaction(self) -> list:
            if not self.settings.enable_transactions_extensions:
                return []
            return [
                TransactionExtension(client=OwnedTransactionsClient(), settings=self.settings,
                                     response_class=JSONResponse),
                BulkTransactionExtension(client=OwnedBulkTransactionsClient()),
            ]

    return OwnedExtensions()
