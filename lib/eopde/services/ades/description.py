"""OGC API - Processes process descriptions derived from a CWL application package.

Why not cwl2ogc directly: cwl2ogc 0.22 needs the document loaded by cwl-utils (which fetches
remote `$schemas`/`$import`s, and hangs or fails offline), describes every input with
`maxOccurs: 1` (arrays as JSON arrays) and CWL `Directory` as a `oneOf` of URI / STAC item /
collection / feature collection. EOEPCA's ADES, which our clients also talk to, gives staged
`Directory` inputs as STAC item URL strings, arrays as `maxOccurs > 1`. So this module reads the
YAML tree (every shape `eopde validate` accepts: `$graph` or a single process, inputs as list or
map, shorthands `T[]`/`T?`, unions, enums, records, `SchemaDefRequirement` types, the eoap
custom types) and follows cwl2ogc's type mapping for the rest (`int` -> integer/int32, ...).

`describe(cwl_text_or_dict, workflow_id)` -> the description without links (the API adds them):
`{id, title, description, version, keywords, metadata, mutable, jobControlOptions,
outputTransmission, inputs, outputs}`. Each input: `{title, description, schema, minOccurs,
maxOccurs}` (`maxOccurs: "unbounded"` for arrays; the execute body then gives a JSON array).
"""

from __future__ import annotations

import json
from typing import Any

JOB_CONTROL = ["async-execute", "sync-execute", "dismiss"]
STAC_CATALOG_SCHEMA = "https://schemas.stacspec.org/v1.0.0/catalog-spec/json-schema/catalog.json"

_PRIMITIVES: dict[str, dict] = {
    "string": {"type": "string"},
    "int": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "float": {"type": "number", "format": "float"},
    "double": {"type": "number", "format": "double"},
    "boolean": {"type": "boolean"},
    "File": {"type": "string", "format": "uri"},
    "Directory": {"type": "string", "format": "uri"},
    "Any": {},
    "stdout": {"type": "string"},
    "stderr": {"type": "string"},
}
# eoap custom types (https://github.com/eoap/schemas), as ZOO's DRU maps them
_EOAP_FORMATS = {
    "string_format.yaml#URI": ("string", "uri"), "string_format.yaml#Date": ("string", "date"),
    "string_format.yaml#DateTime": ("string", "date-time"),
    "string_format.yaml#UUID": ("string", "uuid"), "string_format.yaml#Email": ("string", "email"),
    "ogc.yaml#BBox": ("object", "ogc-bbox"), "geojson.yaml#Feature": ("object", "geojson-feature"),
    "geojson.yaml#FeatureCollection": ("object", "geojson-feature-collection"),
    "stac.yaml#Item": ("object", "stac-item"),
    "stac.yaml#Collection": ("object", "stac-collection"),
}
_MAX_DEPTH = 25


class DescriptionError(ValueError):
    """The CWL cannot be described (no such workflow, not a CWL document)."""


def load_cwl(text_or_doc: str | bytes | dict) -> dict:
    """Parse CWL YAML/JSON text (or take a parsed document), within cwlload's size, depth and
    alias limits. Describing reads the tree only: nothing the document names is fetched."""
    if isinstance(text_or_doc, dict):
        return text_or_doc
    from eopde.apppkg.cwlload import LoadError, load_yaml

    try:
        doc = load_yaml(text_or_doc, "the CWL")
    except LoadError as err:
        raise DescriptionError(str(err)) from None
    if not isinstance(doc, dict):
        raise DescriptionError("the CWL document must be a mapping")
    return doc


def _frag(ident: Any) -> str:
    s = str(ident or "")
    s = s.rsplit("#", 1)[-1]
    return s.rsplit("/", 1)[-1]


def processes(doc: dict) -> list[dict]:
    if isinstance(doc.get("$graph"), list):
        return [p for p in doc["$graph"] if isinstance(p, dict)]
    return [doc]


def workflows(doc: dict) -> dict[str, dict]:
    return {_frag(p.get("id")) or "main": p for p in processes(doc) if p.get("class") == "Workflow"}


def find_workflow(doc: dict, workflow_id: str | None) -> dict:
    """The entry Workflow by eopde's one rule (`eopde.apppkg.cwlmodel`, ZOO-Project-DRU's): the
    Workflow `workflow_id`, else the first Workflow of the document."""
    from eopde.apppkg.cwlload import LoadError
    from eopde.apppkg.cwlmodel import EntryPointError, package_of

    try:
        return package_of(doc).entry(workflow_id).raw
    except (EntryPointError, LoadError) as err:
        raise DescriptionError(str(err)) from None


def _entries(section: Any, id_field: str = "id") -> list[tuple[str, dict]]:
    out = []
    if isinstance(section, dict):
        for key, spec in section.items():
            if not isinstance(spec, dict):
                spec = {"type": spec}
            out.append((_frag(key), spec))
    elif isinstance(section, list):
        for spec in section:
            if isinstance(spec, dict):
                out.append((_frag(spec.get(id_field)), spec))
    return out


def _requirements(proc: dict) -> list[dict]:
    out = []
    for section in ("requirements", "hints"):
        reqs = proc.get(section)
        if isinstance(reqs, dict):
            out += [{"class": k, **(v if isinstance(v, dict) else {})} for k, v in reqs.items()]
        elif isinstance(reqs, list):
            out += [r for r in reqs if isinstance(r, dict)]
    return out


def _schema_defs(doc: dict, wf: dict) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for proc in [wf] + processes(doc):
        for req in _requirements(proc):
            if req.get("class") == "SchemaDefRequirement":
                for t in req.get("types") or []:
                    if isinstance(t, dict) and t.get("name"):
                        defs.setdefault(_frag(t["name"]), t)
    return defs


class _Converter:
    def __init__(self, defs: dict[str, Any]):
        self.defs = defs

    def convert(self, t: Any, depth: int = 0) -> tuple[dict, bool, bool]:
        """CWL type -> (schema of one value, nullable, is_array)."""
        if depth > _MAX_DEPTH:
            return {}, False, False
        if isinstance(t, str):
            if t.endswith("?"):
                s, _, arr = self.convert(t[:-1], depth + 1)
                return s, True, arr
            if t.endswith("[]"):
                s, _, _ = self.convert(t[:-2], depth + 1)
                return s, False, True
            if t == "null":
                return {}, True, False
            if t in _PRIMITIVES:
                return dict(_PRIMITIVES[t]), False, False
            for suffix, (typ, fmt) in _EOAP_FORMATS.items():
                if t.endswith(suffix):
                    return {"type": typ, "format": fmt}, False, False
            name = _frag(t)
            if name in self.defs:
                return self.convert(self.defs[name], depth + 1)
            return {}, False, False
        if isinstance(t, list):
            alts = [a for a in t if a != "null"]
            nullable = len(alts) < len(t)
            converted = [self.convert(a, depth + 1) for a in alts]
            nullable = nullable or any(c[1] for c in converted)
            if not converted:
                return {}, True, False
            schemas = []
            for s, _, _ in converted:
                if s not in schemas:
                    schemas.append(s)
            is_array = any(c[2] for c in converted)
            if len(schemas) == 1:
                return schemas[0], nullable, is_array
            if is_array and not all(c[2] for c in converted):  # T | T[] of different T
                return {"anyOf": schemas}, nullable, True
            return {"anyOf": schemas}, nullable, is_array
        if isinstance(t, dict):
            kind = t.get("type")
            if kind == "array":
                s, _, inner_array = self.convert(t.get("items"), depth + 1)
                if inner_array:
                    s = {"type": "array", "items": s}
                return s, False, True
            if kind == "enum":
                return {"type": "string",
                        "enum": [_frag(x) for x in t.get("symbols") or []]}, False, False
            if kind == "record":
                props, required = {}, []
                for fid, spec in _entries(t.get("fields"), "name") or _entries(t.get("fields")):
                    fid = fid or _frag(spec.get("name"))
                    s, nullable, arr = self.convert(spec.get("type"), depth + 1)
                    props[fid] = {"type": "array", "items": s} if arr else s
                    if not nullable:
                        required.append(fid)
                out = {"type": "object", "properties": props}
                if required:
                    out["required"] = required
                return out, False, False
            if "$import" in t:
                return self.convert(str(t["$import"]), depth + 1)
            return self.convert(kind, depth + 1)
        return {}, False, False


def _is_directory(t: Any, depth: int = 0) -> bool:
    """Whether a CWL output type is a Directory (or an optional / array / union of them)."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(t, str):
        return t.rstrip("?").removesuffix("[]").rstrip("?") == "Directory"
    if isinstance(t, list):
        alts = [a for a in t if a != "null"]
        return bool(alts) and all(_is_directory(a, depth + 1) for a in alts)
    if isinstance(t, dict):
        return _is_directory(t.get("items") if t.get("type") == "array" else t.get("type"),
                             depth + 1)
    return False


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, list):
        return "\n".join(str(x) for x in v)
    return str(v)


def _schema_org(doc: dict, name: str) -> Any:
    for key, value in doc.items():
        if isinstance(key, str) and (key == f"s:{name}" or key.endswith(f"schema.org/{name}")):
            return value
    return None


def describe(cwl: str | bytes | dict, workflow_id: str | None = None) -> dict:
    doc = load_cwl(cwl)
    wf = find_workflow(doc, workflow_id)
    conv = _Converter(_schema_defs(doc, wf))
    pid = workflow_id or _frag(wf.get("id")) or "main"

    inputs: dict[str, dict] = {}
    for iid, spec in _entries(wf.get("inputs")):
        schema, nullable, is_array = conv.convert(spec.get("type"))
        schema = dict(schema)
        has_default = spec.get("default") is not None
        if has_default:
            schema["default"] = spec["default"]
        item: dict[str, Any] = {}
        if spec.get("label"):
            item["title"] = _text(spec["label"])
        if spec.get("doc"):
            item["description"] = _text(spec["doc"])
        item["schema"] = schema
        item["minOccurs"] = 0 if (nullable or has_default) else 1
        item["maxOccurs"] = "unbounded" if is_array else 1
        if spec.get("format"):
            item["metadata"] = [{"title": "cwl:format", "value": _text(spec["format"])}]
        inputs[iid] = item

    outputs: dict[str, dict] = {}
    for oid, spec in _entries(wf.get("outputs")):
        schema, _, is_array = conv.convert(spec.get("type"))
        if _is_directory(spec.get("type")):
            schema = {"type": "object", "contentMediaType": "application/json",
                      "contentSchema": STAC_CATALOG_SCHEMA}  # results link to a STAC catalog
        elif is_array:
            schema = {"type": "array", "items": schema}
        item = {}
        if spec.get("label"):
            item["title"] = _text(spec["label"])
        if spec.get("doc"):
            item["description"] = _text(spec["doc"])
        item["schema"] = schema
        outputs[oid] = item

    version = _schema_org(doc, "softwareVersion")
    keywords = _schema_org(doc, "keywords")
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    desc: dict[str, Any] = {
        "id": pid,
        "title": _text(wf.get("label")) or _text(_schema_org(doc, "name")) or pid,
        "description": _text(wf.get("doc")) or _text(_schema_org(doc, "description")) or "",
        "version": str(version) if version is not None else None,
        "keywords": [str(k) for k in keywords] if isinstance(keywords, list) else [],
        "metadata": ([{"role": "https://schema.org/softwareVersion", "value": str(version)}]
                     if version is not None else []),
        "mutable": True,
        "jobControlOptions": list(JOB_CONTROL),
        "outputTransmission": ["value", "reference"],
        "inputs": inputs,
        "outputs": outputs,
    }
    if desc["version"] is None:
        del desc["version"]
    json.dumps(desc)  # must be JSON (defaults from YAML dates etc. would fail here)
    return desc


def summary(description: dict) -> dict:
    """The process summary (the list and deploy answers): the description minus inputs/outputs."""
    return {k: v for k, v in description.items() if k not in ("inputs", "outputs")}
