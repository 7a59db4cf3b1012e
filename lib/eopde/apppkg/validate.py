"""Validation of an OGC EO Application Package (OGC 20-089) and of the CWL it is made of.

`validate(path_or_text_or_dict)` returns a `ValidationReport`: each `Finding` has a rule id, a
severity, a message, where it is and how to fix it. The rule of thumb:

- **error**: what would stop the package from deploying or running on an ADES (not valid YAML or
  CWL, no Workflow entry point or an ambiguous one, a tool without a container, a step that runs
  something outside the document, a staged input that is not a `Directory`, stage-in/out steps the
  platform adds itself, a process called `main`);
- **warning**: gaps against the Best Practice that an ADES tolerates (missing or empty `label` /
  `doc`, no `s:softwareVersion`, thin schema.org metadata, no `ResourceRequirement`, unpinned images,
  old `cwlVersion`, ...). `strict=True` turns them into errors.

The CWL is read through `cwlload` (size, depth and alias limits) and loaded in-process with
cwltool's loader (what `cwltool --validate` does, without the process start-up) from memory: the
document itself and nothing else is read. `$include`, `$import`, `$mixin`, a `run:` of another
file, local `$schemas` and File literals with local paths are errors (the ADES receives one
document); `$schemas` URLs are skipped. The Best Practice rules read the YAML tree itself
(ruamel.yaml, for line numbers) and accept every shape cwltool accepts: `$graph` or a single
process, inputs as a list or a map, type shorthands (`File[]`, `Directory?`), unions, arrays
inside unions, records, enums, `SchemaDefRequirement` types, `run:` inline or by `#ref`, packed
documents with `#main`, v1.0 to v1.2.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .cwlload import line_of

ERROR = "error"
WARNING = "warning"

#: The metadata transpiler-mate / eoap-validator --profile metadata expect (schema.org
#: SoftwareApplication); `s:softwareVersion` has its own rule (req-11).
METADATA_FIELDS = ("name", "description", "dateCreated", "license", "author", "publisher",
                   "softwareHelp", "codeRepository")
AUTHOR_FIELDS = ("givenName", "familyName", "email", "affiliation")
RESOURCE_FIELDS = ("coresMin", "coresMax", "ramMin", "ramMax")
SCHEMA_ORG = ("https://schema.org/", "http://schema.org/")

#: Names / labels / docs that say "this input is a STAC item, several items or a catalog".
STAC_WORDS = re.compile(
    r"stac|catalog|(^|[^a-z])items?([^a-z]|$)|product|scene|input[_ -]?reference", re.I)
STAGE_STEP = re.compile(r"(^|[^a-z])stage[_ -]?(in|out)([^a-z]|$)|stagein|stageout", re.I)
REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_MAX_DEPTH = 20


@dataclass
class Finding:
    rule: str
    severity: str
    message: str
    where: str = "document"
    fix: str = ""
    line: int | None = None  # 1-based, when known (not part of the JSON output)

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "severity": self.severity, "message": self.message,
                "where": self.where, "fix": self.fix}


@dataclass
class ValidationReport:
    valid: bool
    findings: list[Finding] = field(default_factory=list)
    source: str = ""
    entry: str | None = None  # the id of the entry Workflow, when one was found
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def rules(self) -> set[str]:
        return {f.rule for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "findings": [f.to_dict() for f in self.findings]}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)


# --------------------------------------------------------------------------- public API


def validate(source: str | Path | dict, *, strict: bool = False,
             workflow_id: str | None = None, check_cwl: bool = True) -> ValidationReport:
    """Validate a package folder, a CWL file, CWL text or a CWL document already parsed.

    `workflow_id` picks the entry Workflow of a `$graph` (like `file.cwl#id` / the ADES `w=`).
    `check_cwl=False` skips cwltool's schema validation (the Best Practice rules only).
    Never raises on bad input: every problem is a finding."""
    import time

    start = time.perf_counter()
    findings: list[Finding] = []
    entry = None
    label = "<document>"
    try:
        path, text, label = _read_source(source)
    except _Stop as stop:
        findings.append(stop.finding)
    else:
        checker = _Checker(text, path, label, workflow_id, check_cwl)
        try:
            checker.run()
        except _Stop as stop:
            checker.findings.append(stop.finding)
        except Exception as err:  # a bug of ours must not hide the verdict
            checker.findings.append(Finding(
                "eopde/internal", WARNING,
                f"the Best Practice checks stopped early ({type(err).__name__}: {err})",
                fix="report this document to the eopde maintainers"))
        findings = checker.findings
        entry = checker.entry_id
    if strict:
        for f in findings:
            f.severity = ERROR
    findings.sort(key=lambda f: (f.severity != ERROR,))
    valid = not any(f.severity == ERROR for f in findings)
    return ValidationReport(valid=valid, findings=findings, source=label, entry=entry,
                            seconds=time.perf_counter() - start)


class _Stop(Exception):
    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


def _read_source(source) -> tuple[Path | None, str, str]:
    from .layout import PackageLayoutError, find_cwl

    if isinstance(source, dict):
        return None, json.dumps(source, default=str), "<document>"
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    if isinstance(source, str) and ("\n" in source or not _looks_like_path(source)):
        return None, source, "<document>"
    try:
        path = find_cwl(source)
        return path, path.read_text(encoding="utf-8", errors="replace"), str(path)
    except (PackageLayoutError, OSError) as err:
        raise _Stop(Finding("eopde/package-layout", ERROR, str(err), str(source),
                            "give a package folder holding one .cwl file, or the .cwl file"))


def _looks_like_path(s: str) -> bool:
    s = s.strip()
    if not s or len(s) > 4096:
        return False
    if Path(s).exists():
        return True
    return ":" not in s and ("/" in s or s.endswith((".cwl", ".yaml", ".yml", ".json")))


# --------------------------------------------------------------------------- helpers on the tree


def _is_map(x) -> bool:
    return isinstance(x, dict)


def _short(ident: Any) -> str:
    """`#main/x`, `file:///a.cwl#wf/x`, `x` -> `x`; `#tool.cwl` -> `tool.cwl`."""
    s = str(ident or "")
    if "#" in s:
        s = s.rsplit("#", 1)[1]
    return s.rsplit("/", 1)[-1] if "/" in s else s


def _frag(ident: Any) -> str:
    s = str(ident or "")
    return s.rsplit("#", 1)[1] if "#" in s else s


def _entries(section, id_field: str = "id") -> Iterator[tuple[str, dict, int | None]]:
    """(id, spec, line) of `inputs`/`outputs`/`steps`/`in`, as a map or a list. A shorthand value
    (`x: string`, `x: step/out`) comes back as {"type"/"source": value} under `_value`."""
    if _is_map(section):
        for key, value in section.items():
            spec = value if _is_map(value) else {"_value": value}
            yield _short(key), spec, line_of(section, key)
    elif isinstance(section, list):
        for i, value in enumerate(section):
            if _is_map(value):
                yield _short(value.get(id_field, f"[{i}]")), value, line_of(section, i)
            elif isinstance(value, str):
                yield _short(value), {}, line_of(section, i)


def _type_of(spec: dict):
    return spec.get("type", spec.get("_value"))


def _type_names(t, depth: int = 0) -> set[str]:
    """The base type names in a CWL type: `Directory[]?` -> {Directory}; unions, arrays
    (also inside unions), records -> {record}, enums -> {enum}, named types -> their short id."""
    if depth > _MAX_DEPTH or t is None:
        return set()
    if isinstance(t, str):
        s = t.strip()
        while s.endswith("?") or s.endswith("[]"):
            s = s[:-1] if s.endswith("?") else s[:-2]
        return {_short(s) if ("#" in s or "/" in s) else s}
    if isinstance(t, list):
        out: set[str] = set()
        for item in t:
            out |= _type_names(item, depth + 1)
        return out
    if _is_map(t):
        kind = t.get("type")
        if kind == "array":
            return _type_names(t.get("items"), depth + 1)
        if kind in ("record", "enum"):
            return {kind}
        if "$import" in t:
            return {"$import"}
        return _type_names(kind, depth + 1)
    return set()


def requirement_entries(process: dict, *, hints: bool = True) -> Iterator[tuple[str, dict, str, Any, Any]]:
    """(class, body, 'requirements'|'hints', container, key) of each requirement (and hint) of a
    process, whether the section is a list or a map; `container[key]` is the entry."""
    for section in ("requirements", "hints") if hints else ("requirements",):
        reqs = process.get(section)
        if _is_map(reqs):
            for cls, body in reqs.items():
                yield _short(cls), body if _is_map(body) else {}, section, reqs, cls
        elif isinstance(reqs, list):
            for i, body in enumerate(reqs):
                if _is_map(body):
                    yield _short(body.get("class", "")), body, section, reqs, i


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())


def _sources(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


# --------------------------------------------------------------------------- the checks


class _Checker:
    def __init__(self, text: str, path: Path | None, label: str, workflow_id: str | None,
                 check_cwl: bool):
        self.text = text
        self.path = path
        self.label = label
        self.workflow_id = workflow_id.lstrip("#") if workflow_id else None
        self.check_cwl = check_cwl
        self.findings: list[Finding] = []
        self.doc: dict = {}
        self.processes: dict[str, dict] = {}  # fragment id -> process (top level of $graph)
        self.entry_id: str | None = None
        self.references: list = []  # cwlload.Reference

    def add(self, rule, severity, message, where="document", fix="", line=None):
        if line and "line" not in where:
            where = f"{where} (line {line})"
        self.findings.append(Finding(rule, severity, message, where, fix, line))

    # ---------------------------------------------------------------- driver
    def run(self) -> None:
        self.parse()
        self.scan_references()
        self.collect()
        entry = self.pick_entry()
        if self.check_cwl:
            self.cwl_check(entry)
        self.header_rules()
        self.metadata_rules(entry)
        for pid, proc, where in self.all_processes():
            self.process_rules(pid, proc, where)
        if entry is not None:
            self.workflow_rules(entry)

    # ---------------------------------------------------------------- parse
    def parse(self) -> None:
        from .cwlload import LoadError, load_yaml

        try:  # limits (size, depth, aliases) first: see cwlload
            doc = load_yaml(self.text, "the CWL", roundtrip=True)
        except LoadError as err:
            raise _Stop(Finding(err.rule, ERROR, _trim(err.message), err.where,
                                err.fix or "fix the YAML syntax", err.line))
        if not _is_map(doc) or not ("cwlVersion" in doc or "class" in doc or "$graph" in doc):
            kind = type(doc).__name__ if not _is_map(doc) else "a mapping without cwlVersion, class or $graph"
            raise _Stop(Finding("cwl/not-cwl", ERROR, f"not a CWL document ({kind})",
                                fix="an application package is a CWL document: `cwlVersion: v1.2` "
                                    "and a `$graph` holding a Workflow and its CommandLineTools"))
        self.doc = doc

    def scan_references(self) -> None:
        """What would make a loader read outside the document ($include, $import, $mixin, local
        $schemas, File literals): an error each, nothing is read (`run:` has its own rule)."""
        from .cwlload import find_references

        self.references = find_references(self.doc)
        for ref in self.references:
            if ref.key != "run":
                self.add("eopde/external-reference", ERROR, ref.message(line=False), ref.where,
                         ref.fix(), ref.line)
        todo = [self.doc]
        while todo:  # remote $schemas: only a warning, they are never fetched
            node = todo.pop()
            if _is_map(node):
                for key, value in node.items():
                    if key == "$schemas":
                        for s in _sources(value):
                            if REMOTE.match(s) and not s.startswith("file:"):
                                self.add("eopde/remote-schemas", WARNING,
                                         f"$schemas names {s}, which is not fetched (it only "
                                         "serves RDF checks of the s: metadata; it was skipped)",
                                         "$schemas", "drop $schemas, or keep it knowing that "
                                         "offline validators skip it", line_of(node, key))
                    elif isinstance(value, (dict, list)):
                        todo.append(value)
            elif isinstance(node, list):
                todo.extend(v for v in node if isinstance(v, (dict, list)))

    def collect(self) -> None:
        doc = self.doc
        graph = doc.get("$graph")
        if "$graph" in doc:
            if not isinstance(graph, list):
                raise _Stop(Finding("cwl/invalid", ERROR, "$graph is not a list", "$graph",
                                    "write $graph as a list of processes", line_of(doc, "$graph")))
            for i, proc in enumerate(graph):
                if not _is_map(proc):
                    continue
                pid = _frag(proc.get("id", "")) or f"$graph[{i}]"
                self.processes[pid] = proc
        else:
            pid = _frag(doc.get("id", "")) or ""
            self.processes[pid] = doc

    def all_processes(self) -> Iterator[tuple[str, dict, str]]:
        """Every process, top level and inline (`run: {...}`), once."""
        seen: set[int] = set()

        def walk(pid, proc, where, depth):
            if id(proc) in seen or depth > _MAX_DEPTH:
                return
            seen.add(id(proc))
            yield pid, proc, where
            for sid, step, _ in _entries(proc.get("steps")):
                run = step.get("run")
                if _is_map(run):
                    rid = _frag(run.get("id", "")) or f"{pid}/{sid}/run"
                    yield from walk(rid, run, f"{where} > step {sid} > run", depth + 1)

        for pid, proc in self.processes.items():
            yield from walk(pid, proc, self.where(pid, proc), 0)

    def where(self, pid: str, proc: dict) -> str:
        return f"{proc.get('class', 'process')} {pid or '(no id)'}"

    def resolve_run(self, run) -> dict | None:
        if _is_map(run):
            return run
        if isinstance(run, str) and run.startswith("#"):
            key = run[1:]
            if key in self.processes:
                return self.processes[key]
            for pid, proc in self.processes.items():
                if _short(pid) == _short(key):
                    return proc
        return None

    # ---------------------------------------------------------------- entry point
    def pick_entry(self) -> dict | None:
        workflows = {pid: p for pid, p in self.processes.items() if p.get("class") == "Workflow"}
        classes = sorted({str(p.get("class")) for p in self.processes.values()})
        if not workflows:
            self.add("OGC-20-089/req-7", ERROR,
                     "no Workflow: the package's entry point must be a Workflow that runs its "
                     f"CommandLineTool(s) (found: {', '.join(classes) or 'nothing'})",
                     fix="put the tool in a $graph with a Workflow whose step runs it "
                         "(`run: '#tool-id'`); `eopde package` writes that shape")
            return None
        if self.workflow_id:
            proc = workflows.get(self.workflow_id) or next(
                (p for k, p in workflows.items() if _short(k) == self.workflow_id), None)
            if proc is None:
                self.add("eopde/entry-point", ERROR,
                         f"no Workflow with id {self.workflow_id!r}; the Workflows are: "
                         + ", ".join(sorted(workflows)),
                         fix="pick one of them with -w / workflow_id")
                return None
            self.entry_id = _frag(proc.get("id", "")) or self.workflow_id
            return proc
        if len(workflows) == 1:
            pid, proc = next(iter(workflows.items()))
            self.entry_id = pid
            return proc
        # several: the entry is the one no step runs (sub-workflows are run by steps)
        used = set()
        for _, proc, _ in self.all_processes():
            for _, step, _ in _entries(proc.get("steps")):
                run = step.get("run")
                if isinstance(run, str):
                    used.add(_frag(run))
        top = [pid for pid in workflows if pid not in used]
        if len(top) == 1:
            self.entry_id = top[0]
            return workflows[top[0]]
        if "main" in workflows:
            self.entry_id = "main"
            return workflows["main"]
        self.add("eopde/entry-point", ERROR,
                 "several Workflows and none picked: " + ", ".join(sorted(workflows))
                 + "; an ADES needs to know which one is the process",
                 fix="pick one with -w ID (the ADES `w=` parameter, or `file.cwl#ID`), or keep "
                     "one top-level Workflow in the package")
        return None

    # ---------------------------------------------------------------- CWL itself (cwltool)
    def cwl_check(self, entry: dict | None) -> None:
        import logging

        try:  # import first: schema_salad adds its own stderr handler when imported
            import cwltool.load_tool  # noqa: F401
        except ImportError:  # pragma: no cover
            pass
        if self.references:
            return  # refused already; cwltool would only repeat it (and reads nothing anyway)
        from .cwlload import cwltool_check

        base = self.path.name if self.path is not None else "package.cwl"
        fragment = None
        if "$graph" in self.doc and entry is not None:
            fragment = _frag(entry.get("id", ""))
        records: list[logging.LogRecord] = []
        handler = _ListHandler(records)
        loggers = [logging.getLogger(n) for n in ("cwltool", "salad")]
        saved = [(lg, lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
        for lg in loggers:
            lg.handlers = [handler]
            lg.propagate = False
            lg.setLevel(logging.WARNING)
        try:
            error = cwltool_check(self.text, base, fragment)
        finally:
            for lg, handlers, propagate, level in saved:
                lg.handlers, lg.propagate = handlers, propagate
                lg.setLevel(level)
        if error is not None:
            message, line = _clean_message(error, base)
            self.add("cwl/invalid", ERROR, "cwltool rejects the document: " + message,
                     f"line {line}" if line else "document",
                     "fix what cwltool reports; check with `cwltool --validate FILE`", line)
        seen = set()
        for rec in records:
            msg = rec.getMessage()
            if not rec.name.startswith("cwltool") or rec.levelno < logging.WARNING \
                    or "extension schema" in msg.lower() or "$schemas" in msg or msg in seen:
                continue
            seen.add(msg)
            message, line = _clean_message(msg, base)
            self.add("cwl/warning", WARNING, "cwltool warns: " + message,
                     f"line {line}" if line else "document",
                     "see the cwltool message; run `cwltool --validate FILE` for details", line)

    # ---------------------------------------------------------------- document rules
    def header_rules(self) -> None:
        doc = self.doc
        version = _text(doc.get("cwlVersion"))
        if version and re.fullmatch(r"v1\.[01](\.\d+)?(-dev\d+)?", version):
            self.add("eopde/cwl-version", WARNING,
                     f"cwlVersion {version} is older than v1.2 (tools upgrade it on load)",
                     "cwlVersion", "write `cwlVersion: v1.2`", line_of(doc, "cwlVersion"))
        graph = doc.get("$graph")
        if isinstance(graph, list):
            for i, proc in enumerate(graph):
                if not _is_map(proc):
                    continue
                inner = [k for k in ("cwlVersion", "$namespaces", "$schemas") if k in proc]
                if inner:
                    pid = _frag(proc.get("id", "")) or f"$graph[{i}]"
                    self.add("eopde/graph-item-header", WARNING,
                             f"{', '.join(inner)} inside a $graph item (other validators cannot "
                             "load it)", self.where(pid, proc),
                             "keep cwlVersion, $namespaces and $schemas at the document root only",
                             line_of(graph, i))
        if "$graph" not in doc and doc.get("class") == "Workflow":
            self.add("eopde/graph", WARNING,
                     "a single Workflow, not a $graph: the Best Practice packages the Workflow and "
                     "its CommandLineTools in one `$graph`",
                     fix="use `$graph: [Workflow, CommandLineTool...]` with `run: '#tool-id'`")

    def _schema_prefixes(self) -> tuple[str, ...]:
        prefixes = []
        for holder in [self.doc, *self.processes.values()]:
            ns = holder.get("$namespaces") if _is_map(holder) else None
            if _is_map(ns):
                prefixes += [f"{k}:" for k, v in ns.items() if str(v).rstrip("/") + "/" in SCHEMA_ORG]
        return tuple(dict.fromkeys(prefixes + ["s:"] + list(SCHEMA_ORG)))

    def _s(self, holder, name, prefixes):
        if not _is_map(holder):
            return None
        for p in prefixes:
            if f"{p}{name}" in holder:
                return holder[f"{p}{name}"]
        return None

    def metadata_rules(self, entry: dict | None) -> None:
        prefixes = self._schema_prefixes()
        holders = [self.doc] + ([entry] if entry is not None and entry is not self.doc else [])

        def get(name):
            for h in holders:
                v = self._s(h, name, prefixes)
                if v not in (None, "", [], {}):
                    return v
            return None

        if get("softwareVersion") is None and get("version") is None:
            self.add("OGC-20-089/req-11", WARNING,
                     "no s:softwareVersion (or s:version): the Best Practice requires the "
                     "application's version", fix="add `s:softwareVersion: 1.0.0` at the document "
                     "root, with `$namespaces: {s: https://schema.org/}`")
        missing = [f"s:{n}" for n in METADATA_FIELDS if get(n) is None]
        if missing:
            self.add("eopde/metadata", WARNING,
                     "incomplete schema.org SoftwareApplication metadata, missing: "
                     + ", ".join(missing), fix="add them at the document root (transpiler-mate and "
                     "eoap-validator --profile metadata refuse packages without them)")
        authors = get("author")
        if authors is not None:
            for i, person in enumerate(authors if isinstance(authors, list) else [authors]):
                if _is_map(person) and _short(person.get("class", "")).endswith("AuthorRole"):
                    continue
                gaps = [f"s:{n}" for n in AUTHOR_FIELDS
                        if not _is_map(person) or self._s(person, n, prefixes) in (None, "")]
                if gaps:
                    self.add("eopde/metadata-author", WARNING,
                             f"s:author[{i}] lacks " + ", ".join(gaps),
                             "s:author", "describe each author as an s:Person with s:givenName, "
                             "s:familyName, s:email and s:affiliation (an s:Organization)")

    # ---------------------------------------------------------------- per-process rules
    def process_rules(self, pid: str, proc: dict, where: str) -> None:
        cls = proc.get("class")
        line = proc.lc.line + 1 if hasattr(proc, "lc") and proc.lc.line is not None else None
        if pid and _short(pid) == "main" and cls in ("Workflow", "CommandLineTool", "ExpressionTool"):
            self.add("eopde/no-main-id", ERROR,
                     f"a {cls} with id 'main': ADES wrappers (cwl-wrapper) add their own `main` "
                     "workflow around the package, and the process id becomes the OGC process id",
                     where, "give it a meaningful id (the application id, e.g. `ndvi`); after "
                            "`cwltool --pack`, rename `#main`", line)
        if cls == "Workflow":
            for sid, step, sline in _entries(proc.get("steps")):
                self.step_rules(pid, proc, sid, step, sline, where)
        if cls != "CommandLineTool":
            return
        docker = [(body, section, c, k) for cls_, body, section, c, k in requirement_entries(proc)
                  if cls_ == "DockerRequirement"]
        if not docker:
            self.add("OGC-20-089/req-8", ERROR,
                     "CommandLineTool without a container: no DockerRequirement in requirements "
                     "or hints, so an ADES has no image to run", where,
                     "add `requirements: {DockerRequirement: {dockerPull: registry/image@sha256:...}}`",
                     line)
        else:
            body, section, c, k = docker[0]
            dline = line_of(c, k)
            if section == "hints":
                self.add("OGC-20-089/req-8", WARNING,
                         "DockerRequirement is only a hint; the Best Practice wants it under "
                         "requirements (a runner may ignore hints)", where,
                         "move DockerRequirement from hints to requirements", dline)
            pull = _text(body.get("dockerPull") or body.get("dockerImageId"))
            if not pull:
                self.add("OGC-20-089/req-8", ERROR,
                         "DockerRequirement without dockerPull: an ADES cannot fetch the image "
                         "from a registry", where, "set dockerPull to the pushed image", dline)
            else:
                self.image_rules(pull, where, dline)
        if "baseCommand" not in proc and "arguments" not in proc:
            self.add("OGC-20-089/req-8", WARNING, "CommandLineTool without baseCommand", where,
                     "set baseCommand (e.g. `papermill`)", line)
        self.resource_rules(proc, where, line)
        if STAGE_STEP.search(pid or ""):
            self.add("eopde/stage-steps", ERROR,
                     f"the package holds a stage-in/stage-out tool ({pid}); the platform adds "
                     "these itself", where,
                     "remove it: take the staged Directory as input and write the STAC catalog "
                     "into the output Directory", line)

    def step_rules(self, pid, proc, sid, step, sline, where) -> None:
        swhere = f"{where} > step {sid}"
        run = step.get("run")
        if STAGE_STEP.search(sid) or (isinstance(run, str) and STAGE_STEP.search(_frag(run))):
            self.add("eopde/stage-steps", ERROR,
                     f"step {sid} stages data in or out; the platform adds stage-in/stage-out "
                     "steps itself, so the package must not", swhere,
                     "remove the step and wire the Workflow input/output Directories directly",
                     sline)
        if not isinstance(run, str):  # absent or inline
            return
        if REMOTE.match(run) and not run.startswith("file:"):
            self.add("eopde/step-run", ERROR,
                     f"step {sid} runs {run}, a remote document: the ADES receives only this "
                     "document", swhere, "put the tool in this document's $graph", sline)
        elif not run.startswith("#"):
            self.add("eopde/step-run", ERROR,
                     f"step {sid} runs {run}, a file outside the document: an ADES receives "
                     "only the CWL document", swhere,
                     "pack it into the document (`cwltool --pack`, then rename #main) or add the "
                     "tool to $graph and use `run: '#tool-id'`", sline)
        elif self.resolve_run(run) is None:
            self.add("eopde/step-run", ERROR,
                     f"step {sid} runs {run}, which is not in the document (ids: "
                     + ", ".join(sorted(self.processes)) + ")", swhere,
                     "fix the reference or add the process to $graph", sline)

    def image_rules(self, pull: str, where: str, line) -> None:
        if "@sha256:" in pull or "@sha512:" in pull:
            return
        name = pull.rsplit("/", 1)[-1]
        tag = name.split(":", 1)[1] if ":" in name else ""
        if tag in ("", "latest"):
            self.add("eopde/docker-tag", WARNING,
                     f"image {pull} is {'latest' if tag else 'untagged (= latest)'}: every run "
                     "may get a different image", where,
                     "pin a version tag, better a digest (image@sha256:...)", line)
        else:
            self.add("eopde/docker-digest", WARNING,
                     f"image {pull} is pinned by tag only; a tag can be pushed again",
                     where, "pin the digest: image:tag@sha256:... (`docker inspect "
                            "--format '{{index .RepoDigests 0}}' IMAGE`)", line)

    def resource_rules(self, proc: dict, where: str, line) -> None:
        found: set[str] = set()
        holders = [proc] + [p for p in self.processes.values() if p.get("class") == "Workflow"]
        for holder in holders:
            for cls, body, *_ in requirement_entries(holder):
                if cls == "ResourceRequirement":
                    found |= {k for k in RESOURCE_FIELDS if k in body}
        if not found:
            self.add("eopde/resources", WARNING,
                     "no ResourceRequirement: the platform cannot size the job", where,
                     "add `ResourceRequirement: {coresMin: 1, coresMax: 2, ramMin: 2048, "
                     "ramMax: 4096}` to the tool's requirements", line)
        elif found != set(RESOURCE_FIELDS):
            missing = [k for k in RESOURCE_FIELDS if k not in found]
            self.add("eopde/resources", WARNING,
                     "ResourceRequirement lacks " + ", ".join(missing)
                     + " (Calrissian schedules on all four)", where,
                     "set coresMin, coresMax, ramMin and ramMax", line)

    # ---------------------------------------------------------------- entry Workflow rules
    def workflow_rules(self, wf: dict) -> None:
        wid = self.entry_id or ""
        where = self.where(wid, wf)
        line = wf.lc.line + 1 if hasattr(wf, "lc") and wf.lc.line is not None else None
        if not _text(wf.get("id")) and "$graph" not in self.doc:
            self.add("eopde/workflow-id", ERROR,
                     "the Workflow has no id; the ADES makes its process id from it", where,
                     "give the Workflow an id (the application id)", line)
        for key, what in (("label", "title"), ("doc", "abstract")):
            if not _text(wf.get(key)):
                self.add("OGC-20-089/req-9", WARNING,
                         f"the Workflow has {'an empty' if key in wf else 'no'} `{key}` (the "
                         f"process {what} in the ADES)", where,
                         f"write a non-empty `{key}`", line_of(wf, key) or line)
        for iid, spec, iline in _entries(wf.get("inputs")):
            iwhere = f"{where} > input {iid}"
            for key in ("label", "doc"):
                if not _text(spec.get(key)):
                    self.add("OGC-20-089/req-10", WARNING,
                             f"input {iid} has {'an empty' if key in spec else 'no'} `{key}`",
                             iwhere, f"write a non-empty `{key}` for {iid} (shown in the "
                             "process description and the execute form)", iline)
            self.staging_rules(wf, iid, spec, iwhere, iline)
        self.output_rules(wf, where, line)

    def staging_rules(self, wf, iid, spec, where, line) -> None:
        names = _type_names(_type_of(spec))
        is_dir = "Directory" in names
        if is_dir:
            return
        if self.needs_directory(wf, iid, 0):
            self.add("OGC-20-089/req-13", ERROR,
                     f"input {iid} is {sorted(names) or '?'} but a tool reads it as a Directory: "
                     "the platform stages EO data in as a Directory holding catalog.json", where,
                     f"type {iid} as Directory (Directory[] for several items)", line)
            return
        words = " ".join(_text(spec.get(k)) for k in ("label", "doc")) + " " + iid
        if not STAC_WORDS.search(words):
            return
        if names & {"File"}:
            self.add("OGC-20-089/req-13", ERROR,
                     f"input {iid} looks like a STAC item/catalog but is a File: the platform "
                     "stages STAC inputs in as a Directory holding catalog.json", where,
                     f"type {iid} as Directory and read <dir>/catalog.json", line)
        elif names & {"string", "Any"} or not names:
            self.add("eopde/stac-input-not-staged", WARNING,
                     f"input {iid} looks like a STAC reference but is a {'/'.join(sorted(names)) or '?'}: "
                     "the platform will not stage it in, so the application must read it remotely "
                     "(the 'cloud-native' style)", where,
                     f"if the application reads local files, type {iid} as Directory", line)

    def needs_directory(self, proc: dict, input_id: str, depth: int) -> bool:
        """Does some tool behind `proc`'s input `input_id` take it as a Directory?"""
        if depth > _MAX_DEPTH:
            return False
        if proc.get("class") != "Workflow":
            for iid, spec, _ in _entries(proc.get("inputs")):
                if iid == input_id:
                    return "Directory" in _type_names(_type_of(spec))
            return False
        if depth > 0:
            for iid, spec, _ in _entries(proc.get("inputs")):
                if iid == input_id and "Directory" in _type_names(_type_of(spec)):
                    return True
        for _, step, _ in _entries(proc.get("steps")):
            target = self.resolve_run(step.get("run"))
            if target is None:
                continue
            for sink, spec, _ in _entries(step.get("in"), id_field="id"):
                srcs = _sources(spec.get("source", spec.get("_value")))
                wid = _frag(proc.get("id", ""))
                # `x` or, packed, `#wf/x`; `step/out` is another step's output
                if any(_frag(s).lstrip("#") in (input_id, f"{wid}/{input_id}") for s in srcs):
                    if "valueFrom" in spec:
                        continue
                    if self.needs_directory(target, sink, depth + 1):
                        return True
        return False

    def output_rules(self, wf: dict, where: str, line) -> None:
        outputs = list(_entries(wf.get("outputs")))
        dirs = [(oid, spec, oline) for oid, spec, oline in outputs
                if "Directory" in _type_names(_type_of(spec))]
        if not dirs:
            self.add("OGC-20-089/req-14", WARNING,
                     "no Directory output: the platform stages out a Directory holding a STAC "
                     "catalog.json", where, "add an output `type: Directory` fed by the tool's "
                     "`outputBinding: {glob: .}` output", line)
        for oid, spec, oline in dirs:
            for src in _sources(spec.get("outputSource")):
                self.check_glob(wf, src, f"{where} > output {oid}", oline, 0)

    def check_glob(self, wf: dict, src: str, where: str, line, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        frag = _frag(src)
        parts = frag.split("/")
        if len(parts) < 2:
            return
        step_id, out_id = parts[-2], parts[-1]
        step = next((s for sid, s, _ in _entries(wf.get("steps")) if sid == step_id), None)
        target = self.resolve_run(step.get("run")) if step else None
        if target is None:
            return
        for oid, spec, oline in _entries(target.get("outputs")):
            if oid != out_id:
                continue
            if target.get("class") == "Workflow":
                for s in _sources(spec.get("outputSource")):
                    self.check_glob(target, s, where, line, depth + 1)
            elif target.get("class") == "CommandLineTool":
                binding = spec.get("outputBinding")
                globs = _sources(binding.get("glob")) if _is_map(binding) else []
                if not any(g.strip() in (".", "./", "$(runtime.outdir)") for g in globs):
                    tid = _frag(target.get("id", ""))
                    self.add("OGC-20-089/req-14", WARNING,
                             f"the result Directory comes from {tid}/{oid}, whose outputBinding "
                             f"glob is {globs or 'missing'}, not `.`: files written elsewhere in "
                             "the working directory are not staged out", where,
                             f"set `outputBinding: {{glob: .}}` on {tid}/{oid}", oline or line)


class _ListHandler:
    """A logging handler (duck-typed subclass avoided to keep logging import lazy)."""

    def __new__(cls, records):
        import logging

        class H(logging.Handler):
            def emit(self, record):
                records.append(record)

        h = H(logging.WARNING)
        return h


def _clean_message(message: str, base: str) -> tuple[str, int | None]:
    """cwltool's message without object ids, with the file's name instead of its path, and
    the deepest line number it names."""
    import os

    name = os.path.basename(base)
    rel = os.path.relpath(base)
    message = re.sub(r"\(\d+\) \([^)]*\) ", "", message)
    message = message.replace("file://" + base, name).replace(base, name)
    if rel != name:
        message = message.replace(rel, name)
    lines = [int(m) for m in re.findall(re.escape(name) + r":(\d+):\d+:", message)]
    return _trim(message), (lines[-1] if lines else None)


def _trim(message: str, lines: int = 12, chars: int = 1500) -> str:
    rows = [r.rstrip() for r in str(message).splitlines() if r.strip()]
    out = "\n".join(rows[:lines])
    if len(rows) > lines:
        out += f"\n... ({len(rows) - lines} more lines)"
    return out[:chars] + ("..." if len(out) > chars else "")
