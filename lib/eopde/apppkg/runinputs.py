"""The entry point of an application package as `eopde run` and the ADES see it: its inputs
with their CWL types, and the conversion of parameters (command-line strings or Python values)
and STAC item references into CWL job values. Part of :mod:`eopde.apppkg.run`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cwlexec import RunError
from .layout import find_cwl

_MISSING = object()


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
    repeated flag, or Python values). Raises :class:`ParameterError` for an unknown name or a
    bad value (a missing required input: :func:`check_required`)."""
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


def check_required(workflow: Workflow, given: Iterable[str]) -> None:
    """:class:`ParameterError` naming the required inputs of ``workflow`` that are not in
    ``given`` (the converted parameters' names and the inputs fed by STAC items)."""
    have = set(given)
    missing = [i.name for i in workflow.inputs if i.required and i.name not in have]
    if missing:
        raise ParameterError(f"missing required input(s): {', '.join(missing)}",
                             workflow.describe())


def parse_name_values(values: Sequence[str], flag: str, *,
                      json_values: bool = False) -> dict[str, Any]:
    """``["a=1", "b=x", "b=y"]`` -> ``{"a": "1", "b": ["x", "y"]}`` (repeated names collect),
    the values of the command-line option ``flag``; with ``json_values``, ``NAME:=JSON`` gives
    the JSON's value. :class:`ParameterError` (a ValueError) names ``flag``."""
    form = "NAME=VALUE (or NAME:=JSON)" if json_values else "NAME=VALUE"
    out: dict[str, Any] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"{flag} {text!r}: write {form}")
        name = name.strip()
        parsed: Any = value
        if json_values and name.endswith(":"):
            name = name[:-1]
            try:
                parsed = json.loads(value)
            except ValueError as err:
                raise ParameterError(f"{flag} {text!r}: not JSON: {err}") from None
        if name in out:
            prev = out[name]
            out[name] = [*prev, parsed] if isinstance(prev, list) else [prev, parsed]
        else:
            out[name] = parsed
    return out


def parse_param_args(values: Sequence[str]) -> dict[str, Any]:
    """``--param`` values: ``["a=1", "b=x", "b=y"]`` -> ``{"a": "1", "b": ["x", "y"]}``."""
    return parse_name_values(values, "--param")


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
