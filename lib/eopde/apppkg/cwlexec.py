"""How `eopde run` starts cwltool: the container engine, the CWL copy for runs without a
container, and cwltool itself, in this process or as a subprocess, its log lines turned into
progress messages. Part of :mod:`eopde.apppkg.run`."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .layout import APP_DIR_IN_IMAGE

if TYPE_CHECKING:  # pragma: no cover
    from cwltool.context import LoadingContext
    from cwltool.process import Process
    from ruamel.yaml.comments import CommentedMap

NO_ENGINE_MESSAGE = (
    "no container engine found: running the tool in this Python environment (--no-container)")
#: Engines probed by engine="auto", in order.
ENGINES = ("docker", "podman", "singularity", "apptainer")


class RunError(RuntimeError):
    """The run could not start (bad package, no such engine, run folder in use...)."""


def detect_engine(engine: str | None = "auto") -> tuple[str | None, str]:
    """(engine or None, a sentence saying what was found). ``engine``: "auto", "none", or a name
    of :data:`ENGINES`; a named engine that does not work raises :class:`RunError`."""
    if engine in (None, "none", "no-container", False):
        return None, "running the tool in this Python environment (--no-container), as asked"
    names = ENGINES if engine == "auto" else (engine,)
    if engine != "auto" and engine not in ENGINES:
        raise RunError(f"unknown container engine {engine!r}; use one of {', '.join(ENGINES)}")
    notes = []
    for name in names:
        exe = shutil.which(name)
        if not exe:
            continue
        if name in ("docker", "podman"):
            try:
                probe = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=20)
                ok, why = probe.returncode == 0, (probe.stderr.strip().splitlines() or [""])[-1]
            except (OSError, subprocess.TimeoutExpired) as err:
                ok, why = False, str(err)
            if not ok:
                notes.append(f"{name} is installed but does not work ({why})")
                continue
        return name, f"running the tool in a container with {name}"
    if engine != "auto":
        raise RunError(f"container engine {engine} is not available"
                       + (f": {notes[0]}" if notes else " (not on PATH)"))
    return None, NO_ENGINE_MESSAGE + "".join(f"\n  ({n})" for n in notes)


def write_no_container_copy(cwl: Path, target: Path, app_dir: Path | None = None) -> list[str]:
    """Write the CWL to run without a container: every ``APP_DIR_IN_IMAGE`` replaced by the
    package folder (or ``app_dir`` when given: where the image's app files are on this host),
    and each process's ``DockerRequirement`` moved from ``requirements`` to
    ``hints`` (``cwltool --no-container`` stops at a required one). Returns the ids of the
    processes whose DockerRequirement moved."""
    from io import StringIO

    from ruamel.yaml import YAML

    from .cwlload import load_cwl
    from .cwlmodel import requirement_list, short_id

    text = cwl.read_text().replace(APP_DIR_IN_IMAGE, str(Path(app_dir or cwl.parent).resolve()))
    doc = load_cwl(text, cwl.name, roundtrip=True)  # the guarded loader, as load_workflow
    yaml = YAML(typ="rt")
    yaml.width = 4096
    moved: list[str] = []
    processes = doc.get("$graph", [doc])
    for proc in processes:
        if not isinstance(proc, dict):
            continue
        found = [r for r in requirement_list(proc) if r.cls == "DockerRequirement" and not r.hint]
        if not found:
            continue
        for r in reversed(found):  # list indexes: pop from the end
            r.container.pop(r.key)
        docker = {"class": "DockerRequirement", **found[-1].body}
        hints = proc.get("hints")
        if hints is None:
            proc["hints"] = [docker]
        elif isinstance(hints, dict):
            hints["DockerRequirement"] = {k: v for k, v in docker.items() if k != "class"}
        else:
            hints.append(docker)
        moved.append(short_id(proc.get("id", "?")))
    buf = StringIO()
    yaml.dump(doc, buf)
    target.write_text(buf.getvalue())
    return moved


# --------------------------------------------------------------------------- running cwltool

_PROGRESS_RE = re.compile(r"\[(workflow|step|job) ?([^\]]*)\] (start|completed (\w+))$")
_JOB_CMD_RE = re.compile(r"\[job ([^\]]+)\] .*\$ ")
#: papermill --log-output (the packaged tool's command) before each cell, numbered from 1.
_CELL_RE = re.compile(r"^Executing Cell (\d+)-*\s*$")
#: One cwltool at a time runs in this process (its logger is process-wide); others get a
#: subprocess.
_IN_PROCESS = threading.Lock()
#: Loggers cwltool's configure_logging hands our log handler to (it never takes it back).
_CWLTOOL_LOGGERS = ("rdflib.term", "galaxy.tool_util.deps", "salad")


def cwltool_args(cwl: str, job: Path, outdir: Path, work: Path,
                 engine_args: list[str]) -> list[str]:
    """cwltool's arguments. ``--skip-schemas``: ``$schemas`` are never fetched (a local path or a
    loopback URL there would be read by cwltool; ``$include``/``$import`` are refused by
    load_workflow before). ``--disable-js-validation``: cwltool's jshint pass only logs
    warnings, and costs a node start per run."""
    return ["--disable-color", "--skip-schemas", "--disable-js-validation",
            "--outdir", str(outdir), "--tmpdir-prefix", f"{work}/tmp-",
            "--tmp-outdir-prefix", f"{work}/out-", *engine_args, cwl, str(job)]


class LogProgress:
    """Turns cwltool's log lines into progress messages (``say``) and adds up the time its jobs
    (the tools) ran."""

    def __init__(self, say: Callable[[str], None], workflow_id: str):
        self.say = say
        self.workflow_id = workflow_id
        self.tool = 0.0
        self.tools_ran = False
        self._start: dict[str, float] = {}

    def line(self, line: str) -> None:
        now = time.monotonic()
        m = _PROGRESS_RE.search(line)
        if m:
            kind, name, _, result = m.groups()
            name = name or self.workflow_id
            if result is None:
                self._start[f"{kind} {name}"] = now
                if kind != "job":
                    self.say(f"{kind} {name}: started")
            else:
                took = now - self._start.get(f"{kind} {name}", now)
                if kind == "job":
                    self.tool += took
                    self.tools_ran = True
                self.say(f"{kind} {name}: completed {result} ({took:.1f} s)")
        elif job_cmd := _JOB_CMD_RE.search(line):
            name = job_cmd.group(1)
            self._start[f"job {name}"] = now
            self.say(f"job {name}: running the tool")
        elif cell := _CELL_RE.match(line):  # the tool's own progress: papermill cells
            self.say(f"notebook cell {int(cell.group(1))}: started")


def run_subprocess(cmd: list[str], log: TextIO, progress: LogProgress, *, env: Mapping[str, str],
                   cwd: Path, new_session: bool = False,
                   on_start: Callable[[subprocess.Popen], None] | None = None,
                   timeout: float | None = None, account: Mapping[str, Any] | None = None
                   ) -> tuple[int | None, str]:
    """Run ``cmd`` (cwltool), its stderr into ``log`` line by line (and through ``progress``);
    returns (exit status, stdout: cwltool's output object). ``timeout``: kill it (its whole
    session with ``new_session``) after that many seconds."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(env), cwd=cwd, errors="replace",
                            start_new_session=new_session, **dict(account or {}))
    if on_start is not None:
        on_start(proc)

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.write(line)
            log.flush()
            progress.line(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def stop() -> None:
        if new_session:  # the whole tree: cwltool and the tool it runs
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass
        else:
            proc.kill()

    timer = threading.Timer(timeout, stop) if timeout else None
    if timer:
        timer.start()
    try:
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        proc.wait()
    finally:
        if timer:
            timer.cancel()
    reader.join()
    if timeout and proc.returncode is not None and proc.returncode < 0:
        log.write(f"\neopde: stopped cwltool after the {timeout} s timeout\n")
    return proc.returncode, stdout


class _LogHandler(logging.Handler):
    """cwltool's log records, into the run's log and through the progress parser."""

    def __init__(self, sink: Callable[[str], None]):
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            for line in self.format(record).splitlines():
                self.sink(line + "\n")
        except Exception:  # never let logging break the run
            self.handleError(record)


class _KeepOpen:
    """The write end of the tools' stdout/stderr pipe, for cwltool, which closes a job's
    streams after each job (the next job needs it open)."""

    def __init__(self, fd: int):
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        pass


def preload(cwl_versions: tuple[str, ...] = ("v1.0", "v1.2")) -> threading.Thread:
    """Import cwltool and load its CWL schemas in a thread (about half of cwltool's start-up),
    e.g. while the inputs are staged in; join it before :func:`run_in_process`. Once loaded,
    they stay loaded: the next in-process run starts at once."""
    def work() -> None:
        try:
            from cwltool.process import get_schema

            for version in dict.fromkeys(cwl_versions):
                get_schema(version)
        except Exception:  # an unknown version, a broken install: the run itself will say
            pass

    thread = threading.Thread(target=work, name="cwltool-preload", daemon=True)
    thread.start()
    return thread


def _keep_schemas() -> None:
    """cwltool's schema hook: the standard schemas, already loaded, stay as they are."""


def run_in_process(args: list[str], log: TextIO, progress: LogProgress,
                   path_first: str) -> tuple[int, str] | None:
    """Run cwltool in this process through its API (no new interpreter, no second import, its
    schemas loaded once per process). Its log lines and the tools' stdout/stderr (through a pipe,
    as a subprocess's stderr) go to ``log`` and through ``progress``. ``path_first`` goes first on
    the PATH of the tools it runs without a container (this process's own PATH is left alone).
    Returns (exit status, output object as JSON text), or None when another in-process run holds
    cwltool (the caller runs a subprocess then)."""
    if not _IN_PROCESS.acquire(blocking=False):
        return None
    lock = threading.Lock()

    def sink(line: str) -> None:
        with lock:
            log.write(line)
            log.flush()
        progress.line(line)

    sink("$ cwltool (in this process) " + " ".join(args) + "\n")
    handler = _LogHandler(sink)
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, False)  # only the tools get it, as their stdout/stderr

    def pump() -> None:
        with open(read_fd, errors="replace") as tools:
            for line in tools:
                sink(line)

    reader = threading.Thread(target=pump, name="cwltool-tools-output", daemon=True)
    reader.start()
    try:
        from cwltool.argparser import arg_parser
        from cwltool.context import LoadingContext, RuntimeContext
        from cwltool.main import main

        parsed = arg_parser().parse_args(args)
        context = RuntimeContext(vars(parsed))
        context.default_stdout = context.default_stderr = _KeepOpen(write_fd)  # type: ignore
        # What main() makes when given no LoadingContext, plus our tool constructor.
        loading = LoadingContext(vars(parsed))
        loading.singularity, loading.podman = context.singularity, context.podman
        loading.construct_tool_object = _tool_maker(path_first)
        out = io.StringIO()
        try:
            # custom_schema_callback: by default main() drops the loaded schemas (to load the
            # standard ones again); ours are the standard ones (no --enable-ext): keep them
            rc = main(args=parsed, runtimeContext=context, loadingContext=loading, stdout=out,
                      logger_handler=handler, custom_schema_callback=_keep_schemas)
        except Exception as err:  # cwltool's own failure: the run fails, saying so in its log
            sink(f"ERROR cwltool failed: {type(err).__name__}: {err}\n")
            rc = 1
        return rc, out.getvalue()
    finally:
        os.close(write_fd)  # the tools have ended: the reader sees the end of their output
        reader.join()
        for name in _CWLTOOL_LOGGERS:
            logger = logging.getLogger(name)
            if handler in logger.handlers:
                logger.removeHandler(handler)
        _IN_PROCESS.release()


def with_first_on_path(folder: str, path: str | None) -> str:
    """``path`` (a PATH value) with ``folder`` first (unchanged when it already is)."""
    if (path or "").split(os.pathsep)[0] == folder:
        return path or folder
    return folder + os.pathsep + path if path else folder


def _tool_maker(path_first: str) -> Callable[..., Process]:
    """cwltool's ``construct_tool_object`` for one in-process run: CommandLineTools whose jobs
    without a container get ``path_first`` first on their PATH.

    cwltool gives such a job this process's ``os.environ["PATH"]`` (its CommandLineJob's
    required environment). Setting os.environ for the run, as eopde did, changed PATH for every
    thread of the process while the run lasted (the Jupyter server's, other runs'); a job class
    of our own changes only the tool's environment. A LoadingContext's tool constructor is
    cwltool's extension point for this (Calrissian and toil plug in the same way)."""
    from cwltool.command_line_tool import CommandLineTool
    from cwltool.job import CommandLineJob
    from cwltool.workflow import default_make_tool

    class Job(CommandLineJob):
        def prepare_environment(self, runtimeContext: Any, envVarReq: Any) -> None:
            super().prepare_environment(runtimeContext, envVarReq)
            self.environment["PATH"] = with_first_on_path(path_first,
                                                          self.environment.get("PATH"))

    class Tool(CommandLineTool):
        def make_job_runner(self, runtimeContext: Any) -> Any:
            runner = super().make_job_runner(runtimeContext)
            return Job if runner is CommandLineJob else runner

    def make_tool(toolpath_object: CommentedMap, loadingContext: LoadingContext) -> Process:
        if isinstance(toolpath_object, Mapping) and \
                toolpath_object.get("class") == "CommandLineTool":
            return Tool(toolpath_object, loadingContext)
        return default_make_tool(toolpath_object, loadingContext)

    return make_tool


def python_bin() -> str:
    """This Python environment's ``bin`` folder (papermill and the kernel of a run without a
    container come from it)."""
    return str(Path(sys.executable).parent)
