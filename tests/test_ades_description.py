"""OGC process descriptions derived from CWL packages, ours and others'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eopde.apppkg.validate import validate
from eopde.services.ades.description import DescriptionError, describe, summary

DATA = Path(__file__).parent / "data" / "cwl"
SAMPLES = sorted(DATA.glob("*.cwl")) + sorted(DATA.glob("*.yaml"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_accepted_sample_is_described(path):
    report = validate(path)
    if not report.valid:
        pytest.skip(f"{path.name} is refused by validate(): not deployable")
    desc = describe(path.read_text(), report.entry.rsplit("#", 1)[-1])
    json.dumps(desc)
    assert desc["id"] == report.entry.rsplit("#", 1)[-1]
    assert desc["mutable"] is True and desc["title"]
    assert desc["outputs"], "every package has at least one output"
    for iid, spec in desc["inputs"].items():
        assert isinstance(spec["schema"], dict), iid
        assert spec["minOccurs"] in (0, 1) and spec["maxOccurs"] in (1, "unbounded"), iid
    assert "inputs" not in summary(desc)


def test_at_least_most_samples_are_accepted():
    accepted = [p for p in SAMPLES if validate(p).valid]
    assert len(accepted) >= 6


def test_types_defaults_docs_of_union_sample():
    desc = describe((DATA / "union-array.cwl").read_text())
    inp = desc["inputs"]
    assert desc["id"] == "mosaic" and desc["title"] == "Mosaic"
    assert inp["scenes"] == {"title": "scenes",
                             "description": "one staged STAC catalog, or several",
                             "schema": {"type": "string", "format": "uri"},
                             "minOccurs": 0, "maxOccurs": "unbounded"}
    assert inp["bands"]["schema"] == {"type": "string"} and inp["bands"]["minOccurs"] == 0
    assert inp["resampling"]["schema"]["enum"] == ["nearest", "bilinear", "cubic"]
    assert inp["resampling"]["minOccurs"] == 1
    assert inp["window"]["schema"] == {
        "type": "object", "required": ["size", "overlap"],
        "properties": {"size": {"type": "integer", "format": "int32"},
                       "overlap": {"type": "integer", "format": "int32"}}}
    assert inp["masks"]["maxOccurs"] == "unbounded"


def test_water_bodies_like_eoepca():
    desc = describe((DATA / "water-bodies.cwl").read_text())
    assert desc["version"] == "1.4.1"
    assert desc["metadata"] == [{"role": "https://schema.org/softwareVersion", "value": "1.4.1"}]
    assert desc["jobControlOptions"] == ["async-execute", "sync-execute", "dismiss"]
    items = desc["inputs"]["stac_items"]
    assert items["schema"] == {"type": "string", "format": "uri"}
    assert (items["minOccurs"], items["maxOccurs"]) == (1, "unbounded")
    assert items["title"] == "Sentinel-2 STAC items"
    assert desc["inputs"]["epsg"]["schema"]["default"] == "EPSG:4326"
    out = desc["outputs"]["stac_catalog"]["schema"]
    assert out["contentSchema"].endswith("catalog.json")
    sub = describe((DATA / "water-bodies.cwl").read_text(), "detect_water_body")
    assert sub["id"] == "detect_water_body" and "item" in sub["inputs"]


def test_single_process_documents_and_shorthands():
    cwl = {
        "cwlVersion": "v1.2", "class": "Workflow", "id": "solo", "doc": ["line one", "line two"],
        "inputs": [
            {"id": "n", "type": "int"}, {"id": "big", "type": "long?"},
            {"id": "flag", "type": "boolean", "default": False},
            {"id": "ratio", "type": "double", "label": "Ratio"},
            {"id": "mode", "type": {"type": "enum", "symbols": ["#solo/mode/a", "b"]}},
            {"id": "nested", "type": {"type": "array", "items": {"type": "array",
                                                                  "items": "int"}}},
            {"id": "when", "type": "https://raw.githubusercontent.com/eoap/schemas/main/"
                                   "string_format.yaml#DateTime"},
            {"id": "any", "type": "Any"},
        ],
        "outputs": {"o": {"type": "File[]", "outputSource": "x/o"}},
        "steps": {},
    }
    desc = describe(cwl)
    inp = desc["inputs"]
    assert desc["description"] == "line one\nline two"
    assert inp["n"]["schema"] == {"type": "integer", "format": "int32"}
    assert inp["big"]["minOccurs"] == 0 and inp["big"]["schema"]["format"] == "int64"
    assert inp["flag"]["schema"] == {"type": "boolean", "default": False}
    assert inp["flag"]["minOccurs"] == 0
    assert inp["ratio"]["title"] == "Ratio"
    assert inp["mode"]["schema"]["enum"] == ["a", "b"]
    assert inp["nested"]["schema"] == {"type": "array", "items": {"type": "integer",
                                                                   "format": "int32"}}
    assert inp["nested"]["maxOccurs"] == "unbounded"
    assert inp["when"]["schema"] == {"type": "string", "format": "date-time"}
    assert inp["any"]["schema"] == {}
    assert desc["outputs"]["o"]["schema"]["type"] == "array"


def test_errors():
    with pytest.raises(DescriptionError):
        describe("cwlVersion: v1.2\nclass: CommandLineTool\n")
    with pytest.raises(DescriptionError):
        describe((DATA / "water-bodies.cwl").read_text(), "nope")
    with pytest.raises(DescriptionError):
        describe("key: [unclosed")
    with pytest.raises(DescriptionError):
        describe("- a list\n")
