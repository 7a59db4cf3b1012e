"""The document-level checks of `validate`: loading (through `cwlmodel`), references outside the
document, the entry point, cwltool's own validation, the header and the schema.org metadata.
The per-process rules are in `validate_rules` (a base class of `Checker`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from .cwlload import line_of
from .cwlmodel import Package, entries, frag, schema_prefixes, short_id
from .validate import ADVICE, ERROR, WARNING, Finding, _Stop
from .validate_rules import REMOTE, ProcessRules, sources, text_of

#: The metadata transpiler-mate / eoap-validator --profile metadata expect (schema.org
#: SoftwareApplication); `s:softwareVersion` has its own rule (req-11).
METADATA_FIELDS = ("name", "description", "dateCreated", "license", "author", "publisher",
                   "softwareHelp", "codeRepository")
AUTHOR_FIELDS = ("givenName", "familyName", "email", "affiliation")
TRANSPILER_MATE = "transpiler-mate (eoap-validator --profile metadata, eoap-cwlwrap)"


class Checker(ProcessRules):
    def __init__(self, text: str, path: Path | None, label: str, workflow_id: str | None,
                 check_cwl: bool, target: str = "eopde"):
        self.text = text
        self.path = path
        self.label = label
        self.workflow_id = workflow_id.lstrip("#") if workflow_id else None
        self.check_cwl = check_cwl
        self.target = target
        self.findings: list[Finding] = []
        self.doc: dict = {}
        self.pkg: Package | None = None
        self.processes: dict[str, dict] = {}  # fragment id -> process (top level of $graph)
        self.entry_id: str | None = None
        self.references: list = []  # cwlload.Reference
        self.preloaded: Package | None = None  # already parsed by cwlmodel.load_package

    def add(self, rule, severity, message, where="document", fix="", line=None, source=""):
        if line and "line" not in where:
            where = f"{where} (line {line})"
        self.findings.append(Finding(rule, severity, message, where, fix, line, source))

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
            doc = self.preloaded.doc if self.preloaded is not None else \
                load_yaml(self.text, "the CWL", roundtrip=True)
        except LoadError as err:
            raise _Stop(Finding(err.rule, ERROR, trim(err.message), err.where,
                                err.fix or "fix the YAML syntax", err.line))
        if not isinstance(doc, dict) or not ("cwlVersion" in doc or "class" in doc
                                             or "$graph" in doc):
            kind = type(doc).__name__ if not isinstance(doc, dict) \
                else "a mapping without cwlVersion, class or $graph"
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
        todo: list[Any] = [self.doc]
        while todo:  # remote $schemas: never fetched, only said
            node = todo.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "$schemas":
                        for s in sources(value):
                            if REMOTE.match(s) and not s.startswith("file:"):
                                self.add("eopde/remote-schemas", ADVICE,
                                         f"$schemas names {s}, which is not fetched (it only "
                                         "serves RDF checks of the s: metadata; it was skipped)",
                                         "$schemas", "drop $schemas, or keep it knowing that "
                                         "offline validators skip it", line_of(node, key),
                                         "eopde (validation is offline)")
                    elif isinstance(value, (dict, list)):
                        todo.append(value)
            elif isinstance(node, list):
                todo.extend(v for v in node if isinstance(v, (dict, list)))

    def collect(self) -> None:
        from .cwlload import LoadError
        from .cwlmodel import package_of

        try:
            self.pkg = self.preloaded or package_of(self.doc, self.text)
        except LoadError as err:
            raise _Stop(Finding(err.rule, ERROR, err.message, err.where, err.fix, err.line))
        for i, proc in enumerate(self.pkg.processes):
            self.processes[proc.id or ("" if not self.pkg.graph else f"$graph[{i}]")] = proc.raw

    def all_processes(self) -> Iterator[tuple[str, dict, str]]:
        """Every process, top level and inline (`run: {...}`), once."""
        seen: set[int] = set()

        def walk(pid, proc, where, depth):
            if id(proc) in seen or depth > 20:
                return
            seen.add(id(proc))
            yield pid, proc, where
            for sid, step, _ in entries(proc.get("steps")):
                run = step.get("run")
                if isinstance(run, dict):
                    rid = frag(run.get("id", "")) or f"{pid}/{sid}/run"
                    yield from walk(rid, run, f"{where} > step {sid} > run", depth + 1)

        for pid, proc in self.processes.items():
            yield from walk(pid, proc, self.where(pid, proc), 0)

    def where(self, pid: str, proc: dict) -> str:
        return f"{proc.get('class', 'process')} {pid or '(no id)'}"

    def resolve_run(self, run) -> dict | None:
        if isinstance(run, dict):
            return run
        if isinstance(run, str) and run.startswith("#") and self.pkg is not None:
            found = self.pkg.process(run)
            return found.raw if found is not None else None
        return None

    # ---------------------------------------------------------------- entry point
    def pick_entry(self) -> dict | None:
        """The entry Workflow by `cwlmodel`'s rule (ZOO-Project-DRU's): `w=`, else the first."""
        from .cwlmodel import EntryPointError

        assert self.pkg is not None
        wfs = self.pkg.workflows
        if not wfs:
            classes = sorted({p.cls for p in self.pkg.processes})
            self.add("OGC-20-089/req-7", ERROR,
                     "no Workflow: the package's entry point must be a Workflow that runs its "
                     f"CommandLineTool(s) (found: {', '.join(classes) or 'nothing'})",
                     fix="put the tool in a $graph with a Workflow whose step runs it "
                         "(`run: '#tool-id'`); `eopde package` writes that shape")
            return None
        try:
            entry = self.pkg.entry(self.workflow_id)
        except EntryPointError as err:
            self.add("eopde/entry-point", ERROR, str(err),
                     fix="pick one of them with -w / workflow_id (the ADES `w=`)")
            return None
        self.entry_id = entry.id or None
        if self.workflow_id is None and len(wfs) > 1:
            def runner_of(wf):
                return next((w for w in wfs for s in w.steps if isinstance(s.run, str)
                             and short_id(s.run) == short_id(wf.id)), None)

            runner = runner_of(entry)
            top = [w for w in wfs if runner_of(w) is None]
            ids = ", ".join(w.id for w in wfs)
            if runner is not None:
                self.add("eopde/entry-point", WARNING,
                         f"the first Workflow, {entry.id}, is a sub-workflow (a step of "
                         f"{runner.id} runs it), yet ZOO-Project-DRU (the EOEPCA ADES) deploys "
                         f"the first Workflow of the $graph when no w= is given (Workflows: "
                         f"{ids})", self.where(entry.id, entry.raw),
                         f"put {runner.id} first in the $graph, or deploy and validate with "
                         f"w={runner.id} / -w {runner.id}", entry.line)
            elif len(top) > 1:  # sub-workflows run by a step are no candidates
                self.add("eopde/entry-point", ADVICE,
                         f"several top-level Workflows ({', '.join(w.id for w in top)}): the "
                         f"entry point is the first, {entry.id}, "
                         "as ZOO-Project-DRU picks it when no w= is given",
                         self.where(entry.id, entry.raw),
                         "give -w / w= to use another", entry.line,
                         "ZOO-Project-DRU deploy_util.Process.create_from_cwl")
        return entry.raw

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
            fragment = frag(entry.get("id", ""))
        records: list[logging.LogRecord] = []
        handler = _list_handler(records)
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
            message, line = clean_message(error, base)
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
            message, line = clean_message(msg, base)
            self.add("cwl/warning", WARNING, "cwltool warns: " + message,
                     f"line {line}" if line else "document",
                     "see the cwltool message; run `cwltool --validate FILE` for details", line)

    # ---------------------------------------------------------------- document rules
    def header_rules(self) -> None:
        doc = self.doc
        version = text_of(doc.get("cwlVersion"))
        if version and re.fullmatch(r"v1\.[01](\.\d+)?(-dev\d+)?", version):
            self.add("eopde/cwl-version", ADVICE,
                     f"cwlVersion {version} is older than v1.2 (cwltool, cwl-loader and "
                     "ZOO-Project-DRU upgrade it on load, so it runs as is)",
                     "cwlVersion", "write `cwlVersion: v1.2`", line_of(doc, "cwlVersion"),
                     "eoap-cwlwrap and the eoap templates emit v1.2")
        graph = doc.get("$graph")
        if isinstance(graph, list):
            for i, proc in enumerate(graph):
                if not isinstance(proc, dict):
                    continue
                inner = [k for k in ("cwlVersion", "$namespaces", "$schemas") if k in proc]
                if inner:
                    pid = frag(proc.get("id", "")) or f"$graph[{i}]"
                    self.add("eopde/graph-item-header", WARNING,
                             f"{', '.join(inner)} inside a $graph item (other validators cannot "
                             "load it)", self.where(pid, proc),
                             "keep cwlVersion, $namespaces and $schemas at the document root only",
                             line_of(graph, i))
        if "$graph" not in doc and doc.get("class") == "Workflow":
            self.add("eopde/graph", ADVICE,
                     "a single Workflow, not a $graph: the Best Practice's examples and the EOEPCA "
                     "/ eoap packages put the Workflow and its CommandLineTools in one `$graph`",
                     fix="use `$graph: [Workflow, CommandLineTool...]` with `run: '#tool-id'`",
                     source="OGC 20-089 examples, eoap application packages")

    def _s(self, holder, name, prefixes):
        if not isinstance(holder, dict):
            return None
        for p in prefixes:
            if f"{p}{name}" in holder:
                return holder[f"{p}{name}"]
        return None

    def metadata_rules(self, entry: dict | None) -> None:
        prefixes = schema_prefixes(self.doc, list(self.processes.values()))
        holders = [self.doc] + ([entry] if entry is not None and entry is not self.doc else [])

        def get(name):
            for h in holders:
                v = self._s(h, name, prefixes)
                if v not in (None, "", [], {}):
                    return v
            return None

        if get("softwareVersion") is None and get("version") is None:
            eoepca = self.target == "eoepca"
            self.add("OGC-20-089/req-11", ERROR if eoepca else WARNING,
                     "no s:softwareVersion (or s:version): OGC 20-089 requires the application's "
                     "version" + ("; EOEPCA's ADES (ZOO-Project-DRU) makes the process version "
                                  "from it and shows 'unknown' without it" if eoepca else ""),
                     fix="add `s:softwareVersion: 1.0.0` at the document root, with "
                         "`$namespaces: {s: https://schema.org/}`")
        missing = [f"s:{n}" for n in METADATA_FIELDS if get(n) is None]
        if missing:
            self.add("eopde/metadata", ADVICE,
                     "incomplete schema.org SoftwareApplication metadata, missing: "
                     + ", ".join(missing),
                     fix="add them at the document root (with `eopde package`: --author "
                         "'Given Family <email>', --affiliation, --publisher, --license, "
                         "--code-repository)",
                     source=TRANSPILER_MATE)
        authors = get("author")
        if authors is not None:
            for i, person in enumerate(authors if isinstance(authors, list) else [authors]):
                if isinstance(person, dict) and short_id(person.get("class", "")).endswith(
                        "AuthorRole"):
                    continue
                gaps = [f"s:{n}" for n in AUTHOR_FIELDS
                        if not isinstance(person, dict) or self._s(person, n, prefixes)
                        in (None, "")]
                if gaps:
                    self.add("eopde/metadata-author", ADVICE,
                             f"s:author[{i}] lacks " + ", ".join(gaps),
                             "s:author", "describe each author as an s:Person with s:givenName, "
                             "s:familyName, s:email and s:affiliation (an s:Organization)",
                             source=TRANSPILER_MATE)


def _list_handler(records: list):
    """A logging handler appending to `records` (logging imported lazily)."""
    import logging

    class H(logging.Handler):
        def emit(self, record):
            records.append(record)

    return H(logging.WARNING)


def clean_message(message: str, base: str) -> tuple[str, int | None]:
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
    return trim(message), (lines[-1] if lines else None)


def trim(message: str, lines: int = 12, chars: int = 1500) -> str:
    rows = [r.rstrip() for r in str(message).splitlines() if r.strip()]
    out = "\n".join(rows[:lines])
    if len(rows) > lines:
        out += f"\n... ({len(rows) - lines} more lines)"
    return out[:chars] + ("..." if len(out) > chars else "")
