"""The typed parameters of a papermill notebook, read from the cell tagged `parameters`.

The cell is parsed with Python's own `ast` (papermill's `inspect_notebook` drops values containing
`=` and `Literal[...]` annotations). Each top-level assignment is one parameter:

    threshold = 0.3                      # NDVI threshold. Pixels below it are masked.
    # Bands to read, in order
    bands = ["B04", "B08"]
    mode: Literal["fast", "exact"] = "fast"   # Processing mode
    max_cloud: int | None = None         # Maximum cloud cover in percent (optional)
    scene: StacItem = "data/scene"       # The Sentinel-2 scene to process

Types come from the annotation (quoted ones too: `x: "int" = 3`), else from the value: `str`,
`int`, `float`, `bool`, lists (with the item type), `Optional[X]` / `X | None` (optional),
`Literal[...]` (an enum). EO inputs are marked with
the annotations `StacItem`, `list[StacItem]` or `StacCollection` (importable from `eopde.outputs`):
they become CWL `Directory` inputs holding a staged STAC catalog, and the notebook receives the
path of a local folder with a `catalog.json` (read it with `eopde.outputs.load_items`).

The comment on the line (or the comment lines right above, or indented comment lines continuing
the line's comment) documents the parameter: its first sentence is the label, the whole text the
doc.

Whatever papermill accepts packages; only a cell that is not Python is refused. What CWL cannot
type directly is adapted, with a warning naming the line:

- `x = None` (papermill's idiom) becomes an optional string (annotate it, e.g.
  `x: int | None = None`, to give it another type);
- a dict, a nested list or a list of mixed items becomes a JSON string input; the notebook still
  receives the Python value (the generated parameters file holds it as YAML);
- a value computed from others (`y = x * 2`, a call, a name) stays computed in the notebook and is
  not an input; so do statements other than assignments, and names starting with `_`;
- an annotation that is not a parameter type, or that does not fit the value, is set aside and the
  value gives the type.
"""

from __future__ import annotations

import ast
import json
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .paramdocs import _comments, _document

#: Annotation names that mark EO inputs, and what they hold.
EO_MARKERS = {"StacItem": "item", "StacItems": "items", "StacCollection": "collection"}

#: Names used by the generated CWL next to the parameters (an input may not take them).
RESERVED_NAMES = {"results", "notebook"}

_SCALARS = {"str": "string", "int": "int", "float": "double", "bool": "boolean"}
_PY_NAMES = {"string": "str", "int": "int", "long": "int", "double": "float", "boolean": "bool"}


#: Python type names of JSON values, for messages.
_JSON_PY: dict[type, str] = {dict: "dict", list: "list"}


class NotebookParametersError(ValueError):
    """The notebook's parameters cannot be turned into typed inputs. `cell` (0-based index in the
    notebook) and `line` (1-based, in that cell) say where; the message says what to write."""

    def __init__(self, message: str, cell: int | None = None, line: int | None = None):
        where = ""
        if cell is not None:
            where = f"cell {cell}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message)
        self.cell = cell
        self.line = line


@dataclass
class Parameter:
    """One notebook parameter and its CWL form."""

    name: str
    kind: str                      # string | int | long | double | boolean | enum | Directory
    default: Any = None
    array: bool = False
    optional: bool = False
    symbols: list[str] | None = None   # for kind == "enum"
    eo: str | None = None          # item | items | collection for EO inputs
    label: str = ""
    doc: str = ""
    documented: bool = True        # False when label/doc were derived from the name
    line: int = 0                  # 1-based line in the parameters cell
    json: bool = False             # a CWL string holding JSON; the notebook receives the value
    input_id: str = ""             # the CWL input id when it differs from the name

    def __post_init__(self):
        self.input_id = self.input_id or self.name

    @property
    def is_eo(self) -> bool:
        return self.eo is not None

    @property
    def has_default(self) -> bool:
        """Whether the CWL input carries a default (EO inputs never do: the notebook's value is
        a development path that means nothing on a platform)."""
        return not self.is_eo and self.default is not None

    @property
    def cwl_default(self) -> Any:
        """The default as the CWL input holds it (JSON text for a JSON input)."""
        if self.json and self.default is not None:
            return json.dumps(self.default, ensure_ascii=False)
        return self.default

    def cwl_type(self, enum_name: str | None = None) -> Any:
        """The CWL type: a name (`string`, `int[]`, `Directory?`) or an enum/array schema."""
        if self.kind == "enum":
            base: Any = {"type": "enum", "symbols": list(self.symbols or [])}
            if enum_name:
                base["name"] = enum_name
            if self.array:
                base = {"type": "array", "items": base}
            return ["null", base] if self.optional else base
        name = self.kind + ("[]" if self.array else "")
        return name + ("?" if self.optional else "")

    def python_type(self) -> str:
        """How the notebook sees it, for messages and the wizard: `list[int] | None`."""
        if self.json:
            inner = _JSON_PY.get(type(self.default), "dict")
            return inner + (" | None" if self.optional else "")
        if self.kind == "enum":
            inner = "Literal[" + ", ".join(repr(s) for s in self.symbols or []) + "]"
        elif self.kind == "Directory":
            inner = "str"
        else:
            inner = _PY_NAMES[self.kind]
        if self.array:
            inner = f"list[{inner}]"
        return inner + (" | None" if self.optional else "")

    def to_json(self) -> dict:
        return {
            "name": self.name, "input": self.input_id, "type": self.cwl_type(),
            "python_type": self.python_type(), "default": self.default,
            "optional": self.optional, "eo": self.eo, "json": self.json,
            "label": self.label, "doc": self.doc, "documented": self.documented,
        }


@dataclass
class NotebookParameters:
    """The parameters of a notebook and where they were found."""

    parameters: list[Parameter]
    cell: int                      # index of the parameters cell
    warnings: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.parameters)

    def __len__(self):
        return len(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; the notebook has: "
                       + ", ".join(p.name for p in self.parameters))


def read_notebook(notebook):
    """An nbformat v4 notebook from a path or a notebook node."""
    import nbformat

    if isinstance(notebook, (str, Path)):
        # older notebooks have no cell ids: nbformat adds them and warns, which only confuses
        with _warnings.catch_warnings():
            _warnings.filterwarnings("ignore", message=".*missing an id field")
            _warnings.filterwarnings("ignore", category=getattr(
                nbformat.warnings, "MissingIDFieldWarning", UserWarning))
            return nbformat.read(str(notebook), as_version=4)
    return notebook


def find_parameters_cell(nb) -> int:
    """Index of the one code cell tagged `parameters`."""
    found = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if not found:
        raise NotebookParametersError(
            "the notebook has no cell tagged `parameters`. Put the inputs in one code cell of plain "
            "assignments (`threshold = 0.3  # what it means`) and give that cell the tag "
            "`parameters` (JupyterLab: Property Inspector > Cell Tags), as papermill expects.")
    if len(found) > 1:
        cells = ", ".join(str(i) for i in found)
        raise NotebookParametersError(
            f"cells {cells} are all tagged `parameters`; papermill injects values after the first "
            "one only, so the later cells overwrite them. Merge them into one cell and keep "
            "the tag on it alone.", cell=found[1])
    return found[0]


def read_parameters(notebook) -> NotebookParameters:
    """The typed parameters of `notebook` (a path or an nbformat node).

    Raises NotebookParametersError (with the cell and line) when the parameters cell is not
    Python. Papermill runs a notebook without a parameters cell, and injects after the first of
    several: so does the package, with a warning."""
    nb = read_notebook(notebook)
    try:
        index = find_parameters_cell(nb)
    except NotebookParametersError as err:
        tagged = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  and "parameters" in c.get("metadata", {}).get("tags", [])]
        if not tagged:
            return NotebookParameters([], -1, ["the package has no inputs: " + str(err)])
        index = tagged[0]
        result = parse_parameters_source(nb.cells[index].source, cell=index)
        result.warnings.insert(0, f"{err} The package takes its inputs from cell {index}.")
        return result
    return parse_parameters_source(nb.cells[index].source, cell=index)


def parse_parameters_source(source: str, cell: int = 0) -> NotebookParameters:
    """The typed parameters of the source of a parameters cell.

    Raises NotebookParametersError only when the cell is not Python; everything else papermill
    accepts becomes an input or stays in the notebook, with a warning in `.warnings`."""
    lines = source.splitlines()
    code = _strip_magics(source)
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        message = f"the parameters cell is not valid Python ({err.msg})."
        line = err.lineno
        if line is not None and 0 < line <= len(lines):
            message = f"`{lines[line - 1].strip()}`: {message}"
        raise NotebookParametersError(message, cell=cell, line=line) from None
    comments = _comments(code)
    result = NotebookParameters([], cell)
    found: dict[str, tuple[Parameter, ast.stmt]] = {}
    body = tree.body
    for index, node in enumerate(body):
        prev_end = body[index - 1].end_lineno if index else None
        next_start = body[index + 1].lineno if index + 1 < len(body) else None

        def warn(message: str, node: ast.stmt = node) -> None:
            result.warnings.append(f"line {node.lineno} `{_first_line(lines, node)}`: {message}")

        for name, annotation, value in _assignments(node, warn):
            if name.startswith("_"):
                warn(f"`{name}` starts with `_`: kept as a private value of the notebook, not an "
                     "input of the package; rename it without the `_` to make it one.")
                continue
            try:
                param, notes = _typed(name, annotation, value)
            except _Computed as err:
                warn(str(err))
                continue
            for note in notes:
                warn(note)
            if param is None:
                continue
            if name in found:
                warn(f"`{name}` is assigned again (first on line {found[name][1].lineno}); the "
                     "package uses this later value, as Python does.")
                result.parameters.remove(found[name][0])
            param.line = node.lineno
            _document(param, node, comments, lines, result.warnings, prev_end, next_start)
            found[name] = (param, node)
            result.parameters.append(param)
    _rename_reserved(result)
    return result


class _Computed(Exception):
    """The value is not a literal: it stays computed in the notebook (message: the warning)."""


def _first_line(lines: list[str], node: ast.stmt) -> str:
    text = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
    return text + (" …" if (node.end_lineno or node.lineno) > node.lineno else "")


def _assignments(node: ast.stmt, warn) -> list[tuple[str, ast.expr | None, ast.expr]]:
    """(name, annotation, value) of the parameters a statement assigns; warns about the rest."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return []
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return []  # a docstring or a bare string
    if isinstance(node, ast.AnnAssign):
        if node.value is None:
            warn(f"`{ast.unparse(node.target)}` is declared without a value, so it is not an "
                 "input; give it a default to make it one, e.g. "
                 f"`{ast.unparse(node.target)}: {ast.unparse(node.annotation)} = ...`.")
            return []
        targets: list[ast.expr] = [node.target]
        annotation, value = node.annotation, node.value
    elif isinstance(node, ast.Assign):
        targets, annotation, value = list(node.targets), None, node.value
    elif isinstance(node, ast.AugAssign):
        warn("an update of a value, not an input; it runs before papermill injects the inputs, "
             "so move it into a later cell if it should apply to the values given to a run.")
        return []
    else:
        warn("not an assignment, so not an input: it stays in the notebook (it runs before "
             "papermill injects the inputs; a later cell is the usual place for it).")
        return []
    out: list[tuple[str, ast.expr | None, ast.expr]] = []
    for target in targets:
        if isinstance(target, ast.Name):
            out.append((target.id, annotation, value))
        elif (isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
              and len(target.elts) == len(value.elts)
              and all(isinstance(t, ast.Name) for t in target.elts)):
            out.extend((t.id, None, v) for t, v in zip(target.elts, value.elts))  # type: ignore
        else:
            warn(f"`{ast.unparse(target)}` is not a plain name, so it is not an input; write one "
                 "name per line, e.g. `a = 1` then `b = 2`.")
    return out


def _rename_reserved(result: NotebookParameters) -> None:
    """Inputs named like the package's own output or step get another CWL id (the notebook
    keeps its variable name: the parameters file maps one to the other)."""
    taken = {p.name for p in result.parameters}
    for p in result.parameters:
        if p.name in RESERVED_NAMES:
            new = p.name + "_"
            while new in taken or new in RESERVED_NAMES:
                new += "_"
            p.input_id = new
            taken.add(new)
            result.warnings.append(
                f"line {p.line}: `{p.name}` is the name of the package's own "
                f"{'result' if p.name == 'results' else 'step'}, so its CWL input is `{new}` "
                f"(the notebook still receives `{p.name}`); rename the variable to avoid this.")


def _strip_magics(source: str) -> str:
    """Blank out IPython magics and shell escapes so that `ast` can read the cell (line numbers
    stay the same)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


# --- typing ---------------------------------------------------------------------------------

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
        raise _Computed(
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


def _typed(name: str, annotation: ast.expr | None,
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
                 f"{_JSON_PY.get(type(back), what)} itself.")
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
