"""eopde.apppkg.cwlmodel: the one typed model of a package's CWL and its entry-point rule, on
packages in the shapes EOEPCA / eoap / Terradue publish (tests/data/published/, written here),
and that every reader of CWL (validate, run, describe, deploy, images, the client) picks the
same entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eopde.apppkg.cwlload import LoadError
from eopde.apppkg.cwlmodel import (EntryPointError, load_package, load_package_file, package_of,
                                   parse_type, plain)
from published_packages import ENTRY, PUBLISHED

CWL = Path(__file__).resolve().parent / "data" / "cwl"


def test_every_published_file_is_listed():
    assert sorted(p.name for p in PUBLISHED.glob("*.cwl")) == sorted(ENTRY)


# --------------------------------------------------------------------------- types


@pytest.mark.parametrize("written, text, optional, names", [
    ("string", "string", False, {"string"}),
    ("string?", "string?", True, {"string"}),
    (["null", "string"], "string?", True, {"string"}),
    ("Directory[]", "Directory[]", False, {"Directory"}),
    ({"type": "array", "items": "string"}, "string[]", False, {"string"}),
    ("Directory[]?", "Directory[]?", True, {"Directory"}),
    (["null", "Directory", {"type": "array", "items": "Directory"}], "Directory | Directory[]?",
     True, {"Directory"}),
    ({"type": "enum", "symbols": ["#wf/x/a", "b"]}, "enum(a|b)", False, {"enum"}),
    (["null", {"type": "record", "fields": {"x": "int", "y": "float?"}}], "record?", True,
     {"record"}),
    ("File", "File", False, {"File"}),
    ("string_format.yaml#DateTime", "DateTime", False, {"DateTime"}),
    ({"type": {"type": "array", "items": "int"}}, "int[]", False, {"int"}),
])
def test_parse_type(written, text, optional, names):
    t = parse_type(written)
    assert (str(t), t.optional, t.names()) == (text, optional, names)


def test_record_fields_and_array_items():
    t = parse_type({"type": "record", "fields": [{"name": "xoff", "type": "int"},
                                                 {"name": "note", "type": "string?"}]})
    assert t.single is not None and t.single.kind == "record"
    assert {k: str(v) for k, v in t.single.fields.items()} == {"xoff": "int", "note": "string?"}
    arr = parse_type("File[]")
    assert arr.is_array and arr.single is not None and str(arr.single.items) == "File"


# --------------------------------------------------------------------------- the published shapes


def test_inputs_with_types_defaults_and_formats():
    pkg = load_package_file(PUBLISHED / "stage-in-directory.cwl")
    wf = pkg.entry()
    got = {p.id: (str(p.type), p.optional, p.has_default, p.default, p.required)
           for p in wf.inputs}
    assert got == {
        "pre_event": ("Directory", False, False, None, True),
        "post_event": ("Directory", False, False, None, True),
        "aoi": ("string?", True, False, None, False),
        "ndvi_threshold": ("float?", True, True, 0.3, False),
        "cloud_mask": ("boolean?", True, True, True, False),
    }
    assert [(o.id, str(o.type), o.sources) for o in wf.outputs] == [
        ("burned", "Directory", ["dnbr/out"])]
    tool = load_package_file(PUBLISHED / "single-tool.cwl").entry(allow_tool=True)
    assert tool.cls == "CommandLineTool" and tool.input("source").format == "iana:image/tiff"
    assert tool.input("compression").default == "DEFLATE"


def test_arrays_scatter_and_steps():
    pkg = load_package_file(PUBLISHED / "directory-array.cwl")
    wf = pkg.entry()
    assert [(p.id, str(p.type), p.default) for p in wf.inputs] == [
        ("scenes", "Directory[]", None), ("bands", "string[]", ["B03", "B08"])]
    assert [(o.id, str(o.type)) for o in wf.outputs] == [("masks", "Directory[]"),
                                                         ("catalog", "Directory")]
    mask, collect = wf.steps
    assert (mask.id, mask.scatter, mask.scatter_method, mask.inputs, mask.outputs) == (
        "mask", ["scene"], "dotproduct", {"scene": ["scenes"], "bands": ["bands"]}, ["out"])
    assert pkg.run_of(mask).id == "mask-tool" and pkg.run_of(collect).id == "collect-tool"
    assert collect.inputs == {"masks": ["mask/out"]}


def test_requirements_and_hints():
    pkg = load_package_file(PUBLISHED / "scatter-string-items.cwl")
    [tool] = pkg.tools
    docker = tool.requirement("DockerRequirement")
    assert docker is not None and docker.hint and docker.line == 58
    assert tool.requirement("DockerRequirement", hints=False) is None
    assert tool.docker_pull == "ghcr.io/example-org/flood-extent:0.3.0"
    res = tool.requirement("ResourceRequirement")
    assert res is not None and not res.hint and res.body == {"coresMax": 2, "ramMax": 4096}
    assert [r.cls for r in pkg.entry().requirements] == ["ScatterFeatureRequirement"]
    # requirements given as a list of {class: ...}
    listed = load_package_file(PUBLISHED / "directory-array.cwl").entry()
    assert [(r.cls, r.body, r.hint) for r in listed.requirements] == [
        ("ScatterFeatureRequirement", {}, False)]


def test_enum_and_record_inputs():
    wf = load_package_file(PUBLISHED / "enum-record.cwl").entry()
    index, resampling, window = wf.input("index"), wf.input("resampling"), wf.input("window")
    assert index.type.single.symbols == ["ndvi", "ndwi", "nbr"] and index.default == "ndvi"
    assert resampling.optional and resampling.type.single.symbols == ["nearest", "bilinear",
                                                                      "cubic"]
    assert window.optional and sorted(window.type.single.fields) == ["height", "width", "xoff",
                                                                     "yoff"]


def test_schema_org_metadata_is_plain_json():
    pkg = load_package_file(PUBLISHED / "scatter-string-items.cwl")
    meta = pkg.metadata
    assert pkg.software_version == "0.3.0"
    # an unquoted YAML date is the ISO string, not a Python date (nor its repr)
    assert meta["dateCreated"] == "2026-10-02"
    assert meta["author"] == [{"class": "s:Person", "s:givenName": "Ada",
                               "s:familyName": "Rivers", "s:email": "ada.rivers@example.org",
                               "s:affiliation": "Example Hydrology Lab"}]
    assert meta["keywords"] == ["flood", "sentinel-1"]
    json.dumps(meta)  # every value is JSON
    assert load_package_file(PUBLISHED / "local-image-no-version.cwl").software_version is None


def test_plain_turns_yaml_scalars_into_json():
    doc = load_package("a: 2026-01-02\nb: 2026-01-02T03:04:05Z\nc: yes\nd: 1.5\ne: [on, 3]\n"
                       "cwlVersion: v1.2\nclass: Workflow\n").doc
    assert plain(doc)["a"] == "2026-01-02" and plain(doc)["b"].startswith("2026-01-02T03:04:05")
    # YAML 1.2, as cwltool reads it: yes/on are strings
    assert (plain(doc)["c"], plain(doc)["d"], plain(doc)["e"]) == ("yes", 1.5, ["on", 3])


def test_images_in_document_order():
    pkg = load_package_file(CWL / "water-bodies.cwl")
    assert [i.rsplit("/", 1)[-1].split("@")[0] for i in pkg.images()] == [
        "crop", "norm_diff", "otsu", "stac"]


# --------------------------------------------------------------------------- the guards stay


def test_model_loads_through_the_guarded_loader():
    with pytest.raises(LoadError) as err:
        load_package_file(CWL / "remote-import.cwl")
    assert err.value.rule == "eopde/external-reference"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    with pytest.raises(LoadError) as err:
        load_package(bomb)
    assert err.value.rule == "eopde/yaml-limits"
    with pytest.raises(LoadError):
        load_package("cwlVersion: v1.2\n$graph: 3\n")


# --------------------------------------------------------------------------- the entry point


def test_entry_rule_first_workflow_or_the_one_named():
    pkg = load_package_file(PUBLISHED / "two-workflows.cwl")
    assert [w.id for w in pkg.workflows] == ["change-detection", "preprocess"]
    assert pkg.entry().id == "change-detection"
    assert pkg.entry("preprocess").id == "preprocess"
    assert pkg.entry("#preprocess").id == "preprocess"
    with pytest.raises(EntryPointError) as err:
        pkg.entry("nope")
    assert "change-detection, preprocess" in str(err.value)
    lone = load_package_file(PUBLISHED / "single-tool.cwl")
    with pytest.raises(EntryPointError) as err:
        lone.entry()
    assert "cog-convert (CommandLineTool)" in str(err.value)
    assert lone.entry(allow_tool=True).id == "cog-convert"


@pytest.mark.parametrize("name", sorted(ENTRY))
def test_every_reader_picks_the_same_entry_point(name, tmp_path):
    """validate, eopde run, describe (find_workflow), the ADES client and images agree."""
    from eopde.ades.client import _deploy_body, _workflow_id
    from eopde.apppkg.run import load_workflow
    from eopde.apppkg.validate import validate
    from eopde.apppkg.describe import DescriptionError, find_workflow

    path = PUBLISHED / name
    expected = ENTRY[name]
    text = path.read_text()
    assert validate(path, check_cwl=False).entry == expected
    _, _, pkg = _deploy_body(text, "cwl")
    assert _workflow_id(pkg) == expected
    doc = load_package(text).plain()
    if expected is None:
        with pytest.raises(DescriptionError):
            find_workflow(doc, None)
        assert load_workflow(path).id == "cog-convert"  # cwltool runs a lone tool
    else:
        assert find_workflow(doc, None)["id"] == expected
        assert load_workflow(path).id == expected


def test_several_workflows_run_like_they_deploy(tmp_path):
    """`eopde run` used to refuse a $graph with several Workflows that deploy accepts."""
    from eopde.apppkg.run import load_workflow

    text = (PUBLISHED / "two-workflows.cwl").read_text()
    # the sub-workflow is also a top-level candidate when nothing runs it
    text = text.replace('run: "#preprocess"', 'run: "#calibrate-tool"').replace(
        "[calibrated]", "[out]").replace("/calibrated", "/out")
    path = tmp_path / "pkg.cwl"
    path.write_text(text)
    wf = load_workflow(path)
    assert (wf.id, [i.name for i in wf.inputs], wf.steps) == ("change-detection",
                                                              ["before", "after"], 3)
    assert load_workflow(path, "preprocess").id == "preprocess"


def test_package_of_a_plain_dict():
    doc = {"cwlVersion": "v1.2", "class": "Workflow", "id": "wf", "inputs": {"x": "int?"},
           "outputs": [], "steps": []}
    pkg = package_of(doc)
    assert not pkg.graph and pkg.entry().id == "wf" and str(pkg.entry().input("x").type) == "int?"


def test_package_reads_what_it_writes_back_through_the_model(monkeypatch):
    """`eopde package` writes with PyYAML (YAML 1.1) and checks the text reads back the same
    through the model (YAML 1.2, as cwltool reads it)."""
    from eopde.apppkg import cwlbuild

    doc = {"cwlVersion": "v1.2", "$graph": [{"class": "Workflow", "id": "wf", "inputs": {},
                                            "outputs": {}, "steps": {}, "flag": True}]}
    assert "flag: true" in cwlbuild.dump_checked(doc)
    # a writer that left a YAML 1.1 boolean unquoted would be caught
    monkeypatch.setattr(cwlbuild, "dump_yaml", lambda d: (
        "cwlVersion: v1.2\n$graph:\n- class: Workflow\n  id: wf\n  inputs: {}\n"
        "  outputs: {}\n  steps: {}\n  flag: yes\n"))
    with pytest.raises(ValueError, match="does not read back as built"):
        cwlbuild.dump_checked(doc)
