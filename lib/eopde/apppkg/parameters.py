"""The typed parameters of a papermill notebook, read from the cell tagged `parameters`.

The cell is parsed with Python's own `ast` (papermill's `inspect_notebook` drops values containing
`=` and `Literal[...]` annotations). Each top-level assignment is one parameter:

    threshold = 0.3                      # NDVI threshold. Pixels below it are masked.
    # Bands to read, in order
    bands = ["B04", "B08"]
    mode: Literal["fast", "exact"] = "fast"   # Processing mode
    max_cloud: int | None = None         # Maximum cloud cover in percent (optional)
    scene: StacItem = "data/scene"       # The Sentinel-2 scene to process

Types come from the annotation, else from the value: `str`, `int`, `float`, `bool`, lists (with the
item type), `Optional[X]` / `X | None` (optional), `Literal[...]` (an enum). EO inputs are marked with
the annotations `StacItem`, `list[StacItem]` or `StacCollection` (importable from `eopde.outputs`):
they become CWL `Directory` inputs holding a staged STAC catalog, and the notebook receives the
path of a local folder with a `catalog.json` (read it with `eopde.outputs.load_items`).

The comment on the line (or the comment lines right above) documents the parameter: its first
sentence is the label, the whole text the doc.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Annotation names that mark EO inputs, and what they hold.
EO_MARKERS = {"StacItem": "item", "StacItems": "items", "StacCollection": "collection"}

#: Names used by the generated CWL next to the parameters (an input may not take them).
RESERVED_NAMES = {"results", "notebook"}

_SCALARS = {"str": "string", "int": "int", "float": "double", "bool": "boolean"}
_PY_NAMES = {"string": "str", "int": "int", "long": "int", "double": "float", "boolean": "bool"}


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

    @property
    def is_eo(self) -> bool:
        return self.eo is not None

    @property
    def has_default(self) -> bool:
        """Whether the CWL input carries a default (EO inputs never do: the notebook's value is
        a development path that means nothing on a platform)."""
        return not self.is_eo and self.default is not None

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
            "name": self.name, "type": self.cwl_type(), "python_type": self.python_type(),
            "default": self.default, "optional": self.optional, "eo": self.eo,
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
            "one only, so the later cells would overwrite them. Merge them into one cell and keep "
            "the tag on it alone.", cell=found[1])
    return found[0]


def read_parameters(notebook) -> NotebookParameters:
    """The typed parameters of `notebook` (a path or an nbformat node).

    Raises NotebookParametersError naming the cell and line of anything that cannot be typed."""
    nb = read_notebook(notebook)
    index = find_parameters_cell(nb)
    return parse_parameters_source(nb.cells[index].source, cell=index)


def parse_parameters_source(source: str, cell: int = 0) -> NotebookParameters:
    """The typed parameters of the source of a parameters cell."""
    lines = source.splitlines()

    def fail(message: str, line: int | None = None):
        if line is not None and 0 < line <= len(lines):
            message = f"`{lines[line - 1].strip()}`: {message}"
        raise NotebookParametersError(message, cell=cell, line=line)

    code = _strip_magics(source)
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        fail(f"the parameters cell is not valid Python ({err.msg}).", err.lineno)
    comments = _comments(code)
    result = NotebookParameters([], cell)
    seen: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a bare string
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1:
                fail("chained assignment; write one parameter per line, e.g. `a = 1` and `b = 1`.",
                     node.lineno)
            target, annotation, value = node.targets[0], None, node.value
        elif isinstance(node, ast.AnnAssign):
            target, annotation, value = node.target, node.annotation, node.value
            if value is None:
                fail("a parameter needs a default value; write e.g. "
                     f"`{ast.unparse(target)}: {ast.unparse(annotation)} = ...`.", node.lineno)
        elif isinstance(node, ast.AugAssign):
            fail("a parameter must be a plain assignment (`x = 1`), not an update of another "
                 "value; move the computation into a later cell.", node.lineno)
        else:
            fail("only assignments of literal values (and imports) belong in the parameters "
                 "cell; move this statement into a later cell.", node.lineno)
        if isinstance(target, (ast.Tuple, ast.List)):
            fail("unpacking several names at once cannot be passed as parameters; write one "
                 "assignment per line, e.g. `a = 1` then `b = 2`.", node.lineno)
        if not isinstance(target, ast.Name):
            fail("only a plain name can be a parameter (not an attribute or an item); write "
                 "e.g. `threshold = 0.3`.", node.lineno)
        name = target.id
        if name in seen:
            fail(f"`{name}` is already assigned on line {seen[name]}; a parameter is assigned "
                 "once.", node.lineno)
        if name in RESERVED_NAMES:
            fail(f"`{name}` is a name the application package uses for itself; rename the "
                 f"parameter, e.g. `{name}_`, or `my_{name}`.", node.lineno)
        if name.startswith("_"):
            fail("a parameter name cannot start with `_` (not a valid CWL input id); rename it.",
                 node.lineno)
        seen[name] = node.lineno
        try:
            param = _typed(name, annotation, value)
        except _Untypable as err:
            fail(str(err), node.lineno)
        param.line = node.lineno
        _document(param, node, comments, lines, result.warnings)
        result.parameters.append(param)
    return result


class _Untypable(Exception):
    pass


def _strip_magics(source: str) -> str:
    """Blank out IPython magics and shell escapes so that `ast` can read the cell (line numbers
    stay the same)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _comments(code: str) -> dict[int, tuple[str, bool]]:
    """{line: (comment text, is the whole line a comment)}."""
    found: dict[int, tuple[str, bool]] = {}
    lines = code.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                whole = not lines[row - 1][:col].strip()
                found[row] = (tok.string.lstrip("#").strip(), whole)
    except (tokenize.TokenError, IndentationError):
        pass
    return found


_IGNORED_COMMENT = re.compile(r"^(type:|noqa|pragma|fmt:|pylint:)", re.I)


def _document(param: Parameter, node: ast.stmt, comments, lines, warnings: list[str]) -> None:
    above: list[str] = []
    row = node.lineno - 1
    while row >= 1 and row in comments and comments[row][1]:
        above.insert(0, comments[row][0])
        row -= 1
    trailing = [comments[r][0] for r in range(node.lineno, (node.end_lineno or node.lineno) + 1)
                if r in comments and not comments[r][1]]
    parts = [t for t in above + trailing if t and not _IGNORED_COMMENT.match(t)]
    text = " ".join(parts).strip()
    if text:
        param.doc = text
        param.label = _short(trailing[0] if trailing and not _IGNORED_COMMENT.match(trailing[0])
                             and trailing[0] else text)
        return
    param.label = param.name.replace("_", " ").strip().capitalize() or param.name
    param.doc = param.label
    param.documented = False
    warnings.append(
        f"parameter `{param.name}` (line {param.line}) has no comment: its label and doc were "
        f"derived from its name; write `{lines[node.lineno - 1].strip()}  # what it is, its "
        "unit` so that the package documents it.")


def _short(text: str, limit: int = 80) -> str:
    first = re.split(r"(?<=[.;:!?])\s", text, maxsplit=1)[0].rstrip(".;: ")
    if len(first) <= limit:
        return first or text[:limit]
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut + "…"


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


def _literal(value: ast.expr):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise _Untypable(
            f"the value `{ast.unparse(value)}` is computed, not a literal, so the package cannot "
            "type it or give it a default. Write a literal here (e.g. `x = 0.5`, `x = \"text\"`, "
            "`x = [1, 2]`) and compute from it in a later cell.") from None


def _typed(name: str, annotation: ast.expr | None, value_node: ast.expr) -> Parameter:
    value = _literal(value_node)
    if annotation is not None:
        spec = _from_annotation(annotation)
    else:
        spec = None
    if spec is None:
        return _from_value(name, value)
    kind, array, optional, symbols, eo = spec
    param = Parameter(name, kind, array=array, optional=optional, symbols=symbols, eo=eo)
    if value is None:
        param.optional = True  # `x: str = None`
        return param
    param.default = _check_value(name, param, value, annotation)
    return param


def _from_annotation(node: ast.expr):
    """(kind, array, optional, symbols, eo) from an annotation."""
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
            raise _Untypable(f"the annotation `{ast.unparse(node)}` mixes types; use "
                             "`Optional[X]` or one type.")
        if outer == "Literal":
            symbols = [a.value if isinstance(a, ast.Constant) else None for a in args]
            if not symbols or not all(isinstance(s, str) for s in symbols):
                raise _Untypable("`Literal[...]` parameters must list strings, e.g. "
                                 "`mode: Literal[\"fast\", \"exact\"] = \"fast\"`.")
            return "enum", False, optional, symbols, None
        if outer in ("list", "List", "Sequence", "tuple", "Tuple"):
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is ...:
                args = args[:1]
            if len(args) != 1:
                raise _Untypable(f"the annotation `{ast.unparse(node)}`: write a list of one "
                                 "item type, e.g. `list[float]`.")
            kind, array, item_opt, symbols, eo = _from_annotation(args[0])
            if array or item_opt:
                raise _Untypable(f"the annotation `{ast.unparse(node)}`: lists of lists or of "
                                 "optional items cannot be parameters; use a flat list.")
            if eo == "item":
                eo = "items"
            return kind, True, optional, symbols, eo
        raise _Untypable(f"the annotation `{ast.unparse(node)}` is not a parameter type; use "
                         "str, int, float, bool, list[...], Optional[...], Literal[...], "
                         "StacItem, list[StacItem] or StacCollection.")
    n = _ann_name(node)
    if n in _SCALARS:
        return _SCALARS[n], False, optional, None, None
    if n in EO_MARKERS:
        eo = EO_MARKERS[n]
        return "Directory", eo == "items", optional, None, eo
    if n in ("list", "List"):
        return None  # bare `list`: the value says the item type
    raise _Untypable(f"the annotation `{ast.unparse(node)}` is not a parameter type; use str, "
                     "int, float, bool, list[...], Optional[...], Literal[...], StacItem, "
                     "list[StacItem] or StacCollection.")


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


def _from_value(name: str, value) -> Parameter:
    if value is None:
        raise _Untypable(f"`None` alone does not say the type; annotate it, e.g. "
                         f"`{name}: str | None = None` or `{name}: Optional[int] = None`.")
    if isinstance(value, dict):
        raise _Untypable("a dict cannot be a parameter (CWL inputs are scalars or lists); split "
                         "it into one parameter per key, or pass it as a JSON string "
                         f"(`{name}_json: str = '{{...}}'`) and parse it in a later cell.")
    if isinstance(value, (list, tuple)):
        if not value:
            raise _Untypable(f"an empty list does not say its item type; annotate it, e.g. "
                             f"`{name}: list[str] = []`.")
        kinds = {_scalar_kind(v) for v in value}
        if None in kinds:
            raise _Untypable("list items must be str, int, float or bool literals (no nested "
                             f"lists, dicts or None); e.g. `{name} = [1, 2]`.")
        if kinds <= {"int", "long", "double"}:
            kind = "double" if "double" in kinds else ("long" if "long" in kinds else "int")
        elif len(kinds) == 1:
            kind = kinds.pop()
        else:
            raise _Untypable("list items mix types; use one item type, e.g. `[\"a\", \"b\"]` or "
                             "`[1.0, 2.5]`.")
        default = [float(v) for v in value] if kind == "double" else list(value)
        return Parameter(name, kind, default=default, array=True)
    kind = _scalar_kind(value)
    if kind is None:
        raise _Untypable(f"a value of type {type(value).__name__} cannot be a parameter; use a "
                         "str, int, float, bool or a list of one of them.")
    return Parameter(name, kind, default=value)


def _check_value(name: str, param: Parameter, value, annotation: ast.expr):
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
        raise AssertionError(param.kind)

    if param.array:
        if not isinstance(value, (list, tuple)):
            raise _Untypable(f"the default {value!r} is not a list but the annotation is `{ann}`.")
        return [one(v) for v in value]
    if isinstance(value, (list, tuple, dict)):
        raise _Untypable(f"the default is a {type(value).__name__} but the annotation `{ann}` is "
                         "not a list type.")
    return one(value)
