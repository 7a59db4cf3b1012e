"""OGC API - Processes exception documents of the local ADES (`{type, title, status, detail}`)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from ..asgi import LastResortMiddleware

log = logging.getLogger(__name__)

P1 = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
P2 = "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/"
PROBLEM = "application/problem+json"


class OGCError(Exception):
    """An HTTP error answered as an OGC exception document."""

    def __init__(self, status: int, type_: str, title: str, detail: str, *,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.status, self.type, self.title, self.detail = status, type_, title, detail
        self.headers = headers or {}
        self.extra = extra or {}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status,
                "detail": self.detail, **self.extra}


def bad_request(detail: str, code: str = "InvalidParameterValue", **extra) -> OGCError:
    return OGCError(400, P1 + _kebab(code), code, detail, extra=extra)


def not_found(detail: str) -> OGCError:
    return OGCError(404, P1 + "not-found", "NotFound", detail)


def no_such_process(process_id: str) -> OGCError:
    return OGCError(404, P1 + "no-such-process", "NoSuchProcess",
                    f"no process {process_id!r} is deployed for you; GET /processes lists "
                    "yours, POST /processes deploys one")


def no_such_job(job_id: str) -> OGCError:
    return OGCError(404, P1 + "no-such-job", "NoSuchJob",
                    f"no job {job_id!r} of yours; GET /jobs lists your jobs")


def result_not_ready(job_id: str, status: str) -> OGCError:
    return OGCError(404, P1 + "result-not-ready", "ResultNotReady",
                    f"job {job_id!r} is {status}: results exist only once it is successful; "
                    f"poll GET /jobs/{job_id} until its status is 'successful'")


def job_failed(job_id: str, status: str, message: str, log_href: str) -> OGCError:
    """The answer for the results of a job that failed (500, as OGC API - Processes 1.0 lists
    exceptions instead of results) or was dismissed (410: its results were deleted). The
    detail is the job's message (what failed, no server paths); the log is at ``log_href``."""
    if status == "dismissed":
        return OGCError(410, P1 + "job-dismissed", "JobDismissed",
                        f"job {job_id!r} was dismissed: it has no results ({message}); "
                        f"its log is at {log_href}", extra={"jobID": job_id})
    return OGCError(500, P1 + "job-failed", "JobFailed",
                    f"job {job_id!r} failed: {message}; its log is at {log_href}",
                    extra={"jobID": job_id})


def duplicated_process(process_id: str, location: str) -> OGCError:
    return OGCError(409, P2 + "duplicated-process", "DuplicatedProcess",
                    f"a process {process_id!r} is already deployed; replace it with "
                    f"PUT {location} or undeploy it first with DELETE {location}",
                    headers={"Location": location})


def workflow_not_found(detail: str) -> OGCError:
    return OGCError(400, P2 + "workflow-not-found", "WorkflowNotFound", detail)


def unsupported_media_type(got: str, accepted: list[str]) -> OGCError:
    return OGCError(415, P2 + "unsupported-media-type", "UnsupportedMediaType",
                    f"cannot deploy a body of type {got or '(none)'!r}; send one of: "
                    + ", ".join(accepted))


def too_large(limit: int) -> OGCError:
    return OGCError(413, P1 + "payload-too-large", "PayloadTooLarge",
                    f"the request body is over the limit of {limit} bytes; give the "
                    "application package by href instead, or ask the operator to raise "
                    "EOPDE_ADES_MAX_BODY")


def unauthorized(detail: str) -> OGCError:
    return OGCError(401, P1 + "unauthorized", "Unauthorized", detail,
                    headers={"WWW-Authenticate": 'Bearer realm="eopde-ades"'})


def not_acceptable(accepted: list[str]) -> OGCError:
    return OGCError(406, P1 + "not-acceptable", "NotAcceptable",
                    "the package can be returned as: " + ", ".join(accepted)
                    + "; ask for one of them in the Accept header")


def _kebab(code: str) -> str:
    out = []
    for i, ch in enumerate(code):
        if ch.isupper() and i:
            out.append("-")
        out.append(ch.lower())
    return "".join(out)


class LastResort(LastResortMiddleware):
    """ASGI middleware: an exception nothing else handled becomes a 500 problem document
    without details (the trace goes to the log, with a reference the answer gives). It does not
    re-raise, so the server keeps the connection open for the client's next request."""

    def failed(self, scope: dict) -> tuple[bytes, bytes]:
        ref = uuid.uuid4().hex[:12]
        log.exception("internal error %s on %s %s", ref, scope.get("method"), scope.get("path"))
        body = json.dumps({"type": P1 + "server-error", "title": "InternalServerError",
                           "status": 500, "detail": f"internal error (reference {ref}); "
                           "the operator finds it in the service log"}).encode()
        return PROBLEM.encode(), body
