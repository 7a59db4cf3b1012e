"""A notebook parameter and its CWL form (part of :mod:`eopde.apppkg.parameters`): the
`Parameter` and `NotebookParameters` the reading makes, and the error it raises."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: Annotation names that mark EO inputs, and what they hold.
EO_MARKERS = {"StacItem": "item", "StacItems": "items", "StacCollection": "collection"}

#: Names used by the generated CWL next to the parameters (an input may not take them).
RESERVED_NAMES = {"results", "notebook"}

_PY_NAMES = {"string": "str", "int": "int", "long": "int", "double": "float", "boolean": "bool"}


#: Python type names of JSON values, for messages.
JSON_TYPE_NAMES: dict[type, str] = {dict: "dict", list: "list"}


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
            inner = JSON_TYPE_NAMES.get(type(self.default), "dict")
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

