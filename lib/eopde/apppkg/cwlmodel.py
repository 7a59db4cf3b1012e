"""One typed model of an application package's CWL, loaded once, with one entry-point rule.

`load_package(text)` parses the document through `cwlload.load_cwl` (size, depth, alias and node
limits; `$include`/`$import`/`$mixin`, a `run:` of another file, local `$schemas` and local File
literals refused; nothing outside the document is read) with ruamel.yaml, the YAML library cwltool
uses (YAML 1.2: `yes`/`on` stay strings, as cwltool reads them), keeping line numbers for
validation findings. `package_of(doc)` builds the same model from a document already parsed.

The model: `Package` (the document: processes in document order, `$namespaces`, `cwlVersion`,
schema.org metadata as plain JSON values), `Process` (Workflow, CommandLineTool, ...: inputs,
outputs, requirements and hints, steps), `Param` (an input or output with its parsed `ParamType`:
optional `T?` / `['null', T]`, arrays `T[]` / `{type: array, items}`, records, enums, File,
Directory, named types; default, format, label, doc), `Step` (run resolved to a `Process`).

The entry point (`Package.entry`), used by validate, run, describe, deploy, images, the client and
the executor, is the rule of ZOO-Project-DRU, the EOEPCA ADES since EOEPCA 2.0
(`zoo-project/zoo-services/utils/open-api/dru/deploy_util.py`, `Process.create_from_cwl`, with the
`workflow_id` that `DeployProcess.py` takes from the deploy request's `w=`):

1. the Workflow whose id is given (`w=`, `-w`, `file.cwl#id`, the process id of a deployed
   process): an error when there is none;
2. else the first Workflow of the document (a `$graph` in document order, or the document
   itself when it is a Workflow).

ZOO-Project-DRU refuses a document without a Workflow ("No workflow found"); `eopde run` also runs
a lone CommandLineTool (`allow_tool=True`), which cwltool does.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Iterator

from .cwlload import LoadError, line_of, load_cwl

#: CWL's primitive type names (and the two file types).
PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "string", "Any")
FILE_TYPES = ("File", "Directory")
SCHEMA_ORG = ("https://schema.org/", "http://schema.org/")
_MAX_DEPTH = 20


class EntryPointError(ValueError):
    """No entry point: no Workflow, or none with the id asked for. `str()` says which exist."""


# --------------------------------------------------------------------------- plain values


def plain(value: Any, depth: int = 0) -> Any:
    """A ruamel (or PyYAML) value as plain JSON: dict/list/str/int/float/bool/None; dates and
    timestamps as ISO 8601 strings (never a Python repr)."""
    if depth > 64:  # cwlload limits the depth to 64 already
        return None
    if value is None or isinstance(value, str):
        return None if value is None else str(value)
    if isinstance(value, bool):
        return bool(value)
    try:
        from ruamel.yaml.scalarbool import ScalarBoolean

        if isinstance(value, ScalarBoolean):
            return bool(value)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    return str(value)


def short_id(ident: Any) -> str:
    """`#main/x`, `file:///a.cwl#wf/x`, `x` -> `x`."""
    s = str(ident or "")
    if "#" in s:
        s = s.rsplit("#", 1)[1]
    return s.rsplit("/", 1)[-1]


def frag(ident: Any) -> str:
    """`#wf/x` -> `wf/x`, `file:///a.cwl#wf` -> `wf`, `wf` -> `wf`."""
    s = str(ident or "")
    return s.rsplit("#", 1)[1] if "#" in s else s


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def _line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


# --------------------------------------------------------------------------- types


@dataclass
class CwlType:
    """One type (not a union): `kind` is a primitive name, File, Directory, array, record, enum
    or `named` (a SchemaDefRequirement or imported type, `name` says which)."""

    kind: str
    items: "ParamType | None" = None  # arrays
    fields: "dict[str, ParamType]" = field(default_factory=dict)  # records
    symbols: list[str] = field(default_factory=list)  # enums
    name: str = ""  # records, enums and named types

    def __str__(self) -> str:
        if self.kind == "array":
            inner = str(self.items) if self.items else "Any"
            return f"({inner})[]" if "|" in inner or inner.endswith("?") else f"{inner}[]"
        if self.kind == "enum":
            return "enum(" + "|".join(self.symbols) + ")"
        if self.kind == "record":
            return self.name or "record"
        return self.name if self.kind == "named" else self.kind


@dataclass
class ParamType:
    """A parameter's type: its non-null alternatives and whether null is allowed."""

    alternatives: list[CwlType]
    optional: bool = False

    @property
    def single(self) -> CwlType | None:
        """The one alternative, when there is exactly one."""
        return self.alternatives[0] if len(self.alternatives) == 1 else None

    @property
    def is_array(self) -> bool:
        return bool(self.single and self.single.kind == "array")

    def names(self) -> set[str]:
        """Base type names: `Directory[]?` -> {Directory}; records {record}, enums {enum}."""
        out: set[str] = set()
        for alt in self.alternatives:
            if alt.kind == "array" and alt.items is not None:
                out |= alt.items.names()
            else:
                out.add(alt.name if alt.kind == "named" else alt.kind)
        return out

    def __str__(self) -> str:
        s = " | ".join(str(a) for a in self.alternatives) or "null"
        return f"{s}?" if self.optional and self.alternatives else s


def parse_type(t: Any, depth: int = 0) -> ParamType:
    """A CWL type as written (shorthands, unions, long forms) -> ParamType."""
    if depth > _MAX_DEPTH or t is None:
        return ParamType([], optional=t is None)
    if isinstance(t, str):
        s = t.strip()
        if s.endswith("?"):
            inner = parse_type(s[:-1], depth + 1)
            return ParamType(inner.alternatives, True)
        if s.endswith("[]"):
            return ParamType([CwlType("array", items=parse_type(s[:-2], depth + 1))])
        if s == "null":
            return ParamType([], True)
        if s in PRIMITIVES or s in FILE_TYPES:
            return ParamType([CwlType(s)])
        return ParamType([CwlType("named", name=short_id(s) if "#" in s else s)])
    if isinstance(t, list):
        alts: list[CwlType] = []
        optional = False
        for item in t:
            sub = parse_type(item, depth + 1)
            optional = optional or sub.optional
            alts += sub.alternatives
        return ParamType(alts, optional)
    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "array":
            return ParamType([CwlType("array", items=parse_type(t.get("items"), depth + 1))])
        if kind == "enum":
            return ParamType([CwlType("enum", symbols=[short_id(s) for s in t.get("symbols") or []],
                                      name=short_id(t.get("name", "")))])
        if kind == "record":
            fields: dict[str, ParamType] = {}
            raw = t.get("fields") or []
            entries = raw.items() if isinstance(raw, dict) else (
                (f.get("name"), f) for f in raw if isinstance(f, dict))
            for fname, spec in entries:
                ftype = spec.get("type") if isinstance(spec, dict) else spec
                fields[short_id(fname)] = parse_type(ftype, depth + 1)
            return ParamType([CwlType("record", fields=fields, name=short_id(t.get("name", "")))])
        return parse_type(kind, depth + 1)
    return ParamType([])


# --------------------------------------------------------------------------- parts


@dataclass
class Param:
    """An input or output of a process."""

    id: str
    type: ParamType
    label: str = ""
    doc: str = ""
    default: Any = None  # plain JSON; see has_default
    has_default: bool = False
    format: Any = None
    sources: list[str] = field(default_factory=list)  # outputSource of a Workflow output
    line: int | None = None
    raw: Any = None  # the mapping as parsed ({"type": t} for a shorthand)

    @property
    def optional(self) -> bool:
        return self.type.optional

    @property
    def required(self) -> bool:
        return not self.type.optional and not self.has_default


@dataclass
class Requirement:
    cls: str
    body: dict  # plain JSON, without `class`
    hint: bool = False
    line: int | None = None
    container: Any = None  # requirements/hints section as parsed, and the entry's key in it
    key: Any = None


@dataclass
class Step:
    id: str
    run: Any  # "#tool-id", an inline process mapping, or None
    process: "Process | None" = None  # run resolved
    inputs: dict[str, list[str]] = field(default_factory=dict)  # sink -> sources
    outputs: list[str] = field(default_factory=list)
    scatter: list[str] = field(default_factory=list)
    scatter_method: str = ""
    line: int | None = None
    raw: Any = None


@dataclass
class Process:
    id: str  # fragment, without `#` (`""` when the document has none)
    cls: str
    label: str = ""
    doc: str = ""
    inputs: list[Param] = field(default_factory=list)
    outputs: list[Param] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)  # requirements, then hints
    steps: list[Step] = field(default_factory=list)
    line: int | None = None
    raw: Any = None

    def input(self, name: str) -> Param | None:
        return next((p for p in self.inputs if p.id == name), None)

    def requirement(self, cls: str, *, hints: bool = True) -> Requirement | None:
        """The first `cls` requirement (requirements before hints)."""
        return next((r for r in self.requirements if r.cls == cls and (hints or not r.hint)),
                    None)

    @property
    def docker_pull(self) -> str | None:
        req = self.requirement("DockerRequirement")
        pull = req.body.get("dockerPull") if req else None
        return str(pull) if pull else None


def entries(section: Any, id_field: str = "id") -> Iterator[tuple[str, Any, int | None]]:
    """(id, mapping, line) of an `inputs`/`outputs`/`steps`/`in` section given as a map or a
    list. A shorthand value (`x: string`, `x: step/out`) comes back as {"_value": value}."""
    if isinstance(section, dict):
        for key, value in section.items():
            yield short_id(key), value if isinstance(value, dict) else {"_value": value}, \
                line_of(section, key)
    elif isinstance(section, list):
        for i, value in enumerate(section):
            if isinstance(value, dict):
                yield short_id(value.get(id_field, f"[{i}]")), value, line_of(section, i)
            elif isinstance(value, str):
                yield short_id(value), {}, line_of(section, i)


def _sources(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str)]
    return []


def _param(pid: str, spec: dict, line: int | None) -> Param:
    t = spec.get("type", spec.get("_value"))
    has_default = "default" in spec and spec["default"] is not None
    return Param(id=pid, type=parse_type(t), label=_text(spec.get("label")).strip(),
                 doc=_text(spec.get("doc")).strip(),
                 default=plain(spec["default"]) if has_default else None,
                 has_default=has_default, format=plain(spec.get("format")),
                 sources=_sources(spec.get("outputSource")), line=line,
                 raw=spec if "_value" not in spec else {"type": t})


def requirement_list(proc: dict) -> list[Requirement]:
    """Requirements then hints of a process mapping, whether each section is a list or a map."""
    out = []
    for section in ("requirements", "hints"):
        reqs = proc.get(section)
        if isinstance(reqs, dict):
            for cls, body in reqs.items():
                out.append(Requirement(short_id(cls), plain(body) if isinstance(body, dict)
                                       else {}, section == "hints", line_of(reqs, cls), reqs, cls))
        elif isinstance(reqs, list):
            for i, body in enumerate(reqs):
                if isinstance(body, dict):
                    b = {k: v for k, v in plain(body).items() if k != "class"}
                    out.append(Requirement(short_id(body.get("class", "")), b,
                                           section == "hints", line_of(reqs, i), reqs, i))
    return out


def _process(proc: dict, depth: int = 0) -> Process:
    p = Process(id=frag(proc.get("id", "")).lstrip("#"), cls=str(proc.get("class", "")),
                label=_text(proc.get("label")).strip(), doc=_text(proc.get("doc")).strip(),
                inputs=[_param(i, s, ln) for i, s, ln in entries(proc.get("inputs"))],
                outputs=[_param(i, s, ln) for i, s, ln in entries(proc.get("outputs"))],
                requirements=requirement_list(proc), line=_line(proc), raw=proc)
    for sid, step, sline in entries(proc.get("steps")):
        run = step.get("run")
        ins = {k: _sources(v.get("source", v.get("_value"))) for k, v, _ in entries(step.get("in"))}
        outs = [short_id(o.get("id") if isinstance(o, dict) else o)
                for o in step.get("out") or [] if isinstance(o, (str, dict))]
        s = Step(id=sid, run=run, inputs=ins, outputs=outs,
                 scatter=[short_id(x) for x in _sources(step.get("scatter"))],
                 scatter_method=str(step.get("scatterMethod") or ""), line=sline, raw=step)
        if isinstance(run, dict) and depth < _MAX_DEPTH:
            s.process = _process(run, depth + 1)
        p.steps.append(s)
    return p


# --------------------------------------------------------------------------- the package


@dataclass
class Package:
    """A CWL document: its processes (top level, document order) and its metadata."""

    doc: Any  # the mapping as parsed (ruamel round-trip tree from load_package)
    processes: list[Process]
    graph: bool  # a `$graph` document
    text: str = ""
    cwl_version: str = ""
    namespaces: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)  # schema.org term -> plain JSON

    @property
    def workflows(self) -> list[Process]:
        return [p for p in self.processes if p.cls == "Workflow"]

    @property
    def tools(self) -> list[Process]:
        """Every CommandLineTool, top level and inline (`run: {...}`)."""
        return [p for p in self.all_processes() if p.cls == "CommandLineTool"]

    def all_processes(self) -> Iterator[Process]:
        """Every process, top level and inline, once."""
        todo = list(reversed(self.processes))
        while todo:
            p = todo.pop()
            yield p
            todo.extend(s.process for s in reversed(p.steps) if s.process is not None)

    def process(self, ref: Any) -> Process | None:
        """The top-level process a `run: '#id'` (or an id) names."""
        key = frag(ref).lstrip("#")
        found = next((p for p in self.processes if p.id == key), None)
        return found or next((p for p in self.processes if short_id(p.id) == short_id(key)),
                             None)

    def run_of(self, step: Step) -> Process | None:
        return step.process or (self.process(step.run) if isinstance(step.run, str) and
                                step.run.startswith("#") else None)

    def entry(self, workflow_id: str | None = None, *, allow_tool: bool = False) -> Process:
        """The entry point (see the module docstring): the Workflow `workflow_id`, else the
        first Workflow; with `allow_tool`, a document's only process whatever its class."""
        wfs = self.workflows
        if workflow_id:
            wanted = workflow_id.lstrip("#")
            found = next((w for w in wfs if w.id == wanted), None) or next(
                (w for w in wfs if short_id(w.id) == short_id(wanted)), None)
            if found is None and allow_tool:
                found = next((p for p in self.processes if short_id(p.id) == wanted), None)
            if found is None:
                raise EntryPointError(f"no Workflow with id {wanted!r}; the Workflows are: "
                                      + (", ".join(w.id or "(no id)" for w in wfs) or "none"))
            return found
        if wfs:
            return wfs[0]
        if allow_tool and len(self.processes) == 1:
            return self.processes[0]
        kinds = ", ".join(f"{p.id or '(no id)'} ({p.cls})" for p in self.processes) or "nothing"
        raise EntryPointError(f"no Workflow in the document (found: {kinds})")

    def images(self) -> list[str]:
        """The `dockerPull` images of the processes (tools, and Workflows whose steps inherit
        one), in document order, each once."""
        return list(dict.fromkeys(p.docker_pull for p in self.all_processes() if p.docker_pull))

    def plain(self) -> dict:
        """The whole document as plain JSON."""
        return plain(self.doc)

    @property
    def software_version(self) -> str | None:
        v = self.metadata.get("softwareVersion", self.metadata.get("version"))
        return None if v in (None, "", [], {}) else str(v)


def schema_prefixes(doc: dict, processes: list[dict] | None = None) -> tuple[str, ...]:
    """The prefixes (`s:`, ...) and full URIs under which schema.org terms appear."""
    prefixes = []
    for holder in [doc, *(processes or [])]:
        ns = holder.get("$namespaces") if isinstance(holder, dict) else None
        if isinstance(ns, dict):
            prefixes += [f"{k}:" for k, v in ns.items()
                         if str(v).rstrip("/") + "/" in SCHEMA_ORG]
    return tuple(dict.fromkeys(prefixes + ["s:"] + list(SCHEMA_ORG)))


def _metadata(doc: dict, entry: dict | None) -> dict[str, Any]:
    """schema.org terms at the document root, then on the entry Workflow (ZOO-Project-DRU reads
    the Workflow's first, the root's otherwise: a term set in both takes the Workflow's)."""
    prefixes = schema_prefixes(doc)
    out: dict[str, Any] = {}
    for holder in (doc, entry):
        if not isinstance(holder, dict):
            continue
        for key, value in holder.items():
            k = str(key)
            for p in prefixes:
                if k.startswith(p) and len(k) > len(p):
                    out[k[len(p):]] = plain(value)
                    break
    return out


def package_of(doc: Any, text: str = "") -> Package:
    """The model of a CWL document already parsed (and checked by cwlload when it came from a
    user: `load_package` does both)."""
    if not isinstance(doc, dict):
        raise LoadError(f"the CWL is not a mapping (got {type(doc).__name__})",
                        rule="cwl/not-cwl", fix="a CWL document is a mapping with `cwlVersion`")
    graph = "$graph" in doc
    raw = doc.get("$graph") if graph else [doc]
    if not isinstance(raw, list):
        raise LoadError("$graph is not a list", rule="cwl/invalid", where="$graph",
                        line=line_of(doc, "$graph"), fix="write $graph as a list of processes")
    procs = [_process(p) for p in raw if isinstance(p, dict)]
    ns = doc.get("$namespaces")
    pkg = Package(doc=doc, processes=procs, graph=graph, text=text,
                  cwl_version=_text(doc.get("cwlVersion")).strip(),
                  namespaces={str(k): str(v) for k, v in ns.items()} if isinstance(ns, dict)
                  else {})
    first = next((p for p in procs if p.cls == "Workflow"), None)
    pkg.metadata = _metadata(doc, first.raw if first is not None and graph else None)
    return pkg


def load_package(text: str | bytes, what: str = "the CWL") -> Package:
    """Parse CWL text once, through cwlload's guarded loader (ruamel round-trip tree: line
    numbers), into the model. Raises `cwlload.LoadError` (not YAML, over a limit, refers
    outside itself, not a mapping)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise LoadError(f"{what} is not UTF-8 text", fix="send it as UTF-8") from None
    doc = load_cwl(text, what, roundtrip=True)
    return package_of(doc, text)


def load_package_file(path: Any, what: str | None = None) -> Package:
    """`load_package` of a file, reading at most cwlload's size limit (+1 byte to detect it)."""
    from pathlib import Path

    from .cwlload import MAX_BYTES

    p = Path(path)
    with open(p, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    return load_package(data, what or p.name)
