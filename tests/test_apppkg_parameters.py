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


def test_literal_default_not_a_symbol_is_typed_from_the_value():
    params = read_parameters(notebook('mode: Literal["a", "b"] = "c"  # m'))
    assert params["mode"].cwl_type() == "string" and params["mode"].default == "c"
    assert any(r"not one of ['a', 'b']" in w and "comes from the value" in w
               for w in params.warnings)


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


def test_no_parameters_cell_means_no_inputs():
    params = read_parameters(notebook("x = 1", tags=()))
    assert len(params) == 0
    [warning] = params.warnings
    assert "no inputs" in warning and "no cell tagged `parameters`" in warning
    assert "Cell Tags" in warning


def test_two_parameters_cells_use_the_first_as_papermill_does():
    params = read_parameters(notebook("x = 1  # one", more=["y = 2  # two"]))
    assert [p.name for p in params] == ["x"] and params.cell == 1
    assert "cells 1, 2" in params.warnings[0] and "Merge them" in params.warnings[0]


def test_only_what_is_not_python_is_refused():
    err = error_of("x = 1\ny = 1 +", before=2)
    assert err.cell == 2 and err.line == 2
    assert str(err).startswith("cell 2, line 2: `y = 1 +`: the parameters cell is not valid Python")


def typed(source: str):
    params = read_parameters(notebook(source))
    return {p.name: p for p in params}, params.warnings


def warned(warnings: list[str], line: int, *fragments: str) -> bool:
    return any(w.startswith(f"line {line} ") and all(f in w for f in fragments) for w in warnings)


@pytest.mark.parametrize("source, line, inputs, fragments", [
    # what papermill accepts packages; each adaptation is a warning naming the line
    ("x = 1  # a\ny = some_function()", 2, {"x": "int"},
     ["`y = some_function()`", "stays computed", "not an input", "later cell"]),
    ("x = 1  # a\ny = x * 2", 2, {"x": "int"}, ["`y` is computed (`x * 2`)", "own defaults"]),
    ("x = 1  # a\ny = x", 2, {"x": "int"}, ["`y` is computed (`x`)"]),
    ("a, b = 1, 'q'  # a and b", 1, {"a": "int", "b": "string"}, None),
    ("x = y = 1  # one", 1, {"x": "int", "y": "int"}, None),
    ("x = None", 1, {"x": "string?"}, ["`x = None`", "optional string", "x: int | None = None"]),
    ("x = {'a': 1}", 1, {"x": "string"}, ["a dict", "JSON", "receives the dict itself"]),
    ("x = []", 1, {"x": "string[]"}, ["empty list", "x: list[float] = []"]),
    ("x = [1, 'a']", 1, {"x": "string"}, ["a list", "JSON"]),
    ("x = [[1], [2]]", 1, {"x": "string"}, ["JSON"]),
    ("x = 1  # a\nx = 2.5  # b", 2, {"x": "double"}, ["assigned again (first on line 1)"]),
    ("x: int = 1.5", 1, {"x": "double"}, ["not an int", "comes from the value"]),
    ("x: int", 1, {}, ["declared without a value", "x: int = ..."]),
    ("x = 1  # a\nx += 1", 2, {"x": "int"}, ["an update", "later cell"]),
    ("for i in range(3):\n    pass", 1, {}, ["not an assignment", "stays in the notebook"]),
    ("x: dict = {}", 1, {"x": "string"}, ["JSON"]),
    ("x: dict | None = None", 1, {"x": "string?"}, None),
    ("x: int | str = 1", 1, {"x": "int"}, ["mixes types", "comes from the value"]),
    ("x: datetime = '2024-01-01'", 1, {"x": "string"}, ["not a parameter type"]),
    ("_x = 1", 1, {}, ["`_x` starts with `_`", "not an input"]),
    ("x = 2 ** 8", 1, {}, ["computed"]),
    ("x = {1, 2}", 1, {}, ["stays in the notebook"]),
    ("cfg.a = 1", 1, {}, ["not a plain name"]),
])
def test_papermill_parameters_package_with_warnings(source, line, inputs, fragments):
    params, warnings = typed(source)
    assert {n: p.cwl_type() for n, p in params.items()} == inputs
    if fragments:
        assert warned(warnings, line, *fragments), warnings
    assert not any("scalars or lists" in w for w in warnings)


def test_dict_and_nested_values_are_json_inputs_with_the_same_value():
    params, warnings = typed("cfg = {'a': 1.0, 'b': [1, 2], 'c': None, 'd': {'e': 'f'}}  # cfg\n"
                             "pts = [[1, 2.5], [3, 4]]  # points\n"
                             "opt: dict | None = None  # optional\n"
                             "pair = (1, 'a')  # a pair")
    cfg = params["cfg"]
    assert cfg.json and cfg.cwl_type() == "string" and cfg.python_type() == "dict"
    assert cfg.default == {"a": 1.0, "b": [1, 2], "c": None, "d": {"e": "f"}}
    assert cfg.cwl_default == '{"a": 1.0, "b": [1, 2], "c": null, "d": {"e": "f"}}'
    assert params["pts"].json and params["pts"].python_type() == "list"
    assert params["opt"].json and params["opt"].optional and params["opt"].cwl_type() == "string?"
    assert params["pair"].default == [1, "a"]
    assert warned(warnings, 4, "no tuples", "[1, 'a']")


def test_quoted_annotations_are_understood():
    params, warnings = typed('x: "int" = 3  # x\ny: "list[float]" = [1]  # y\n'
                             'z: "Optional[str]" = None  # z\nw: "int |" = 1  # w')
    assert params["x"].cwl_type() == "int" and params["y"].cwl_type() == "double[]"
    assert params["z"].cwl_type() == "string?"
    assert params["w"].cwl_type() == "int" and warned(warnings, 4, "is not Python")


def test_reserved_names_get_another_input_id():
    params, warnings = typed("results = 1  # r\nnotebook = 'a'  # n\nresults_ = 2  # r2")
    assert params["results"].input_id == "results__"
    assert params["notebook"].input_id == "notebook_"
    assert params["results_"].input_id == "results_"
    assert any("`results`" in w and "`results__`" in w for w in warnings)


def test_label_and_doc_are_the_parameters_own_comment():
    params, _ = typed(
        "threshold = 0.3   # NDVI threshold. Pixels below\n"
        "                  # it are masked.\n"
        "bands = ['B04']\n"
        "a = 1; b = 2  # about b\n"
        "# about c\n"
        "c = 3\n"
        "d = 4  # about d\n")
    assert params["threshold"].doc == "NDVI threshold. Pixels below it are masked."
    assert not params["bands"].documented  # the indented line continues threshold's comment
    assert not params["a"].documented and params["b"].doc == "about b"
    assert params["c"].doc == "about c" and params["d"].doc == "about d"


@pytest.mark.parametrize("source, fix", [
    ("x = \\\n    5", "comment line `# what it is, its unit` right above line 1"),
    ("x = 5  # noqa", "right above line 1"),
    ("x = [\n 1,\n]", "right above line 1"),
    ("x = 5", "`x = 5  # what it is, its unit`"),
])
def test_suggested_comment_is_valid_python(source, fix):
    import ast

    _, warnings = typed(source)
    [w] = [w for w in warnings if "has no comment" in w]
    assert fix in w
    if "`x = 5  #" in fix:
        ast.parse(fix.strip("`"))


def test_old_notebook_without_cell_ids_reads_without_warnings(tmp_path):
    import json
    import warnings as w

    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {
            "tags": ["parameters"]}, "outputs": [], "source": ["x = 1  # one"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with w.catch_warnings():
        w.simplefilter("error")
        params = read_parameters(path)
    assert params["x"].default == 1
