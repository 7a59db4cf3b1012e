"""OGC process descriptions derived from CWL packages, ours and others'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eopde.apppkg.validate import validate
from eopde.apppkg.describe import DescriptionError, describe, summary

DATA = Path(__file__).parent / "data" / "cwl"
SAMPLES = sorted(DATA.glob("*.cwl")) + sorted(DATA.glob("*.yaml"))


#: samples validate() refuses (not deployable), on purpose: each shows one way a package fails
REFUSED = {"lone-tool.cwl", "malformed.cwl", "no-docker.cwl", "remote-import.cwl", "not-cwl.yaml"}


def test_the_refused_samples_are_exactly_those_meant_to_be():
    assert {p.name for p in SAMPLES if not validate(p).valid} == REFUSED


@pytest.mark.parametrize("path", [p for p in SAMPLES if p.name not in REFUSED],
                         ids=lambda p: p.name)
def test_every_accepted_sample_is_described(path):
    report = validate(path)
    assert report.valid, report
    desc = describe(path.read_text(), report.entry.rsplit("#", 1)[-1])
    json.dumps(desc)
    assert desc["id"] == report.entry.rsplit("#", 1)[-1]
    assert desc["mutable"] is True and desc["title"]
    assert desc["outputs"], "every package has at least one output"
    for iid, spec in desc["inputs"].items():
        assert isinstance(spec["schema"], dict), iid
        assert spec["minOccurs"] in (0, 1) and spec["maxOccurs"] == 1, iid
        assert spec["metadata"][0]["title"] == "cwl:type", iid
    assert "inputs" not in summary(desc)


def test_types_defaults_docs_of_union_sample():
    desc = describe((DATA / "union-array.cwl").read_text())
    inp = desc["inputs"]
    assert desc["id"] == "mosaic" and desc["title"] == "Mosaic"
    uri = {"type": "string", "format": "uri"}
    assert inp["scenes"] == {"title": "scenes",
                             "description": "one staged STAC catalog, or several",
                             "schema": {"nullable": True,
                                        "anyOf": [uri, {"type": "array", "items": uri}]},
                             "metadata": [{"title": "cwl:type",
                                           "value": "[ null, Directory, Directory[] ]"}],
                             "minOccurs": 0, "maxOccurs": 1, "valuePassing": "byValue"}
    assert inp["bands"]["schema"] == {"nullable": True, "type": "array",
                                      "items": {"type": "string"}}
    assert inp["bands"]["minOccurs"] == 0
    assert inp["resampling"]["schema"] == {"type": "string",
                                           "enum": ["nearest", "bilinear", "cubic"]}
    assert inp["resampling"]["minOccurs"] == 1
    assert inp["window"]["schema"] == {
        "nullable": True, "type": "object", "required": ["size", "overlap"],
        "properties": {"size": {"type": "integer", "format": "int32"},
                       "overlap": {"type": "integer", "format": "int32"}}}
    assert inp["masks"]["schema"] == {"nullable": True, "type": "array", "items": uri}
    assert (inp["masks"]["minOccurs"], inp["masks"]["maxOccurs"]) == (0, 1)


def test_water_bodies_like_eoepca():
    desc = describe((DATA / "water-bodies.cwl").read_text())
    assert desc["version"] == "1.4.1"
    # every schema.org value, as JSON (a Person as a JSON-LD object, never a Python repr)
    assert desc["metadata"] == [
        {"role": "https://schema.org/softwareVersion", "value": "1.4.1"},
        {"role": "https://schema.org/name", "value": "water-bodies"},
        {"role": "https://schema.org/description",
         "value": "Water bodies detection based on NDWI and the otsu threshold"},
        {"role": "https://schema.org/author",
         "value": [{"@context": "https://schema.org", "@type": "Person", "name": "Jane Doe",
                    "email": "jane.doe@acme.earth"}]}]
    assert desc["jobControlOptions"] == ["async-execute", "sync-execute", "dismiss"]
    items = desc["inputs"]["stac_items"]
    assert items["schema"] == {"type": "array", "items": {"type": "string", "format": "uri"}}
    assert (items["minOccurs"], items["maxOccurs"]) == (1, 1)
    assert items["title"] == "Sentinel-2 STAC items"
    assert desc["inputs"]["epsg"]["schema"] == {"type": "string", "default": "EPSG:4326"}
    # an array default sits in the array schema, not in its items
    assert desc["inputs"]["bands"]["schema"] == {"type": "array", "items": {"type": "string"},
                                                 "default": ["green", "nir"]}
    assert desc["inputs"]["bands"]["minOccurs"] == 0
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
    assert inp["big"]["minOccurs"] == 0
    assert inp["big"]["schema"] == {"nullable": True, "type": "integer", "format": "int64"}
    assert inp["flag"]["schema"] == {"type": "boolean", "default": False}
    assert inp["flag"]["minOccurs"] == 0
    assert inp["ratio"]["title"] == "Ratio"
    assert inp["mode"]["schema"]["enum"] == ["a", "b"]
    assert inp["nested"]["schema"] == {"type": "array", "items": {
        "type": "array", "items": {"type": "integer", "format": "int32"}}}
    assert inp["nested"]["maxOccurs"] == 1
    assert inp["when"]["schema"] == {"type": "string", "format": "date-time"}
    assert inp["any"]["schema"] == {}
    assert desc["outputs"]["o"]["schema"] == {"type": "array",
                                              "items": {"type": "string", "format": "uri"}}


def test_errors():
    with pytest.raises(DescriptionError):
        describe("cwlVersion: v1.2\nclass: CommandLineTool\n")
    with pytest.raises(DescriptionError):
        describe((DATA / "water-bodies.cwl").read_text(), "nope")
    with pytest.raises(DescriptionError):
        describe("key: [unclosed")
    with pytest.raises(DescriptionError):
        describe("- a list\n")


# ------------------------------------------------ published shapes, as zoo-project-dru maps them
PUBLISHED = Path(__file__).parent / "data" / "published"
URI = {"type": "string", "format": "uri"}
CATALOG = {"type": "object", "contentMediaType": "application/json",
           "contentSchema": "https://schemas.stacspec.org/v1.0.0/catalog-spec/json-schema/"
                            "catalog.json"}


def _published(name: str) -> dict:
    return describe((PUBLISHED / name).read_text())


def _io(schema: dict, cwl_type: str, min_occurs: int | None = None, **text) -> dict:
    out = {**text, "schema": schema, "metadata": [{"title": "cwl:type", "value": cwl_type}]}
    if min_occurs is not None:
        out.update(minOccurs=min_occurs, maxOccurs=1, valuePassing="byValue")
    return out


def test_published_optional_inputs_nullable_and_defaults():
    inp = _published("stage-in-directory.cwl")["inputs"]
    assert inp["pre_event"] == _io(URI, "Directory", 1, title="pre-event scene",
                                   description="staged pre-event scene (STAC catalog folder)")
    assert inp["aoi"]["schema"] == {"nullable": True, "type": "string"}
    assert inp["aoi"]["minOccurs"] == 0
    assert inp["ndvi_threshold"]["schema"] == {"nullable": True, "type": "number",
                                               "format": "float", "default": 0.3}
    assert inp["cloud_mask"] == _io({"nullable": True, "type": "boolean", "default": True},
                                    "[ null, boolean ]", 0, title="cloud mask",
                                    description="mask clouds with the scene classification "
                                                "layer")


def test_published_arrays_with_defaults_and_directory_array_outputs():
    desc = _published("scatter-string-items.cwl")
    inp, out = desc["inputs"], desc["outputs"]
    assert inp["items"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert (inp["items"]["minOccurs"], inp["items"]["maxOccurs"]) == (1, 1)
    assert inp["polarisations"]["schema"] == {"type": "array", "items": {"type": "string"},
                                              "default": ["vv", "vh"]}
    assert inp["polarisations"]["minOccurs"] == 0
    assert inp["threshold"]["schema"] == {"type": "number", "format": "float", "default": -18.5}
    assert out == {"results": _io({"type": "array", "items": CATALOG}, "Directory[]")}
    water = _published("directory-array.cwl")
    assert water["inputs"]["scenes"]["schema"] == {"type": "array", "items": URI}
    assert water["inputs"]["bands"]["schema"] == {"type": "array", "items": {"type": "string"},
                                                  "default": ["B03", "B08"]}
    assert water["outputs"] == {"masks": _io({"type": "array", "items": CATALOG}, "Directory[]"),
                                "catalog": _io(CATALOG, "Directory")}


def test_published_enums_and_records():
    inp = _published("enum-record.cwl")["inputs"]
    assert inp["index"]["schema"] == {"type": "string", "enum": ["ndvi", "ndwi", "nbr"],
                                      "default": "ndvi"}
    assert inp["index"]["minOccurs"] == 0
    assert inp["resampling"]["schema"] == {"nullable": True, "type": "string",
                                           "enum": ["nearest", "bilinear", "cubic"]}
    ints = {"type": "integer", "format": "int32"}
    assert inp["window"]["schema"] == {
        "nullable": True, "type": "object",
        "properties": {"xoff": ints, "yoff": ints, "width": ints, "height": ints},
        "required": ["xoff", "yoff", "width", "height"]}
    assert inp["window"]["minOccurs"] == 0


def test_published_schema_org_metadata_is_json():
    desc = _published("scatter-string-items.cwl")
    meta = {m["role"].rsplit("/", 1)[1]: m["value"] for m in desc["metadata"]}
    assert meta["author"] == [{"@context": "https://schema.org", "@type": "Person",
                               "givenName": "Ada", "familyName": "Rivers",
                               "email": "ada.rivers@example.org",
                               "affiliation": "Example Hydrology Lab"}]
    assert meta["dateCreated"] == "2026-10-02" and meta["keywords"] == ["flood", "sentinel-1"]
    assert desc["version"] == "0.3.0" and desc["keywords"] == ["flood", "sentinel-1"]
    assert "{'" not in json.dumps(desc)  # no Python repr anywhere


FILE_FORMATS = """
cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
  iana: https://www.iana.org/assignments/media-types/
  edam: http://edamontology.org/
s:softwareVersion: 1.0.0
s:dateCreated: 2026-11-30
$graph:
  - class: Workflow
    id: cog
    inputs:
      source: {type: File, format: "iana:image/tiff"}
      extra: {type: "File[]?", format: "https://www.iana.org/assignments/media-types/text/csv"}
      seq: {type: File, format: "edam:format_1929"}
      flag: {type: boolean, default: false}
      count: {type: int, default: 0}
      ref: {type: File, default: {class: File, location: "https://example.org/a.tif"}}
    outputs:
      cog: {type: File, format: "iana:image/tiff", outputSource: s/cog}
      table: {type: "File[]", format: "iana:text/csv", outputSource: s/table}
    steps:
      s:
        run: "#t"
        in: {source: source}
        out: [cog, table]
  - class: CommandLineTool
    id: t
    inputs: {source: File}
    outputs: {cog: File, table: "File[]"}
"""


def test_file_format_is_the_media_type_and_falsy_defaults_stay():
    desc = describe(FILE_FORMATS)
    inp, out = desc["inputs"], desc["outputs"]
    assert inp["source"]["schema"] == {**URI, "contentMediaType": "image/tiff"}
    assert inp["extra"]["schema"] == {"nullable": True, "type": "array",
                                      "items": {**URI, "contentMediaType": "text/csv"}}
    # a format of another ontology stays as metadata
    assert inp["seq"]["schema"] == URI
    assert inp["seq"]["metadata"] == [{"title": "cwl:type", "value": "File"},
                                      {"title": "cwl:format", "value": "edam:format_1929"}]
    assert inp["flag"]["schema"] == {"type": "boolean", "default": False}
    assert inp["count"]["schema"] == {"type": "integer", "format": "int32", "default": 0}
    assert inp["ref"]["schema"] == {**URI, "default": "https://example.org/a.tif"}
    assert out["cog"]["schema"] == {**URI, "contentMediaType": "image/tiff"}
    assert out["table"]["schema"] == {"type": "array",
                                      "items": {**URI, "contentMediaType": "text/csv"}}
    assert {"role": "https://schema.org/dateCreated", "value": "2026-11-30"} in desc["metadata"]
