"""Run an application package locally the way an ADES does: STAC stage-in, cwltool, stage-out.

``run_package(package, params, stac_items)`` does it all and returns a :class:`RunResult`; the
`eopde run` command and the JupyterLab wizard both go through it. A run folder holds::

    <run>/stage-in/<input>/...      staged STAC catalogs (see eopde.apppkg.stagein)
    <run>/job.yml                   the CWL job (input values)
    <run>/<app>.cwl                 the CWL actually run, when no container is used: the package's
                                    document with APP_DIR_IN_IMAGE replaced by the package folder
    <run>/run.log                   cwltool's full log (and the tool's stderr)
    <run>/outputs/<output-id>/      the results (catalog.json, items, executed notebook)

Without a container engine the tool runs in this Python environment (``cwltool --no-container``),
with this environment's ``bin`` first on PATH, so `papermill` and the kernel are the ones installed
here; the run says so. cwltool runs as a subprocess (its logging and working state stay out of the
calling process, which may be a Jupyter server).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .layout import APP_DIR_IN_IMAGE, find_cwl

Progress = Callable[[str], None]

NO_ENGINE_MESSAGE = (
    "no container engine found: running the tool in this Python environment (--no-container)")
#: Engines probed by engine="auto", in order.
ENGINES = ("docker", "podman", "singularity", "apptainer")
LOG_TAIL_LINES = 40
_MISSING = object()


class RunError(RuntimeError):
    """The run could not start (bad package, no such engine, run folder in use...)."""


class ParameterError(ValueError):
    """A parameter or STAC item does not fit the Workflow's inputs. ``str()`` holds the reason
    and the list of inputs with their types and docs."""

    def __init__(self, reason: str, listing: str = ""):
        self.reason = reason
        self.listing = listing
        super().__init__(f"{reason}\n{listing}" if listing else reason)


# --------------------------------------------------------------------------- the package's inputs


@dataclass
class InputSpec:
    name: str
    type: Any  #: normalised CWL type: "float", ["null", "int"], {"type": "array", ...}, ...
    label: str = ""
    doc: str = ""
    default: Any = _MISSING

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    @property
    def optional(self) -> bool:
        return isinstance(self.type, list) and "null" in self.type

    @property
    def alternatives(self) -> list[Any]:
        """The non-null types this input accepts."""
        return [t for t in self.type if t != "null"] if isinstance(self.type, list) else [self.type]

    @property
    def kind(self) -> str:
        """"Directory", "Directory[]", "string", "string[]", ... of the first non-null type."""
        alts = self.alternatives
        return _type_str(alts[0]) if alts else "null"

    @property
    def type_str(self) -> str:
        return _type_str(self.type)

    @property
    def required(self) -> bool:
        return not self.optional and not self.has_default


@dataclass
class Workflow:
    cwl: Path  #: the package's CWL document
    id: str
    inputs: list[InputSpec]
    outputs: list[str]
    label: str = ""
    doc: str = ""
    steps: int = 0  #: steps of the entry Workflow (0 for a lone CommandLineTool)
    package: Any = None  #: the cwlmodel.Package it was read from

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    def describe(self) -> str:
        """The inputs as a table: name, type, required/default, label: doc."""
        rows = []
        for i in self.inputs:
            if i.has_default:
                need = f"default {json.dumps(i.default)}"
            else:
                need = "optional" if i.optional else "required"
            text = ": ".join(t for t in (i.label, i.doc) if t)
            rows.append((i.name, i.type_str, need, text))
        w = [max([len(r[k]) for r in rows] + [4]) for k in range(3)]
        lines = [f"Inputs of {self.id}:"]
        lines += [f"  {n:<{w[0]}}  {t:<{w[1]}}  {r:<{w[2]}}  {d}".rstrip() for n, t, r, d in rows]
        return "\n".join(lines)


def _short(ref: str) -> str:
    return ref.split("#")[-1].split("/")[-1]


def _norm_type(t: Any) -> Any:
    if isinstance(t, str):
        if t.endswith("?"):
            inner = _norm_type(t[:-1])
            return ["null", *(inner if isinstance(inner, list) else [inner])]
        if t.endswith("[]"):
            return {"type": "array", "items": _norm_type(t[:-2])}
        return t
    if isinstance(t, list):
        out: list[Any] = []
        for x in t:
            n = _norm_type(x)
            out.extend(n if isinstance(n, list) else [n])
        return out
    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "array":
            return {"type": "array", "items": _norm_type(t.get("items"))}
        if kind == "enum":
            return {"type": "enum", "symbols": [_short(str(s)) for s in t.get("symbols", [])]}
        if isinstance(kind, (str, list)) and kind not in ("record",):
            return _norm_type(kind)
        return t
    return t


def _type_str(t: Any) -> str:
    if isinstance(t, str):
        return _short(t) if "#" in t else t
    if isinstance(t, list):
        alts = [x for x in t if x != "null"]
        s = " | ".join(_type_str(x) for x in alts) or "null"
        return f"{s}?" if "null" in t else s
    if isinstance(t, dict):
        if t.get("type") == "array":
            inner = _type_str(t.get("items"))
            return f"({inner})[]" if "|" in inner or inner.endswith("?") else f"{inner}[]"
        if t.get("type") == "enum":
            return "enum(" + "|".join(t.get("symbols", [])) + ")"
        return str(t.get("type", "record"))
    return str(t)


def load_workflow(package: str | os.PathLike[str], workflow_id: str | None = None) -> Workflow:
    """The entry point of a package folder or CWL file, by `cwlmodel`'s rule (the one deploy and
    describe use): the Workflow ``workflow_id`` (with or without ``#``), else the first Workflow
    of the document; a lone CommandLineTool is run too (cwltool runs it). The document is read
    once, through cwlload's guarded loader (limits; nothing it names is read)."""
    from .cwlload import LoadError
    from .cwlmodel import EntryPointError, load_package_file, plain

    cwl = find_cwl(Path(package))
    try:
        pkg = load_package_file(cwl)
    except LoadError as err:  # names the file, not its folder (the ADES's job path)
        raise RunError(str(err)) from None
    except OSError as err:
        raise RunError(f"{cwl.name}: cannot be read ({err.strerror})") from None
    try:
        proc = pkg.entry(workflow_id, allow_tool=True)
    except EntryPointError as err:
        raise RunError(f"{cwl}: {err}; choose one with -w WORKFLOW_ID") from None
    inputs = [InputSpec(name=p.id, type=_norm_type(plain((p.raw or {}).get("type"))),
                        label=p.label, doc=" ".join(p.doc.split()),
                        default=p.default if p.has_default else _MISSING)
              for p in proc.inputs]
    return Workflow(cwl=cwl, id=proc.id, inputs=inputs, outputs=[o.id for o in proc.outputs],
                    label=proc.label, doc=proc.doc, steps=len(proc.steps), package=pkg)


# --------------------------------------------------------------------------- parameter conversion

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def _convert_one(t: Any, raw: Any) -> Any:
    """One value of CWL type ``t`` (not a union) from a string (CLI) or a Python value."""
    if isinstance(t, dict) and t.get("type") == "array":
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("["):
                from .cwlload import LoadError, load_yaml

                try:  # limits: the text may come from an ADES execute request
                    raw = load_yaml(text, "the value")
                except LoadError as err:
                    raise ValueError(f"expects a list ({err})") from None
            else:
                raw = [] if not text else [v.strip() for v in text.split(",")]
        if not isinstance(raw, (list, tuple)):
            raise ValueError(f"expects a list, got {raw!r}")
        return [_convert(t["items"], v) for v in raw]
    if isinstance(raw, (list, tuple)):
        raise ValueError(f"takes one value, got {len(raw)}: {', '.join(map(str, raw))}")
    if isinstance(t, dict) and t.get("type") == "enum":
        symbols = t.get("symbols", [])
        if raw not in symbols:
            raise ValueError(f"expects one of {', '.join(symbols)}, got {raw!r}")
        return raw
    if t in ("int", "long"):
        if isinstance(raw, bool):
            raise ValueError(f"expects an integer, got {raw!r}")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError(f"expects an integer, got {raw!r}") from None
    if t in ("float", "double"):
        if isinstance(raw, bool):
            raise ValueError(f"expects a number, got {raw!r}")
        if isinstance(raw, (int, float)):
            return float(raw)
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ValueError(f"expects a number, got {raw!r}") from None
    if t == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expects true/false (or yes/no), got {raw!r}")
    if t == "string":
        if isinstance(raw, str):
            return raw
        raise ValueError(f"expects a string, got {raw!r}")
    if t in ("File", "Directory"):
        if isinstance(raw, Mapping) and raw.get("class") == t:
            return dict(raw)
        ref = os.fspath(raw) if isinstance(raw, (str, os.PathLike)) else None
        if not ref:
            raise ValueError(f"expects a path or URL of a {t}, got {raw!r}")
        if "://" in ref and not ref.startswith("file://"):
            return {"class": t, "location": ref}
        path = Path(ref[7:] if ref.startswith("file://") else ref).expanduser().resolve()
        if t == "File" and not path.is_file() or t == "Directory" and not path.is_dir():
            raise ValueError(f"expects an existing {t.lower() if t == 'File' else 'folder'}, "
                             f"{path} is not one")
        return {"class": t, "location": path.as_uri()}
    if t == "Any":
        return raw
    # records and schema types (e.g. $import-ed ones): pass the value through
    return raw


def _convert(t: Any, raw: Any) -> Any:
    alts = [x for x in t if x != "null"] if isinstance(t, list) else [t]
    optional = isinstance(t, list) and "null" in t
    if optional and (raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "null", "none"))):
        return None
    errors = []
    for alt in alts:
        try:
            return _convert_one(alt, raw)
        except ValueError as err:
            errors.append(str(err))
    raise ValueError(" or ".join(dict.fromkeys(errors)) or f"cannot convert {raw!r}")


def convert_params(workflow: Workflow, params: Mapping[str, Any]) -> dict[str, Any]:
    """CWL job values for ``params`` (strings from the command line, a list of strings for a
    repeated flag, or Python values). Raises :class:`ParameterError` for an unknown name, a bad
    value or a missing required input (``Directory`` inputs fed by STAC items aside)."""
    listing = workflow.describe()
    job: dict[str, Any] = {}
    for name, raw in params.items():
        spec = workflow.input(name)
        if spec is None:
            raise ParameterError(f"{workflow.id} has no input {name!r}", listing)
        takes_list = any(isinstance(a, dict) and a.get("type") == "array"
                         for a in spec.alternatives)
        if isinstance(raw, (list, tuple)) and len(raw) == 1 and not takes_list:
            raw = raw[0]
        elif isinstance(raw, (list, tuple)) and all(isinstance(v, str) for v in raw) and takes_list:
            # repeated flags: each may still be comma-separated
            raw = [p for v in raw for p in (_convert_one(
                {"type": "array", "items": "string"}, v) if not v.strip().startswith("[") else [v])]
        try:
            job[name] = _convert(spec.type, raw)
        except ValueError as err:
            raise ParameterError(f"input {name!r} ({spec.type_str}) {err}", listing) from None
    from .cwlload import LoadError, check_job_values

    try:  # cwltool would resolve $include/$import in the job file
        check_job_values(job)
    except LoadError as err:
        raise ParameterError(str(err), listing) from None
    return job


def parse_param_args(values: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "b=x", "b=y"]`` -> ``{"a": "1", "b": ["x", "y"]}`` (repeated names collect)."""
    out: dict[str, Any] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"--param {text!r}: write NAME=VALUE")
        name = name.strip()
        if name in out:
            prev = out[name]
            out[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[name] = value
    return out


def parse_stac_item_args(workflow: Workflow, values: Sequence[str]) -> dict[str, list[str]] | list[str]:
    """``--stac-item [INPUT=]URL`` values: a list when no INPUT is named, else a dict. A prefix
    before ``=`` counts as an input name only when the Workflow has that input (URLs may hold
    ``=`` in their query)."""
    named: dict[str, list[str]] = {}
    plain: list[str] = []
    for text in values:
        name, sep, ref = text.partition("=")
        if sep and workflow.input(name.strip()) is not None:
            named.setdefault(name.strip(), []).append(ref)
        else:
            plain.append(text)
    if not named:
        return plain
    if plain:
        target = _default_stac_input(workflow)
        named.setdefault(target.name, []).extend(plain)
    return named


_STAGED_KINDS = ("Directory", "Directory[]")
_URL_KINDS = ("string", "string[]")


def _default_stac_input(workflow: Workflow) -> InputSpec:
    staged = [i for i in workflow.inputs if i.kind in _STAGED_KINDS]
    if len(staged) == 1:
        return staged[0]
    if not staged:
        urls = [i for i in workflow.inputs if i.kind == "string[]"]
        if len(urls) == 1:
            return urls[0]
        why = "it has no Directory input"
        cands = [i for i in workflow.inputs if i.kind in _URL_KINDS]
    else:
        why = "it has several Directory inputs"
        cands = staged
    names = ", ".join(i.name for i in cands) or "none"
    raise ParameterError(
        f"which input do the STAC items go to? {why}; write --stac-item INPUT=URL with INPUT one "
        f"of: {names}", workflow.describe())


def assign_stac_items(workflow: Workflow,
                      stac_items: Mapping[str, Sequence[str]] | Sequence[str] | None
                      ) -> dict[str, list[str]]:
    """``{input name: [item refs]}``, checking that each input can take STAC items."""
    if not stac_items:
        return {}
    if isinstance(stac_items, str):
        stac_items = [stac_items]
    if not isinstance(stac_items, Mapping):
        return {_default_stac_input(workflow).name: list(stac_items)}
    out: dict[str, list[str]] = {}
    for name, refs in stac_items.items():
        spec = workflow.input(name)
        if spec is None:
            raise ParameterError(f"{workflow.id} has no input {name!r} for STAC items",
                                 workflow.describe())
        refs = [refs] if isinstance(refs, str) else list(refs)
        if spec.kind not in _STAGED_KINDS + _URL_KINDS:
            raise ParameterError(
                f"input {name!r} ({spec.type_str}) cannot take STAC items: they go to a "
                "Directory / Directory[] input (staged) or a string / string[] input (URLs)",
                workflow.describe())
        if spec.kind == "string" and len(refs) != 1:
            raise ParameterError(
                f"input {name!r} (string) takes one STAC item URL, got {len(refs)}",
                workflow.describe())
        out[name] = refs
    return out


# --------------------------------------------------------------------------- container engines


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


# --------------------------------------------------------------------------- results


@dataclass
class RunResult:
    status: str  #: "successful" or "failed" (OGC API - Processes job status words)
    run_dir: Path
    outputs: dict[str, Any] = field(default_factory=dict)  #: cwltool's output object
    catalog: Path | None = None  #: the result catalog.json
    items: list[dict[str, Any]] = field(default_factory=list)  #: {id, datetime, bbox, assets}
    log: Path | None = None
    notebook: Path | None = None  #: the executed notebook, beside the results
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  #: stage_in, cwltool, tool, stage_out
    engine: str | None = None
    message: str = ""
    problems: list[str] = field(default_factory=list)  #: why the result is not valid
    log_tail: str = ""
    job: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "successful"

    def to_json(self) -> dict[str, Any]:
        out = {}
        for key, value in self.__dict__.items():
            out[key] = str(value) if isinstance(value, Path) else value
        return json.loads(json.dumps(out, default=str))


def _InsideIO(folder: Path):
    """A pystac StacIO reading only files inside ``folder`` (links leading elsewhere, local or
    remote, are refused: a tool's result never makes the checker read other files)."""
    from pystac.stac_io import DefaultStacIO

    root = Path(folder).resolve()

    class InsideIO(DefaultStacIO):
        def read_text_from_href(self, href: str) -> str:
            local = href[7:] if href.startswith("file://") else href
            if "://" in local or not Path(local).resolve().is_relative_to(root):
                raise ValueError("a link leads out of the result folder")
            return super().read_text_from_href(local)

    return InsideIO()


def check_catalog(folder: str | os.PathLike[str]) -> tuple[Path | None, list[dict[str, Any]], list[str]]:
    """Stage-out check of a result folder: (catalog path, items, problems). Each item needs a
    geometry, a bbox, a datetime (or start/end) and at least one asset, every asset a file on
    disk."""
    import pystac

    folder = Path(folder)
    path = folder / "catalog.json"
    if not path.is_file():
        return None, [], [f"{folder} holds no catalog.json: the application must write its "
                          "results as a STAC catalog (OGC 20-089 stage-out)"]
    try:
        cat = pystac.read_file(str(path), stac_io=_InsideIO(folder))
        items = list(cat.get_items(recursive=True)) if isinstance(cat, pystac.Catalog) else []
    except Exception as err:  # never the content of what was read: the type alone
        return path, [], [f"{path}: not a readable STAC catalog ({type(err).__name__})"]
    problems = []
    summary = []
    if not items:
        problems.append(f"{path}: the catalog holds no item")
    for item in items:
        where = f"item {item.id}"
        if not item.geometry:
            problems.append(f"{where}: no geometry")
        if not item.bbox:
            problems.append(f"{where}: no bbox")
        if item.datetime is None and not (item.properties.get("start_datetime")
                                          and item.properties.get("end_datetime")):
            problems.append(f"{where}: no datetime (nor start_datetime/end_datetime)")
        if not item.assets:
            problems.append(f"{where}: no asset")
        assets = {}
        for key, asset in item.assets.items():
            href = asset.get_absolute_href() or asset.href
            local = href[7:] if href.startswith("file://") else href
            if "://" in local:
                problems.append(f"{where}: asset {key} is not a local file ({href})")
            elif not (Path(local).is_file() or Path(local).is_dir()):  # a Zarr store is a folder
                problems.append(f"{where}: asset {key} does not exist ({local})")
            assets[key] = local
        summary.append({"id": item.id, "datetime": item.datetime.isoformat() if item.datetime else
                        item.properties.get("start_datetime"), "bbox": item.bbox, "assets": assets})
    return path, summary, problems


# --------------------------------------------------------------------------- the run


_PROGRESS_RE = re.compile(r"\[(workflow|step|job) ?([^\]]*)\] (start|completed (\w+))$")
_JOB_CMD_RE = re.compile(r"\[job ([^\]]+)\] .*\$ ")
#: papermill --log-output (the packaged tool's command) before each cell, numbered from 1.
_CELL_RE = re.compile(r"^Executing Cell (\d+)-*\s*$")


def write_no_container_copy(cwl: Path, target: Path, app_dir: Path | None = None) -> list[str]:
    """Write the CWL to run without a container: every ``APP_DIR_IN_IMAGE`` replaced by the
    package folder (or ``app_dir`` when given: where the image's app files are on this host),
    and each process's ``DockerRequirement`` moved from ``requirements`` to
    ``hints`` (``cwltool --no-container`` stops at a required one). Returns the ids of the
    processes whose DockerRequirement moved."""
    from io import StringIO

    from ruamel.yaml import YAML

    from .cwlload import load_cwl
    from .cwlmodel import requirement_list

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
        moved.append(_short(str(proc.get("id", "?"))))
    buf = StringIO()
    yaml.dump(doc, buf)
    target.write_text(buf.getvalue())
    return moved


def _default_run_dir(workflow: Workflow) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / "eopde-runs" / f"{workflow.id or workflow.cwl.stem}-{stamp}"


def _tail(path: Path, n: int = LOG_TAIL_LINES) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _failure_reason(log: str) -> str:
    lines = log.splitlines()
    final = next((ln for ln in reversed(lines) if "Final process status is" in ln), "")
    errors = [ln.strip() for ln in lines if ln.startswith(("ERROR", "WARNING [job", "Traceback"))
              or "Error" in ln.split(":")[0]]
    reason = next((ln for ln in reversed(errors) if ln.startswith("ERROR")), "")
    exc = next((ln.strip() for ln in reversed(lines)
                if re.match(r"\s*[A-Za-z_.]*(Error|Exception)\b.*:", ln)), "")
    parts = [p for p in (final, reason, exc) if p]
    return "; ".join(dict.fromkeys(parts)) or "cwltool failed (see the log)"


def _find_notebook(folders: list[Path]) -> Path | None:
    found = [p for f in folders for p in sorted(f.rglob("*.ipynb"))
             if not any(part.startswith(".") for part in p.relative_to(f).parts)]
    found.sort(key=lambda p: (len(p.parts), "executed" not in p.name and "output" not in p.name))
    return found[0] if found else None


def run_package(package: str | os.PathLike[str], params: Mapping[str, Any] | None = None,
                stac_items: Mapping[str, Sequence[str]] | Sequence[str] | None = None, *,
                output: str | os.PathLike[str] | None = None, engine: str | None = "auto",
                workflow_id: str | None = None, assets: Sequence[str] | None = None,
                progress: Progress | None = None, headers: dict[str, str] | None = None,
                timeout: float | None = None, log_path: str | os.PathLike[str] | None = None,
                new_session: bool = False,
                on_start: Callable[[subprocess.Popen], None] | None = None,
                app_dir: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None,
                run_as: tuple[int, int] | None = None,
                wrap: Callable[[list[str]], list[str]] | None = None,
                workflow: Workflow | None = None,
                url_policy: Any = None) -> RunResult:
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
    ``url_policy`` (a :class:`~eopde.services.urlguard.UrlPolicy`) limits what stage-in fetches
    for a user (default: anything, as on one's own machine).
    ``workflow``: the package's entry point already read by :func:`load_workflow` (the
    executor reads it once to check the inputs; the CWL is then not parsed again).

    Raises :class:`ParameterError` (bad inputs), :class:`RunError` (cannot start) and
    :class:`~eopde.apppkg.stagein.StageInError`; a run that starts returns a :class:`RunResult`
    whose ``status`` is "failed" when the tool fails or its result is not a valid STAC catalog.
    """
    from .stagein import StageInError, stage_items

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
    missing = [i.name for i in workflow.inputs
               if i.required and i.name not in job and i.name not in targets]
    if missing:
        raise ParameterError(f"missing required input(s): {', '.join(missing)}",
                             workflow.describe())

    run_dir = Path(output) if output else _default_run_dir(workflow)
    run_dir = run_dir.expanduser().resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir} is not empty: give a new --output folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    # stage-in
    t0 = time.monotonic()
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
                                   policy=url_policy)
                job[name] = {"class": "Directory", "location": cats[0].folder.as_uri()}
            else:
                cats = stage_items(refs, run_dir / "stage-in" / name, assets=assets,
                                   per_item=True, progress=say, headers=headers,
                                   policy=url_policy)
                job[name] = [{"class": "Directory", "location": c.folder.as_uri()}
                             for c in cats]
        except StageInError as err:  # say which input
            raise StageInError(f"input {name!r}: {err}") from err
    timings["stage_in"] = time.monotonic() - t0

    # job file
    job_path = run_dir / "job.yml"
    import yaml

    job_path.write_text(yaml.safe_dump(job, sort_keys=False, allow_unicode=True))

    # engine and the CWL to run
    engine_name, engine_note = detect_engine(engine)
    say(engine_note)
    if engine_name is None:
        cwl_to_run = run_dir / workflow.cwl.name
        moved = write_no_container_copy(workflow.cwl, cwl_to_run,
                                        Path(app_dir) if app_dir else None)
        if moved:
            say(f"DockerRequirement of {', '.join(moved)} moved to hints in {cwl_to_run.name} "
                "(cwltool --no-container refuses it under requirements)")
        engine_args = ["--no-container"]
    else:
        cwl_to_run = workflow.cwl.resolve()
        engine_args = {"docker": [], "podman": ["--podman"]}.get(engine_name, ["--singularity"])
    outputs_dir = run_dir / "outputs"
    outputs_dir.mkdir()
    work = run_dir / "work"
    work.mkdir()
    entry = f"{cwl_to_run}#{workflow.id}" if workflow.id else str(cwl_to_run)
    # --skip-schemas: $schemas are never fetched (a local path or a loopback URL there would be
    # read by cwltool); $include/$import are refused by load_workflow before we get here
    cmd = [sys.executable, "-m", "cwltool", "--disable-color", "--skip-schemas",
           "--outdir", str(outputs_dir),
           "--tmpdir-prefix", f"{work}/tmp-", "--tmp-outdir-prefix", f"{work}/out-",
           *engine_args, entry, str(job_path)]
    env = dict(os.environ if env is None else env)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
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
    append = log_path is not None
    log_path = Path(log_path) if append else run_dir / "run.log"

    say(f"cwltool: running {workflow.id or workflow.cwl.name} (log: {log_path})")
    t0 = time.monotonic()
    marks: dict[str, float] = {}
    step_start: dict[str, float] = {}
    with open(log_path, "a" if append else "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=run_dir, errors="replace",
                                start_new_session=new_session, **account)
        if on_start is not None:
            on_start(proc)

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                log.write(line)
                log.flush()
                now = time.monotonic()
                m = _PROGRESS_RE.search(line)
                if m:
                    kind, name, _, result = m.groups()
                    name = name or workflow.id
                    if result is None:
                        step_start[f"{kind} {name}"] = now
                        if kind != "job":
                            say(f"{kind} {name}: started")
                    else:
                        took = now - step_start.get(f"{kind} {name}", now)
                        if kind == "job":
                            marks["tool"] = marks.get("tool", 0.0) + took
                        say(f"{kind} {name}: completed {result} ({took:.1f} s)")
                elif job_cmd := _JOB_CMD_RE.search(line):
                    name = job_cmd.group(1)
                    step_start[f"job {name}"] = now
                    say(f"job {name}: running the tool")
                elif cell := _CELL_RE.match(line):  # the tool's own progress: papermill cells
                    say(f"notebook cell {int(cell.group(1))}: started")

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
        rc = proc.returncode
        if timeout and rc is not None and rc < 0:
            log.write(f"\neopde: stopped cwltool after the {timeout} s timeout\n")
    timings["cwltool"] = time.monotonic() - t0
    if "tool" in marks:
        timings["tool"] = marks["tool"]

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

    # stage-out
    t0 = time.monotonic()
    try:
        outs = json.loads(stdout or "{}")
    except ValueError:
        outs = {}
    result_dirs = []
    for name, value in list(outs.items()):
        if isinstance(value, dict) and value.get("class") == "Directory":
            src = Path(value["path"])
            dst = outputs_dir / name
            if src != dst and not dst.exists() and src.parent == outputs_dir:
                src.rename(dst)
                value["path"] = str(dst)
                value["location"] = dst.as_uri()
                value.pop("listing", None)
            result_dirs.append((name, Path(value["path"])))
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
                        "holding a STAC catalog.json (OGC 20-089 stage-out)")
    for name, folder in result_dirs:
        cat, items, probs = check_catalog(folder)
        if result.catalog is None and cat is not None:
            result.catalog, result.items = cat, items
        problems += [f"output {name}: {p}" for p in probs]
    timings["stage_out"] = time.monotonic() - t0
    result.problems = problems
    result.seconds = time.monotonic() - t_start
    if problems:
        result.message = "the tool ran but its result is not a valid STAC catalog: " + "; ".join(problems)
        result.log_tail = _tail(log_path)
        return result
    result.status = "successful"
    n_assets = sum(len(i["assets"]) for i in result.items)
    result.message = (f"{len(result.items)} item(s), {n_assets} asset(s) in {result.catalog}")
    shutil.rmtree(work, ignore_errors=True)
    return result
