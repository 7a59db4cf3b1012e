"""The type of a notebook parameter, from its annotation and its value (part of
:mod:`eopde.apppkg.parameters`): what CWL can type directly becomes that input type, a dict or
a nested list a JSON string input, and the rest stays in the notebook, with a note saying why."""

from __future__ import annotations

import ast
import json

from .paramspec import EO_MARKERS, JSON_TYPE_NAMES, Parameter

_SCALARS = {"str": "string", "int": "int", "float": "double", "bool": "boolean"}


class Computed(Exception):
    """The value is not a literal: it stays computed in the notebook (message: the warning)."""


def _ann_name(node: ast.expr) -> str | None:
    """`typing.Optional` -> `Optional`, `str` -> `str`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return None


class _Untypable(Exception):
    """An annotation or a default that is not a parameter type (the message says why)."""


def _literal(name: str, value: ast.expr):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise Computed(
            f"`{name}` is computed (`{ast.unparse(value)}`), not a literal value, so it stays "
            "computed in the notebook and is not an input of the package. Papermill injects the "
            "inputs after this cell, so it is computed from the notebook's own defaults, not from "
            "the values given to a run: move it into a later cell to compute it from them, or "
            f"give it a literal value (e.g. `{name} = 0.5`) to make it an input.") from None


def _unquote(annotation: ast.expr) -> ast.expr | None:
    """`"int"` -> `int` (a string annotation, as `from __future__ import annotations` allows)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            return ast.parse(annotation.value.strip(), mode="eval").body
        except SyntaxError:
            return None
    return annotation


def typed(name: str, annotation: ast.expr | None,
          value_node: ast.expr) -> tuple[Parameter | None, list[str]]:
    """The parameter (None when it stays in the notebook) and notes about how it was typed."""
    value = _literal(name, value_node)
    notes: list[str] = []
    spec = None
    if annotation is not None:
        ann = _unquote(annotation)
        try:
            if ann is None:
                raise _Untypable(f"the annotation `{ast.unparse(annotation)}` is not Python.")
            spec = _from_annotation(ann)
        except _Untypable as err:
            notes.append(f"{err} The type comes from the value instead.")
    if spec is not None and annotation is not None:
        kind, array, optional, symbols, eo = spec
        if kind == "json":
            if value is None:
                return Parameter(name, "string", optional=True, json=True), notes
            if isinstance(value, (dict, list, tuple)):
                return _json_param(name, value, optional, notes), notes
            notes.append(f"the default {value!r} is not a dict or a list but the annotation is "
                         f"`{ast.unparse(annotation)}`. The type comes from the value instead.")
        else:
            param = Parameter(name, kind, array=array, optional=optional, symbols=symbols, eo=eo)
            if value is None:
                param.optional = True  # `x: str = None`
                return param, notes
            try:
                param.default = _check_value(param, value, annotation)
                return param, notes
            except _Untypable as err:
                notes.append(f"{err} The type comes from the value instead.")
    return _from_value(name, value, notes), notes


_TYPES_HINT = ("str, int, float, bool, list[...], dict, Optional[...], Literal[...], StacItem, "
               "list[StacItem] or StacCollection")


def _from_annotation(node: ast.expr):
    """(kind, array, optional, symbols, eo) from an annotation; kind "json" for dicts."""
    optional = False
    # X | None, None | X
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        members = _union_members(node)
        rest = [m for m in members if _ann_name(m) != "None"]
        if len(rest) != 1 or len(rest) == len(members):
            raise _Untypable(f"the annotation `{ast.unparse(node)}` mixes types; a parameter has "
                             "one type, optionally `| None` (e.g. `x: int | None = None`).")
        optional, node = True, rest[0]
    if isinstance(node, ast.Subscript):
        outer = _ann_name(node.value)
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer == "Optional" and len(args) == 1:
            kind, array, _, symbols, eo = _from_annotation(args[0])
            return kind, array, True, symbols, eo
        if outer == "Union":
            rest = [a for a in args if _ann_name(a) != "None"]
            if len(rest) == 1 and len(rest) < len(args):
                kind, array, _, symbols, eo = _from_annotation(rest[0])
                return kind, array, True, symbols, eo
            raise _Untypable(f"the annotation `{ast.unparse(node)}` mixes types; a parameter has "
                             "one type, optionally `| None` (e.g. `x: Optional[int] = None`).")
        if outer == "Literal":
            symbols = [a.value if isinstance(a, ast.Constant) else None for a in args]
            if not symbols or not all(isinstance(s, str) for s in symbols):
                raise _Untypable("`Literal[...]` becomes a choice of strings only, e.g. "
                                 "`mode: Literal[\"fast\", \"exact\"] = \"fast\"`.")
            return "enum", False, optional, symbols, None
        if outer in ("dict", "Dict", "Mapping", "MutableMapping"):
            return "json", False, optional, None, None
        if outer in ("list", "List", "Sequence", "tuple", "Tuple"):
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is ...:
                args = args[:1]
            if len(args) != 1:
                return "json", False, optional, None, None  # a fixed-shape tuple: as JSON
            kind, array, item_opt, symbols, eo = _from_annotation(args[0])
            if array or item_opt or kind == "json":
                return "json", False, optional, None, None  # nested: as JSON
            if eo == "item":
                eo = "items"
            return kind, True, optional, symbols, eo
        raise _Untypable(f"the annotation `{ast.unparse(node)}` is not a parameter type "
                         f"({_TYPES_HINT}).")
    n = _ann_name(node)
    if n in _SCALARS:
        return _SCALARS[n], False, optional, None, None
    if n in EO_MARKERS:
        eo = EO_MARKERS[n]
        return "Directory", eo == "items", optional, None, eo
    if n in ("dict", "Dict", "Mapping"):
        return "json", False, optional, None, None
    if n in ("list", "List"):
        return None  # bare `list`: the value says the item type
    raise _Untypable(f"the annotation `{ast.unparse(node)}` is not a parameter type "
                     f"({_TYPES_HINT}).")


def _union_members(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union_members(node.left) + _union_members(node.right)
    return [node]


def _scalar_kind(value) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if -2**31 <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    return None


def _json_param(name: str, value, optional: bool, notes: list[str]) -> Parameter | None:
    """A CWL string input holding JSON; the parameters file gives the notebook the value."""
    what = type(value).__name__
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        notes.append(f"`{name}` is a {what} that JSON cannot hold (e.g. a set, bytes or NaN "
                     "inside), so it stays in the notebook and is not an input.")
        return None
    back = json.loads(text)
    notes.append(f"`{name}` is a {what}: CWL has no such input type, so it becomes a string "
                 f"input holding JSON (e.g. `{_clip(text)}`); the notebook receives the "
                 f"{JSON_TYPE_NAMES.get(type(back), what)} itself.")
    if not _same(back, value):
        notes.append(f"`{name}`: JSON has no tuples and only string keys, so the notebook "
                     f"receives `{_clip(repr(back))}`, not `{_clip(repr(value))}`.")
    return Parameter(name, "string", default=back, optional=optional, json=True)


def _same(a, b) -> bool:
    """Equal values of the same types all the way down (1 == 1.0 == True are not the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _from_value(name: str, value, notes: list[str]) -> Parameter | None:
    if value is None:
        notes.append(f"`{name} = None` does not say its type, so it becomes an optional string "
                     "input (the notebook receives a str, or None when a run leaves it out); to "
                     f"give it a type, annotate it, e.g. `{name}: int | None = None`.")
        return Parameter(name, "string", optional=True)
    if isinstance(value, dict):
        return _json_param(name, value, False, notes)
    if isinstance(value, (list, tuple)):
        if not value:
            notes.append(f"an empty list does not say its item type, so it becomes a list of "
                         f"strings; to give it one, annotate it, e.g. `{name}: list[float] = []`.")
            return Parameter(name, "string", default=[], array=True)
        kinds = {_scalar_kind(v) for v in value}
        if kinds <= {"int", "long", "double"}:
            kind = "double" if "double" in kinds else ("long" if "long" in kinds else "int")
        elif len(kinds) == 1 and None not in kinds:
            kind = str(kinds.pop())
        else:  # nested lists, dicts, None or mixed items: JSON keeps them as they are
            return _json_param(name, value, False, notes)
        default = [float(v) for v in value] if kind == "double" else list(value)
        return Parameter(name, kind, default=default, array=True)
    scalar = _scalar_kind(value)
    if scalar is None:
        if isinstance(value, (set, frozenset)):
            return _json_param(name, value, False, notes)
        notes.append(f"`{name}` is a {type(value).__name__}, which a run cannot pass, so it "
                     "stays in the notebook and is not an input.")
        return None
    return Parameter(name, scalar, default=value)


def _check_value(param: Parameter, value, annotation: ast.expr):
    ann = ast.unparse(annotation)

    def one(v):
        if param.kind == "enum":
            if v not in (param.symbols or []):
                raise _Untypable(f"the default {v!r} is not one of {param.symbols}; pick one of "
                                 "them.")
            return v
        if param.kind in ("string", "Directory"):
            if not isinstance(v, str):
                raise _Untypable(f"the default {v!r} is not a str but the annotation is `{ann}`.")
            return v
        if param.kind == "boolean":
            if not isinstance(v, bool):
                raise _Untypable(f"the default {v!r} is not True/False but the annotation is "
                                 f"`{ann}`.")
            return v
        if param.kind in ("int", "long"):
            if isinstance(v, bool) or not isinstance(v, int):
                raise _Untypable(f"the default {v!r} is not an int but the annotation is `{ann}`.")
            if not -2**31 <= v < 2**31:
                param.kind = "long"
            return v
        if param.kind == "double":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _Untypable(f"the default {v!r} is not a number but the annotation is "
                                 f"`{ann}`.")
            return float(v)
        raise AssertionError(param.kind)  # pragma: no cover

    if param.array:
        if not isinstance(value, (list, tuple)):
            raise _Untypable(f"the default {value!r} is not a list but the annotation is `{ann}`.")
        return [one(v) for v in value]
    if isinstance(value, (list, tuple, dict)):
        raise _Untypable(f"the default is a {type(value).__name__} but the annotation `{ann}` is "
                         "not a list type.")
    return one(value)
