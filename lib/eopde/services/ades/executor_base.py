"""What every ADES executor shares (the local one, :mod:`.executor`, and the Kubernetes one,
:mod:`.k8s_executor`): waiting on and watching a job's record, the time-limit check, the job log's
line format, and reading OGC execute inputs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .stageout import delete_results
from .store import FINAL, utcnow

DEFAULT_TIMEOUT = 3600.0  #: seconds a job may run (EOPDE_ADES_JOB_TIMEOUT)
DEFAULT_MAX_TIMEOUT = 6 * 3600.0  #: the most a job may ask for (EOPDE_ADES_JOB_TIMEOUT_MAX)
DISMISS_MESSAGE = "dismissed: the job was stopped at the user's request"


def unwrap(value: Any) -> Any:
    """An OGC input value without its qualification: {"value": v} -> v, {"href": u} -> u."""
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, dict):
        if "value" in value and len(set(value) - {"value", "mediaType", "type", "format"}) == 0:
            return value["value"]
        if "href" in value and value.get("class") not in ("File", "Directory"):
            return value["href"]
    return value


def split_inputs(workflow, inputs: dict) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """OGC inputs -> (parameters, STAC item URLs of the Directory inputs)."""
    params: dict[str, Any] = {}
    stac: dict[str, list[str]] = {}
    for name, raw in inputs.items():
        value = unwrap(raw)
        spec = workflow.input(name)
        if spec is not None and spec.kind in ("Directory", "Directory[]") and (
                isinstance(value, str) or isinstance(value, list)
                and all(isinstance(v, str) for v in value)):
            stac[name] = [value] if isinstance(value, str) else list(value)
        else:
            params[name] = value
    return params, stac


def count_steps(workflow) -> int:
    """Steps of the entry Workflow (1 for a lone CommandLineTool), as load_workflow read them
    (the CWL is not parsed again)."""
    return getattr(workflow, "steps", 0) or 1


def append_log(path: str | None, line: str) -> None:
    """One timestamped line at the end of a job's log (a log that cannot be written is skipped:
    the job's record still says what happened)."""
    if not path:
        return
    try:
        with open(path, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    except OSError:
        pass


class ExecutorBase:
    """Waiters and watchers of jobs, and the time-limit rule. Subclasses call
    :meth:`_notify` (lock held) whenever a job's record changes."""

    storage: Any  #: where results go (a StageOutTarget), set by each subclass

    def __init__(self, store, *, job_timeout: float = DEFAULT_TIMEOUT,
                 max_timeout: float = DEFAULT_MAX_TIMEOUT):
        self.store = store
        self.max_timeout = float(max_timeout)
        self.job_timeout = min(float(job_timeout), self.max_timeout)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._watchers: dict[str, list[Callable[[], None]]] = {}
        self._dismissed: set[str] = set()

    def check_timeout(self, timeout: Any) -> float:
        """A requested time limit, checked: ValueError says what is allowed."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not 0 < timeout <= self.max_timeout:
            raise ValueError(f"a job's time limit is a number of seconds, more than 0 and at "
                             f"most {self.max_timeout:g} (the default is {self.job_timeout:g})")
        return float(timeout)

    def wait(self, job_id: str, timeout: float | None = None):
        """The job's record once it has ended (or when ``timeout`` seconds have passed)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.store.get_job(job_id)
            if job is None or job.status in FINAL:
                return job
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return job
            with self._changed:
                self._changed.wait(min(0.5, left) if left is not None else 0.5)

    def watch(self, job_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` (from any thread) whenever the job changes; returns the function
        that stops watching. For waiting without a thread (asyncio)."""
        with self._lock:
            self._watchers.setdefault(job_id, []).append(callback)

        def unwatch() -> None:
            with self._lock:
                left = [c for c in self._watchers.get(job_id, []) if c is not callback]
                if left:
                    self._watchers[job_id] = left
                else:
                    self._watchers.pop(job_id, None)
        return unwatch

    def delete_results(self, job) -> int:
        """Delete a job's results from its owner's bucket (dismiss of an ended job); returns the
        number of objects deleted. Raises StageOutError when S3 fails. Subclasses set
        `self.storage` (a StageOutTarget)."""
        return delete_results(job.user, job.id, target=self.storage)

    def _finish(self, job_id: str, status: str, message: str, **fields: Any) -> None:
        """Record a job's end once: nothing when it has already ended or was dismissed."""
        with self._lock:
            current = self.store.get_job(job_id)
            if current is None or current.status in FINAL or job_id in self._dismissed:
                return
            self.store.update_job(job_id, status=status, message=message, finished=utcnow(),
                                  **self._finish_fields(current), **fields)
            self._notify(job_id)

    def _finish_fields(self, job) -> dict[str, Any]:
        """What a subclass records or does besides status, message and time when `job` ends
        (lock held; called before the record is written)."""
        return {}

    def _notify(self, job_id: str) -> None:
        """Wake the waiters of a job (lock held)."""
        self._changed.notify_all()
        for callback in list(self._watchers.get(job_id, [])):
            try:
                callback()
            except Exception:  # a closed event loop: that waiter is gone
                pass

    @staticmethod
    def _append_log(path: str | None, line: str) -> None:
        append_log(path, line)
