"""The local platform's workspace part: EOEPCA's Workspace API where a client would notice.

- ``GET /workspaces/ws-<user>``: the workspace, made on first use: ``{name, status,
  storage: {credentials: {bucketname, access, secret, endpoint, region}}, catalogue, user}``.
  Only to its owner: another user's workspace answers 403 whether it exists or not.
- ``POST /workspaces/{ws}/register`` ``{type: "stac-item"|"stac-collection", url}``: reads the
  documents from the owner's bucket and writes them to the catalogue, then answers 200 with what
  was created and updated (EOEPCA answers 202 and harvests later; the ``message`` key is kept).
- ``POST /workspaces/{ws}/register-json``: a STAC Collection (or Item) by value.
- ``POST /workspaces/{ws}/deregister`` ``{type: "stac-item", identifier|ids, collection?}``.

Who asks: a bearer token of the hub, or a JWT of the identity service when EOPDE_OIDC_ISSUER is set
(:func:`eopde.services.ades.auth.verifier_from_env`); the
catalogue is written with that same token, so its ownership rule applies. See
:mod:`.workspace_register` for what may be read and written.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from .workspace_register import RegisterError

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class WorkspaceSettings:
    """What the workspace part reads from its environment (set by ``WorkspacePart.env``)."""

    home: Path
    s3_endpoint: str
    public_s3_endpoint: str
    catalogue_url: str
    hub_api_url: str
    service_token: str
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> WorkspaceSettings:
        from .secrets import read_secret

        env = dict(os.environ if env is None else env)
        token = read_secret("EOPDE_SERVICE_TOKEN", env) or ""
        if not (env.get("EOPDE_HUB_API_URL") and token):
            raise RuntimeError("EOPDE_HUB_API_URL and EOPDE_SERVICE_TOKEN must be set to check "
                               "tokens")
        s3 = env["EOPDE_S3_ENDPOINT"]
        return cls(home=Path(env["EOPDE_HOME"]), s3_endpoint=s3,
                   public_s3_endpoint=env.get("EOPDE_WORKSPACE_S3_PUBLIC_ENDPOINT") or s3,
                   catalogue_url=env["EOPDE_CATALOGUE_URL"],
                   hub_api_url=env["EOPDE_HUB_API_URL"], service_token=token)

    @property
    def keys_file(self) -> Path:
        from .workspace_store import keys_file

        return keys_file(self.home)

    @property
    def storage_dir(self) -> Path:
        return self.home / "storage"


def _error(status: int, detail: str, code: str | None = None) -> Any:
    from fastapi.responses import JSONResponse

    titles = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
              413: "PayloadTooLarge", 422: "UnprocessableEntity", 502: "BadGateway",
              503: "ServiceUnavailable"}
    headers = {"WWW-Authenticate": 'Bearer realm="eopde"'} if status == 401 else None
    return JSONResponse({"code": code or titles.get(status, "Error"), "detail": detail},
                        status_code=status, headers=headers)


def create_app(settings: WorkspaceSettings | None = None, verify: Any = None) -> Any:
    """The workspace app (uvicorn factory). ``verify``: token -> Principal/name/None (tests)."""
    from .ades.auth import VerifierUnavailable, bearer_token, verifier_from_env
    from .workspace_store import ensure_keys, workspace_name

    settings = settings or WorkspaceSettings.from_env()
    # Hub tokens, and the identity service's JWTs when EOPDE_OIDC_ISSUER is set.
    verify = verify or verifier_from_env({**os.environ, "EOPDE_HUB_API_URL": settings.hub_api_url,
                                          "EOPDE_SERVICE_TOKEN": settings.service_token})
    app = FastAPI(title="eopde workspace", description=__doc__)

    async def owner(request: Request, ws: str) -> tuple[str, str] | Any:
        """(user, token) when the token's user owns ``ws``; else the error response."""
        token = bearer_token(request.headers.get("authorization"))
        if not token:
            return _error(401, "a workspace needs `Authorization: Bearer <token>` with a token "
                               "of the platform's hub ($JUPYTERHUB_API_TOKEN, `eopde token USER`)")
        try:
            who = await run_in_threadpool(verify, token)
        except VerifierUnavailable:
            return _error(503, "cannot check the token with the platform's hub right now; try "
                               "again in a few seconds")
        name = getattr(who, "name", who)
        if not name:
            return _error(401, "the token is not valid (expired or revoked?)")
        if ws != workspace_name(name):
            return _error(403, f"workspace {ws!r} is not yours; yours is "
                               f"{workspace_name(name)!r}")
        return name, token

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/workspaces/{ws}")
    async def get_workspace(ws: str, request: Request) -> Any:
        found = await owner(request, ws)
        if not isinstance(found, tuple):
            return found
        user, _ = found
        keys = await run_in_threadpool(ensure_keys, settings.keys_file, user,
                                       settings.storage_dir)
        return _workspace_body(settings, user, keys)

    @app.post("/workspaces/{ws}/register")
    async def register(ws: str, request: Request) -> Any:
        return await _with_body(request, ws, owner, settings, _register_url)

    @app.post("/workspaces/{ws}/register-json")
    async def register_json(ws: str, request: Request) -> Any:
        return await _with_body(request, ws, owner, settings, _register_value)

    @app.post("/workspaces/{ws}/register-collection")
    async def register_collection(ws: str, request: Request) -> Any:
        return await _with_body(request, ws, owner, settings, _register_value)

    @app.post("/workspaces/{ws}/deregister")
    async def deregister(ws: str, request: Request) -> Any:
        return await _with_body(request, ws, owner, settings, _deregister)

    return app


def _workspace_body(settings: WorkspaceSettings, user: str, keys: Any) -> dict[str, Any]:
    from .workspace_store import collection_id, workspace_name

    return {
        "name": workspace_name(user), "status": "ready",
        "storage": {"credentials": {"bucketname": keys.bucket, "access": keys.access,
                                    "secret": keys.secret,
                                    "endpoint": settings.public_s3_endpoint,
                                    "region": settings.region},
                    "buckets": [keys.bucket]},
        "catalogue": {"url": settings.catalogue_url, "collection": collection_id(user)},
        "endpoints": [{"id": "catalogue", "url": settings.catalogue_url},
                      {"id": "storage", "url": settings.public_s3_endpoint}],
        "user": {"name": user},
    }


async def _with_body(request: Any, ws: str, owner: Any, settings: WorkspaceSettings,
                     handler: Any) -> Any:
    """Check the owner, read a JSON object body (capped), run ``handler`` in a thread."""
    import json

    found = await owner(request, ws)
    if not isinstance(found, tuple):
        return found
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return _error(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"null", parse_constant=_no_constant)
    except ValueError:
        return _error(400, "the body is not JSON (NaN and Infinity are not JSON numbers)")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    try:
        return await run_in_threadpool(handler, settings, found[0], found[1], body)
    except RegisterError as err:
        return _error(err.status, err.detail)


def _no_constant(name: str) -> Any:
    raise ValueError(name)


@functools.lru_cache(maxsize=256)
def _s3(endpoint: str | None, access: str, secret: str, region: str) -> Any:
    """A user's S3 client, made once per keys (boto3 clients are thread-safe; making one reads
    botocore's service model: tens of ms on every register otherwise)."""
    from .. import storage

    return storage.client(storage.S3Credentials(endpoint, access, secret, region))


def _clients(settings: WorkspaceSettings, user: str, token: str) -> tuple[Any, Any, str]:
    """(the user's S3 client, a catalogue client with the user's token, the user's bucket)."""
    import httpx

    from eopde.workspace.backends import tls_context

    from .workspace_store import ensure_keys

    keys = ensure_keys(settings.keys_file, user, settings.storage_dir)
    s3 = _s3(settings.s3_endpoint, keys.access, keys.secret, settings.region)
    catalogue = httpx.Client(base_url=settings.catalogue_url, timeout=120, trust_env=False,
                             verify=tls_context(), headers={"Authorization": f"Bearer {token}"})
    return s3, catalogue, keys.bucket


def _register_url(settings: WorkspaceSettings, user: str, token: str,
                  body: dict[str, Any]) -> Any:
    from .workspace_register import collection_in_namespace, gather, write

    kind, url = body.get("type"), body.get("url")
    if kind not in ("stac-item", "stac-collection"):
        raise RegisterError(400, "type must be 'stac-item' or 'stac-collection'")
    if not isinstance(url, str) or not url:
        raise RegisterError(400, "url must be the s3:// URL of a STAC document in your bucket")
    if isinstance(url, str) and url.endswith("/"):
        url += "catalog.json"  # as EOEPCA's harvester does
    s3, catalogue, bucket = _clients(settings, user, token)
    with catalogue:
        collection, items, target = gather(s3, kind, url, bucket, user)
        if body.get("collection"):
            target = collection_in_namespace(str(body["collection"]), user)
        return write(catalogue, collection, items, target).body()


def _register_value(settings: WorkspaceSettings, user: str, token: str,
                    body: dict[str, Any]) -> Any:
    from .workspace_register import collection_in_namespace, write

    _, catalogue, _ = _clients(settings, user, token)
    with catalogue:
        if body.get("type") == "Feature":
            target = collection_in_namespace(body.get("collection"), user)
            return write(catalogue, None, [body], target).body()
        if body.get("type") != "Collection":
            raise RegisterError(400, "register-json takes a STAC Collection or Item")
        target = collection_in_namespace(body.get("id"), user)
        return write(catalogue, body, [], target).body()


def _deregister(settings: WorkspaceSettings, user: str, token: str,
                body: dict[str, Any]) -> Any:
    from .workspace_register import collection_in_namespace, delete_items

    ids = body.get("ids") or ([body["identifier"]] if body.get("identifier") else [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids) or not ids:
        raise RegisterError(400, "name the items: identifier (a string) or ids (a list)")
    target = collection_in_namespace(body.get("collection"), user)
    _, catalogue, _ = _clients(settings, user, token)
    with catalogue:
        return {"collection": target, "removed": delete_items(catalogue, target, ids)}
