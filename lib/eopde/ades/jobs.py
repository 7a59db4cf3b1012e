"""Jobs of an OGC API - Processes server: status documents, waiting with a progress bar, results,
logs, dismiss."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from .errors import (InputsUnavailable, JobDismissed, JobFailed, JobTimeout, NoSuchJob,
                     ProcessesError)

if TYPE_CHECKING:
    from .client import Client
    from .results import JobResults

FINAL = ("successful", "failed", "dismissed")
#: The link relation of a job's inputs (OGC API - Processes Part 4, Job Management, draft).
REL_INPUTS = "http://www.opengis.net/def/rel/ogc/1.0/inputs"


@dataclass
class JobStatus:
    """One status document (OGC ``statusInfo``) of a job; ``raw`` is the document itself."""

    id: str
    status: str
    process_id: str | None = None
    message: str | None = None
    progress: int | None = None
    created: str | None = None
    started: str | None = None
    finished: str | None = None
    updated: str | None = None
    links: list[dict] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, doc: dict, job_id: str | None = None) -> "JobStatus":
        progress = doc.get("progress")
        try:
            progress = int(progress) if progress is not None else None
        except (TypeError, ValueError):
            progress = None
        return cls(
            id=str(doc.get("jobID") or doc.get("id") or job_id or ""),
            status=str(doc.get("status") or "unknown").lower(),
            process_id=doc.get("processID") or doc.get("processId"),
            message=doc.get("message"),
            progress=progress,
            created=doc.get("created"),
            started=doc.get("started"),
            finished=doc.get("finished"),
            updated=doc.get("updated"),
            links=[link for link in doc.get("links") or [] if isinstance(link, dict)],
            raw=doc,
        )

    @property
    def done(self) -> bool:
        """True once the job is successful, failed or dismissed."""
        return self.status in FINAL

    @property
    def log_links(self) -> list[dict]:
        """The ``rel: related`` text/plain links (EOEPCA: one per CWL step) and ``rel: logs``."""
        return [link for link in self.links
                if link.get("rel") == "logs"
                or (link.get("rel") == "related"
                    and (link.get("type") or "text/plain").startswith("text/"))]


@dataclass
class JobInputs:
    """The inputs a job was executed with (``GET /jobs/{id}/inputs``); ``raw`` is the document.

    ``inputs``/``outputs``/``response`` are what an execute request takes again (a re-run:
    ``client.execute(ji.process_id, ji.inputs, ji.outputs, response=ji.response)``), except the
    inputs named in ``redacted``: the server replaced credentials in them (passwords, tokens,
    signed URLs' signatures) by ``REDACTED``, so a re-run must ask for those again."""

    job_id: str
    process_id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None = None
    response: str | None = None
    redacted: list[str] = field(default_factory=list)
    process_href: str | None = None
    links: list[dict] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, doc: dict, job_id: str, process_id: str | None = None) -> "JobInputs":
        inputs = doc.get("inputs")
        if isinstance(inputs, list):  # [{"id": ..., "value"|"href": ...}] (older drafts)
            inputs = {i["id"]: i.get("value", {"href": i["href"]} if "href" in i else None)
                      for i in inputs if isinstance(i, dict) and "id" in i}
        if not isinstance(inputs, dict):
            raise InputsUnavailable(f"the answer for job {job_id}'s inputs holds no `inputs` "
                                    "object", body=doc)
        outputs = doc.get("outputs")
        redacted = doc.get("redacted")
        process = doc.get("process")
        return cls(job_id=str(doc.get("jobID") or job_id),
                   process_id=doc.get("processID") or process_id, inputs=inputs,
                   outputs=outputs if isinstance(outputs, dict) else None,
                   response=doc.get("response") if isinstance(doc.get("response"), str) else None,
                   redacted=[str(r) for r in redacted] if isinstance(redacted, list) else [],
                   process_href=process if isinstance(process, str) else None,
                   links=[link for link in doc.get("links") or [] if isinstance(link, dict)],
                   raw=doc)


class Job:
    """A job on an ADES. ``status()`` fetches a fresh status document; ``wait()`` polls until the
    job ends; ``results()``, ``logs()`` and ``dismiss()`` do what they say."""

    def __init__(self, client: "Client", job_id: str, status: dict | JobStatus | None = None,
                 *, results: Any = None):
        self.client = client
        self.id = job_id
        self._status: JobStatus | None = None
        if status is not None:
            self._status = status if isinstance(status, JobStatus) else \
                JobStatus.from_dict(status, job_id)
        self._results_doc = results

    def __repr__(self) -> str:
        state = self._status.status if self._status else "?"
        process = f" process={self.process_id!r}" if self.process_id else ""
        return f"<Job {self.id}{process} {state}>"

    @property
    def process_id(self) -> str | None:
        return self._status.process_id if self._status else None

    @property
    def last_status(self) -> JobStatus | None:
        """The last status document seen (no request)."""
        return self._status

    def _path(self, suffix: str = "") -> str:
        from urllib.parse import quote

        return f"jobs/{quote(self.id, safe='')}{suffix}"

    def status(self) -> JobStatus:
        """A fresh status document."""
        if self._results_doc is not None and not self.id and self._status is not None:
            return self._status  # a synchronous execution: nothing to ask the server
        doc = self.client._json("GET", self._path())
        status = JobStatus.from_dict(doc, self.id)
        self._status = status
        return status

    def wait(self, timeout: float | None = None, interval: float = 1.0, progress: bool = True,
             *, max_interval: float = 10.0, backoff: float = 1.5) -> JobStatus:
        """Poll until the job ends and return its final status.

        Polls every ``interval`` seconds, growing by ``backoff`` up to ``max_interval``. Shows a
        progress bar (ipywidgets in a notebook, one updating line in a terminal) unless
        ``progress`` is False. Raises JobFailed (with the message and log links), JobDismissed,
        or JobTimeout (a TimeoutError) after ``timeout`` seconds; the job is left running then.
        """
        bar = _progress_display(self) if progress else None
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = interval
        try:
            while True:
                status = self.status()
                if bar:
                    bar.update(status)
                if status.done:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise JobTimeout(
                        f"job {self.id} still {status.status} after {timeout:g} s "
                        "(it goes on running; wait again or dismiss it)",
                        job_id=self.id, status=status, log_links=status.log_links)
                pause = delay
                if deadline is not None:
                    pause = min(delay, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)
                delay = min(delay * backoff, max_interval)
        finally:
            if bar:
                bar.close()
        if status.status == "failed":
            message = status.message or "the job failed (the server gave no message)"
            raise JobFailed(f"job {self.id} failed: {message}", job_id=self.id, status=status,
                            log_links=status.log_links)
        if status.status == "dismissed":
            raise JobDismissed(f"job {self.id} was dismissed", job_id=self.id, status=status)
        return status

    def results(self) -> "JobResults":
        """The job's results (``GET /jobs/{id}/results``): a JobResults that knows where the
        result STAC catalog is. JobFailed / JobDismissed (with the server's message and the log
        links) when the job failed or was dismissed; ResultNotReady while it runs."""
        from .results import JobResults

        if self._results_doc is None:
            try:
                self._results_doc = self.client._json("GET", self._path("/results"))
            except ProcessesError as err:
                raise self._outcome_error(err) from None
        return JobResults(self._results_doc, client=self.client)

    def _outcome_error(self, err: ProcessesError) -> Exception:
        """``err`` (the answer to GET results) as JobFailed / JobDismissed when the job failed
        or was dismissed: the local ADES says so in the exception type, other servers answer
        "not ready" or 500, so their status decides."""
        code = (err.type or "").rstrip("/").rsplit("/", 1)[-1].lower()
        status = None
        if code in ("job-failed", "job-dismissed") or err.status in (404, 410, 500):
            try:
                status = self.status()
            except ProcessesError:
                status = None
        state = status.status if status else {"job-failed": "failed",
                                              "job-dismissed": "dismissed"}.get(code)
        links = status.log_links if status else []
        if state == "failed":
            message = (status.message if status else None) or err.detail
            return JobFailed(f"job {self.id} failed: {message}", job_id=self.id, status=status,
                             log_links=links)
        if state == "dismissed":
            return JobDismissed(f"job {self.id} was dismissed", job_id=self.id, status=status)
        return err

    def inputs(self) -> JobInputs:
        """The inputs the job was executed with (``GET /jobs/{id}/inputs``, the status's
        ``…/rel/ogc/1.0/inputs`` link when it has one). NoSuchJob for an unknown job (or
        another user's); InputsUnavailable when the server does not serve a job's inputs (e.g.
        EOEPCA's zoo-project-dru ADES) or kept none for this job."""
        if not self.id:
            raise InputsUnavailable("a synchronous execution has no job on the server to ask "
                                    "for its inputs")
        link = next((lk.get("href") for lk in (self._status.links if self._status else [])
                     if lk.get("rel") in (REL_INPUTS, "inputs") and lk.get("href")), None)
        try:
            doc = self.client._json("GET", link or self._path("/inputs"))
        except InputsUnavailable:
            raise
        except ProcessesError as err:
            if err.status not in (404, 405, 501):
                raise
            status = self.status()  # NoSuchJob here: the job itself is unknown
            raise InputsUnavailable(
                f"the ADES does not give the inputs of job {self.id} ({status.status}): "
                f"GET {err.url or 'jobs/{id}/inputs'} answered {err.status} ({err.detail}); "
                "keep the inputs you execute with on your side for this server",
                status=err.status, url=err.url, body=err.body) from None
        if not isinstance(doc, dict):
            raise InputsUnavailable(f"the answer for job {self.id}'s inputs is not a JSON "
                                    "object", body=doc)
        return JobInputs.from_dict(doc, self.id, self.process_id)

    def step_logs(self, only: str | None = None) -> list[tuple[str, str]]:
        """The job's logs as ``(title, text)``: one per ``rel: related`` text/plain link of the
        status (EOEPCA's per-step logs) and ``rel: logs``; else ``/jobs/{id}/logs`` (titled
        "job") when the server has it. ``only``: the first log titled so, alone (the others are
        not read; [] when the job has none of that title)."""
        status = self.status() if self.id else self._status
        parts: list[tuple[str, str]] = []
        links = [(link.get("title") or link["href"], link["href"])
                 for link in (status.log_links if status else []) if link.get("href")]
        for title, href in links:
            if only is not None and title != only:
                continue
            try:
                text = self.client._text(href)
            except ProcessesError as err:
                text = f"(could not read this log: {err})"
            parts.append((title, text.rstrip()))
            if only is not None:
                return parts
        if not links and self.id and only in (None, "job"):
            try:
                text = self.client._text(self._path("/logs"))
            except (NoSuchJob, ProcessesError) as err:
                if getattr(err, "status", None) in (404, 405, 501):
                    return []
                raise
            parts.append(("job", text.rstrip()))
        return parts

    def logs(self) -> str:
        """The job's logs as text: each of `step_logs` under a ``==> title <==`` line (a server
        with one log only: that log alone)."""
        parts = self.step_logs()
        if len(parts) == 1 and parts[0][0] == "job":
            texts = [parts[0][1]]
        else:
            texts = [f"==> {title} <==\n{text}" for title, text in parts]
        return "\n\n".join(texts) + ("\n" if texts else "")

    def dismiss(self) -> JobStatus:
        """Dismiss the job (``DELETE /jobs/{id}``): stops it if running, removes its results."""
        doc = self.client._json("DELETE", self._path())
        self._status = JobStatus.from_dict(doc or {"status": "dismissed"}, self.id)
        return self._status


# -- progress display ------------------------------------------------------------------------


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where ipywidgets can display)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _progress_display(job: Job) -> "_Progress":
    if in_notebook():
        try:
            return _WidgetProgress(job)
        except ImportError:
            pass
    return _TerminalProgress(job)


class _Progress:
    def update(self, status: JobStatus) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


def _percent(status: JobStatus, default: int) -> int:
    if status.progress is not None:
        pct = status.progress
    else:
        pct = 100 if status.status == "successful" else default
    return max(0, min(100, int(pct)))


def _describe(status: JobStatus) -> str:
    percent = f" {status.progress}%" if status.progress is not None else ""
    message = (status.message or "").strip().splitlines()
    tail = f" - {message[0][:80]}" if message else ""
    return f"{status.status}{percent}{tail}"


class _TerminalProgress(_Progress):
    """One line on stderr, rewritten in place on a terminal; one line per change otherwise."""

    WIDTH = 20

    def __init__(self, job: Job, stream: TextIO | None = None):
        self.job = job
        self.stream: TextIO = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""
        self.written = False

    def update(self, status: JobStatus) -> None:
        pct = _percent(status, 0)
        filled = round(self.WIDTH * pct / 100)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        line = f"job {self.job.id} [{bar}] {_describe(status)}"
        if line == self.last:
            return
        if self.tty:
            pad = " " * max(0, len(self.last) - len(line))
            self.stream.write(f"\r{line}{pad}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.last = line
        self.written = True

    def close(self) -> None:
        if self.tty and self.written:
            self.stream.write("\n")
            self.stream.flush()


class _WidgetProgress(_Progress):
    """An ipywidgets IntProgress bar and, under it, the status text, shown in the cell's output.

    The text is HTML that wraps within the cell's width (a Label beside the bar was cut at the
    cell's edge)."""

    STYLES = {"successful": "success", "failed": "danger", "dismissed": "warning"}

    def __init__(self, job: Job):
        import ipywidgets as widgets
        from IPython.display import display

        self.bar = widgets.IntProgress(value=0, min=0, max=100, description="",
                                       bar_style="info", layout=widgets.Layout(width="100%"))
        self.label = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.job = job
        self._say(f"job {job.id}: waiting")
        display(widgets.VBox([self.bar, self.label],
                             layout=widgets.Layout(width="100%", max_width="60em")))

    def _say(self, text: str) -> None:
        import html

        self.label.value = (f"<div style='white-space:normal;overflow-wrap:anywhere;"
                            f"line-height:1.3'>{html.escape(text)}</div>")

    def update(self, status: JobStatus) -> None:
        self.bar.value = _percent(status, self.bar.value)
        self.bar.bar_style = self.STYLES.get(status.status, "info")
        self._say(f"job {self.job.id}: {_describe(status)}")
