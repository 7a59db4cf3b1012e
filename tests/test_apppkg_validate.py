"""`eopde validate` / eopde.apppkg.validate: the CWL and the OGC 20-089 Best Practice rules,
judged on packages in the shapes found in the wild (tests/data/cwl/)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from eopde.apppkg.validate import validate

DATA = Path(__file__).resolve().parent / "data" / "cwl"
BIN = Path(sys.executable).parent

# sample -> (valid, valid with strict, rule ids that must be there, rule ids that must not)
EXPECTED = {
    "good.cwl": (True, True, set(), {"*"}),
    "convert-url.cwl": (True, False,
                        {"eopde/cwl-version", "eopde/docker-tag", "OGC-20-089/req-8",
                         "eopde/metadata", "eopde/remote-schemas"},
                        {"OGC-20-089/req-11", "OGC-20-089/req-9", "OGC-20-089/req-10",
                         "cwl/invalid", "eopde/stac-input-not-staged"}),
    "water-bodies.cwl": (True, False,
                         {"eopde/cwl-version", "eopde/metadata-author"},
                         # ResourceRequirement with only coresMax/ramMax is valid CWL
                         {"eopde/entry-point", "OGC-20-089/req-13", "OGC-20-089/req-14",
                          "eopde/resources",
                          "OGC-20-089/req-10", "cwl/invalid", "eopde/docker-tag"}),
    # only advice (cloud-native inputs, a tag without digest): --strict passes it
    "cloud-native.cwl": (True, True, {"eopde/stac-input-not-staged", "eopde/docker-digest"},
                         {"OGC-20-089/req-13", "cwl/invalid", "eopde/resources"}),
    # `id: main` is advice (zoo-project-dru deploys it); no s:softwareVersion is a warning
    "packed-main.cwl": (True, False, {"eopde/main-id", "OGC-20-089/req-11"},
                        {"cwl/invalid", "eopde/step-run", "OGC-20-089/req-9"}),
    "lone-tool.cwl": (False, False, {"OGC-20-089/req-7"}, {"cwl/invalid", "eopde/internal"}),
    "no-docker.cwl": (False, False, {"OGC-20-089/req-8"}, {"cwl/invalid"}),
    "empty-doc.cwl": (True, False, {"OGC-20-089/req-9", "OGC-20-089/req-10"},
                      {"cwl/invalid", "eopde/metadata"}),
    "graph-headers.cwl": (True, False, {"eopde/graph-item-header"}, {"cwl/invalid"}),
    "union-array.cwl": (True, True, {"eopde/metadata"},
                        {"cwl/invalid", "eopde/internal", "OGC-20-089/req-13",
                         "OGC-20-089/req-10"}),
    # a remote $import is refused like a local one: an ADES reads nothing but the document
    "remote-import.cwl": (False, False, {"eopde/external-reference"},
                          {"cwl/invalid", "eopde/internal"}),
    "malformed.cwl": (False, False, {"cwl/yaml"}, {"cwl/not-cwl"}),
    "not-cwl.yaml": (False, False, {"cwl/not-cwl"}, {"cwl/yaml"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_verdicts(name):
    valid, strict_valid, present, absent = EXPECTED[name]
    report = validate(DATA / name)
    rules = report.rules()
    assert report.valid is valid, [f.to_dict() for f in report.findings]
    assert present <= rules, (present - rules, rules)
    if absent == {"*"}:
        assert not report.findings, [f.to_dict() for f in report.findings]
    else:
        assert not (absent & rules), absent & rules
    assert validate(DATA / name, strict=True).valid is strict_valid
    for f in report.findings:
        assert f.severity in ("error", "warning", "advice") and f.message and f.where
        assert bool(f.source) is (f.severity == "advice") or f.rule == "eopde/image-registry", f
        assert not f.rule.startswith("OGC-20-089") or f.severity != "advice", f


def test_empty_string_counts_as_missing():
    report = validate(DATA / "empty-doc.cwl")
    where = {f.where for f in report.findings if f.rule.startswith("OGC-20-089/req-")}
    assert any("input threshold" in w for w in where)
    assert any(w.startswith("Workflow ndvi") and "input" not in w for w in where)
    # the input whose doc is present is not reported
    assert not any("input scene" in w for w in where)


def test_findings_name_lines():
    report = validate(DATA / "convert-url.cwl")
    docker = [f for f in report.findings if f.rule == "eopde/docker-tag"]
    assert docker and docker[0].line == 52 and "convert" in docker[0].where
    assert validate(DATA / "malformed.cwl").findings[0].line == 8


def test_package_folder_and_text_and_dict(tmp_path):
    pkg = tmp_path / "ndvi"
    pkg.mkdir()
    (pkg / "ndvi.cwl").write_text((DATA / "good.cwl").read_text())
    assert validate(pkg).valid
    text = (DATA / "good.cwl").read_text()
    assert validate(text).findings == []
    doc = YAML(typ="safe").load(text)
    assert validate(doc).findings == []
    # a folder with no CWL, a path that does not exist
    empty = tmp_path / "empty"
    empty.mkdir()
    assert validate(empty).rules() == {"eopde/package-layout"}
    assert validate(tmp_path / "nope.cwl").rules() == {"eopde/package-layout"}


# --------------------------------------------------------------------------- rule variants

def _good() -> dict:
    return YAML(typ="safe").load((DATA / "good.cwl").read_text())


def _wf(doc):
    return next(p for p in doc["$graph"] if p["class"] == "Workflow")


def _tool(doc):
    return next(p for p in doc["$graph"] if p["class"] == "CommandLineTool")


def test_several_workflows_take_the_first_as_zoo_does():
    doc = _good()
    other = copy.deepcopy(_wf(doc))
    other["id"] = "ndvi-bis"
    doc["$graph"].append(other)
    report = validate(doc)
    assert report.valid and report.entry == "ndvi"
    [f] = [f for f in report.findings if f.rule == "eopde/entry-point"]
    assert f.severity == "advice" and "ndvi, ndvi-bis" in f.message
    assert validate(doc, workflow_id="ndvi-bis").entry == "ndvi-bis"
    assert validate(doc, workflow_id="ndvi-bis").valid
    assert validate(doc, workflow_id="#ndvi").valid
    bad = validate(doc, workflow_id="nope")
    assert not bad.valid and "eopde/entry-point" in bad.rules()


def test_subworkflow_is_not_an_entry_point():
    report = validate(DATA / "water-bodies.cwl")
    assert report.entry == "water-bodies"


def test_staged_input_must_be_directory():
    doc = _good()
    _wf(doc)["inputs"]["scene"]["type"] = "string"   # the tool still wants a Directory
    report = validate(doc, check_cwl=False)
    assert not report.valid and "OGC-20-089/req-13" in report.rules()
    doc = _good()
    _wf(doc)["inputs"]["scene"]["type"] = "File"
    _tool(doc)["inputs"]["scene"]["type"] = "File"   # consistent CWL, but a STAC item as a File
    report = validate(doc)
    assert "cwl/invalid" not in report.rules()
    assert not report.valid and "OGC-20-089/req-13" in report.rules()


def test_step_running_something_outside_the_document():
    doc = _good()
    _wf(doc)["steps"]["run_notebook"]["run"] = "#not-there"
    assert "eopde/step-run" in validate(doc, check_cwl=False).rules()
    doc["$graph"][0]["steps"]["run_notebook"]["run"] = "tool.cwl"
    report = validate(doc, check_cwl=False)
    assert not report.valid and "eopde/step-run" in report.rules()


def test_stage_steps_are_errors():
    doc = _good()
    wf = _wf(doc)
    wf["steps"]["stage_in"] = wf["steps"].pop("run_notebook")
    wf["outputs"]["results"]["outputSource"] = "stage_in/results"
    report = validate(doc)
    assert not report.valid and "eopde/stage-steps" in report.rules()


def test_main_id_is_advice_even_on_a_tool():
    doc = _good()
    _tool(doc)["id"] = "main"
    _wf(doc)["steps"]["run_notebook"]["run"] = "#main"
    report = validate(doc, strict=True)
    assert "cwl/invalid" not in report.rules()
    [f] = [f for f in report.findings if f.rule == "eopde/main-id"]
    assert report.valid and f.severity == "advice" and "wrappers" in f.message


def test_output_glob_and_docker_hint():
    doc = _good()
    _tool(doc)["outputs"]["results"]["outputBinding"]["glob"] = "out"
    _tool(doc)["hints"] = {"DockerRequirement": _tool(doc)["requirements"].pop("DockerRequirement")}
    report = validate(doc)
    assert report.valid
    assert {"OGC-20-089/req-14", "OGC-20-089/req-8"} <= report.rules()
    assert not validate(doc, strict=True).valid


def test_missing_version_and_author_depth():
    doc = _good()
    del doc["s:softwareVersion"]
    doc["s:author"] = [{"class": "s:Person", "s:name": "Ada"}]
    rules = validate(doc).rules()
    assert {"OGC-20-089/req-11", "eopde/metadata-author"} <= rules
    doc["s:version"] = "1.0"
    assert "OGC-20-089/req-11" not in validate(doc).rules()


def test_cwltool_rejection_is_an_error_with_its_message():
    doc = _good()
    _wf(doc)["steps"]["run_notebook"]["in"]["nonsense"] = "no_such_input"
    report = validate(doc)
    assert not report.valid
    f = next(f for f in report.findings if f.rule == "cwl/invalid")
    assert "no_such_input" in f.message and len(f.message) <= 1600


# --------------------------------------------------------------------------- never crash

def _variants():
    """Shapes cwltool accepts: list/map inputs, shorthands, unions with arrays, inline run,
    versions, single process, requirements as a list."""
    good = _good()
    out = {}
    for version in ("v1.0", "v1.1", "v1.2"):
        d = copy.deepcopy(good)
        d["cwlVersion"] = version
        out[f"version-{version}"] = d
    d = copy.deepcopy(good)
    wf, tool = _wf(d), _tool(d)
    wf["inputs"] = [dict(v, id=k) for k, v in wf["inputs"].items()]
    wf["outputs"] = [dict(v, id=k) for k, v in wf["outputs"].items()]
    wf["steps"] = [dict(v, id=k) for k, v in wf["steps"].items()]
    wf["steps"][0]["in"] = [{"id": k, "source": v} for k, v in wf["steps"][0]["in"].items()]
    tool["requirements"] = [dict(v, **{"class": k}) for k, v in tool["requirements"].items()]
    out["lists"] = d
    d = copy.deepcopy(good)
    _wf(d)["inputs"]["scene"]["type"] = ["null", "Directory", {"type": "array", "items": "Directory"}]
    _tool(d)["inputs"]["scene"]["type"] = ["null", "Directory", {"type": "array", "items": "Directory"}]
    out["union-with-array"] = d
    d = copy.deepcopy(good)
    _wf(d)["inputs"]["extra"] = {"type": "File[]?", "label": "x", "doc": "y"}
    _wf(d)["inputs"]["mode"] = {"type": {"type": "enum", "symbols": ["a", "b"]}, "label": "m",
                                "doc": "m"}
    out["shorthands"] = d
    d = copy.deepcopy(good)
    wf, tool = _wf(d), _tool(d)
    tool = dict(tool)
    tool.pop("id")
    wf["steps"]["run_notebook"]["run"] = tool
    d["$graph"] = [wf]
    out["inline-run"] = d
    d = copy.deepcopy(good)
    wf, tool = _wf(d), _tool(d)
    single = {k: v for k, v in d.items() if k != "$graph"}
    single.update(wf)
    single["steps"]["run_notebook"]["run"] = dict(tool)
    single["requirements"]["SubworkflowFeatureRequirement"] = {}
    out["single-workflow"] = single
    return out


@pytest.mark.parametrize("name", sorted(_variants()))
def test_variants_never_crash(name, tmp_path):
    doc = _variants()[name]
    report = validate(doc)
    assert "eopde/internal" not in report.rules(), report.findings
    assert "cwl/invalid" not in report.rules(), [f.message for f in report.findings]
    assert report.valid, [f.to_dict() for f in report.errors]
    assert report.entry in ("ndvi", None) or name == "single-workflow"


def test_garbage_never_crashes():
    for text in ("", "null", "[1, 2]", "cwlVersion: v1.2", "class: Workflow",
                 "$graph: 3\ncwlVersion: v1.2", "$graph: [1, null, {class: Workflow}]\ncwlVersion: v1.2",
                 "cwlVersion: v1.2\nclass: Workflow\ninputs: 7\nsteps: {a: {run: 5}}\noutputs: x",
                 "\t- bad", "a: [", "cwlVersion: v9\nclass: CommandLineTool"):
        report = validate(text)
        assert not report.valid
        assert "eopde/internal" not in report.rules(), (text, report.findings)


# --------------------------------------------------------------------------- the CLI

def _eopde(*args):
    return subprocess.run([str(BIN / "eopde"), "validate", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_exit_codes_and_json():
    ok = _eopde(str(DATA / "convert-url.cwl"), "--json")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert set(data) == {"valid", "findings"} and data["valid"] is True
    keys = {"rule", "severity", "message", "where", "fix"}
    assert data["findings"] and all(set(f) == keys | ({"source"} if f["severity"] == "advice"
                                                      else set()) for f in data["findings"])
    strict = _eopde(str(DATA / "convert-url.cwl"), "--json", "--strict")
    assert strict.returncode == 1 and json.loads(strict.stdout)["valid"] is False
    assert {f["severity"] for f in json.loads(strict.stdout)["findings"]} == {"error", "advice"}
    bad = _eopde(str(DATA / "lone-tool.cwl"))
    assert bad.returncode == 1
    assert "Errors (" in bad.stdout and "OGC-20-089/req-7" in bad.stdout
    assert bad.stdout.strip().splitlines()[-1].startswith("INVALID")
    good = _eopde(str(DATA / "good.cwl"))
    assert good.returncode == 0 and good.stdout.strip().splitlines()[-1].startswith("VALID")
    assert good.stderr == ""


def test_cli_workflow_option(tmp_path):
    doc = _good()
    other = copy.deepcopy(_wf(doc))
    other["id"] = "ndvi-bis"
    doc["$graph"].append(other)
    path = tmp_path / "two.cwl"
    path.write_text(json.dumps(doc))
    assert _eopde(str(path)).returncode == 0
    assert _eopde(str(path), "-w", "ndvi-bis").returncode == 0
    assert _eopde(str(path), "-w", "nope").returncode == 1


# --------------------------------------------------------------------------- against cwltool

def test_everything_cwltool_accepts_loads_without_crash():
    """cwltool --validate on every sample; each it accepts must not give us cwl/invalid or an
    internal error. Prints both timings (same run)."""
    cwltool_s = ours_s = 0.0
    validate(DATA / "good.cwl")  # imports
    accepted = []
    for path in sorted(DATA.iterdir()):
        t = time.perf_counter()
        rc = subprocess.run([str(BIN / "cwltool"), "--validate", str(path)], capture_output=True,
                            timeout=120).returncode
        cwltool_s += time.perf_counter() - t
        t = time.perf_counter()
        report = validate(path)
        ours_s += time.perf_counter() - t
        assert "eopde/internal" not in report.rules(), (path.name, report.findings)
        if rc == 0:
            accepted.append(path.name)
            assert "cwl/invalid" not in report.rules(), (path.name, report.findings)
            assert "cwl/yaml" not in report.rules()
    assert {"good.cwl", "convert-url.cwl", "water-bodies.cwl", "packed-main.cwl",
            "lone-tool.cwl", "union-array.cwl"} <= set(accepted)
    print(f"\n{len(list(DATA.iterdir()))} samples: cwltool --validate {cwltool_s:.2f} s, "
          f"eopde validate {ours_s:.2f} s")


def test_staging_follows_packed_sources_and_not_step_outputs():
    doc = json.loads((DATA / "packed-main.cwl").read_text())
    wf = next(p for p in doc["$graph"] if p["class"] == "Workflow")
    wf["inputs"][0]["type"] = "string"  # `source: '#main/input_reference'` feeds a Directory
    assert "OGC-20-089/req-13" in validate(doc, check_cwl=False).rules()
    # a Workflow input named like another step's output is not what that step reads
    wb = YAML(typ="safe").load((DATA / "water-bodies.cwl").read_text())
    wb["$graph"][0]["inputs"]["cropped"] = {"type": "string", "label": "c", "doc": "c"}
    assert "OGC-20-089/req-13" not in validate(wb, check_cwl=False).rules()
