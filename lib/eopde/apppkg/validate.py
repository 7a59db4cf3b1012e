"""Validation of an OGC EO Application Package (OGC 20-089) and of the CWL it is made of.

`validate(path_or_text_or_dict)` returns a `ValidationReport`: each `Finding` has a rule id, a
severity, a message, where it is, how to fix it and, for advice, whose advice it is. Severities:

- **error**: what would stop the package from deploying or running on an ADES (not valid YAML or
  CWL, no Workflow entry point, a tool without a container, a step that runs something outside
  the document, a staged input that is not a `Directory`, stage-in/out steps the platform adds
  itself), and, for `target="eoepca"`, a missing `s:softwareVersion` (EOEPCA's ADES versions the
  process with it);
- **warning**: a gap against an OGC 20-089 requirement that an ADES tolerates (missing or empty
  `label`/`doc`, no `s:softwareVersion`, DockerRequirement only in hints, no Directory output),
  or what breaks another tool of the ecosystem (cwltool warnings, `$graph` items with headers);
- **advice**: not an OGC 20-089 requirement; `source` names who advises it (eoap-validator's
  profiles, transpiler-mate, cwl-wrapper, ...): `id: main`, the ResourceRequirement Calrissian
  schedules on, image pinning, full schema.org metadata, `cwlVersion` older than v1.2, ...

`strict=True` turns warnings into errors (a gate for publishing: `eopde package` writes packages
that pass it); advice is never promoted. `target` is where the package is headed: `"eopde"`
(default: eopde's own ADES, which runs local images) or `"eoepca"` (a remote EOEPCA /
ZOO-Project-DRU ADES: an image it cannot pull is a warning, a missing version an error).

The CWL is loaded once (`cwlmodel.load_package`, through `cwlload`'s guarded loader: size, depth,
alias limits; nothing outside the document is read) and checked in-process with cwltool's loader
(what `cwltool --validate` does, from memory). The rules: `validate_checks` (document, entry
point, metadata, cwltool) and `validate_rules` (processes, steps, images, the entry Workflow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .cwlmodel import Package

ERROR = "error"
WARNING = "warning"
ADVICE = "advice"
TARGETS = ("eopde", "eoepca")


@dataclass
class Finding:
    rule: str
    severity: str
    message: str
    where: str = "document"
    fix: str = ""
    line: int | None = None  # 1-based, when known (not part of the JSON output)
    source: str = ""  # whose rule, for advice (e.g. "eoap-validator, eoap-package profile")

    def to_dict(self) -> dict[str, str]:
        out = {"rule": self.rule, "severity": self.severity, "message": self.message,
               "where": self.where, "fix": self.fix}
        if self.source:
            out["source"] = self.source
        return out


@dataclass
class ValidationReport:
    valid: bool
    findings: list[Finding] = field(default_factory=list)
    source: str = ""
    entry: str | None = None  # the id of the entry Workflow, when one was found
    seconds: float = 0.0
    target: str = "eopde"

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def advice(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ADVICE]

    def rules(self) -> set[str]:
        return {f.rule for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "findings": [f.to_dict() for f in self.findings]}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)


class _Stop(Exception):
    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


# --------------------------------------------------------------------------- public API


def validate(source: "str | Path | dict | bytes | Package", *, strict: bool = False,
             workflow_id: str | None = None, check_cwl: bool = True,
             target: str = "eopde") -> ValidationReport:
    """Validate a package folder, a CWL file, CWL text, a CWL document already parsed or a
    `cwlmodel.Package` (loaded by `load_package`: not parsed again).

    `workflow_id` picks the entry Workflow (like `file.cwl#id` / the ADES `w=`); without it,
    the first Workflow (ZOO-Project-DRU's rule, see `cwlmodel`). `check_cwl=False` skips
    cwltool's schema validation. `target`: "eopde" or "eoepca" (see the module docstring).
    Never raises on bad input: every problem is a finding."""
    import time

    from .cwlmodel import Package
    from .validate_checks import Checker

    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    start = time.perf_counter()
    findings: list[Finding] = []
    entry = None
    label = "<document>"
    try:
        if isinstance(source, Package):
            path, text, label = None, source.text, "<document>"
        else:
            path, text, label = _read_source(source)
    except _Stop as stop:
        findings.append(stop.finding)
    else:
        checker = Checker(text, path, label, workflow_id, check_cwl, target)
        checker.preloaded = source if isinstance(source, Package) and source.text else None
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
            if f.severity == WARNING:
                f.severity = ERROR
    order = {ERROR: 0, WARNING: 1, ADVICE: 2}
    findings.sort(key=lambda f: order.get(f.severity, 3))
    valid = not any(f.severity == ERROR for f in findings)
    return ValidationReport(valid=valid, findings=findings, source=label, entry=entry,
                            seconds=time.perf_counter() - start, target=target)


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


def requirement_entries(process: dict, *, hints: bool = True
                        ) -> Iterator[tuple[str, dict, str, Any, Any]]:
    """(class, body, 'requirements'|'hints', container, key) of each requirement (and hint) of a
    process mapping; `container[key]` is the entry (see `cwlmodel.requirement_list`)."""
    from .cwlmodel import requirement_list

    for r in requirement_list(process):
        if hints or not r.hint:
            body = r.container[r.key]
            yield r.cls, body if isinstance(body, dict) else {}, \
                "hints" if r.hint else "requirements", r.container, r.key
