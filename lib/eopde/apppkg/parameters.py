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
import warnings as _warnings
from pathlib import Path

from .paramdocs import _comments, _document
from .paramspec import (
    EO_MARKERS,
    RESERVED_NAMES,
    NotebookParameters,
    NotebookParametersError,
    Parameter,
)
from .paramtypes import Computed, typed

__all__ = ["EO_MARKERS", "RESERVED_NAMES", "NotebookParameters", "NotebookParametersError",
           "Parameter", "find_parameters_cell", "parse_parameters_source", "read_notebook",
           "read_parameters"]


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
                param, notes = typed(name, annotation, value)
            except Computed as err:
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

