"""The local ADES HTTP API: OGC API - Processes Part 1 + Part 2 (DRU), EOEPCA's per-user layout.

`uvicorn eopde.services.ades.app:create_app --factory`. Every route lives under
`/{user}/ogc-api/` and needs `Authorization: Bearer <token>` of that user (others get 404),
except the OpenAPI document (`/{user}/ogc-api/api`, also `/openapi.json`) and `/healthz`.

Links are built from configured bases, never from the request's Host header: direct requests get
the service's own address (EOPDE_ADES_SELF_URL, else EOPDE_ADES_URL without `/{user}/ogc-api`,
else the platform settings' ADES URL); requests through the hub's proxy (path under
EOPDE_ADES_PUBLIC_PATH) get EOPDE_ADES_PUBLIC_URL, else EOPDE_HUB_URL + EOPDE_ADES_PUBLIC_PATH.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...apppkg import describe as _desc
from .auth import Principal, Verifier, VerifierUnavailable, bearer_token, verifier_from_env
from .deploy import ID_RE, read_package
from .execution import EXECUTE_DOC, ServerTimingMiddleware, SyncWaits, response_mode, wait_for_job
from .execution import executor_limits as _executor_limits
from .execution import job_timeout as _job_timeout
from .errors import (P1, LastResort, OGCError, bad_request, duplicated_process, job_failed,
                     no_such_process, not_acceptable, not_found, too_large, unauthorized)
from .fetchpolicy import check_inputs, platform_origins, policy_for
from .inputs import check_execute
from .jobroutes import MAX_SKIP, PREFIX, JobContext, add_job_routes, job_results, status_info
from .web import load_json, public_bases
from .store import (DuplicateProcess, JobStore, NoSuchProcess, ProcessRecord, RetiredIdentity,
                    utcnow)

log = logging.getLogger(__name__)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/ogcapppkg",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/cwl",
]
PACKAGE_TYPES = ["application/cwl+yaml", "application/cwl", "application/cwl+json",
                 "application/ogcapppkg+json"]
DEFAULT_MAX_BODY = 10 * 1024 * 1024

_DEPLOY_BODY = {"requestBody": {"required": True, "content": {
    "application/cwl+yaml": {"schema": {"type": "string"}},
    "application/ogcapppkg+json": {"schema": {"type": "object", "properties": {
        "executionUnit": {"type": "object", "properties": {
            "value": {"type": "string"}, "href": {"type": "string"},
            "mediaType": {"type": "string"}}}}}}}}}
_EXECUTE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "properties": {"inputs": {"type": "object"},
                                     "outputs": {"type": "object"},
                                     "response": {"type": "string", "enum": ["document", "raw"],
                                                  "default": "document"},
                                     "timeout": {"type": "number", "exclusiveMinimum": 0,
                                                 "description": "the job's time limit (s)"}}}}}}}


def _json(content: Any, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=headers)


def _app_dir(process: Any, images: Path) -> Path:
    """Where a deployed package's app files are for a run without a container: the local
    stand-in of its image (see eopde.apppkg.images)."""
    from eopde.apppkg.images import docker_pull, resolve

    image = docker_pull(process.cwl_text)
    if not image:
        raise LookupError(f"process {process.id} names no image (DockerRequirement.dockerPull)")
    return resolve(image, images)


def create_app(*, store: JobStore | None = None, executor: Any = None,
               verify_token: Verifier | None = None,
               max_body: int | None = None, href_dirs: list[str | Path] | None = None,
               sync_timeout: float | None = None, env: dict | None = None,
               base_url: str | None = None,
               fetch_origins: list[str] | None = None) -> FastAPI:
    """The ADES app. Keyword overrides (tests): `store`, `executor` (anything with start /
    submit / wait / dismiss / shutdown), `verify_token` (token -> Principal, user name or None),
    `max_body` (bytes), `href_dirs` (local folders an executionUnit href may point into),
    `sync_timeout` (seconds a sync execution waits), `env` (instead of os.environ), `base_url`
    (links of direct requests), `fetch_origins` (the platform's own base URLs users may name,
    instead of the data server and catalogue: see fetchpolicy)."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("EOPDE_HOME") or Path.home() / ".eopde")
    origins = platform_origins(env) if fetch_origins is None else list(fetch_origins)
    href_policy = policy_for(None, origins)  # deploy by href: no bucket
    direct_base, proxied_base = public_bases(env, base_url)
    proxy_prefix = (env.get("EOPDE_ADES_PUBLIC_PATH") or "").rstrip("/")
    if store is None:
        store = JobStore.from_env(env)
    if executor is None:
        from .executor import LocalExecutor
        from .stageout import StageOutTarget

        from .jobuser import protect_state_folder

        for path in protect_state_folder(home):  # as root: jobs run as other accounts
            log.warning("made %s private to the service", path)
        workers = env.get("EOPDE_ADES_WORKERS")
        images = Path(env.get("EOPDE_IMAGES_DIR") or home / "images")
        executor = LocalExecutor(store, work_dir=Path(env.get("EOPDE_ADES_WORK_DIR")
                                                      or home / "ades" / "jobs"),
                                 workers=int(workers) if workers else None,
                                 storage=StageOutTarget.from_env(),
                                 app_dirs=lambda process: _app_dir(process, images),
                                 url_policy=lambda user: policy_for(user, origins),
                                 **_executor_limits(env))
    verify: Verifier = verify_token if verify_token is not None else verifier_from_env(env)
    if max_body is None:
        max_body = int(env.get("EOPDE_ADES_MAX_BODY") or DEFAULT_MAX_BODY)
    if href_dirs is None:
        href_dirs = [d for d in (env.get("EOPDE_ADES_HREF_DIRS") or "").split(os.pathsep) if d]
    href_paths = [Path(d) for d in href_dirs]
    if sync_timeout is None:
        sync_timeout = float(env.get("EOPDE_ADES_SYNC_TIMEOUT") or 600)
    waits = SyncWaits(int(env.get("EOPDE_ADES_SYNC_PER_USER") or 4),
                      int(env.get("EOPDE_ADES_SYNC_MAX") or 32))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        executor.start()
        try:
            yield
        finally:
            executor.shutdown(wait=False)

    app = FastAPI(title="eopde local ADES (OGC API - Processes)", version="1.0.0",
                  description="OGC API - Processes Part 1 and Part 2 (Deploy, Replace, Undeploy) "
                              "with EOEPCA's per-user prefix `/{user}/ogc-api/`. Send "
                              "`Authorization: Bearer <token>`.",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.store, app.state.executor = store, executor

    # ------------------------------------------------------------------ errors
    @app.exception_handler(OGCError)
    async def _ogc(request: Request, exc: OGCError):
        return _json(exc.to_dict(), exc.status, {**exc.headers,
                                                 "Content-Type": "application/problem+json"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{where}: {e.get('msg')}")
        err = bad_request("invalid request parameter(s): " + "; ".join(parts))
        return await _ogc(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            err = not_found(f"nothing at {request.url.path}; the API is under "
                            "/{user}/ogc-api/ (landing page, /processes, /jobs)")
        elif exc.status_code == 405:
            err = OGCError(405, P1 + "invalid-method", "InvalidMethod",
                           f"{request.method} is not allowed on {request.url.path}",
                           headers=dict(exc.headers or {}))
        else:
            err = OGCError(exc.status_code, P1 + "error", "Error", str(exc.detail))
        return await _ogc(request, err)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError):
        # only a document nested deeper than Python's stack gets here (YAML, JSON bodies)
        return await _ogc(request, bad_request("the request body nests too deeply to be read; "
                                               "send a flatter document", "BadRequest"))

    # Exceptions nothing above handles: a 500 JSON, logged, without re-raising (Starlette's
    # handler of `Exception` answers and then re-raises, and uvicorn then drops the connection).
    app.add_middleware(LastResort)

    # ------------------------------------------------------------------ helpers
    claimed: dict[str, str] = {}  # user -> identity already bound in the store

    async def owner(name: str, identity: str | None) -> None:
        """Bind the name to the account's identity (see JobStore.claim_user); stop what a
        deleted account of the same name left running."""
        if not identity or claimed.get(name) == identity:
            return
        try:
            leftover = await run_in_threadpool(store.claim_user, name, identity)
        except RetiredIdentity:
            raise unauthorized("the account this token belongs to was deleted; log in "
                               "again and get a fresh token") from None
        claimed[name] = identity
        for job_id in leftover:
            await run_in_threadpool(executor.dismiss, job_id)

    async def authed(request: Request, user: str) -> str:
        token = bearer_token(request.headers.get("authorization"))
        if not token:
            raise unauthorized("this ADES needs `Authorization: Bearer <token>` (the platform "
                               "hub's API token, or an OIDC access token when configured)")
        # A cached answer is read on the event loop: the most common case (pollers) costs no
        # trip through the thread pool, which the store reads also queue for.
        cached = getattr(verify, "cached", None)
        hit, who = cached(token) if cached else (False, None)
        try:
            if not hit:
                who = await run_in_threadpool(verify, token)
        except VerifierUnavailable as err:
            raise OGCError(503, P1 + "service-unavailable", "ServiceUnavailable", str(err))
        if not who:
            raise unauthorized("the bearer token is not valid (unknown, expired or not for "
                               "this service); get a fresh one")
        name, identity = (who.name, who.identity) if isinstance(who, Principal) else (who, None)
        if name != user:
            # never say whether another user's prefix exists
            raise not_found(f"nothing at {request.url.path}; your processes are under "
                            f"/{name}/ogc-api/")
        await owner(name, identity)
        return name

    def root(request: Request, user: str) -> str:
        """Base of this user's links: configured, never from the Host header."""
        via_proxy = bool(proxy_prefix) and proxied_base is not None and \
            request.scope.get("root_path", "").endswith(proxy_prefix)
        base = proxied_base if via_proxy else direct_base
        return f"{base}/{quote(user, safe='')}/ogc-api"

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_body:
            raise too_large(max_body)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise too_large(max_body)
            chunks.append(chunk)
        return b"".join(chunks)

    async def package_record(request: Request, user: str,
                             w: str | None) -> tuple[ProcessRecord, Any]:
        """The process record of the package a deploy or replace body carries (its id is the
        Workflow's: ``w`` when given)."""
        body = await read_body(request)

        pkg = await run_in_threadpool(
            lambda: read_package(body, request.headers.get("content-type"), w=w,
                                 max_bytes=max_body, href_dirs=href_paths, policy=href_policy))
        now = utcnow()
        rec = ProcessRecord(user=user, id=pkg.workflow_id, version=pkg.description.get("version"),
                            cwl_text=pkg.cwl_text, workflow_id=pkg.workflow_id,
                            description=pkg.description, created=now, updated=now)
        return rec, pkg

    def process_links(base: str, pid: str) -> list[dict]:
        return [
            {"rel": "self", "type": "application/json", "title": "Process Description",
             "href": f"{base}/processes/{pid}"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/execute", "type": "application/json",
             "title": "Execute End Point", "href": f"{base}/processes/{pid}/execution"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/application-package",
             "type": "application/cwl+yaml", "title": "Application package",
             "href": f"{base}/processes/{pid}/package"},
        ]

    def summary_of(base: str, rec: ProcessRecord) -> dict:
        return {**_desc.summary(rec.description), "id": rec.id,
                "links": process_links(base, rec.id)}

    def get_process(user: str, pid: str) -> ProcessRecord:
        if not ID_RE.match(pid):
            raise no_such_process(pid)
        rec = store.get_process(user, pid)
        if rec is None:
            raise no_such_process(pid)
        return rec

    # ------------------------------------------------------------------ platform
    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        return {"status": "ok"}

    @app.get(PREFIX + "/api", tags=["Capabilities"], summary="This API's OpenAPI document")
    async def openapi_doc(user: str):
        return JSONResponse(app.openapi(),
                            media_type="application/vnd.oai.openapi+json;version=3.1")

    # ------------------------------------------------------------------ capabilities
    @app.get(PREFIX, tags=["Capabilities"], summary="Landing page")
    @app.get(PREFIX + "/", include_in_schema=False)
    async def landing(request: Request, user: str):
        await authed(request, user)
        base = root(request, user)
        return {"title": "eopde local ADES",
                "description": "OGC API - Processes (Part 1 + Part 2 Deploy, Replace, Undeploy) "
                               "running application packages with cwltool",
                "links": [
                    {"rel": "self", "type": "application/json", "title": "This document",
                     "href": f"{base}/"},
                    {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.1",
                     "title": "The API definition", "href": f"{base}/api"},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                     "type": "application/json", "title": "Conformance classes",
                     "href": f"{base}/conformance"},
                    {"rel": "conformance", "type": "application/json",
                     "title": "Conformance classes", "href": f"{base}/conformance"},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
                     "type": "application/json", "title": "Processes", "href": f"{base}/processes"},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list",
                     "type": "application/json", "title": "Jobs", "href": f"{base}/jobs"},
                ]}

    @app.get(PREFIX + "/conformance", tags=["Capabilities"], summary="Conformance classes")
    async def conformance(request: Request, user: str):
        await authed(request, user)
        return {"conformsTo": CONFORMANCE}

    # ------------------------------------------------------------------ processes
    @app.get(PREFIX + "/processes", tags=["Processes"], summary="List your processes")
    async def list_processes(request: Request, user: str,
                             limit: int = Query(1000, ge=1, le=10000),
                             skip: int = Query(0, ge=0, le=MAX_SKIP)):
        await authed(request, user)
        base = root(request, user)
        recs, total = store.list_processes(user, limit, skip)
        links = [{"rel": "self", "type": "application/json",
                  "href": f"{base}/processes?limit={limit}&skip={skip}"}]
        if skip + len(recs) < total:
            links.append({"rel": "next", "type": "application/json",
                          "href": f"{base}/processes?limit={limit}&skip={skip + limit}"})
        return {"processes": [summary_of(base, r) for r in recs], "links": links,
                "numberTotal": total}

    @app.post(PREFIX + "/processes", tags=["Deploy, Replace, Undeploy"], status_code=201,
              summary="Deploy an application package", openapi_extra=_DEPLOY_BODY)
    async def deploy(request: Request, user: str, w: str | None = Query(None)):
        await authed(request, user)
        rec, pkg = await package_record(request, user, w)
        base = root(request, user)
        location = f"{base}/processes/{pkg.workflow_id}"
        try:
            store.add_process(rec)
        except DuplicateProcess:
            raise duplicated_process(pkg.workflow_id, location) from None
        out = {**summary_of(base, rec), "warnings": pkg.warnings} if pkg.warnings \
            else summary_of(base, rec)
        return _json(out, 201, {"Location": location})

    @app.get(PREFIX + "/processes/{process_id}", tags=["Processes"],
             summary="Describe a process")
    async def describe(request: Request, user: str, process_id: str):
        await authed(request, user)
        rec = get_process(user, process_id)
        base = root(request, user)
        return {**rec.description, "id": rec.id, "links": process_links(base, rec.id)}

    @app.put(PREFIX + "/processes/{process_id}", tags=["Deploy, Replace, Undeploy"],
             status_code=204, summary="Replace a process", openapi_extra=_DEPLOY_BODY)
    async def replace(request: Request, user: str, process_id: str,
                      w: str | None = Query(None)):
        await authed(request, user)
        get_process(user, process_id)
        if w is not None and w != process_id:
            raise bad_request(f"w={w!r} differs from the process id {process_id!r} in the "
                              "path; a replaced process keeps its id")
        rec, _ = await package_record(request, user, process_id)
        try:
            store.replace_process(rec)
        except NoSuchProcess:
            raise no_such_process(process_id) from None
        return Response(status_code=204,
                        headers={"Location": f"{root(request, user)}/processes/{process_id}"})

    @app.delete(PREFIX + "/processes/{process_id}", tags=["Deploy, Replace, Undeploy"],
                status_code=204, summary="Undeploy a process")
    async def undeploy(request: Request, user: str, process_id: str):
        await authed(request, user)
        get_process(user, process_id)
        store.delete_process(user, process_id)
        return Response(status_code=204)

    @app.get(PREFIX + "/processes/{process_id}/package", tags=["Deploy, Replace, Undeploy"],
             summary="The process's application package (CWL)",
             responses={200: {"content": {t: {} for t in PACKAGE_TYPES}}})
    async def package(request: Request, user: str, process_id: str):
        await authed(request, user)
        rec = get_process(user, process_id)
        wanted = _negotiate(request.headers.get("accept"))
        if wanted is None:
            raise not_acceptable(PACKAGE_TYPES)
        if wanted in ("application/cwl+yaml", "application/cwl"):
            return Response(rec.cwl_text, media_type=wanted)
        doc = _desc.load_cwl(rec.cwl_text)
        if wanted == "application/cwl+json":
            return Response(json.dumps(doc, default=str), media_type=wanted)
        return Response(json.dumps({"executionUnit": {"value": doc,
                                                      "mediaType": "application/cwl+json"}},
                                   default=str), media_type=wanted)

    # ------------------------------------------------------------------ execution
    @app.post(PREFIX + "/processes/{process_id}/execution", tags=["Processes"],
              summary="Execute a process (Prefer: respond-async for a job)",
              description=EXECUTE_DOC, openapi_extra=_EXECUTE_BODY)
    async def execute(request: Request, user: str, process_id: str,
                      mode: str | None = Query(None, include_in_schema=False)):
        await authed(request, user)
        rec = get_process(user, process_id)
        raw = await read_body(request)
        body = load_json(raw, "the execute body")
        inputs, outputs = check_execute(body, rec.description)
        response = response_mode(body, rec.description, outputs)
        # refuse data inputs that name what this service must not fetch, before any job exists
        await run_in_threadpool(check_inputs, inputs, rec.description, policy_for(user, origins))
        limit = _job_timeout(body, executor)
        prefer = (request.headers.get("prefer") or "").lower()
        is_async = "respond-async" in prefer or (mode or "").lower() == "async"
        if not is_async:
            waits.take(user)  # 429/503 beyond the bounds, before any job exists
        try:
            job = store.create_job(user, process_id, inputs, outputs,
                                   "async" if is_async else "sync", response)
            executor.submit(job.id, **({} if limit is None else {"timeout": limit}))
            base = root(request, user)
            location = f"{base}/jobs/{job.id}"
            if is_async:
                return _json(status_info(base, store.get_job(job.id) or job), 201,
                             {"Location": location, "Preference-Applied": "respond-async"})
            job = await wait_for_job(request, executor, store, job.id, sync_timeout)
        finally:
            if not is_async:
                waits.give(user)
        if job is None:  # the client went away: nobody will read the results
            await run_in_threadpool(executor.dismiss, location.rsplit("/", 1)[1])
            return Response(status_code=499)  # nginx's "client closed request"; never sent
        if job.status == "successful":
            return _json(await job_results(executor, job, rec), 200, {"Location": location})
        if job.status in ("failed", "dismissed"):
            err = job_failed(job.id, job.status, job.message, f"{location}/logs")
            return _json(err.to_dict(), err.status, {"Location": location, **err.headers})
        return _json(status_info(base, job), 201, {"Location": location})

    add_job_routes(app, JobContext(store=store, executor=executor, authed=authed, root=root))

    app.add_middleware(ServerTimingMiddleware)
    if prefix := (env.get("EOPDE_ADES_PUBLIC_PATH") or "").rstrip("/"):
        app.add_middleware(ProxyPrefixMiddleware, prefix=prefix)
    return app


class ProxyPrefixMiddleware:
    """Requests that come through the hub's proxy keep its prefix (`/services/ades/...`): route
    them without it and build links with it. Direct requests (kernels on the platform's own
    machine) are left alone, so their links carry no prefix."""

    def __init__(self, app: Any, prefix: str):
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (scope["path"] == self.prefix
                                        or scope["path"].startswith(self.prefix + "/")):
            scope = {**scope, "root_path": scope.get("root_path", "") + self.prefix}
        await self.app(scope, receive, send)


def _negotiate(accept: str | None) -> str | None:
    """Pick the package's media type from an Accept header (None: nothing acceptable)."""
    if not accept or not accept.strip():
        return "application/cwl+yaml"
    ranked = []
    for i, part in enumerate(accept.split(",")):
        bits = [b.strip() for b in part.split(";")]
        mt, q = bits[0].lower(), 1.0
        for b in bits[1:]:
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, mt))
    for _, _, mt in sorted(ranked):
        if mt in PACKAGE_TYPES:
            return mt
        if mt == "application/json":
            return "application/cwl+json"
        if mt in ("*/*", "application/*"):
            return "application/cwl+yaml"
    return None
