"""Labels and docs of notebook parameters, from their own comments (see eopde.apppkg.parameters).

A parameter is documented by the comment lines right above it (unless it shares its first line
with the statement before), the comments on its own lines (not one on a line it shares with the
next statement) and the indented comment lines that continue them. A warning suggests a comment
only where one would be valid Python (never after a backslash continuation).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Any


@dataclass
class _Comment:
    text: str
    whole: bool                    # the whole line is the comment
    continues: bool = False        # an indented comment line continuing the line above's comment


def _comments(code: str) -> dict[int, _Comment]:
    """{line: comment}."""
    found: dict[int, _Comment] = {}
    lines = code.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                whole = not lines[row - 1][:col].strip()
                found[row] = _Comment(tok.string.lstrip("#").strip(), whole,
                                      continues=whole and col > 0)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    # an indented comment line continues the comment of the line above, if it has one
    for row in sorted(found):
        c = found[row]
        if c.continues:
            above = found.get(row - 1)
            c.continues = above is not None and (not above.whole or above.continues)
    return found


_IGNORED_COMMENT = re.compile(r"^(type:|noqa|pragma|fmt:|pylint:)", re.I)


def _document(param: Any, node: ast.stmt, comments: dict[int, _Comment], lines: list[str],
              warnings: list[str], prev_end: int | None, next_start: int | None) -> None:
    """Label and doc from the parameter's own comments: the comment lines right above it (not
    when it shares its first line with the statement before), the comments on its lines (not the
    one on a line it shares with the next statement) and their indented continuation lines."""
    end = node.end_lineno or node.lineno
    above: list[str] = []
    if prev_end != node.lineno:
        row = node.lineno - 1
        while row in comments and comments[row].whole and not comments[row].continues:
            above.insert(0, comments[row].text)
            row -= 1
    trailing: list[str] = []
    for row in range(node.lineno, end + 1):
        c = comments.get(row)
        if c is not None and (not c.whole or c.continues) and row != next_start:
            trailing.append(c.text)
    row = end + 1
    while trailing and row in comments and comments[row].continues:
        trailing.append(comments[row].text)
        row += 1
    parts = [t for t in above + trailing if t and not _IGNORED_COMMENT.match(t)]
    text = " ".join(parts).strip()
    if text:
        param.doc = text
        own = [t for t in trailing if t and not _IGNORED_COMMENT.match(t)]
        param.label = _short(" ".join(own) if own else text)
        return
    param.label = param.name.replace("_", " ").strip().capitalize() or param.name
    param.doc = param.label
    param.documented = False
    first = lines[node.lineno - 1].rstrip() if node.lineno <= len(lines) else ""
    if end == node.lineno and not first.endswith("\\") and node.lineno not in comments \
            and next_start != node.lineno:
        fix = f"write `{first.strip()}  # what it is, its unit`"
    else:  # a comment after a backslash, or among other comments, would not be one
        fix = f"write a comment line `# what it is, its unit` right above line {node.lineno}"
    warnings.append(
        f"parameter `{param.name}` (line {param.line}) has no comment: its label and doc were "
        f"derived from its name; {fix} so that the package documents it.")


def _short(text: str, limit: int = 80) -> str:
    first = re.split(r"(?<=[.;:!?])\s", text, maxsplit=1)[0].rstrip(".;: ")
    if len(first) <= limit:
        return first or text[:limit]
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut + "…"
