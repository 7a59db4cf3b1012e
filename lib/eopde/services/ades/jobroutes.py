"""The ADES's job routes: list, status, dismiss, results, logs and the inputs a job ran with.

`add_job_routes(app, ctx)` adds them under `/{user}/ogc-api/jobs`; `ctx` (`JobContext`) brings
what they share with the process routes of `app.py` (store, executor, authentication, the base of
links). `status_info` is the OGC ``statusInfo`` document of a job, also answered by execute.

``GET /jobs/{jobId}/inputs`` (OGC API - Processes Part 4, Job Management, draft; as Weaver
serves it): ``{"jobID", "processID", "process", "inputs", "outputs", "response", "redacted",
"links"}`` — the execute request's inputs as the ADES recorded them (a single value of an array
input is held as an array), to the job's owner only, credentials replaced (see `redact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from starlette.datastructures import URL
from starlette.exceptions import HTTPException as StarletteHTTPException

from .deploy import ID_RE
from .errors import (P1, OGCError, bad_request, job_failed, no_such_job, result_not_ready)
from .execution import DISMISS_DOC, raw_value, results_document
from .execution import delete_results as _delete_results
from .redact import redact_inputs
from .steplogs import step_log_files
from .store import FINAL, JobRecord, JobStore, ProcessRecord, utcnow

PREFIX = "/{user}/ogc-api"
STATUSES = ("accepted", "running", "successful", "failed", "dismissed")
TIME_FMT = "%Y-%m-%dT%H:%M:%SZ"
MAX_SKIP = 10 ** 9  # beyond any real list; larger values overflow the database's integers
REL_INPUTS = "http://www.opengis.net/def/rel/ogc/1.0/inputs"


@dataclass(frozen=True)
class JobContext:
    """What the job routes share with the rest of the app."""

    store: JobStore
    executor: Any
    #: (request, user in the path) -> the authenticated user, or raises 401/404
    authed: Callable[[Request, str], Awaitable[str]]
    #: (request, user) -> the base of that user's links (`…/{user}/ogc-api`)
    root: Callable[[Request, str], str]


def _fmt(t) -> str | None:
    return t.strftime(TIME_FMT) if t else None


def status_info(base: str, job: JobRecord) -> dict:
    """The OGC ``statusInfo`` document of ``job``, its links under ``base``."""
    href = f"{base}/jobs/{job.id}"
    links = [
        {"rel": "self", "type": "application/json", "title": "Status location", "href": href},
        {"rel": "monitor", "type": "application/json", "title": "Status location",
         "href": href},
        {"rel": "up", "type": "application/json", "title": "Job list",
         "href": f"{base}/jobs"},
        {"rel": "related", "type": "text/plain", "title": "Job log",
         "href": f"{href}/logs"},
        {"rel": REL_INPUTS, "type": "application/json", "title": "Inputs of the job",
         "href": f"{href}/inputs"},
    ]
    if job.status in FINAL:  # one log per CWL step, as ZOO's ADES links them
        links += [{"rel": "related", "type": "text/plain", "title": f"Tool log {p.name}",
                   "href": f"{href}/logs/{p.stem}"} for p in step_log_files(job.log_path)]
    if job.status == "successful":
        links.insert(2, {"rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                         "type": "application/json", "title": "Result location",
                         "href": f"{href}/results"})
        links.insert(3, {"rel": "results", "type": "application/json",
                         "title": "Result location", "href": f"{href}/results"})
    return {"jobID": job.id, "id": job.id, "type": "process", "processID": job.process_id,
            "status": job.status, "message": job.message or "",
            "progress": int(job.progress or 0), "created": _fmt(job.created),
            "started": _fmt(job.started), "finished": _fmt(job.finished),
            "updated": _fmt(job.updated), "links": links}


def inputs_document(base: str, job: JobRecord, process: ProcessRecord | None) -> dict:
    """The inputs document of ``job`` (see the module doc); 404 when none was recorded."""
    if not isinstance(job.inputs, dict):
        raise OGCError(404, P1 + "no-inputs-recorded", "NoInputsRecorded",
                       f"job {job.id!r} was recorded without its inputs (before this ADES kept "
                       "them); its status and results are still there")
    declared = (process.description.get("inputs") or {}) if process is not None else {}
    inputs, redacted = redact_inputs(job.inputs, declared)
    href = f"{base}/jobs/{job.id}"
    process_href = f"{base}/processes/{job.process_id}"
    doc: dict[str, Any] = {
        "jobID": job.id, "processID": job.process_id, "process": process_href,
        "inputs": inputs, "response": job.response or "document", "redacted": redacted,
        "links": [
            {"rel": "self", "type": "application/json", "title": "Inputs of the job",
             "href": f"{href}/inputs"},
            {"rel": "up", "type": "application/json", "title": "Status of the job",
             "href": href},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/process",
             "type": "application/json", "title": "The process", "href": process_href},
        ]}
    if job.outputs is not None:
        doc["outputs"] = job.outputs
    return doc


def get_job(store: JobStore, user: str, job_id: str) -> JobRecord:
    """``user``'s job ``job_id``, else 404 (the same for another user's job)."""
    if not ID_RE.match(job_id):
        raise no_such_job(job_id)
    job = store.get_job(job_id, user)
    if job is None:
        raise no_such_job(job_id)
    return job


async def job_results(executor: Any, job: JobRecord, rec: ProcessRecord | None) -> Any:
    """What the results of a successful job are, in the response the execute asked for."""
    description = rec.description if rec is not None else {
        "outputs": {k: {} for k in job.results or {} if k != "StacCatalogUri"}}
    if job.response == "raw":
        return await run_in_threadpool(raw_value, job, description, executor)
    return results_document(job, description)


def add_job_routes(app: FastAPI, ctx: JobContext) -> None:
    """The routes under `/{user}/ogc-api/jobs`."""
    store, executor, authed, root = ctx.store, ctx.executor, ctx.authed, ctx.root

    @app.get(PREFIX + "/jobs", tags=["Jobs"], summary="List your jobs")
    async def list_jobs(request: Request, user: str,
                        limit: int = Query(1000, ge=1, le=10000),
                        skip: int = Query(0, ge=0, le=MAX_SKIP),
                        processID: list[str] | None = Query(None),
                        status: list[str] | None = Query(None),
                        type: str | None = Query(None)):
        await authed(request, user)
        statuses = [s for v in status or [] for s in v.split(",") if s]
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise bad_request(f"unknown status {bad}; use any of {list(STATUSES)}")
        pids = [p for v in processID or [] for p in v.split(",") if p]
        base = root(request, user)
        if type not in (None, "process"):
            jobs: list[Any] = []
            total = 0
        else:
            jobs, total = store.list_jobs(user, process_ids=pids or None,
                                          statuses=statuses or None, limit=limit, skip=skip)
        query = request.url.query
        here = URL(f"{base}/jobs" + (f"?{query}" if query else ""))
        links = [{"rel": "self", "type": "application/json", "href": str(here)}]
        if skip + len(jobs) < total:
            links.append({"rel": "next", "type": "application/json",
                          "href": str(here.include_query_params(skip=skip + limit))})
        return {"jobs": [status_info(base, j) for j in jobs], "links": links,
                "numberTotal": total}

    @app.get(PREFIX + "/jobs/{job_id}", tags=["Jobs"], summary="Status of a job")
    async def job_status(request: Request, user: str, job_id: str):
        await authed(request, user)
        # The most polled route: read the store off the event loop so pollers don't queue.
        job = await run_in_threadpool(get_job, store, user, job_id)
        return status_info(root(request, user), job)

    @app.delete(PREFIX + "/jobs/{job_id}", tags=["Jobs"], summary="Dismiss a job",
                description=DISMISS_DOC)
    async def dismiss(request: Request, user: str, job_id: str):
        await authed(request, user)
        job = get_job(store, user, job_id)
        if job.status not in FINAL:
            job = await run_in_threadpool(executor.dismiss, job.id)
        elif job.status != "dismissed":
            note = await run_in_threadpool(_delete_results, executor, job)
            job = store.update_job(job.id, status="dismissed", updated=utcnow(),
                                   message=f"dismissed after it was {job.status}{note}")
        base = root(request, user)
        info = status_info(base, job)
        info["links"].append({"rel": "parent", "type": "application/json",
                              "title": "Job list", "href": f"{base}/jobs"})
        return info

    @app.get(PREFIX + "/jobs/{job_id}/results", tags=["Jobs"], summary="Results of a job")
    async def results(request: Request, user: str, job_id: str):
        await authed(request, user)
        job = get_job(store, user, job_id)
        if job.status in ("failed", "dismissed"):  # the failure itself, not "not ready"
            raise job_failed(job.id, job.status, job.message,
                             f"{root(request, user)}/jobs/{job.id}/logs")
        if job.status != "successful":
            raise result_not_ready(job.id, job.status)
        return await job_results(executor, job, store.get_process(user, job.process_id))

    @app.get(PREFIX + "/jobs/{job_id}/inputs", tags=["Jobs"],
             summary="The inputs a job was executed with (credentials redacted)")
    async def inputs(request: Request, user: str, job_id: str):
        await authed(request, user)
        job = await run_in_threadpool(get_job, store, user, job_id)
        process = await run_in_threadpool(store.get_process, user, job.process_id)
        return inputs_document(root(request, user), job, process)

    @app.get(PREFIX + "/jobs/{job_id}/logs/{step}", tags=["Jobs"],
             summary="Log of one CWL step of a finished job (text)",
             response_class=PlainTextResponse)
    async def step_log(request: Request, user: str, job_id: str, step: str):
        await authed(request, user)
        job = await run_in_threadpool(get_job, store, user, job_id)
        for path in step_log_files(job.log_path):
            if path.stem == step:
                return PlainTextResponse(path.read_text(errors="replace"))
        raise StarletteHTTPException(
            404, f"job {job.id!r} has no log of a step {step!r}; its status document links "
                 "the logs it has (rel 'related')")

    @app.get(PREFIX + "/jobs/{job_id}/logs", tags=["Jobs"], summary="Log of a job (text)",
             response_class=PlainTextResponse)
    async def logs(request: Request, user: str, job_id: str):
        await authed(request, user)
        job = get_job(store, user, job_id)
        text = ""
        if job.log_path:
            try:
                text = await run_in_threadpool(
                    Path(job.log_path).read_text, encoding="utf-8", errors="replace")
            except OSError:
                text = ""
        if not text:
            text = f"job {job.id}: {job.status}" + (f" - {job.message}" if job.message else "") \
                + "\n"
        return PlainTextResponse(text)
