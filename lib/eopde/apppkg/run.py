"""Run an application package locally the way an ADES does: STAC stage-in, cwltool, stage-out.

``run_package(package, params, stac_items)`` does it all and returns a :class:`RunResult`; the
`eopde run` command and the JupyterLab wizard both go through it. A run folder holds::

    <run>/stage-in/<input>/...      staged STAC catalogs (see eopde.apppkg.stagein)
    <run>/job.yml                   the CWL job (input values)
    <run>/<app>.cwl                 the CWL actually run, when no container is used: the package's
                                    document with APP_DIR_IN_IMAGE replaced by the package folder
    <run>/run.log                   cwltool's full log (and the tool's stderr)
    <run>/outputs/<output-id>/      the results (catalog.json, items, executed notebook)
    <run>/outputs/<output-id>/<i>/  each result folder of a Directory[] output

Without a container engine the tool runs in this Python environment (``cwltool --no-container``),
with this environment's ``bin`` first on PATH, so `papermill` and the kernel are the ones installed
here; the run says so.

cwltool runs in this process, through its API, when nothing asks for a separate process: no
time limit, no account switch, no own session, no custom environment (the ADES executor asks for
all of these and always gets a subprocess). That saves a Python start, cwltool's imports and its
schema load (done once per process, and in a thread while the inputs are staged in); a second
run started while one runs in-process, or ``in_process=False``, gets a subprocess.

The parts: :mod:`~eopde.apppkg.runinputs` (the entry point's inputs, parameter conversion),
:mod:`~eopde.apppkg.cwlexec` (engines, the CWL copy without a container, starting cwltool),
:mod:`~eopde.apppkg.runoutputs` (result folders, the STAC check, the RunResult); their public
names are importable from here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .cwlexec import (ENGINES, NO_ENGINE_MESSAGE, LogProgress, RunError, cwltool_args,
                      detect_engine, preload, python_bin, run_in_process, run_subprocess,
                      write_no_container_copy)
from .layout import APP_DIR_IN_IMAGE, find_cwl
from .runinputs import (InputSpec, ParameterError, Workflow, assign_stac_items, check_required,
                        convert_params, load_workflow, parse_param_args, parse_stac_item_args)
from .runoutputs import (LOG_TAIL_LINES, RunResult, _failure_reason, _find_notebook, _tail,
                         check_catalog, collect_outputs)

__all__ = ["APP_DIR_IN_IMAGE", "ENGINES", "LOG_TAIL_LINES", "NO_ENGINE_MESSAGE", "InputSpec",
           "ParameterError", "RunError", "RunResult", "Workflow", "assign_stac_items",
           "check_catalog", "check_required", "convert_params", "detect_engine", "load_workflow",
           "parse_param_args", "parse_stac_item_args", "run_package", "write_no_container_copy"]

Say = Callable[[str], None]


def _default_run_dir(workflow: Workflow) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / "eopde-runs" / f"{workflow.id or workflow.cwl.stem}-{stamp}"


def run_package(package: str | os.PathLike[str], params: Mapping[str, Any] | None = None,
                stac_items: Mapping[str, Sequence[str]] | Sequence[str] | None = None, *,
                output: str | os.PathLike[str] | None = None, engine: str | None = "auto",
                workflow_id: str | None = None, assets: Sequence[str] | None = None,
                progress: Say | None = None, headers: dict[str, str] | None = None,
                timeout: float | None = None, log_path: str | os.PathLike[str] | None = None,
                new_session: bool = False,
                on_start: Callable[[subprocess.Popen], None] | None = None,
                app_dir: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None,
                run_as: tuple[int, int] | None = None,
                wrap: Callable[[list[str]], list[str]] | None = None,
                workflow: Workflow | None = None,
                url_policy: Any = None, in_process: bool | None = None,
                make_s3: Callable[[], Any] | None = None) -> RunResult:
    """Run ``package`` (a package folder or its CWL file) locally, like an ADES.

    ``params``: ``{input: value}`` (strings are converted to the input's CWL type);
    ``stac_items``: item URLs/paths, as a list (for the package's one Directory input) or
    ``{input: [urls]}``; they are staged into ``<output>/stage-in/<input>/`` (Directory: one
    catalog; Directory[]: one catalog per item; string/string[] inputs get the URLs unchanged).
    ``assets`` limits the downloaded asset keys. ``engine``: "auto", "none" or an engine name.

    Hooks for a service running it (the ADES executor): ``log_path`` appends cwltool's log to
    that file instead of ``<run>/run.log``; ``new_session`` starts cwltool in its own process
    group (session), so the caller can stop the whole tree with ``os.killpg``; ``on_start`` is
    called with the cwltool ``Popen`` as soon as it is started; ``app_dir`` is where the package's
    app files (``APP_DIR_IN_IMAGE`` in the image) are on this host, for runs without a container;
    ``env`` is cwltool's whole environment (default: this process's); ``run_as`` ``(uid, gid)``
    runs cwltool as that account (the run folder is given to it first, umask 077): by
    ``wrap(command)`` when given (a command that switches to the account itself), else directly;
    ``url_policy`` (a :class:`~eopde.urlguard.UrlPolicy`) limits what stage-in fetches
    for a user (default: anything, as on one's own machine); ``make_s3()`` makes the boto3
    client stage-in reads s3:// URLs with (the ADES: the job owner's keys; default: the
    environment's).
    ``workflow``: the package's entry point already read by :func:`load_workflow` (the
    executor reads it once to check the inputs; the CWL is then not parsed again).
    ``in_process``: run cwltool in this process (None: when none of ``timeout``, ``new_session``,
    ``on_start``, ``env``, ``run_as``, ``wrap`` is given; see the module doc).

    Raises :class:`ParameterError` (bad inputs), :class:`RunError` (cannot start) and
    :class:`~eopde.apppkg.stagein.StageInError`; a run that starts returns a :class:`RunResult`
    whose ``status`` is "failed" when the tool fails or its result is not a valid STAC catalog.
    """

    say = progress or (lambda message: None)
    t_start = time.monotonic()
    if workflow is None or workflow.cwl != find_cwl(Path(package)) or (
            workflow_id and workflow.id != workflow_id.lstrip("#")):
        workflow = load_workflow(package, workflow_id)

    # inputs first (cheap checks before any download)
    job = convert_params(workflow, dict(params or {}))
    targets = assign_stac_items(workflow, stac_items)
    both = sorted(set(job) & set(targets))
    if both:
        raise ParameterError(f"input {both[0]!r} is given both as --param and as --stac-item",
                             workflow.describe())
    check_required(workflow, [*job, *targets])

    run_dir = Path(output) if output else _default_run_dir(workflow)
    run_dir = run_dir.expanduser().resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir} is not empty: give a new --output folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    # cwltool loads the schema of the document's version, and v1.0's for every Process
    cwl_versions = tuple(v for v in ("v1.0", getattr(workflow.package, "cwl_version", "v1.2"))
                         if v in ("v1.0", "v1.1", "v1.2"))
    in_process = (in_process if in_process is not None else
                  timeout is None and not new_session and on_start is None and env is None
                  and run_as is None and wrap is None)
    warming = preload(cwl_versions) if in_process else None  # while the inputs are staged in

    t0 = time.monotonic()
    _stage_in(workflow, targets, job, run_dir, say, assets=assets, headers=headers,
              url_policy=url_policy, make_s3=make_s3)
    timings["stage_in"] = time.monotonic() - t0

    job_path = run_dir / "job.yml"
    import yaml

    job_path.write_text(yaml.safe_dump(job, sort_keys=False, allow_unicode=True))
    engine_name, engine_note = detect_engine(engine)
    say(engine_note)
    cwl_to_run, engine_args = _cwl_to_run(workflow, engine_name, run_dir, app_dir, say)
    outputs_dir = run_dir / "outputs"
    outputs_dir.mkdir()
    work = run_dir / "work"
    work.mkdir()
    entry = f"{cwl_to_run}#{workflow.id}" if workflow.id else str(cwl_to_run)
    args = cwltool_args(entry, job_path, outputs_dir, work, engine_args)
    append = log_path is not None
    log_path = Path(log_path) if log_path is not None else run_dir / "run.log"

    say(f"cwltool: running {workflow.id or workflow.cwl.name} (log: {log_path})")
    t0 = time.monotonic()
    watch = LogProgress(say, workflow.id)
    with open(log_path, "a" if append else "w") as log:
        ran: tuple[int | None, str] | None = None
        if in_process:
            if warming is not None:
                warming.join()
            ran = run_in_process(args, log, watch, python_bin())
        if ran is None:
            ran = _cwltool_subprocess(args, log, watch, run_dir, env=env, run_as=run_as,
                                      wrap=wrap, new_session=new_session, on_start=on_start,
                                      timeout=timeout)
    rc, stdout = ran
    timings["cwltool"] = time.monotonic() - t0
    if watch.tools_ran:
        timings["tool"] = watch.tool

    result = RunResult(status="failed", run_dir=run_dir, log=log_path, timings=timings,
                       engine=engine_name, job=job_path)
    log_text = log_path.read_text(errors="replace")
    if rc != 0 or "Final process status is success" not in log_text:
        status = f" (cwltool exit status {rc})" if rc else ""
        result.message = f"the run failed{status}: {_failure_reason(log_text)}"
        result.log_tail = _tail(log_path)
        result.notebook = _find_notebook([work, outputs_dir])
        result.seconds = time.monotonic() - t_start
        return result
    _check_results(result, stdout, outputs_dir)
    result.seconds = time.monotonic() - t_start
    if result.ok:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _stage_in(workflow: Workflow, targets: dict[str, list[str]], job: dict[str, Any],
              run_dir: Path, say: Say, **options: Any) -> None:
    """Stage the STAC items of ``targets`` in (Directory inputs: a catalog; Directory[]: one per
    item) or pass them as URLs (string inputs), into ``job``."""
    from .stagein import StageInError, stage_items

    assets, headers, policy = options["assets"], options["headers"], options["url_policy"]
    make_s3 = options.get("make_s3")
    for name, refs in targets.items():
        spec = workflow.input(name)
        assert spec is not None
        if spec.kind not in ("Directory", "Directory[]"):  # cloud-native: the URLs as they are
            say(f"{name}: {len(refs)} STAC item URL(s) passed as {spec.kind} (no stage-in)")
            job[name] = refs[0] if spec.kind == "string" else list(refs)
            continue
        try:
            if spec.kind == "Directory":
                cats = stage_items(refs, run_dir / "stage-in" / name, assets=assets,
                                   progress=say, headers=headers, catalog_id=name,
                                   policy=policy, make_s3=make_s3)
                job[name] = {"class": "Directory", "location": cats[0].folder.as_uri()}
            else:
                cats = stage_items(refs, run_dir / "stage-in" / name, assets=assets,
                                   per_item=True, progress=say, headers=headers,
                                   policy=policy, make_s3=make_s3)
                job[name] = [{"class": "Directory", "location": c.folder.as_uri()}
                             for c in cats]
        except StageInError as err:  # say which input
            raise StageInError(f"input {name!r}: {err}") from err


def _cwl_to_run(workflow: Workflow, engine_name: str | None, run_dir: Path,
                app_dir: str | os.PathLike[str] | None, say: Say) -> tuple[Path, list[str]]:
    """The CWL file cwltool runs and the engine's cwltool flags."""
    if engine_name is not None:
        flags = {"docker": [], "podman": ["--podman"]}.get(engine_name, ["--singularity"])
        return workflow.cwl.resolve(), flags
    cwl_to_run = run_dir / workflow.cwl.name
    moved = write_no_container_copy(workflow.cwl, cwl_to_run, Path(app_dir) if app_dir else None)
    if moved:
        say(f"DockerRequirement of {', '.join(moved)} moved to hints in {cwl_to_run.name} "
            "(cwltool --no-container refuses it under requirements)")
    return cwl_to_run, ["--no-container"]


def _cwltool_subprocess(args: list[str], log: Any, watch: LogProgress, run_dir: Path, *,
                        env: Mapping[str, str] | None,
                        run_as: tuple[int, int] | None,
                        wrap: Callable[[list[str]], list[str]] | None,
                        **hooks: Any) -> tuple[int | None, str]:
    """cwltool as a new Python process, as ``run_as`` (uid, gid) when given (see run_package)."""
    cmd = [sys.executable, "-m", "cwltool", *args]
    environ = dict(os.environ if env is None else env)
    environ["PATH"] = python_bin() + os.pathsep + environ.get("PATH", "")
    account: dict[str, Any] = {}
    if run_as is not None:  # the service's unprivileged job account (see services/ades/jobuser)
        from ..paths import lchown_tree

        uid, gid = run_as
        lchown_tree(run_dir, uid, gid)
        account = dict(umask=0o077)
        if wrap is None:
            account.update(user=uid, group=gid, extra_groups=[])
        else:
            cmd = wrap(cmd)
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    return run_subprocess(cmd, log, watch, env=environ, cwd=run_dir, account=account, **hooks)


def _check_results(result: RunResult, stdout: str, outputs_dir: Path) -> None:
    """Stage-out check of a run cwltool ended well: each result folder (of Directory and
    Directory[] outputs) holds a valid STAC catalog; sets ``result``'s outputs, catalog, items,
    notebook, status and message."""
    t0 = time.monotonic()
    try:
        outs = json.loads(stdout or "{}")
    except ValueError:
        outs = {}
    result_dirs = collect_outputs(outs, outputs_dir)
    result.outputs = outs
    notebook = _find_notebook([d for _, d in result_dirs])
    if notebook is None:  # an executed notebook given as a File output: keep it beside the results
        nb_files = [Path(v["path"]) for v in outs.values() if isinstance(v, dict)
                    and v.get("class") == "File" and str(v.get("path", "")).endswith(".ipynb")]
        if nb_files and result_dirs:
            notebook = result_dirs[0][1] / nb_files[0].name
            shutil.copy2(nb_files[0], notebook)
    result.notebook = notebook
    problems = []
    if not result_dirs:
        problems.append("the Workflow has no Directory output: results must be a Directory "
                        "(or Directory[]) holding a STAC catalog.json (OGC 20-089 stage-out)")
    first = result_dirs[0][0].split("[")[0] if result_dirs else ""
    for name, folder in result_dirs:
        cat, items, probs = check_catalog(folder)
        if result.catalog is None and cat is not None:
            result.catalog = cat
        if name.split("[")[0] == first:  # the items of the first output (all its catalogs)
            result.items += items
        problems += [f"output {name}: {p}" for p in probs]
    result.timings["stage_out"] = time.monotonic() - t0
    result.problems = problems
    if problems:
        result.message = ("the tool ran but its result is not a valid STAC catalog: "
                          + "; ".join(problems))
        result.log_tail = _tail(result.log) if result.log else ""
        return
    result.status = "successful"
    n_assets = sum(len(i["assets"]) for i in result.items)
    result.message = f"{len(result.items)} item(s), {n_assets} asset(s) in {result.catalog}"
