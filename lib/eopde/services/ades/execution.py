"""What the ADES's execute and dismiss handlers need beyond the OGC routes themselves: bounded
synchronous waits that hold no thread, a job's time limit from the execute body, and the removal
of a dismissed job's results.

Synchronous execute (no ``Prefer: respond-async``): the request waits for the job on the event
loop (woken by the executor's change notification, :meth:`LocalExecutor.watch`, with a slow poll
of the store as a fallback), so waiting requests hold no worker or thread-pool thread and status
and listing requests answer whatever jobs do. At most ``EOPDE_ADES_SYNC_PER_USER`` (4) such
waits per user and ``EOPDE_ADES_SYNC_MAX`` (32) in all: beyond, 429 (that user) or 503 (the
service), with ``Retry-After``, and no job is created. When the client goes away before its job
ends, the job is dismissed: nobody will read the results of a synchronous execute, whose client
never learned the job's id (use ``Prefer: respond-async`` for jobs that must outlive the
connection).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

from fastapi import Request

from ..asgi import HttpMiddleware
from .errors import P1, OGCError, bad_request
from .store import FINAL

RESPONSES = ("document", "raw")
RAW_LIMIT = 16 * 1024 * 1024  # bytes of a result catalog.json a raw response reads

EXECUTE_DOC = (
    "Without `Prefer: respond-async` the request waits for the job and answers its results "
    "(at most 4 such waits per user and 32 in all: 429 or 503 beyond; when the client "
    "disconnects, the job is dismissed). The body may hold `timeout`: the job's time limit in "
    "seconds (default EOPDE_ADES_JOB_TIMEOUT, 3600; at most EOPDE_ADES_JOB_TIMEOUT_MAX, 21600); "
    "a job past its limit is stopped and ends `failed`. `response`: \"document\" (default: the "
    "results document, one entry per declared output) or \"raw\" (the one output's value: "
    "the result STAC catalog itself).")
DISMISS_DOC = (
    "A queued or running job is stopped (its processes killed) and ends `dismissed`. A job "
    "that has ended is marked `dismissed` and its results are deleted from your bucket "
    "(s3://user-<you>/processing-results/<jobID>/); its log stays readable. Dismissed jobs leave "
    "the job list (list them with `status=dismissed`).")


class SyncWaits:
    """Counts of synchronous executes waiting, per user and in all (event loop only)."""

    def __init__(self, per_user: int, total: int):
        self.per_user, self.total = max(1, per_user), max(1, total)
        self._by_user: Counter[str] = Counter()

    def take(self, user: str) -> None:
        """Count one more wait for ``user``, or raise 429/503 (OGC JSON)."""
        mine = self._by_user[user]
        if mine >= self.per_user:
            raise OGCError(429, P1 + "too-many-requests", "TooManyRequests",
                           f"you already have {mine} synchronous executions waiting (at most "
                           f"{self.per_user}); wait for one, or execute with `Prefer: "
                           "respond-async` and follow the job", headers={"Retry-After": "10"})
        if self._by_user.total() >= self.total:
            raise OGCError(503, P1 + "service-unavailable", "ServiceUnavailable",
                           f"the ADES has {self.total} synchronous executions waiting, its "
                           "most; retry later, or execute with `Prefer: respond-async`",
                           headers={"Retry-After": "10"})
        self._by_user[user] += 1

    def give(self, user: str) -> None:
        self._by_user -= Counter((user,))  # in place; drops a count that reaches 0




async def wait_for_job(request: Request, executor: Any, store: Any, job_id: str,
                       timeout: float) -> Any:
    """The job's record once it ended or ``timeout`` passed; None when the client went away."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    watch = getattr(executor, "watch", None)
    unwatch = watch(job_id, lambda: loop.call_soon_threadsafe(changed.set)) if watch else None
    deadline = loop.time() + timeout
    try:
        while True:
            job = store.get_job(job_id)  # one indexed row
            if job is None or job.status in FINAL or loop.time() >= deadline:
                return job
            if await request.is_disconnected():
                return None
            changed.clear()
            try:  # woken by the executor; every second to notice a client gone
                await asyncio.wait_for(changed.wait(), min(1.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                pass
    finally:
        if unwatch:
            unwatch()


def job_timeout(body: Any, executor: Any) -> float | None:
    """The execute body's ``timeout`` (seconds), checked against the executor's ceiling; a
    400 says what is allowed."""
    if not isinstance(body, dict) or body.get("timeout") is None:
        return None
    check = getattr(executor, "check_timeout", None)
    value = body["timeout"]
    try:
        if check is not None:
            return check(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError("`timeout` is a number of seconds, more than 0")
        return float(value)
    except ValueError as err:
        raise bad_request(f"`timeout`: {err}") from None


def response_mode(body: Any, description: dict, outputs: dict | None) -> str:
    """The execute body's ``response`` (OGC API - Processes 1.0): "document" (the default: the
    results document, ``{output id: {"href": ...}}``) or "raw" (the one output's value itself,
    so the process must have one output or ``outputs`` must name one); a 400 for anything else."""
    value = body.get("response") if isinstance(body, dict) else None
    if value is None:
        return "document"
    if value not in RESPONSES:
        raise bad_request(f"`response` is \"document\" (the results document) or \"raw\" (the "
                          f"output's value itself), not {json_text(value)}")
    if value == "raw":
        names = list(outputs) if outputs else list(description.get("outputs") or {})
        if len(names) != 1:
            raise bad_request(f"`response: raw` answers one output's value and this request "
                              f"asks for {len(names)} ({names}): name one in `outputs`, e.g. "
                              f"{{\"outputs\": {{\"{(names or ['id'])[0]}\": {{}}}}}}, or use "
                              "`response: document`")
    return value


def json_text(value: Any) -> str:
    import json

    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def results_document(job: Any, description: dict) -> dict:
    """The results document: the job's outputs that the process declares (and the execute
    request asked for), nothing else (the stored ``StacCatalogUri`` is not an output)."""
    declared = description.get("outputs") or {}
    wanted = set(job.outputs) if job.outputs else set(declared)
    return {name: value for name, value in (job.results or {}).items()
            if name in declared and name in wanted}


def raw_value(job: Any, description: dict, executor: Any) -> Any:
    """The value of the job's one output for ``response: raw``: for a Directory output, the
    result STAC catalog document itself (read from the user's bucket, its links absolute)."""
    doc = results_document(job, description)
    if not doc:
        return {}
    value = next(iter(doc.values()))
    href = value.get("href") if isinstance(value, dict) else None
    if not isinstance(href, str):
        return value
    return read_result_catalog(executor, job, href)


def read_result_catalog(executor: Any, job: Any, href: str) -> dict:
    """The catalog.json at ``href`` (``s3://<the job's bucket>/<its prefix>/...catalog.json``),
    with ``self``/``root`` links set to ``href`` and relative links made absolute, so a client
    can follow them. Only the job's own results are read."""
    import json

    from .stageout import StageOutTarget, job_prefix

    target = getattr(executor, "storage", None) or StageOutTarget.from_env()
    bucket, prefix = job_prefix(job.user, job.id, target)
    head = f"s3://{bucket}/{prefix}"
    if not href.startswith(head) or ".." in href or not href.endswith(".json"):
        raise OGCError(404, P1 + "no-such-output", "NoSuchOutput",
                       f"job {job.id!r} has no result catalog to give raw; ask for "
                       "`response: document`")
    try:
        obj = target.client().get_object(Bucket=bucket, Key=href[len(f"s3://{bucket}/"):])
        body = obj["Body"].read(RAW_LIMIT + 1)
        catalog = json.loads(body) if len(body) <= RAW_LIMIT else None
    except Exception as err:  # S3 down, the results deleted: say so, no server detail
        raise OGCError(503, P1 + "service-unavailable", "ServiceUnavailable",
                       f"the result catalog of job {job.id!r} cannot be read now "
                       f"({type(err).__name__}); its href is in the results document "
                       "(`response: document`)", headers={"Retry-After": "10"}) from None
    if not isinstance(catalog, dict):
        raise OGCError(406, P1 + "not-acceptable", "NotAcceptable",
                       f"the result catalog of job {job.id!r} is not a JSON object of at most "
                       f"{RAW_LIMIT // 2**20} MiB: read it from its href (`response: document`)")
    catalog["links"] = _absolute_links(catalog.get("links"), href, head)
    return catalog


def _absolute_links(links: Any, href: str, head: str) -> list[dict]:
    """The catalog's links for a client that has only ``href``: root/self set to it, relative
    links resolved against it; a relative link leaving the job's results (``head``) is dropped."""
    import posixpath

    base = posixpath.dirname(href[len("s3://"):])
    kind = "application/json"
    out = [{"rel": "root", "href": href, "type": kind}, {"rel": "self", "href": href, "type": kind}]
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") in ("self", "root"):
            continue
        link = dict(link)
        ref = link.get("href")
        if isinstance(ref, str) and "://" not in ref and not ref.startswith("/"):
            link["href"] = "s3://" + posixpath.normpath(posixpath.join(base, ref))
            if not link["href"].startswith(head):
                continue
        out.append(link)
    return out


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FILE_URL = re.compile(r"file://\S+")
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@%+=,~-]+/)*[\w.@%+=,~-]*")
_EXITED = re.compile(r"\[job ([^\]]+)\] exited with status: (-?\d+)")
_STEP_FAILED = re.compile(r"\[step ([^\]]+)\] completed permanentFail")
_ERROR = re.compile(r"^ERROR\s+(.*)$")


def scrub(text: str, limit: int = 300) -> str:
    """``text`` without server paths (``/...``, ``file://...``) and colour codes, on one line,
    at most ``limit`` characters: what a job's message may show its user."""
    text = _FILE_URL.sub("<path>", _ANSI.sub("", text))
    text = _PATH.sub(lambda m: "/" if m.group(0) == "/" else "<path>", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def failure_message(result: Any, log_path: Any) -> str:
    """A failed run's message: which step failed and its exit code (from cwltool's log), or
    why the result is refused; no server paths, no log lines (the job's log links have them)."""
    if getattr(result, "problems", None):
        return scrub("the tool ran but its result is not a valid STAC catalog: "
                     + "; ".join(result.problems))
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            log = _ANSI.sub("", f.read())
    except (OSError, TypeError):
        log = ""
    exits = list(dict.fromkeys(_EXITED.findall(log)))
    if exits:
        what = "; ".join(f"step {name} exited with code {code}" for name, code in exits[:3])
        more = f" (and {len(exits) - 3} more)" if len(exits) > 3 else ""
        return f"the tool failed: {what}{more}; the step's log is linked from the job status"
    steps = list(dict.fromkeys(_STEP_FAILED.findall(log)))
    errors = [m.group(1) for m in map(_ERROR.match, log.splitlines()) if m]
    if steps:
        return scrub(f"step {', '.join(steps[:3])} failed"
                     + (f": {errors[-1]}" if errors else "") + "; see the job's log")
    if errors:
        return scrub(f"the workflow failed: {errors[-1]}; see the job's log")
    return scrub(getattr(result, "message", "") or "the run failed; see the job's log")


def executor_limits(env: dict) -> dict[str, Any]:
    """LocalExecutor's keyword arguments from the environment (EOPDE_ADES_JOB_TIMEOUT,
    EOPDE_ADES_JOB_TIMEOUT_MAX, EOPDE_ADES_KEEP_WORK, seconds)."""
    out: dict[str, Any] = {}
    for var, key in (("EOPDE_ADES_JOB_TIMEOUT", "job_timeout"),
                     ("EOPDE_ADES_JOB_TIMEOUT_MAX", "max_timeout"),
                     ("EOPDE_ADES_KEEP_WORK", "keep_work")):
        if env.get(var):
            out[key] = float(env[var])
    return out


def delete_results(executor: Any, job: Any) -> str:
    """Delete an ended job's results; the note the job's message gets."""
    remove = getattr(executor, "delete_results", None)
    if remove is None or job.status != "successful" and not job.results:
        return ""
    try:
        count = remove(job)
    except Exception as err:  # S3 down: say so, the user may dismiss again
        return f"; its results could not be deleted ({type(err).__name__}): dismiss it again"
    return f"; its results were deleted from the bucket ({count} object(s))"


class ServerTimingMiddleware(HttpMiddleware):
    """Adds ``Server-Timing: app;dur=<ms>`` to every response: the service's own time for a
    request (from the first byte the server hands over to the response's start), apart from
    the client's and the network's (bench/security.py reads it)."""

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        import time

        began = time.perf_counter()

        async def timed(message: dict) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - began) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
