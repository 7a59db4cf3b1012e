"""Notebook parameters -> typed CWL inputs, over many shapes of the `parameters` cell."""

from __future__ import annotations

import nbformat
import pytest

from eopde.apppkg.parameters import NotebookParametersError, read_parameters


def notebook(source: str, *, before: int = 1, tags=("parameters",), more: list[str] = ()):
    """A notebook with `before` ordinary cells, then the parameters cell, then `more` cells."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Title\n\nText."))
    for i in range(before - 1):
        nb.cells.append(nbformat.v4.new_code_cell(f"x{i} = {i}"))
    nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)}))
    for src in more:
        nb.cells.append(nbformat.v4.new_code_cell(src, metadata={"tags": ["parameters"]}))
    return nb


def one(line: str):
    params = read_parameters(notebook(line))
    assert len(params) == 1
    return params.parameters[0]


@pytest.mark.parametrize("line, cwl_type, default", [
    ('name = "abc"', "string", "abc"),
    ("n = 3", "int", 3),
    ("n = -3", "int", -3),
    ("big = 10_000_000_000", "long", 10_000_000_000),
    ("x = 0.5", "double", 0.5),
    ("x = -1e-3", "double", -0.001),
    ("flag = True", "boolean", True),
    ("flag = False", "boolean", False),
    ('bands = ["B04", "B08"]', "string[]", ["B04", "B08"]),
    ("ns = [1, 2, 3]", "int[]", [1, 2, 3]),
    ("ws = [1, 2.5]", "double[]", [1.0, 2.5]),
    ("bbox = (1, 2, 3.5, 4)", "double[]", [1.0, 2.0, 3.5, 4.0]),
    ("x: float = 2", "double", 2.0),
    ("n: int = 2", "int", 2),
    ("s: str = 'a'", "string", "a"),
    ("b: bool = True", "boolean", True),
    ("xs: list[float] = []", "double[]", []),
    ("xs: List[str] = ['a']", "string[]", ["a"]),
    ("xs: typing.List[int] = [1]", "int[]", [1]),
    ("xs: list = [1, 2]", "int[]", [1, 2]),
    ('q = "a=b&c=d"', "string", "a=b&c=d"),
    ('url = "https://x.org/search?collections=s2&bbox=1,2,3,4"', "string",
     "https://x.org/search?collections=s2&bbox=1,2,3,4"),
    ("expr = 'x == 1'", "string", "x == 1"),
])
def test_types_and_defaults(line, cwl_type, default):
    p = one(line)
    assert p.cwl_type() == cwl_type
    assert p.default == default
    assert type(p.default) is type(default)
    assert not p.optional and not p.is_eo


@pytest.mark.parametrize("line, cwl_type", [
    ("m: int | None = None", "int?"),
    ("m: None | int = None", "int?"),
    ("m: Optional[str] = None", "string?"),
    ("m: typing.Optional[float] = None", "double?"),
    ("m: Union[str, None] = None", "string?"),
    ("m: Optional[list[int]] = None", "int[]?"),
    ("m: str = None", "string?"),
    ("m: float | None = 1.5", "double?"),
])
def test_optional_forms(line, cwl_type):
    p = one(line)
    assert p.optional
    assert p.cwl_type() == cwl_type


def test_optional_with_value_keeps_default():
    p = one("m: float | None = 1.5")
    assert p.default == 1.5 and p.has_default


def test_literal_enum():
    p = one('mode: Literal["fast", "exact"] = "exact"  # how hard to try')
    assert p.kind == "enum"
    assert p.symbols == ["fast", "exact"]
    assert p.default == "exact"
    assert p.cwl_type() == {"type": "enum", "symbols": ["fast", "exact"]}
    p = one('mode: Optional[typing.Literal["a", "b"]] = None')
    assert p.optional and p.cwl_type()[0] == "null"


def test_literal_default_must_be_a_symbol():
    with pytest.raises(NotebookParametersError, match=r"not one of \['a', 'b'\]"):
        one('mode: Literal["a", "b"] = "c"')


@pytest.mark.parametrize("line, cwl_type, eo", [
    ('scene: StacItem = "data/scene"', "Directory", "item"),
    ('scene: eopde.outputs.StacItem = "data/scene"', "Directory", "item"),
    ("scenes: list[StacItem] = []", "Directory[]", "items"),
    ("scenes: StacItems = []", "Directory[]", "items"),
    ('archive: StacCollection = "data/c"', "Directory", "collection"),
    ("scene: Optional[StacItem] = None", "Directory?", "item"),
    ("scene: StacItem | None = None", "Directory?", "item"),
])
def test_eo_inputs(line, cwl_type, eo):
    p = one(line)
    assert p.cwl_type() == cwl_type
    assert p.eo == eo
    assert not p.has_default  # a development path is no default on a platform


def test_comments_trailing_and_above():
    params = read_parameters(notebook(
        "from eopde.outputs import StacItem\n"
        "threshold = 0.3  # NDVI threshold. Pixels below it are masked as bare soil.\n"
        "\n"
        "# Bands to read, in this order\n"
        "# (red first, then near infrared)\n"
        'bands = ["B04", "B08"]\n'
        "count = 3\n"
        "bbox = [\n"
        "    1, 2,\n"
        "    3, 4,  # the area\n"
        "]\n"))
    t = params["threshold"]
    assert t.label == "NDVI threshold"
    assert t.doc == "NDVI threshold. Pixels below it are masked as bare soil."
    assert t.documented
    b = params["bands"]
    assert b.doc == "Bands to read, in this order (red first, then near infrared)"
    assert b.label == "Bands to read, in this order (red first, then near infrared)"
    c = params["count"]
    assert not c.documented and c.label == "Count" and c.doc == "Count"
    assert any("`count`" in w and "# what it is" in w for w in params.warnings)
    assert params["bbox"].doc == "the area"
    assert [p.name for p in params] == ["threshold", "bands", "count", "bbox"]


def test_comment_separated_by_blank_line_is_not_a_doc():
    params = read_parameters(notebook("# Parameters\n\nx = 1\n"))
    assert not params["x"].documented


def test_imports_docstrings_and_magics_are_allowed():
    params = read_parameters(notebook(
        '"""Inputs."""\nimport os\nfrom typing import Literal\n%matplotlib inline\n'
        "x = 1  # one\n"))
    assert [p.name for p in params] == ["x"]
    assert params["x"].line == 5


def test_cell_index_is_reported():
    params = read_parameters(notebook("x = 1", before=3))
    assert params.cell == 3


# --- bad notebooks ---------------------------------------------------------------------------

def error_of(source: str, **kw) -> NotebookParametersError:
    with pytest.raises(NotebookParametersError) as info:
        read_parameters(notebook(source, **kw))
    return info.value


def test_no_parameters_cell():
    with pytest.raises(NotebookParametersError, match="no cell tagged `parameters`") as info:
        read_parameters(notebook("x = 1", tags=()))
    assert "Cell Tags" in str(info.value)


def test_two_parameters_cells():
    err = error_of("x = 1", more=["y = 2"])
    assert err.cell == 2
    assert "cells 1, 2" in str(err) and "Merge them" in str(err)


@pytest.mark.parametrize("source, line, fragment, fix", [
    ("x = 1\ny = some_function()", 2, "`y = some_function()`", "Write a literal here"),
    ("a, b = 1, 2", 1, "`a, b = 1, 2`", "one assignment per line"),
    ("x = {'a': 1}", 1, "a dict", "one parameter per key"),
    ("x = None", 1, "`None` alone", "x: str | None = None"),
    ("x = []", 1, "empty list", "x: list[str] = []"),
    ("x = [1, 'a']", 1, "mix types", "one item type"),
    ("x = [[1], [2]]", 1, "list items", "x = [1, 2]"),
    ("x = 1\nx = 2", 2, "already assigned on line 1", "assigned once"),
    ("x: int = 1.5", 1, "not an int", "annotation"),
    ("x: int", 1, "needs a default", "x: int = ..."),
    ("x = y = 1", 1, "chained", "one parameter per line"),
    ("x = 1\nx += 1", 2, "plain assignment", "later cell"),
    ("for i in range(3):\n    pass", 1, "only assignments", "later cell"),
    ("x: dict = {}", 1, "not a parameter type", "list[StacItem]"),
    ("x: int | str = 1", 1, "mixes types", "| None"),
    ("results = 1", 1, "uses for itself", "results_"),
    ("_x = 1", 1, "cannot start with `_`", "rename"),
    ("x = 1 +", 1, "not valid Python", ""),
    ("x = 2 ** 8", 1, "computed", "Write a literal"),
])
def test_untypable(source, line, fragment, fix):
    err = error_of(source, before=2)
    assert err.cell == 2 and err.line == line
    text = str(err)
    assert text.startswith(f"cell 2, line {line}: ")
    assert fragment in text and fix in text
