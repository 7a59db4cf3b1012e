"""Errors of the OGC API - Processes client.

An OGC exception document (``{"type", "title", "status", "detail"}``, as EOEPCA's ADES and the
local ADES send them) becomes a `ProcessesError` subclass chosen from the last part of the
``type`` URI (``…/ogcapi-processes-1/1.0/no-such-process`` -> `NoSuchProcess`; ZOO's CamelCase
codes such as ``NoSuchProcess`` match as well) and, failing that, from the HTTP status.
"""

from __future__ import annotations

from typing import Any


class ProcessesError(Exception):
    """An ADES answered with an error (or could not be reached).

    Attributes: ``type`` (the OGC exception type URI, or None), ``title``, ``status`` (HTTP
    status, or None when the server was not reached), ``detail``, ``url`` (of the request) and
    ``body`` (the decoded exception document, or the start of a non-JSON body).
    """

    def __init__(self, detail: str, *, type: str | None = None, title: str | None = None,
                 status: int | None = None, url: str | None = None, body: Any = None):
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.url = url
        self.body = body
        super().__init__(self._message())

    def _message(self) -> str:
        head = " ".join(p for p in (str(self.status) if self.status else "", self.title or "") if p)
        text = f"{head}: {self.detail}" if head else self.detail
        return f"{text} ({self.url})" if self.url else text


class NoSuchProcess(ProcessesError, LookupError):
    """The process does not exist (or is not visible to this user)."""


class NoSuchJob(ProcessesError, LookupError):
    """The job does not exist (or is not visible to this user)."""


class InputsUnavailable(ProcessesError, LookupError):
    """The server does not give the inputs a job ran with: it has no ``GET /jobs/{id}/inputs``
    (OGC API - Processes Part 4, Job Management, a draft that EOEPCA's zoo-project-dru ADES does
    not serve), or it recorded none for this job."""


class DuplicateProcess(ProcessesError):
    """Deploy of a process id that is already deployed (409). ``location`` is the existing
    process's URL when the server gave it."""

    location: str | None = None


class ImmutableProcess(ProcessesError, PermissionError):
    """The process cannot be replaced or undeployed (a built-in process)."""


class ResultNotReady(ProcessesError):
    """The job has no results (yet): it is not finished, or it failed."""


class InvalidInput(ProcessesError, ValueError):
    """The request was refused as malformed: bad inputs, an unknown workflow id, a media type the
    server does not accept, …"""


class Unauthorized(ProcessesError, PermissionError):
    """No token, an expired token, or not allowed (401/403)."""


class ADESConnectionError(ProcessesError, ConnectionError):
    """The ADES could not be reached; the message names the URL."""


class JobError(Exception):
    """Base class of the errors of a job's outcome."""

    def __init__(self, message: str, *, job_id: str | None = None, status: Any = None,
                 log_links: list[dict] | None = None):
        self.job_id = job_id
        self.status = status
        self.log_links = log_links or []
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        text = self.message
        if self.log_links:
            text += "\nlogs:\n" + "\n".join(
                f"  {link.get('title') or 'log'}: {link.get('href')}" for link in self.log_links)
        return text


class JobFailed(JobError):
    """The job ended as ``failed``; ``message`` is the server's message, ``log_links`` its
    per-step log links (read them with ``job.logs()``)."""


class JobDismissed(JobError):
    """The job was dismissed before it finished."""


class JobTimeout(JobError, TimeoutError):
    """`Job.wait` gave up before the job finished (the job goes on running)."""


#: Last part of the OGC type URI (normalised: lower case, no '-' or '_') -> class.
_BY_TYPE: dict[str, type[ProcessesError]] = {
    "nosuchprocess": NoSuchProcess,
    "nosuchjob": NoSuchJob,
    "duplicatedprocess": DuplicateProcess,
    "duplicateprocess": DuplicateProcess,
    "immutableprocess": ImmutableProcess,
    "resultnotready": ResultNotReady,
    "noinputsrecorded": InputsUnavailable,
    "invalidparametervalue": InvalidInput,
    "missingparametervalue": InvalidInput,
    "invalidinput": InvalidInput,
    "badrequest": InvalidInput,
    "workflownotfound": InvalidInput,
    "unsupportedmediatype": InvalidInput,
    "nosuchmode": InvalidInput,
    "nosuchoutput": InvalidInput,
    "invalidmethod": InvalidInput,
    "unauthorized": Unauthorized,
    "forbidden": Unauthorized,
}

_BY_STATUS: dict[int, type[ProcessesError]] = {
    400: InvalidInput, 401: Unauthorized, 403: Unauthorized, 409: DuplicateProcess,
    413: InvalidInput, 415: InvalidInput, 422: InvalidInput,
}


def error_class(type_uri: str | None, status: int | None) -> type[ProcessesError]:
    """The exception class for an OGC exception ``type`` URI and an HTTP status."""
    if type_uri:
        code = type_uri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
        code = code.lower().replace("-", "").replace("_", "")
        if code in _BY_TYPE:
            return _BY_TYPE[code]
    return _BY_STATUS.get(status or 0, ProcessesError)


def from_response(response: Any) -> ProcessesError:
    """The exception for an httpx response with an error status."""
    status = response.status_code
    url = str(response.request.url) if response.request is not None else None
    doc: Any = None
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and ("type" in doc or "title" in doc or "detail" in doc):
        type_uri = doc.get("type") if isinstance(doc.get("type"), str) else None
        title = doc.get("title")
        detail = doc.get("detail") or doc.get("description") or title or "(no detail)"
        try:
            status_doc = int(doc.get("status") or status)
        except (TypeError, ValueError):
            status_doc = status
        cls = error_class(type_uri, status_doc)
        err = cls(str(detail), type=type_uri, title=title, status=status_doc, url=url, body=doc)
    else:
        text = response.text.strip()
        start = " ".join(text[:300].split()) or "(empty body)"
        if len(text) > 300:
            start += " …"
        ctype = response.headers.get("content-type", "no content type")
        title = response.reason_phrase or None
        cls = error_class(None, status)
        err = cls(f"non-JSON answer ({ctype}): {start}", title=title, status=status, url=url,
                  body=text[:1000])
    if isinstance(err, DuplicateProcess):
        err.location = response.headers.get("location")
    return err
