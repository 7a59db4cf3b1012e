"""The wizard's edits written into a parameters cell (eopde.apppkg.paramedits): the library then
reads the edited cell; line numbers stay those of the user's cell."""

from __future__ import annotations

import pytest

from eopde.apppkg.parameters import parse_parameters_source
from eopde.apppkg.paramedits import ParameterEditError, apply_overrides

CELL = (
    "%matplotlib inline\n"
    "# Area of interest as [west, south, east, north]\n"
    "# in degrees (WGS 84)\n"
    "bbox = [\n"
    "    5.9, 45.8,\n"
    "    10.5, 47.8,\n"
    "]\n"
    "cloud_max = 20  # Maximum cloud cover, in percent\n"
    "mode = \"fast\"\n"
    "a = 1; b = 2\n"
    "label = \"x # not a comment\"\n"
)


def test_type_only_keeps_the_comment_and_the_lines():
    out = apply_overrides(CELL, {"cloud_max": {"type": "float"}})
    assert out.splitlines()[7] == "cloud_max: float = 20  # Maximum cloud cover, in percent"
    assert len(out.splitlines()) == len(CELL.splitlines())
    p = parse_parameters_source(out)["cloud_max"]
    assert (p.kind, p.default, p.label, p.line) == (
        "double", 20.0, "Maximum cloud cover, in percent", 8)


def test_label_and_doc_replace_the_comment_lines_above_with_blank_lines():
    out = apply_overrides(CELL, {"bbox": {"label": "Area", "doc": "West, south, east, north"}})
    lines = out.splitlines()
    assert lines[1:3] == ["", ""]
    assert lines[3] == "bbox = [  # Area. West, south, east, north"
    assert lines[4:7] == ["    5.9, 45.8,", "    10.5, 47.8,", "]"]
    p = parse_parameters_source(out)["bbox"]
    assert (p.label, p.doc, p.line, p.array, p.kind) == (
        "Area", "Area. West, south, east, north", 4, True, "double")


def test_a_string_holding_a_hash_is_not_taken_for_a_comment():
    out = apply_overrides(CELL, {"label": {"type": "str"}})
    assert out.splitlines()[10] == 'label: str = "x # not a comment"'


def test_a_literal_type_becomes_an_enum_and_a_wrong_one_a_warning_on_its_line():
    out = apply_overrides(CELL, {"mode": {"type": 'Literal["fast", "exact"]'},
                                 "cloud_max": {"type": "StacItem"}})
    found = parse_parameters_source(out)
    assert found["mode"].symbols == ["fast", "exact"]
    assert found["cloud_max"].kind == "int"
    assert any(w.startswith("line 8 ") and "is not a str" in w for w in found.warnings)


@pytest.mark.parametrize("edits, status, field", [
    ({"nope": {"type": "int"}}, 422, "parameters.nope"),
    ({"a": {"type": "int"}}, 422, "parameters.a"),
    ({"mode": {"type": "int)"}}, 422, "parameters.mode.type"),
    ({"mode": {"label": "two\nlines"}}, 400, "parameters.mode.label"),
    ({"mode": {"doc": 3}}, 400, "parameters.mode.doc"),
    ({"mode": "int"}, 400, "parameters.mode"),
])
def test_edits_that_cannot_be_written_are_refused_with_their_field(edits, status, field):
    with pytest.raises(ParameterEditError) as err:
        apply_overrides(CELL, edits)
    assert (err.value.status, err.value.field) == (status, field)


def test_no_edit_leaves_the_cell_as_it_was():
    assert apply_overrides(CELL, {"mode": {}}) == CELL
