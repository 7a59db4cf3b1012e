"""OGC API - Processes process descriptions derived from a CWL application package, in the shape
zoo-project-dru gives them (it maps CWL with eoap/cwl2ogc).

Why not cwl2ogc directly: it needs the document loaded by cwl-utils, which fetches remote
`$schemas`/`$import`s (offline it hangs or fails; the ADES must not fetch what a package names).
So this module reads the YAML tree (`$graph` or a single process, inputs as list or map,
shorthands `T[]`/`T?`, unions, enums, records, `SchemaDefRequirement` types, the eoap custom
types) and follows cwl2ogc's rules:

* each input: `{title, description, schema, metadata: [{title: "cwl:type", value}], minOccurs,
  maxOccurs: 1, valuePassing: "byValue"}`; each output the same without the occurrences;
* `int` -> integer/int32, `long` -> int64, `float`/`double` -> number/float|double, `T[]` ->
  `{"type": "array", "items": ...}` (the array is one value: maxOccurs 1), enums ->
  `{"type": "string", "enum": [...]}`, records -> objects with `required` fields, unions ->
  `anyOf`; an optional type (`T?`, `["null", T]`) adds `"nullable": true` and minOccurs 0;
* a `default` goes into the input's schema (for an array, into the array schema);
* schema.org values of the document (and of the Workflow) -> `metadata` entries
  `{"role": "https://schema.org/<name>", "value": <JSON>}` (persons as JSON-LD objects).

Deliberate differences (docs/architecture.md, "Process descriptions"): `File`/`Directory` inputs
are `{"type": "string", "format": "uri"}` (a URL; for Directory a STAC item URL, staged in),
not cwl2ogc's `oneOf` of URI / STAC item / collection objects; a File's IANA `format` becomes
`contentMediaType`; an input with a default has minOccurs 0 (cwl2ogc: 1, though CWL does not
need it); a `Directory` output is described as the STAC catalog the results link to.

`describe(cwl_text_or_dict, workflow_id)` -> the description without links (the API adds them).
"""

from __future__ import annotations

import json
from typing import Any

JOB_CONTROL = ["async-execute", "sync-execute", "dismiss"]
STAC_CATALOG_SCHEMA = "https://schemas.stacspec.org/v1.0.0/catalog-spec/json-schema/catalog.json"
CATALOG_OUTPUT = {"type": "object", "contentMediaType": "application/json",
                  "contentSchema": STAC_CATALOG_SCHEMA}  # results link to a STAC catalog

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
    """CWL type -> JSON schema, following cwl2ogc: arrays are `{"type": "array", "items": ...}`,
    unions `anyOf`, enums `{"type": "string", "enum": [...]}`, records objects."""

    def __init__(self, defs: dict[str, Any]):
        self.defs = defs

    def convert(self, t: Any, depth: int = 0) -> tuple[dict, bool]:
        """CWL type -> (JSON schema of the value, nullable)."""
        if depth > _MAX_DEPTH:
            return {}, False
        if isinstance(t, str):
            return self._named(t, depth)
        if isinstance(t, list):
            alts = [a for a in t if a != "null"]
            converted = [self.convert(a, depth + 1) for a in alts]
            nullable = len(alts) < len(t) or any(c[1] for c in converted)
            schemas: list[dict] = []
            for s, _ in converted:
                if s not in schemas:
                    schemas.append(s)
            if not schemas:
                return {}, True
            return (schemas[0] if len(schemas) == 1 else {"anyOf": schemas}), nullable
        if isinstance(t, dict):
            kind = t.get("type")
            if kind == "array":
                return {"type": "array", "items": self.convert(t.get("items"), depth + 1)[0]}, \
                    False
            if kind == "enum":
                return {"type": "string",
                        "enum": [_frag(x) for x in t.get("symbols") or []]}, False
            if kind == "record":
                return self._record(t, depth), False
            if "$import" in t:
                return self.convert(str(t["$import"]), depth + 1)
            return self.convert(kind, depth + 1)
        return {}, False

    def _named(self, t: str, depth: int) -> tuple[dict, bool]:
        if t.endswith("?"):
            return self.convert(t[:-1], depth + 1)[0], True
        if t.endswith("[]"):
            return {"type": "array", "items": self.convert(t[:-2], depth + 1)[0]}, False
        if t == "null":
            return {}, True
        if t in _PRIMITIVES:
            return dict(_PRIMITIVES[t]), False
        for suffix, (typ, fmt) in _EOAP_FORMATS.items():
            if t.endswith(suffix):
                return {"type": typ, "format": fmt}, False
        name = _frag(t)
        if name in self.defs:
            return self.convert(self.defs[name], depth + 1)
        return {}, False

    def _record(self, t: dict, depth: int) -> dict:
        props, required = {}, []
        for fid, spec in _entries(t.get("fields"), "name") or _entries(t.get("fields")):
            fid = fid or _frag(spec.get("name"))
            s, nullable = self.convert(spec.get("type"), depth + 1)
            props[fid] = {"nullable": True, **s} if nullable else s
            if not nullable:
                required.append(fid)
        out: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            out["required"] = required
        return out


def type_text(t: Any, depth: int = 0) -> str:
    """The CWL type as one line (the `cwl:type` metadata cwl2ogc gives each input/output)."""
    if depth > _MAX_DEPTH:
        return "..."
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return "[ " + ", ".join(type_text(a, depth + 1) for a in t) + " ]"
    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "array":
            return type_text(t.get("items"), depth + 1) + "[]"
        if kind == "enum":
            return "enum[ " + ", ".join(_frag(x) for x in t.get("symbols") or []) + " ]"
        if kind == "record":
            return "record"
        if "$import" in t:
            return str(t["$import"])
        return type_text(kind, depth + 1)
    return "Any"


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


def _jsonable(v: Any, depth: int = 0) -> Any:
    """A YAML value as JSON: dates as ISO strings, `s:`/`schema.org/` keys as plain names,
    `class: s:Person` as JSON-LD `@type` (how ZOO writes schema.org metadata)."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        for key, value in v.items():
            name = _schema_name(str(key)) or str(key)
            if name == "class":
                out["@context"] = "https://schema.org"
                out["@type"] = _schema_name(str(value)) or str(value)
            else:
                out[name] = _jsonable(value, depth + 1)
        return out
    if isinstance(v, (list, tuple)):
        return [_jsonable(x, depth + 1) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "isoformat"):  # YAML dates and timestamps
        return v.isoformat()
    return str(v)


def _schema_name(key: str) -> str | None:
    """`s:author` / `https://schema.org/author` -> `author`; None for other keys."""
    if key.startswith("s:"):
        return key[2:]
    for base in ("https://schema.org/", "http://schema.org/"):
        if key.startswith(base):
            return key[len(base):]
    return None


def _schema_org_all(doc: dict, wf: dict) -> dict[str, Any]:
    """Every schema.org value of the document root, then the Workflow's (which win)."""
    out: dict[str, Any] = {}
    for where in (doc, wf):
        for key, value in where.items():
            name = _schema_name(str(key))
            if name:
                out[name] = _jsonable(value)
    return out


def _media_type(fmt: Any, doc: dict) -> str | None:
    """A CWL `format` naming an IANA media type (`iana:image/tiff` with the IANA namespace,
    or the full URL) -> `image/tiff`; None for other ontologies (EDAM...)."""
    if not isinstance(fmt, str):
        return None
    found = doc.get("$namespaces")
    namespaces: dict = found if isinstance(found, dict) else {}
    prefix, sep, rest = fmt.partition(":")
    uri = str(namespaces[prefix]) + rest if sep and prefix in namespaces else fmt
    for base in ("https://www.iana.org/assignments/media-types/",
                 "http://www.iana.org/assignments/media-types/"):
        if uri.startswith(base) and "/" in uri[len(base):]:
            return uri[len(base):]
    return None


def _with_media_type(schema: dict, fmt: Any, doc: dict) -> tuple[dict, Any]:
    """The schema with `contentMediaType` from a File's `format` (on the items of an array),
    and what is left for `cwl:format` metadata (a format that is no media type)."""
    formats = fmt if isinstance(fmt, list) else [fmt]
    types = [_media_type(f, doc) for f in formats]
    if len(types) != 1 or types[0] is None:
        return schema, fmt
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return {**schema, "items": {**schema["items"], "contentMediaType": types[0]}}, None
    return {**schema, "contentMediaType": types[0]}, None


def _default(value: Any) -> Any:
    """A CWL default as the JSON value a client would send (a File/Directory: its location)."""
    if isinstance(value, dict) and value.get("class") in ("File", "Directory"):
        return value.get("location") or value.get("path")
    if isinstance(value, list):
        return [_default(v) for v in value]
    if isinstance(value, dict):  # a record: its fields as they are
        return {str(k): _default(v) for k, v in value.items()}
    return _jsonable(value)


def _io_common(spec: dict, schema: dict, fmt_left: Any) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if spec.get("label"):
        item["title"] = _text(spec["label"])
    if spec.get("doc"):
        item["description"] = _text(spec["doc"])
    item["schema"] = schema
    item["metadata"] = [{"title": "cwl:type", "value": type_text(spec.get("type"))}]
    if fmt_left:
        item["metadata"].append({"title": "cwl:format", "value": _jsonable(fmt_left)})
    return item


def describe_input(spec: dict, conv: _Converter, doc: dict) -> dict:
    """One CWL Workflow input -> an OGC input description (see the module docstring)."""
    schema, nullable = conv.convert(spec.get("type"))
    schema, fmt_left = _with_media_type(dict(schema), spec.get("format"), doc)
    if nullable:
        schema = {"nullable": True, **schema}
    has_default = spec.get("default") is not None
    if has_default:
        schema["default"] = _default(spec["default"])
    item = _io_common(spec, schema, fmt_left)
    item["minOccurs"] = 0 if (nullable or has_default) else 1
    item["maxOccurs"] = 1
    item["valuePassing"] = "byValue"
    return item


def describe_output(spec: dict, conv: _Converter, doc: dict) -> dict:
    """One CWL Workflow output -> an OGC output description: a Directory is the STAC catalog
    the results link to (a Directory[]: an array of them)."""
    t = spec.get("type")
    fmt_left = None
    if _is_directory(t):
        schema: dict = dict(CATALOG_OUTPUT)
        if conv.convert(t)[0].get("type") == "array":
            schema = {"type": "array", "items": schema}
    else:
        schema, fmt_left = _with_media_type(dict(conv.convert(t)[0]), spec.get("format"), doc)
    return _io_common(spec, schema, fmt_left)


def describe(cwl: str | bytes | dict, workflow_id: str | None = None) -> dict:
    doc = load_cwl(cwl)
    wf = find_workflow(doc, workflow_id)
    conv = _Converter(_schema_defs(doc, wf))
    pid = workflow_id or _frag(wf.get("id")) or "main"
    inputs = {iid: describe_input(spec, conv, doc) for iid, spec in _entries(wf.get("inputs"))}
    outputs = {oid: describe_output(spec, conv, doc)
               for oid, spec in _entries(wf.get("outputs"))}

    meta = _schema_org_all(doc, wf)
    version = meta.get("softwareVersion", meta.get("version"))
    keywords = meta.get("keywords")
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    desc: dict[str, Any] = {
        "id": pid,
        "title": _text(wf.get("label")) or _text(meta.get("name")) or pid,
        "description": _text(wf.get("doc")) or _text(meta.get("description")) or "",
        "keywords": [str(k) for k in keywords] if isinstance(keywords, list) else [],
        "metadata": [{"role": f"https://schema.org/{name}", "value": value}
                     for name, value in meta.items()],
        "mutable": True,
        "jobControlOptions": list(JOB_CONTROL),
        "outputTransmission": ["value", "reference"],
        "inputs": inputs,
        "outputs": outputs,
    }
    if version is not None:
        desc = {"id": pid, "version": str(version), **desc}
    json.dumps(desc)  # must be JSON
    return desc


def summary(description: dict) -> dict:
    """The process summary (the list and deploy answers): the description minus inputs/outputs."""
    return {k: v for k, v in description.items() if k not in ("inputs", "outputs")}
