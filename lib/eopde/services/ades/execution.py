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
from typing import Any

from fastapi import Request

from .errors import P1, OGCError, bad_request
from .store import FINAL

EXECUTE_DOC = (
    "Without `Prefer: respond-async` the request waits for the job and answers its results "
    "(at most 4 such waits per user and 32 in all: 429 or 503 beyond; when the client "
    "disconnects, the job is dismissed). The body may hold `timeout`: the job's time limit in "
    "seconds (default EOPDE_ADES_JOB_TIMEOUT, 3600; at most EOPDE_ADES_JOB_TIMEOUT_MAX, 21600); "
    "a job past its limit is stopped and ends `failed`.")
DISMISS_DOC = (
    "A queued or running job is stopped (its processes killed) and ends `dismissed`. A job "
    "that has ended is marked `dismissed` and its results are deleted from your bucket "
    "(s3://user-<you>/processing-results/<jobID>/); its log stays readable.")


class SyncWaits:
    """Counts of synchronous executes waiting, per user and in all (event loop only)."""

    def __init__(self, per_user: int, total: int):
        self.per_user, self.total = max(1, per_user), max(1, total)
        self._by_user: dict[str, int] = {}

    def take(self, user: str) -> None:
        """Count one more wait for ``user``, or raise 429/503 (OGC JSON)."""
        mine = self._by_user.get(user, 0)
        if mine >= self.per_user:
            raise OGCError(429, P1 + "too-many-requests", "TooManyRequests",
                           f"you already have {mine} synchronous executions waiting (at most "
                           f"{self.per_user}); wait for one, or execute with `Prefer: "
                           "respond-async` and follow the job", headers={"Retry-After": "10"})
        if sum(self._by_user.values()) >= self.total:
            raise OGCError(503, P1 + "service-unavailable", "ServiceUnavailable",
                           f"the ADES has {self.total} synchronous executions waiting, its "
                           "most; retry later, or execute with `Prefer: respond-async`",
                           headers={"Retry-After": "10"})
        self._by_user[user] = mine + 1

    def give(self, user: str) -> None:
        left = self._by_user.get(user, 0) - 1
        if left > 0:
            self._by_user[user] = left
        else:
            self._by_user.pop(user, None)




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


class ServerTimingMiddleware:
    """Adds ``Server-Timing: app;dur=<ms>`` to every response: the service's own time for a
    request (from the first byte the server hands over to the response's start), apart from
    the client's and the network's (bench/security.py reads it)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
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
