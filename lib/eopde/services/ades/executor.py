"""Job execution of the local ADES: a bounded pool of worker threads, each running one job at a
time through :func:`eopde.apppkg.run.run_package` (the same code path as `eopde run`): STAC
stage-in, cwltool, the result check, then stage-out to the user's S3 bucket
(:mod:`eopde.services.ades.stageout`).

A job's folder ``<work_dir>/<job-id>/``::

    job.log                  the job's log: executor lines (stage-in, engine, stage-out) and
                             cwltool's whole output; its path is in the store from the start
    package/<process>.cwl    the deployed CWL, as stored
    run/                     run_package's run folder (stage-in/, job.yml, outputs/)

Statuses and progress: ``accepted`` 0 -> ``running`` 10 (stage-in) -> 20..90 (cwltool; each
completed step of the Workflow moves it on) -> 95 (stage-out) -> ``successful`` 100, or
``failed`` (message with the reason; the log tail is in the log) or ``dismissed``.

cwltool runs in its own session (process group), whose leader's pid is stored in the job
record: :meth:`LocalExecutor.dismiss` sends SIGTERM to the whole group, then SIGKILL after
``kill_grace`` seconds, so the tool and everything it started stop too.

Restarts (durability): :meth:`LocalExecutor.start` first accounts for what a previous process
left in the store. Jobs ``running`` end ``failed`` with the message
:data:`RESTART_MESSAGE` (their leftover cwltool process group is killed when the recorded pid
still runs cwltool). Jobs ``accepted`` were never started, nothing of them ran: they are
re-queued, oldest first, and run normally (a sync client that was waiting is gone, but the job
is still visible, and its results are kept, through the jobs API).

Inputs: OGC execute values, possibly qualified (``{"value": v}``, ``{"href": url}``, lists of
those). ``Directory`` / ``Directory[]`` inputs take STAC item URLs (http(s):// or s3://), staged
in by :func:`eopde.apppkg.stagein.stage_items`; the rest go through the Workflow's type
conversion (:func:`eopde.apppkg.run.convert_params`).

Container: the engine is detected once, at :meth:`start` (``engine="auto"``: docker, podman,
singularity, apptainer that work); without one the tool runs ``--no-container`` in this Python
environment and the job log says so. Without a container the package's app folder
(``/opt/eopde/app`` in the image) must exist on this host: ``app_dirs`` maps a process to it.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..process import group_alive, stop_group
from .stageout import StageOutError, StageOutTarget, stage_out
from .steplogs import write_step_logs
from .store import utcnow

log = logging.getLogger(__name__)

FINAL = ("successful", "failed", "dismissed")
RESTART_MESSAGE = "the ADES service restarted while this job was running; run it again"
REQUEUE_MESSAGE = "re-queued after a restart of the ADES service"
DISMISS_MESSAGE = "dismissed: the job was stopped at the user's request"

P_ACCEPTED, P_STAGE_IN, P_RUN, P_RUN_END, P_STAGE_OUT, P_DONE = 0, 10, 20, 90, 95, 100
_STEP_DONE = re.compile(r"^(step|job) (\S+): completed")


def _unwrap(value: Any) -> Any:
    """An OGC input value without its qualification: {"value": v} -> v, {"href": u} -> u."""
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        if "value" in value and len(set(value) - {"value", "mediaType", "type", "format"}) == 0:
            return value["value"]
        if "href" in value and value.get("class") not in ("File", "Directory"):
            return value["href"]
    return value


def _runs_cwltool(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"cwltool" in cmdline


class _Dismissed(Exception):
    pass


class LocalExecutor:
    """Runs the store's jobs with cwltool in ``workers`` threads (default: the number of cores).

    ``storage``: where results go (default: :meth:`StageOutTarget.from_env`, i.e. the
    ``EOPDE_S3_ENDPOINT`` / ``AWS_*`` environment). ``kill_grace``: seconds between SIGTERM and
    SIGKILL on dismiss. ``app_dirs(process) -> Path | None``: the host folder holding the
    package's app files, for runs without a container (default: the folder of the stored CWL).
    """

    def __init__(self, store, *, work_dir: Path, workers: int | None = None,
                 engine: str = "auto", storage: StageOutTarget | None = None,
                 kill_grace: float = 10.0,
                 app_dirs: Callable[[Any], Path | None] | None = None,
                 url_policy: Callable[[str], Any] | None = None):
        self.store = store
        self.work_dir = Path(work_dir).expanduser().resolve()
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.engine = engine
        self.storage = storage
        self.kill_grace = kill_grace
        self.app_dirs = app_dirs
        self.url_policy = url_policy  # user -> what stage-in may fetch for them (urlguard)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.RLock()
        self._procs: dict[str, subprocess.Popen] = {}
        self._dismissed: set[str] = set()
        self._changed = threading.Condition(self._lock)
        self._engine_name: str | None = None
        self._engine_note = ""
        self._engine_error: str | None = None
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Recover what a previous process left (see the module doc), then start the workers."""
        if self._started:
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.recover()
        from eopde.apppkg.run import detect_engine

        self._engine_error = None
        try:
            self._engine_name, self._engine_note = detect_engine(self.engine)
        except Exception as err:  # a named engine that does not work: say it in every job log
            self._engine_name, self._engine_note = None, f"container engine problem: {err}"
            self._engine_error = str(err)
        self._started = True
        for n in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"ades-worker-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def recover(self) -> list[str]:
        """Account for jobs a previous process left ``running`` (-> failed) or ``accepted``
        (-> re-queued). Returns the ids re-queued."""
        for job in self.store.jobs_with_status(["running"]):
            note = ""
            if job.pid and group_alive(job.pid) and _runs_cwltool(job.pid):
                stop_group(job.pid, timeout=self.kill_grace)
                gone = not group_alive(job.pid)
                note = (" (its leftover processes were stopped)" if gone
                        else f" (its processes, group {job.pid}, could not be stopped)")
            self.store.update_job(job.id, status="failed", message=RESTART_MESSAGE + note,
                                  finished=utcnow(), pid=None)
            self._append_log(job.log_path, f"eopde: {RESTART_MESSAGE}{note}")
        queued = sorted(self.store.jobs_with_status(["accepted"]), key=lambda j: j.created)
        for job in queued:
            self.store.update_job(job.id, message=REQUEUE_MESSAGE, progress=P_ACCEPTED)
            self._queue.put(job.id)
        return [j.id for j in queued]

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking jobs. ``wait``: let running jobs finish (queued ones stay ``accepted`` in
        the store and are re-queued by the next start); else running jobs are stopped and end
        ``failed`` (as a restart would leave them)."""
        # drop what is queued: it stays 'accepted' in the store
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        for _ in self._threads:
            self._queue.put(None)
        if not wait:
            with self._lock:
                procs = dict(self._procs)
            for job_id, proc in procs.items():
                stop_group(proc.pid, timeout=self.kill_grace)
        for t in self._threads:
            if wait:
                t.join()
            else:
                t.join(timeout=self.kill_grace + 10)
        self._threads.clear()
        self._started = False

    # ------------------------------------------------------------------ API

    def submit(self, job_id: str) -> None:
        """Queue a job already in the store (status accepted)."""
        self._queue.put(job_id)

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

    def dismiss(self, job_id: str):
        """Stop the job: a queued one never starts; a running one has its whole process tree
        stopped (SIGTERM, SIGKILL after ``kill_grace``). Status ``dismissed``. Jobs already ended
        are returned unchanged."""
        job = self.store.get_job(job_id)
        if job is None or job.status in FINAL:
            return job
        with self._lock:
            self._dismissed.add(job_id)
            proc = self._procs.get(job_id)
        if proc is not None:
            self._append_log(job.log_path, "eopde: dismissed: stopping the job's processes")
            stop_group(proc.pid, timeout=self.kill_grace)
        elif job.status == "running" and job.pid and _runs_cwltool(job.pid):
            stop_group(job.pid, timeout=self.kill_grace)  # a job of another executor instance
        with self._lock:
            current = self.store.get_job(job_id)
            if current is not None and current.status not in FINAL:
                current = self.store.update_job(job_id, status="dismissed", message=DISMISS_MESSAGE,
                                                finished=utcnow(), pid=None)
            self._changed.notify_all()
        return current

    # ------------------------------------------------------------------ workers

    def _worker(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except _Dismissed:
                pass
            except Exception:  # never lose a job: whatever broke ends it failed
                log.exception("job %s", job_id)
                self._finish(job_id, "failed", "internal error of the ADES executor: "
                             + traceback.format_exc(limit=3).strip().splitlines()[-1])
            finally:
                with self._lock:
                    self._procs.pop(job_id, None)
                    self._changed.notify_all()

    def _finish(self, job_id: str, status: str, message: str, **fields: Any) -> None:
        with self._lock:
            current = self.store.get_job(job_id)
            if current is None or current.status in FINAL or job_id in self._dismissed:
                return
            self.store.update_job(job_id, status=status, message=message, finished=utcnow(),
                                  pid=None, **fields)
            if current.log_path:
                write_step_logs(current.log_path)
            self._changed.notify_all()

    def _update(self, job_id: str, strict: bool = True, **fields: Any) -> None:
        """Update a running job; a dismissed one raises :class:`_Dismissed` (``strict``) or is
        left alone (progress callbacks, called from run_package's log thread, must not raise)."""
        with self._lock:
            if job_id in self._dismissed:
                if strict:
                    raise _Dismissed()
                return
            self.store.update_job(job_id, **fields)
            self._changed.notify_all()

    @staticmethod
    def _append_log(path: str | None, line: str) -> None:
        if not path:
            return
        try:
            with open(path, "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
        except OSError:
            pass

    def _run(self, job_id: str) -> None:
        from eopde.apppkg.run import ParameterError, RunError, load_workflow, run_package
        from eopde.apppkg.stagein import StageInError

        job = self.store.get_job(job_id)
        if job is None or job.status != "accepted":
            return  # dismissed while queued, or already accounted for
        if job_id in self._dismissed:
            return
        t_start = time.monotonic()
        job_dir = self.work_dir / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        log_path = job_dir / "job.log"
        log_path.touch()
        say = lambda line: self._append_log(str(log_path), line)  # noqa: E731
        self._update(job_id, status="running", progress=P_STAGE_IN, started=utcnow(),
                     message="staging in the inputs", log_path=str(log_path))
        say(f"eopde: job {job_id} of process {job.process_id} (user {job.user})")

        process = self.store.get_process(job.user, job.process_id)
        if process is None:
            return self._finish(job_id, "failed", f"the process {job.process_id!r} is no "
                                "longer deployed")
        package = job_dir / "package"
        package.mkdir(exist_ok=True)
        cwl = package / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', process.id)}.cwl"
        cwl.write_text(process.cwl_text)
        try:
            workflow = load_workflow(cwl, process.workflow_id or None)
        except RunError as err:
            return self._finish(job_id, "failed", f"the process's CWL cannot be run: {err}")

        # OGC inputs -> parameters and STAC items
        params: dict[str, Any] = {}
        stac: dict[str, list[str]] = {}
        for name, raw in (job.inputs or {}).items():
            value = _unwrap(raw)
            spec = workflow.input(name)
            if spec is not None and spec.kind in ("Directory", "Directory[]") and (
                    isinstance(value, str) or isinstance(value, list)
                    and all(isinstance(v, str) for v in value)):
                stac[name] = [value] if isinstance(value, str) else list(value)
            else:
                params[name] = value

        engine_name = self._engine_name
        say(f"eopde: {self._engine_note}")
        if self._engine_error:
            return self._finish(job_id, "failed", self._engine_note)
        if engine_name is None:
            say("eopde: the tool runs with cwltool --no-container (no container engine)")
        app_dir = None
        if self.app_dirs and engine_name is None:
            try:
                app_dir = self.app_dirs(process)
            except (LookupError, ValueError) as err:  # e.g. no local stand-in of the image
                return self._finish(job_id, "failed", str(err))

        n_steps = max(1, _count_steps(workflow))
        done_steps = 0

        def progress(line: str) -> None:
            nonlocal done_steps
            say(line)
            if line.startswith("cwltool: running"):
                self._update(job_id, False, progress=P_RUN, message="running the tool")
            elif _STEP_DONE.match(line) and not line.startswith(f"step {workflow.id}:"):
                m = _STEP_DONE.match(line)
                if m.group(1) == "step" or n_steps == 1:
                    done_steps += 1
                    p = P_RUN + (P_RUN_END - P_RUN) * min(done_steps, n_steps) // n_steps
                    self._update(job_id, False, progress=p)

        def on_start(proc: subprocess.Popen) -> None:
            with self._lock:
                self._procs[job_id] = proc
                dismissed = job_id in self._dismissed
                if not dismissed:
                    self.store.update_job(job_id, pid=proc.pid)
            if dismissed:
                stop_group(proc.pid, timeout=self.kill_grace)

        try:
            result = run_package(
                cwl, params, stac, output=job_dir / "run", engine=engine_name or "none",
                workflow_id=workflow.id or None, progress=progress, log_path=log_path,
                new_session=True, on_start=on_start, app_dir=app_dir,
                url_policy=self.url_policy(job.user) if self.url_policy else None)
        except _Dismissed:
            return
        except (ParameterError, StageInError, RunError) as err:
            reason = err.reason if isinstance(err, ParameterError) else str(err)
            say(f"eopde: {err}")
            kind = "stage-in failed" if isinstance(err, StageInError) else "the job cannot run"
            return self._finish(job_id, "failed", f"{kind}: {reason}")
        with self._lock:
            self._procs.pop(job_id, None)
            if job_id in self._dismissed:
                return
        timings = dict(result.timings)
        if not result.ok:
            tail = result.log_tail or ""
            return self._finish(job_id, "failed", result.message + (
                f"\n--- log tail ---\n{tail}" if tail else ""))

        # stage-out
        self._update(job_id, progress=P_STAGE_OUT, message="staging out the results", pid=None)
        folders = {}
        for name in workflow.outputs:
            value = result.outputs.get(name)
            if isinstance(value, dict) and value.get("class") == "Directory":
                folders[name] = Path(value["path"])
        t0 = time.monotonic()
        try:
            results = stage_out(folders, user=job.user, job_id=job_id, target=self.storage)
        except StageOutError as err:
            say(f"eopde: stage-out failed: {err}")
            return self._finish(job_id, "failed", f"stage-out failed: {err}")
        timings["stage_out_s3"] = time.monotonic() - t0
        total = time.monotonic() - t_start
        timings["job"] = total
        say("eopde: timings " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
        say(f"eopde: results at {results['StacCatalogUri']}")
        n_items = len(result.items)
        self._finish(job_id, "successful", f"{n_items} item(s) staged out to "
                     f"{results['StacCatalogUri']} in {total:.1f} s", progress=P_DONE,
                     results=results)


def _count_steps(workflow) -> int:
    """Steps of the entry Workflow (1 for a lone CommandLineTool)."""
    from eopde.apppkg.run import _load_yaml

    try:
        doc = _load_yaml(workflow.cwl)
        procs = doc.get("$graph", [doc])
        for p in procs:
            if str(p.get("id", "")).lstrip("#").split("/")[-1] == workflow.id or len(procs) == 1:
                steps = p.get("steps") or {}
                return len(steps) or 1
    except Exception:
        pass
    return 1
