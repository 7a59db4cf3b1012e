"""Edits of a parameters cell (the JupyterLab wizard's: type, label, doc), written back
as Python source, so that the library reads them as it reads any notebook: the type becomes
the annotation, the label and doc the comment on the line.

Line numbers are kept: comment lines that documented an edited parameter become blank lines, so
a problem the library reports on line N is still on line N of the user's own cell.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any



class ParameterEditError(ValueError):
    """An edit that cannot be written: ``status`` 400 (malformed) or 422 (does not fit the
    cell), ``field`` the wizard's field it belongs to (``parameters.<name>.type``)."""

    def __init__(self, status: int, message: str, field: str):
        super().__init__(message)
        self.status = status
        self.field = field


#: Limits on what one edit may hold (a label is one line; a doc a paragraph).
MAX_TYPE = 200
MAX_LABEL = 200
MAX_DOC = 4000


def _code(source: str) -> str:
    """The cell as `ast` can read it: IPython magics and shell escapes blanked (the library reads
    the cell the same way; line numbers stay)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _text(edit: Mapping[str, Any], key: str, limit: int, name: str) -> str | None:
    value = edit.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or "\n" in value or "\r" in value:
        raise ParameterEditError(
            400, f"`{key}` of parameter `{name}` must be one line of text of at "
                 f"most {limit} characters.", field=f"parameters.{name}.{key}")
    return value.strip()


def _check_type(text: str, name: str) -> str:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        raise ParameterEditError(
            422, f"the type `{text}` of parameter `{name}` is not a Python type "
                           "expression; write e.g. `int`, `float | None`, `list[str]`, "
                           "`Literal[\"a\", \"b\"]` or `StacItem`.",
                           field=f"parameters.{name}.type") from None
    return text


def _comment(label: str | None, doc: str | None) -> str:
    label = (label or "").strip().rstrip(".")
    doc = (doc or "").strip()
    if not label:
        return doc
    if not doc or doc.startswith(label):
        return doc or label
    return f"{label}. {doc}"


def _statements(tree: ast.Module) -> dict[str, ast.stmt]:
    found: dict[str, ast.stmt] = {}
    for node in tree.body:
        target: ast.expr | None = None
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name):
            found[target.id] = node  # a later assignment wins, as in the library
    return found


def apply_overrides(source: str, edits: Mapping[str, Mapping[str, Any]]) -> str:
    """`source` (a parameters cell) with `edits` ({name: {type, label, doc}}) applied.

    Raises ParameterEditError (with the field) for an edit that cannot be written: an unknown
    parameter, a type that is not a Python expression, a statement sharing its line."""
    code = _code(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        raise ParameterEditError(
            422, "the parameters cell is not valid Python, so the wizard cannot "
                           "write your edits into it; fix the cell first (the Parameters step "
                           "shows where).", field="parameters") from None
    lines = source.splitlines()
    nodes = _statements(tree)
    starts = [n.lineno for n in tree.body]
    ends = [n.end_lineno or n.lineno for n in tree.body]
    for name, edit in edits.items():
        if not isinstance(edit, Mapping):
            raise ParameterEditError(400, f"the edit of `{name}` must be an object "
                               "{type, label, doc}.", field=f"parameters.{name}")
        node = nodes.get(name)
        if node is None:
            raise ParameterEditError(
                422, f"the parameters cell has no plain assignment of `{name}`; "
                               "detect the parameters again.", field=f"parameters.{name}")
        type_text = _text(edit, "type", MAX_TYPE, name)
        label = _text(edit, "label", MAX_LABEL, name)
        doc = _text(edit, "doc", MAX_DOC, name)
        if type_text is None and label is None and doc is None:
            continue
        first, last = node.lineno, node.end_lineno or node.lineno
        if starts.count(first) > 1 or ends.count(first) > 1 or ends.count(last) > 1:
            raise ParameterEditError(
                422, f"`{name}` shares its line with another statement; put it on "
                               "a line of its own to edit it here.", field=f"parameters.{name}")
        _rewrite(lines, code, node, name, type_text, label, doc)
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def _rewrite(lines: list[str], code: str, node: ast.stmt, name: str, type_text: str | None,
             label: str | None, doc: str | None) -> None:
    first, last = node.lineno, node.end_lineno or node.lineno
    value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
    value_src = ast.get_source_segment(code, value) if value is not None else None
    if value_src is None:
        return
    if type_text is None and isinstance(node, ast.AnnAssign):
        type_text = ast.get_source_segment(code, node.annotation)
    head = f"{name}: {_check_type(type_text, name)}" if type_text else name
    old_comment = _line_comment(lines[first - 1]) if first == last else ""
    if label is None and doc is None:
        comment = old_comment
    else:
        comment = _comment(label, doc)
        _blank_comments_above(lines, first)
    new = f"{head} = {value_src}".split("\n")
    indent = re.match(r"\s*", lines[first - 1]).group(0)  # type: ignore[union-attr]
    new[0] = indent + new[0] + (f"  # {comment}" if comment else "")
    lines[first - 1:last] = new
    if len(new) < last - first + 1:  # keep the numbering of the lines below
        lines[first - 1 + len(new):first - 1 + len(new)] = [""] * (last - first + 1 - len(new))


def _line_comment(line: str) -> str:
    """The comment at the end of a one-line statement (tokenized: a `#` in a string is not one)."""
    import io
    import tokenize

    try:
        for tok in tokenize.generate_tokens(io.StringIO(line + "\n").readline):
            if tok.type == tokenize.COMMENT:
                return tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return ""


def _blank_comments_above(lines: list[str], first: int) -> None:
    """The whole comment lines right above line `first` documented the parameter: blank them."""
    row = first - 1
    while row >= 1 and lines[row - 1].lstrip().startswith("#"):
        lines[row - 1] = ""
        row -= 1
