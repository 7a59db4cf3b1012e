"""Checks of an execute request against the process description, before any job exists.

`check_execute(body, description)` -> (inputs, outputs) or raises a 400 `OGCError` naming the
input and what it should be: unknown inputs, missing required ones, values of the wrong JSON
type (integer/number/string/boolean/object/array, enums, records), too many values.
Qualified values (`{"value": ...}`, `{"href": ...}`) are accepted where a value is. A single
value given for an array input is taken as an array of that one value (ZOO-Project-DRU describes
arrays with maxOccurs 999 and takes one value too): the inputs returned hold the array.
"""

from __future__ import annotations

from typing import Any

from eopde.apppkg.cwlload import LoadError, check_job_values

from .errors import OGCError, P1

_PY = {"string": str, "boolean": bool, "object": dict, "array": list}


def _err(code: str, detail: str) -> OGCError:
    kebab = {"MissingParameterValue": "missing-parameter-value",
             "InvalidParameterValue": "invalid-parameter-value",
             "NoSuchInput": "no-such-input", "NoSuchOutput": "no-such-output"}[code]
    return OGCError(400, P1 + kebab, code, detail)


def _type_ok(value: Any, typ: str) -> bool:
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer())
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ == "null":
        return value is None
    py = _PY.get(typ)
    return True if py is None else isinstance(value, py)


def _problem(value: Any, schema: dict, depth: int = 0) -> str | None:
    """None when `value` fits `schema`, else what is wrong."""
    if depth > 20 or not isinstance(schema, dict):
        return None
    if isinstance(value, dict) and set(value) & {"href"} and schema.get("type") != "object":
        if isinstance(value.get("href"), str):
            return None  # a reference to the value
        return "`href` must be a string URL"
    if "anyOf" in schema or "oneOf" in schema:
        alts = schema.get("anyOf") or schema.get("oneOf") or []
        problems = [_problem(value, s, depth + 1) for s in alts]
        return None if any(p is None for p in problems) else " or ".join(p for p in problems if p)
    typ = schema.get("type")
    if isinstance(typ, str) and not _type_ok(value, typ):
        return f"expected {'an' if typ[0] in 'aeiou' else 'a'} {typ}, got {_json_type(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']}"
    if typ == "array" and isinstance(value, list):
        for i, item in enumerate(value):
            p = _problem(item, schema.get("items") or {}, depth + 1)
            if p:
                return f"item {i}: {p}"
    if typ == "object" and isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        for name in schema.get("required") or []:
            if name not in value:
                return f"missing property {name!r}"
        for name, sub in schema["properties"].items():
            if name in value:
                p = _problem(value[name], sub, depth + 1)
                if p:
                    return f"property {name!r}: {p}"
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _unwrap(value: Any, schema: dict) -> Any:
    if (isinstance(value, dict) and "value" in value and schema.get("type") != "object"
            and set(value) <= {"value", "mediaType", "encoding", "schema", "format"}):
        return value["value"]
    return value


def _one_for_many(value: Any, schema: dict) -> bool:
    """Whether ``value`` is one item where the schema wants an array of such items (an
    ``{"href": url}`` is one item of an array of URLs, e.g. a Directory[] input)."""
    alts = [schema, *(schema.get("anyOf") or schema.get("oneOf") or [])]
    if isinstance(value, dict) and isinstance(value.get("href"), str):
        return any(isinstance(s, dict) and s.get("type") == "array" and isinstance(
            s.get("items"), dict) and s["items"].get("format") == "uri" for s in alts)
    if isinstance(value, list) or _problem(value, schema) is None:
        return False
    return any(isinstance(s, dict) and s.get("type") == "array"
               and _problem(value, s.get("items") or {}) is None for s in alts)


def check_execute(body: Any, description: dict) -> tuple[dict, dict | None]:
    if not isinstance(body, dict):
        raise _err("InvalidParameterValue", "the execute body must be a JSON object like "
                   "{\"inputs\": {\"<input id>\": <value>, ...}}")
    inputs = body.get("inputs", {})
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise _err("InvalidParameterValue", "`inputs` must be an object mapping input ids to "
                   "values (OGC API - Processes 1.0 execute request)")
    declared: dict = description.get("inputs") or {}
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise _err("NoSuchInput", f"unknown input(s) {unknown}; the process "
                   f"{description.get('id')!r} takes: {sorted(declared) or 'no inputs'}")
    try:  # cwltool (here or in Calrissian) would resolve $include/$import in the job file
        check_job_values(inputs)
    except LoadError as err:
        raise _err("InvalidParameterValue", str(err)) from None
    for iid, spec in declared.items():
        if (inputs.get(iid) is None) and int(spec.get("minOccurs", 1) or 0) >= 1:
            raise _err("MissingParameterValue",
                       f"input {iid!r} is required ({_expect(spec)}); add it to `inputs`")
    inputs = dict(inputs)
    for iid, raw in list(inputs.items()):
        if raw is None:
            continue
        spec = declared[iid]
        schema = spec.get("schema") or {}
        raw = _unwrap(raw, schema)  # {"value": [...]} qualifies the whole array too
        if _one_for_many(raw, schema):
            raw = inputs[iid] = [raw]  # the fetch guard then sees each item, as for an array
        many = spec.get("maxOccurs", 1) not in (1, "1", None)
        values = raw if (many and isinstance(raw, list) and schema.get("type") != "array") \
            else [raw]
        if not many and isinstance(raw, list) and schema.get("type") not in ("array", None) \
                and "anyOf" not in schema:
            raise _err("InvalidParameterValue", f"input {iid!r} takes one value, not an array "
                       f"({_expect(spec)})")
        for i, v in enumerate(values):
            p = _problem(_unwrap(v, schema), schema)
            if p:
                where = f"input {iid!r}" + (f" value {i}" if len(values) > 1 else "")
                raise _err("InvalidParameterValue", f"{where}: {p} ({_expect(spec)})")
    outputs = body.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, dict):
            raise _err("InvalidParameterValue", "`outputs` must be an object mapping output ids "
                       "to {\"transmissionMode\": ...}")
        bad = sorted(set(outputs) - set(description.get("outputs") or {}))
        if bad:
            raise _err("NoSuchOutput", f"unknown output(s) {bad}; the process has: "
                       f"{sorted(description.get('outputs') or {})}")
    return inputs, outputs


def _expect(spec: dict) -> str:
    schema = spec.get("schema") or {}
    what = schema.get("type") or ("one of several types" if "anyOf" in schema else "any value")
    if schema.get("format") == "uri":
        what = "a URL string (a STAC item URL for staged inputs)"
    if "enum" in schema:
        what = f"one of {schema['enum']}"
    if spec.get("maxOccurs", 1) not in (1, "1", None):
        what += ", or an array of those"
    return "expected " + what
