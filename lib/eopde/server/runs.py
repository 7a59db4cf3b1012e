"""The wizard's test runs: the package of the wizard's choices run locally by `run_package` (what
`eopde run` does), in a thread, so that the server keeps answering; the front end polls the log
from an offset and may cancel.

A run's folder is `<the notebook's folder>/eopde-runs/<app id>-<time>/` (as `eopde run` makes
`./eopde-runs/` in its working folder): `package/` (the generated package) and `run/` (the run
folder of `run_package`: `run.log`, `outputs/`). Everything the front end sees names files
relative to the server's root, never by a server path.

Run folders would pile up beside the notebook: starting a run deletes the oldest finished runs of
the same notebook beyond `LocalRuns.keep_per_notebook` (traitlets configuration of the Jupyter
server, e.g. `c.LocalRuns.keep_per_notebook = 5`; 0 keeps them all). A run still running is never
deleted: neither one of this server, nor a folder holding the marker a run keeps while it runs
(another server's run, or one cut short when a server died: that folder stays).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Integer
from traitlets.config import LoggingConfigurable

from .errors import RequestError, scrub

#: Runs a server remembers (the oldest finished are forgotten; their folders: `keep_per_notebook`).
KEEP = 20
#: The folder of a notebook's runs, beside it.
RUNS_DIR = "eopde-runs"
#: A file a run's folder holds while the run runs.
RUNNING_MARKER = ".eopde-running"
#: Runs at once in one server (each is a cwltool process and a kernel).
AT_ONCE = 2
MAX_LOG_CHUNK = 256_000
_STAGED = ("Directory", "Directory[]")


@dataclass
class LocalRun:
    id: str
    folder: Path
    status: str = "running"  # then "successful", "failed" or "dismissed" (OGC's job words)
    messages: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    started: float = field(default_factory=time.time)
    popen: Any = None
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def log_path(self) -> Path:
        return self.folder / "run" / "run.log"


class LocalRuns(LoggingConfigurable):
    """The test runs of one Jupyter server (`root`: its root folder)."""

    keep_per_notebook = Integer(
        10, min=0, config=True,
        help="Test run folders kept per notebook (in eopde-runs/ beside it): starting a run "
             "deletes the oldest finished ones beyond this number. 0 keeps them all.")

    def __init__(self, root: str | Path, **kwargs: Any):
        super().__init__(**kwargs)
        self.root = Path(root).resolve()
        self.runs: dict[str, LocalRun] = {}
        self._starting = threading.Lock()

    def _hide(self) -> dict[str, str]:
        return {str(self.root) + os.sep: "", str(self.root): "."}

    def start(self, notebook: Path, api_path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /eopde/runs: check the inputs' shape, start the run; answers its id."""
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, Mapping) or not all(isinstance(k, str) for k in inputs):
            raise RequestError(400, "`inputs` must map the process's inputs to values.",
                               field="inputs")
        with self._starting:
            running = [r for r in self.runs.values() if r.status == "running"]
            if len(running) >= AT_ONCE:
                raise RequestError(429, f"{len(running)} test runs are still running; wait for "
                                   "one to end or cancel it.")
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run = LocalRun(id=uuid.uuid4().hex[:12],
                           folder=notebook.parent / RUNS_DIR / f"{notebook.stem}-{stamp}-"
                           f"{uuid.uuid4().hex[:4]}")
            run.folder.mkdir(parents=True)
            (run.folder / RUNNING_MARKER).touch()
            self._forget_old()
            self.runs[run.id] = run
            self.prune(notebook)
        threading.Thread(target=self._work, args=(run, notebook, api_path, dict(body),
                                                  dict(inputs)),
                         name=f"eopde-run-{run.id}", daemon=True).start()
        return {"id": run.id, "folder": self._rel(run.folder)}

    def _forget_old(self) -> None:
        done = sorted((r for r in self.runs.values() if r.status != "running"),
                      key=lambda r: r.started)
        for old in done[:max(0, len(self.runs) + 1 - KEEP)]:
            self.runs.pop(old.id, None)

    def prune(self, notebook: Path) -> list[Path]:
        """Delete the oldest finished run folders of `notebook` beyond `keep_per_notebook`
        (runs still running count, but stay); returns the folders deleted."""
        keep = self.keep_per_notebook
        runs_dir = notebook.parent / RUNS_DIR
        if keep <= 0 or not runs_dir.is_dir() or not runs_dir.resolve().is_relative_to(self.root):
            return []
        # What start() names this notebook's runs: another notebook's never match.
        name = re.compile(re.escape(notebook.stem) + r"-\d{8}-\d{6}-[0-9a-f]{4}")
        folders = []
        for path in runs_dir.iterdir():
            if name.fullmatch(path.name) and path.is_dir() and not path.is_symlink():
                folders.append((path.name[len(notebook.stem) + 1:][:15], path.stat().st_mtime,
                                path))
        folders.sort()
        running = {r.folder for r in self.runs.values() if r.status == "running"}
        deleted: list[Path] = []
        for _, _, path in folders[:max(0, len(folders) - keep)]:
            if path in running or (path / RUNNING_MARKER).exists():
                continue
            try:
                shutil.rmtree(path)
            except OSError as err:
                self.log.warning("eopde: could not delete the old test run %s: %s",
                                 self._rel(path), err.strerror)
                continue
            deleted.append(path)
        if deleted:
            gone = set(deleted)
            for run_id in [i for i, r in self.runs.items() if r.folder in gone]:
                del self.runs[run_id]
        return deleted

    def _rel(self, path: str | Path) -> str:
        return scrub(str(path), self._hide())

    def _say(self, run: LocalRun, message: str) -> None:
        run.messages.append(self._rel(message))

    def _work(self, run: LocalRun, notebook: Path, api_path: str, body: dict[str, Any],
              inputs: dict[str, Any]) -> None:
        from eopde.apppkg.run import ParameterError, RunError, load_workflow, run_package
        from eopde.apppkg.stagein import StageInError

        from .wizard import build_package

        try:
            self._say(run, "Generating the application package…")
            pkg = build_package(notebook, api_path, body, run.folder)
            workflow = load_workflow(pkg.directory)
            params, stac = split_inputs(workflow, inputs)
            if run.cancelled:
                raise _Cancelled
            result = run_package(pkg.directory, params, stac, output=run.folder / "run",
                                 progress=lambda m: self._say(run, m), workflow=workflow,
                                 new_session=True, on_start=lambda p: self._started(run, p))
            run.result = self._result(result.to_json())
            status = "dismissed" if run.cancelled else result.status
        except _Cancelled:
            status = "dismissed"
        except RequestError as err:
            run.error, status = err.to_dict(), "failed"
        except ParameterError as err:
            run.error, status = {"message": self._rel(err.reason), "field": "inputs"}, "failed"
        except (RunError, StageInError) as err:
            run.error, status = {"message": self._rel(str(err))}, "failed"
        except Exception as err:  # a run must end with a status, whatever broke
            run.error = {"message": f"the run stopped: {type(err).__name__}: "
                                    f"{self._rel(str(err))[:500]}"}
            status = "failed"
        if run.cancelled:
            status = "dismissed"
            self._say(run, "Cancelled.")
        (run.folder / RUNNING_MARKER).unlink(missing_ok=True)
        run.status = status

    def _started(self, run: LocalRun, popen: Any) -> None:
        with run.lock:
            run.popen = popen
            if run.cancelled:
                _stop(popen)

    def _result(self, doc: dict[str, Any]) -> dict[str, Any]:
        keep = ("status", "message", "problems", "log_tail", "seconds", "timings", "engine",
                "catalog", "notebook", "items")
        out = {k: doc.get(k) for k in keep}
        out["items"] = [{**i, "assets": _rel_assets(i.get("assets"), self)}
                        for i in doc.get("items") or []]
        for key in ("catalog", "notebook"):
            value = out[key]
            out[key] = self._rel(value) if value else None
        out["message"] = self._rel(out["message"] or "")
        out["log_tail"] = self._rel(out["log_tail"] or "")
        out["problems"] = [self._rel(p) for p in out["problems"] or []]
        return out

    def get(self, run_id: str) -> LocalRun:
        run = self.runs.get(run_id)
        if run is None:
            raise RequestError(404, "no such test run (the server was restarted, or it is an "
                               "old one); start the test run again.")
        return run

    def status(self, run_id: str, messages: int, offset: int) -> dict[str, Any]:
        """GET /eopde/runs/<id>?messages=N&offset=B: the status, the progress messages from the
        N-th, cwltool's log from byte B (a chunk; `offset` says where the next one starts)."""
        run = self.get(run_id)
        status = run.status  # read first: a run that ended has its whole log on disk
        chunk, next_offset = _read_from(run.log_path, offset)
        return {"id": run.id, "status": status, "messages": run.messages[messages:],
                "log": self._rel(chunk), "offset": next_offset,
                "result": run.result if status != "running" else None,
                "error": run.error if status != "running" else None}

    def cancel(self, run_id: str) -> dict[str, Any]:
        """DELETE /eopde/runs/<id>: stop cwltool and the tool (its process group)."""
        run = self.get(run_id)
        with run.lock:
            run.cancelled = True
            if run.popen is not None:
                _stop(run.popen)
        return {"id": run.id, "status": "dismissed" if run.status == "running" else run.status}


class _Cancelled(Exception):
    pass


def _stop(popen: Any) -> None:
    try:
        os.killpg(popen.pid, signal.SIGTERM)  # cwltool runs in its own session
    except (ProcessLookupError, PermissionError):
        pass


def _read_from(path: Path, offset: int) -> tuple[str, int]:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(MAX_LOG_CHUNK)
    except FileNotFoundError:
        return "", offset
    # end on a whole line (and so on a whole UTF-8 character) unless the chunk is full
    cut = data.rfind(b"\n") + 1 if len(data) < MAX_LOG_CHUNK else len(data)
    return data[:cut].decode("utf-8", errors="replace"), offset + cut


def _rel_assets(assets: Any, runs: LocalRuns) -> Any:
    if isinstance(assets, dict):
        return {k: runs._rel(v) if isinstance(v, str) else v for k, v in assets.items()}
    return assets


def split_inputs(workflow: Any, inputs: Mapping[str, Any]) -> tuple[dict, dict]:
    """The wizard's input values as `run_package` takes them: STAC item URLs of Directory
    inputs are staged in (`stac_items`), the rest are parameters; empty values are left out
    (the input's default then applies)."""
    params: dict[str, Any] = {}
    stac: dict[str, list[str]] = {}
    for name, value in inputs.items():
        if value is None or value == "" or value == []:
            continue
        spec = workflow.input(name)
        if spec is not None and spec.kind in _STAGED:
            stac[name] = [value] if isinstance(value, str) else list(value)
        else:
            params[name] = value
    return params, stac
