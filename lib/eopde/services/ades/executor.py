"""Job execution of the local ADES: a bounded pool of workers, each running one job at a time
through :func:`eopde.apppkg.run.run_package` (the same code path as `eopde run`): STAC stage-in,
cwltool, the result check, then stage-out to the user's S3 bucket
(:mod:`eopde.services.ades.stageout`).

Workers are shared fairly between users (:mod:`eopde.services.ades.fairshare`): one user's jobs
never keep another's waiting. Each job has a time limit (``job_timeout`` seconds, default
:data:`DEFAULT_TIMEOUT`, or its own, at most ``max_timeout``): past it the job's processes are
stopped and it ends ``failed`` saying so.

Who runs the tool (:mod:`eopde.services.ades.jobuser`): as root, cwltool and the tool run as a
leased unprivileged account, in a sandbox folder outside the state folder; stage-in and
stage-out stay here, with the service's privileges. Always, the tool's environment is an
allow-list (no service token, no S3 keys).

A job's folder ``<work_dir>/<job-id>/`` (kept: the job's record)::

    job.log                  the job's log: executor lines (stage-in, engine, stage-out) and
                             cwltool's whole output; its path is in the store from the start
    steps/                   one log per CWL step (written when the job ends)

Its sandbox (``<work_dir>/<job-id>/work/``, or ``/var/lib/eopde/jobs/<digest>/<job-id>/`` as
root): ``package/<process>.cwl``, ``app/`` (the image's app files without a container),
``home/``, ``tmp/`` and ``run/`` (run_package's folder: stage-in/, job.yml, outputs/). It is
deleted when the job ends (``keep_work`` seconds later when set, e.g. to debug a tool).

Statuses and progress: ``accepted`` 0 -> ``running`` 10 (stage-in) -> 20..90 (cwltool; each
completed step of the Workflow moves it on) -> 95 (stage-out) -> ``successful`` 100, or
``failed`` (message with the reason; the log tail is in the log) or ``dismissed``.

cwltool runs in its own session (process group), whose leader's pid is stored in the job
record: :meth:`LocalExecutor.dismiss` sends SIGTERM to the whole group, then SIGKILL after
``kill_grace`` seconds, so the tool and everything it started stop too (as root, every process
of the job's account is killed too when the job ends, whatever session it made).

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
import re
import shutil
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..process import group_alive, stop_group
from . import jobuser
from .fairshare import FairQueue
from .execution import failure_message, scrub
from .executor_base import (DEFAULT_MAX_TIMEOUT, DEFAULT_TIMEOUT, DISMISS_MESSAGE, ExecutorBase,
                            count_steps, split_inputs)
from .stageout import StageOutError, StageOutTarget, stage_out
from .steplogs import ToolProgress, notebook_cells, write_step_logs
from .store import FINAL, utcnow

log = logging.getLogger(__name__)

RESTART_MESSAGE = "the ADES service restarted while this job was running; run it again"
REQUEUE_MESSAGE = "re-queued after a restart of the ADES service"

P_ACCEPTED, P_STAGE_IN, P_RUN, P_RUN_END, P_STAGE_OUT, P_DONE = 0, 10, 20, 90, 95, 100
_STEP_DONE = re.compile(r"^(step|job) (\S+): completed")
_CELL_STARTED = re.compile(r"^notebook cell (\d+): started$")
_TOOL_STARTED = re.compile(r"^job \S+: running the tool$")


def _runs_cwltool(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"cwltool" in cmdline


class _Dismissed(Exception):
    pass


class LocalExecutor(ExecutorBase):
    """Runs the store's jobs with cwltool on ``workers`` workers (default: the number of cores),
    shared fairly between users (up to ``burst`` jobs at once, see :class:`FairQueue`).

    ``storage``: where results go (default: :meth:`StageOutTarget.from_env`, i.e. the
    ``EOPDE_S3_ENDPOINT`` / ``AWS_*`` environment). ``kill_grace``: seconds between SIGTERM and
    SIGKILL on dismiss. ``app_dirs(process) -> Path | None``: the host folder holding the
    package's app files, for runs without a container (default: the folder of the stored CWL).
    ``job_timeout`` / ``max_timeout``: a job's default time limit and the most one may ask for
    (seconds). ``keep_work``: seconds a finished job's sandbox is kept (0: deleted at once).
    """

    def __init__(self, store, *, work_dir: Path, workers: int | None = None,
                 engine: str = "auto", storage: StageOutTarget | None = None,
                 kill_grace: float = 10.0,
                 app_dirs: Callable[[Any], Path | None] | None = None,
                 job_timeout: float = DEFAULT_TIMEOUT, max_timeout: float = DEFAULT_MAX_TIMEOUT,
                 keep_work: float = 0.0, burst: int | None = None,
                 url_policy: Callable[[str], Any] | None = None):
        super().__init__(store, job_timeout=job_timeout, max_timeout=max_timeout)
        self.work_dir = Path(work_dir).expanduser().resolve()
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.engine = engine
        self.storage = storage
        self.kill_grace = kill_grace
        self.app_dirs = app_dirs
        self.url_policy = url_policy  # user -> what stage-in may fetch for them (urlguard)
        self.keep_work = float(keep_work)
        self._fair = FairQueue(self.workers, burst)
        self._threads: list[threading.Thread] = []
        self._procs: dict[str, subprocess.Popen] = {}
        self._timeouts: dict[str, float] = {}  # job id -> its time limit (seconds)
        self._deadlines: dict[str, float] = {}  # running job id -> monotonic deadline
        self._timed_out: set[str] = set()
        self._engine_name: str | None = None
        self._engine_note = ""
        self._engine_error: str | None = None
        self._started = False
        self._stopping = threading.Event()
        self._sandboxes = self.work_dir

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Recover what a previous process left (see the module doc), then start the workers."""
        if self._started:
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._sandboxes = jobuser.sandbox_root(self.work_dir)
        from eopde.apppkg.run import detect_engine

        self._engine_error = None
        try:
            self._engine_name, self._engine_note = detect_engine(self.engine)
        except Exception as err:  # a named engine that does not work: say it in every job log
            self._engine_name, self._engine_note = None, f"container engine problem: {err}"
            self._engine_error = str(err)
        self._stopping.clear()
        with self._lock:
            self._started = True
        self.recover()
        self.sweep()
        watchdog = threading.Thread(target=self._watchdog, name="ades-watchdog", daemon=True)
        watchdog.start()
        self._threads.append(watchdog)

    def recover(self) -> list[str]:
        """Account for jobs a previous process left ``running`` (-> failed) or ``accepted``
        (-> re-queued, with the default time limit). Returns the ids re-queued."""
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
            self._enqueue(job.user, job.id)
        return [j.id for j in queued]

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking jobs. ``wait``: let running jobs finish (queued ones stay ``accepted`` in
        the store and are re-queued by the next start); else running jobs are stopped and end
        ``failed`` (as a restart would leave them)."""
        with self._lock:
            self._started = False  # nothing more starts; what is queued stays 'accepted'
            self._fair.clear()
            procs = dict(self._procs)
        self._stopping.set()
        if not wait:
            for job_id, proc in procs.items():
                stop_group(proc.pid, timeout=self.kill_grace)
        for t in list(self._threads):
            t.join(None if wait else self.kill_grace + 10)
        self._threads.clear()

    # ------------------------------------------------------------------ API

    def submit(self, job_id: str, timeout: float | None = None) -> None:
        """Queue a job already in the store (status accepted). ``timeout``: its time limit in
        seconds (default ``job_timeout``; more than ``max_timeout`` raises ValueError)."""
        if timeout is not None:
            self.check_timeout(timeout)
        job = self.store.get_job(job_id)
        if job is None:
            return
        with self._lock:
            if timeout is not None:
                self._timeouts[job_id] = float(timeout)
        self._enqueue(job.user, job_id)

    def _enqueue(self, user: str, job_id: str) -> None:
        with self._lock:
            self._fair.push(user, job_id)
            self._dispatch()

    def _dispatch(self) -> None:
        """Start what the fair queue allows (lock held)."""
        while self._started:
            ready = self._fair.pop_ready()
            if ready is None:
                return
            user, job_id = ready
            t = threading.Thread(target=self._worker, args=(user, job_id), daemon=True,
                                 name=f"ades-job-{job_id[:8]}")
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()

    def dismiss(self, job_id: str):
        """Stop the job: a queued one never starts; a running one has its whole process tree
        stopped (SIGTERM, SIGKILL after ``kill_grace``). Status ``dismissed``. Jobs already ended
        are returned unchanged."""
        job = self.store.get_job(job_id)
        if job is None or job.status in FINAL:
            return job
        with self._lock:
            self._dismissed.add(job_id)
            self._fair.remove(job_id)
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
            self._notify(job_id)
        return current

    def sandbox(self, job_id: str) -> Path:
        """The folder the job's tool works in (see the module doc)."""
        if self._sandboxes == self.work_dir:
            return self.work_dir / job_id / "work"
        return self._sandboxes / job_id

    def sweep(self) -> None:
        """Delete the sandboxes of ended jobs older than ``keep_work`` seconds."""
        root = self._sandboxes
        try:
            names = [p.name for p in root.iterdir()]
        except OSError:
            return
        now = time.time()
        for name in names:
            job = self.store.get_job(name)
            if job is not None and job.status not in FINAL:
                continue
            ended = job.finished.timestamp() if job is not None and job.finished else 0
            if now - ended >= self.keep_work:
                shutil.rmtree(self.sandbox(name), ignore_errors=True)

    def _watchdog(self) -> None:
        """Stop the jobs past their time limit."""
        while not self._stopping.wait(0.5):
            now = time.monotonic()
            late = []
            with self._lock:
                for job_id, deadline in self._deadlines.items():
                    if now > deadline and job_id not in self._timed_out:
                        self._timed_out.add(job_id)
                        if job_id in self._procs:
                            late.append((job_id, self._procs[job_id]))
            for job_id, proc in late:
                job = self.store.get_job(job_id)
                self._append_log(job.log_path if job else None, "eopde: the job's time limit "
                                 "has passed: stopping its processes")
                stop_group(proc.pid, timeout=self.kill_grace)

    # ------------------------------------------------------------------ workers

    def _worker(self, user: str, job_id: str) -> None:
        try:
            self._run(job_id)
        except _Dismissed:
            pass
        except Exception:  # never lose a job: whatever broke ends it failed
            log.exception("job %s", job_id)
            self._finish(job_id, "failed", "internal error of the ADES executor: "
                         + scrub(traceback.format_exc(limit=3).strip().splitlines()[-1]))
        finally:
            with self._lock:
                self._procs.pop(job_id, None)
                self._deadlines.pop(job_id, None)
                self._timeouts.pop(job_id, None)
                self._timed_out.discard(job_id)
                self._fair.done(user)
                self._notify(job_id)
                self._dispatch()
            if self.keep_work <= 0:
                shutil.rmtree(self.sandbox(job_id), ignore_errors=True)
            else:
                self.sweep()

    def _finish_fields(self, job) -> dict[str, Any]:
        if job.log_path:
            write_step_logs(job.log_path)
        return {"pid": None}

    def _update(self, job_id: str, strict: bool = True, **fields: Any) -> None:
        """Update a running job; a dismissed one raises :class:`_Dismissed` (``strict``) or is
        left alone (progress callbacks, called from run_package's log thread, must not raise)."""
        with self._lock:
            if job_id in self._dismissed:
                if strict:
                    raise _Dismissed()
                return
            self.store.update_job(job_id, **fields)
            self._notify(job_id)

    def _run(self, job_id: str) -> None:
        from eopde.apppkg.run import ParameterError, RunError, load_workflow
        from eopde.apppkg.stagein import StageInError

        job = self.store.get_job(job_id)
        if job is None or job.status != "accepted":
            return  # dismissed while queued, or already accounted for
        if job_id in self._dismissed:
            return
        t_start = time.monotonic()
        job_dir = self.work_dir / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        job_dir.chmod(0o700)  # the job's log: the service's, never the tool's
        log_path = job_dir / "job.log"
        log_path.touch()
        say = lambda line: self._append_log(str(log_path), line)  # noqa: E731
        limit = self._timeouts.get(job_id, self.job_timeout)
        with self._lock:
            self._deadlines[job_id] = time.monotonic() + limit
        self._update(job_id, status="running", progress=P_STAGE_IN, started=utcnow(),
                     message="staging in the inputs", log_path=str(log_path))
        say(f"eopde: job {job_id} of process {job.process_id} (user {job.user}), "
            f"time limit {limit:g} s")

        process = self.store.get_process(job.user, job.process_id)
        if process is None:
            return self._finish(job_id, "failed", f"the process {job.process_id!r} is no "
                                "longer deployed")
        box = self.sandbox(job_id)
        shutil.rmtree(box, ignore_errors=True)
        (box / "package").mkdir(parents=True)
        box.chmod(0o700)
        cwl = box / "package" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', process.id)}.cwl"
        cwl.write_text(process.cwl_text)
        try:
            workflow = load_workflow(cwl, process.workflow_id or None)
        except RunError as err:
            return self._finish(job_id, "failed", f"the process's CWL cannot be run: {err}")
        params, stac = split_inputs(workflow, job.inputs or {})

        say(f"eopde: {self._engine_note}")
        if self._engine_error:
            return self._finish(job_id, "failed", self._engine_note)
        if self._engine_name is None:
            say("eopde: the tool runs with cwltool --no-container (no container engine)")
        app_dir = None
        if self.app_dirs and self._engine_name is None:
            try:
                app_dir = self.app_dirs(process)
            except (LookupError, ValueError) as err:  # e.g. no local stand-in of the image
                return self._finish(job_id, "failed", str(err))
        if app_dir is not None:  # a copy the tool's account can read, nothing else of the host
            shutil.copytree(app_dir, box / "app", symlinks=True)
            app_dir = box / "app"

        try:
            policy = self.url_policy(job.user) if self.url_policy else None
            result = self._run_tool(job_id, workflow, cwl, params, stac, box, app_dir, say,
                                    policy, self._owner_s3(job.user))
        except _Dismissed:
            return
        except (ParameterError, StageInError, RunError) as err:
            reason = err.reason if isinstance(err, ParameterError) else str(err)
            say(f"eopde: {err}")
            kind = "stage-in failed" if isinstance(err, StageInError) else "the job cannot run"
            return self._finish(job_id, "failed", f"{kind}: {reason}")
        with self._lock:
            self._procs.pop(job_id, None)
            self._deadlines.pop(job_id, None)
            if job_id in self._dismissed:
                return
            timed_out = job_id in self._timed_out
        if timed_out:
            say(f"eopde: stopped after the job's time limit of {limit:g} s")
            return self._finish(job_id, "failed", f"the job exceeded its time limit of "
                                f"{limit:g} s and was stopped (ask for up to "
                                f"{self.max_timeout:g} s with the execute body's \"timeout\")")
        timings = dict(result.timings)
        if not result.ok:  # what failed, without paths or log lines (the log links have them)
            return self._finish(job_id, "failed", failure_message(result, log_path))
        self._stage_out(job, workflow, result, box, timings, t_start, say)

    def _owner_s3(self, user: str) -> Callable[[], Any]:
        """Makes the S3 client stage-in reads s3:// inputs with: the job owner's own keys (as
        stage-out), so naming another user's object reads nothing whatever the URL policy
        let through."""
        target = self.storage or StageOutTarget.from_env()
        return lambda: target.client_for(user)

    def _run_tool(self, job_id: str, workflow, cwl: Path, params: dict, stac: dict, box: Path,
                  app_dir: Path | None, say: Callable[[str], None], policy: Any = None,
                  make_s3: Callable[[], Any] | None = None):
        """run_package under the job's account, with the tool's environment; the sandbox is
        the service's again (and nothing of the account runs) when it returns."""
        from eopde.apppkg.run import run_package

        n_steps = max(1, count_steps(workflow))
        done = ToolProgress(n_steps, P_RUN, P_RUN_END, cells=notebook_cells(app_dir))

        def progress(line: str) -> None:
            if cell := _CELL_STARTED.match(line):  # papermill's cells (see run_package)
                number = int(cell.group(1))  # (already in the log, as papermill wrote it)
                self._update(job_id, False, progress=done.cell_started(number),
                             message=f"running the tool: notebook cell {number}"
                                     + (f" of {done.cells}" if done.cells else ""))
                return
            say(line)
            if line.startswith("cwltool: running"):
                self._update(job_id, False, progress=P_RUN, message="running the tool")
            elif _TOOL_STARTED.match(line):
                self._update(job_id, False, progress=done.tool_started())
            elif (m := _STEP_DONE.match(line)) and not line.startswith(f"step {workflow.id}:"):
                if m.group(1) == "step" or n_steps == 1:
                    self._update(job_id, False, progress=done.step_done())

        def on_start(proc: subprocess.Popen) -> None:
            with self._lock:
                self._procs[job_id] = proc
                if time.monotonic() > self._deadlines.get(job_id, float("inf")):
                    self._timed_out.add(job_id)  # stage-in used up the time limit
                stop = job_id in self._dismissed or job_id in self._timed_out
                if not stop:
                    self.store.update_job(job_id, pid=proc.pid)
            if stop:
                stop_group(proc.pid, timeout=self.kill_grace)

        try:
            with jobuser.lease() as account:
                if account.isolated:
                    say(f"eopde: the tool runs as the unprivileged account {account.name}"
                        + ("" if jobuser.wrapper(account) else " (no PID namespace here)"))
                for sub in ("home", "tmp"):
                    (box / sub).mkdir(exist_ok=True)
                jobuser.chown_tree(box, account)
                env = jobuser.tool_env(os.environ, tmp=box / "tmp", account=account,
                                       home=box / "home" if account.isolated else None)
                return run_package(
                    cwl, params, stac, output=box / "run", engine=self._engine_name or "none",
                    workflow_id=workflow.id or None, progress=progress,
                    log_path=self.work_dir / job_id / "job.log", new_session=True,
                    on_start=on_start, app_dir=app_dir, env=env,
                    run_as=(account.uid, account.gid)
                    if account.uid is not None and account.gid is not None else None,
                    wrap=jobuser.wrapper(account),
                    url_policy=policy, workflow=workflow, make_s3=make_s3)
        finally:
            jobuser.take_back(box)

    def _stage_out(self, job, workflow, result, box: Path, timings: dict, t_start: float,
                   say: Callable[[str], None]) -> None:
        job_id = job.id
        self._update(job_id, progress=P_STAGE_OUT, message="staging out the results", pid=None)
        from eopde.apppkg.runoutputs import output_folders

        folders = output_folders(result.outputs, workflow.outputs)  # Directory[]: a list
        t0 = time.monotonic()
        try:
            results = stage_out(folders, user=job.user, job_id=job_id, target=self.storage,
                                within=box / "run")
        except StageOutError as err:
            say(f"eopde: stage-out failed: {err}")
            return self._finish(job_id, "failed", f"stage-out failed (nothing was kept in the "
                                f"bucket): {err}")
        timings["stage_out_s3"] = time.monotonic() - t0
        total = time.monotonic() - t_start
        timings["job"] = total
        say("eopde: timings " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
        say(f"eopde: results at {results['StacCatalogUri']}")
        n_items = len(result.items)
        self._finish(job_id, "successful", f"{n_items} item(s) staged out to "
                     f"{results['StacCatalogUri']} in {total:.1f} s", progress=P_DONE,
                     results=results)

