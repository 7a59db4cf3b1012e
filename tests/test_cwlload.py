"""eopde.apppkg.cwlload: a CWL document is loaded on its own (nothing it names is read), and
every parse of user YAML/JSON has size, depth and alias limits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from eopde.apppkg import cwlload
from eopde.apppkg.cwlload import LoadError
from eopde.apppkg.validate import validate

from cwl_attacks import GOOD, alias_bomb, variants

SECRET = "canary-7d1f0e-not-for-your-eyes"


@pytest.fixture()
def secret_file(tmp_path) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"service_token": SECRET}) + "\nroot:x:0:0:root:/root:/bin/bash\n")
    return path


FORMS = sorted(variants("/x"))


@pytest.mark.parametrize("form", FORMS)
def test_every_inclusion_form_is_refused_naming_key_and_place(form, secret_file):
    text = variants(str(secret_file))[form]
    with pytest.raises(LoadError) as info:
        cwlload.load_cwl(text)
    err = info.value
    message = str(err)
    assert err.rule == "eopde/external-reference"
    key = {"include": "$include", "import": "$import", "mixin": "$mixin", "run": "run",
           "schemas": "$schemas", "file": "location"}[form.split("-")[0]]
    assert f"`{key}`" in message
    # the place in the tree, except for $schemas, a top-level key
    assert ("$graph" in message) == (key != "$schemas"), message
    assert err.line is None  # plain tree: no line numbers; the place is the path in the tree
    assert SECRET not in message and "root:" not in message


@pytest.mark.parametrize("form", FORMS)
def test_validate_reports_an_error_without_the_content(form, secret_file):
    report = validate(variants(str(secret_file))[form])
    assert not report.valid
    text = report.to_json()
    assert SECRET not in text and "root:" not in text
    rules = report.rules()
    expected = "eopde/step-run" if form.startswith("run-") else "eopde/external-reference"
    assert expected in rules, rules
    lines = [f.line for f in report.errors if f.rule == "eopde/external-reference"]
    assert all(line and line > 1 for line in lines)  # round-trip tree: the line is known


@pytest.mark.parametrize("form", FORMS)
def test_cwltool_fetcher_reads_nothing_even_unchecked(form, secret_file):
    """Below the reference check: cwltool's loader itself gets a fetcher that serves the
    document from memory and refuses everything else."""
    message = cwlload.cwltool_check(variants(str(secret_file))[form], "x.cwl", "ndvi") or ""
    assert SECRET not in message and "root:" not in message
    if form.startswith("run-"):  # a step's run: cwltool reports the reference it cannot follow
        assert "undefined reference" in message, message
    elif form not in ("schemas", "file-default"):  # those two are never fetched at load
        assert "was not read" in message, message


def test_the_fetcher_refuses_other_urls(secret_file):
    fetcher = cwlload.memory_fetcher({"file:///eopde-memory/a.cwl": "x: 1"})(None, None)
    assert fetcher.fetch_text("file:///eopde-memory/a.cwl#x") == "x: 1"
    assert fetcher.check_exists("file:///eopde-memory/a.cwl")
    for url in (secret_file.as_uri(), "file:///etc/passwd", "http://127.0.0.1:1/x",
                "https://example.org/x.yaml"):
        assert not fetcher.check_exists(url)
        with pytest.raises(Exception, match="was not read") as info:
            fetcher.fetch_text(url)
        assert SECRET not in str(info.value)


def test_good_package_loads_and_checks():
    doc = cwlload.load_cwl(GOOD.read_text())
    assert doc["$graph"][0]["id"] == "ndvi"
    assert cwlload.cwltool_check(GOOD.read_text(), "good.cwl", "ndvi") is None
    # in-document references, http(s) $schemas and File literals by URL are fine
    text = GOOD.read_text().replace(
        "$graph:", "$schemas: [https://schema.org/version/latest/schemaorg-current-https.rdf]\n"
        "$graph:")
    cwlload.load_cwl(text)
    assert cwlload.find_references({"default": {"class": "File",
                                                "location": "https://x.org/a.tif"}}) == []


def test_alias_bomb_is_refused_in_milliseconds():
    bomb = alias_bomb()
    assert len(bomb) < 1024
    t0 = time.perf_counter()
    with pytest.raises(LoadError, match="expands to more than") as info:
        cwlload.load_cwl(bomb)
    assert info.value.rule == "eopde/yaml-limits"
    report = validate(bomb)
    assert time.perf_counter() - t0 < 1.0
    assert not report.valid and "eopde/yaml-limits" in report.rules()


def test_yaml_limits():
    with pytest.raises(LoadError, match="more than 3 YAML aliases"):
        cwlload.scan_yaml("a: &a 1\nb: [*a, *a, *a, *a]\n", max_aliases=3)
    with pytest.raises(LoadError, match="recursive or undefined"):
        cwlload.load_yaml("a: &a [1, *a]\n")
    with pytest.raises(LoadError, match="deeper than 64"):
        cwlload.load_yaml("a:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 80)) + "  x")
    with pytest.raises(LoadError):  # libyaml's own flow-depth limit, or ours
        cwlload.load_yaml("a: " + "[" * 100_000)
    with pytest.raises(LoadError, match="larger than") as info:
        cwlload.load_yaml("a: " + "x" * cwlload.MAX_BYTES)
    assert info.value.rule == "eopde/too-large"
    # a few anchors are fine
    doc = cwlload.load_yaml("r: &r {coresMin: 1}\na: *r\nb: *r\n")
    assert doc["a"] == doc["b"] == {"coresMin": 1}
    with pytest.raises(LoadError, match="not valid YAML") as info:
        cwlload.load_yaml("a: [1,\nb: }")
    assert info.value.rule == "cwl/yaml"


def test_json_limits():
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    for text in (deep, "[" * 200_000 + "]" * 200_000, "[" * 70 + "]" * 70):
        with pytest.raises(LoadError, match="deeper than") as info:
            cwlload.loads_json(text)
        assert info.value.rule == "eopde/json-limits"
    with pytest.raises(LoadError, match="more than 10 nodes"):
        cwlload.loads_json(json.dumps(list(range(20))), max_nodes=10)
    with pytest.raises(LoadError, match="not valid JSON"):
        cwlload.loads_json("{")
    assert cwlload.loads_json('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert cwlload.loads_json("5") == 5
    # the CWL path: JSON documents get the node limit too
    with pytest.raises(LoadError, match="more than"):
        cwlload.load_yaml(json.dumps({"a": list(range(cwlload.MAX_NODES + 1))}))


def test_job_values_cannot_carry_directives():
    cwlload.check_job_values({"a": [1, {"x": "$include"}], "b": {"class": "File",
                                                              "location": "https://x/a"}})
    for bad in ({"a": {"$include": "/etc/passwd"}}, {"a": [{"b": {"$import": "x"}}]},
                {"a": {"$mixin": "x"}}, {"a": {"cwl:tool": "x.cwl"}}):
        with pytest.raises(LoadError, match="not allowed"):
            cwlload.check_job_values(bad)


def test_run_refuses_references_and_hostile_values(tmp_path, secret_file):
    from eopde.apppkg.run import ParameterError, RunError, convert_params, load_workflow

    cwl = tmp_path / "pkg" / "app.cwl"
    cwl.parent.mkdir()
    cwl.write_text(variants(str(secret_file))["include-doc"])
    with pytest.raises(RunError) as info:
        load_workflow(cwl)
    assert "`$include`" in str(info.value) and str(cwl.parent) not in str(info.value)
    cwl.write_text(GOOD.read_text())
    wf = load_workflow(cwl)
    with pytest.raises(ParameterError):
        convert_params(wf, {"threshold": "[" * 100})
    cwl.write_text(GOOD.read_text().replace("type: float\n        default: 0.2",
                                            "type: Any\n        default: 0.2"))
    wf = load_workflow(cwl)
    with pytest.raises(ParameterError, match="not allowed"):
        convert_params(wf, {"threshold": {"$include": str(secret_file)}})


def test_deploy_parse_gives_400_naming_the_key(secret_file):
    from eopde.services.ades.deploy import read_package
    from eopde.services.ades.errors import OGCError

    for form, text in variants(str(secret_file)).items():
        with pytest.raises(OGCError) as info:
            read_package(text.encode(), "application/cwl+yaml", w=None, max_bytes=10**7,
                         href_dirs=[])
        assert info.value.status == 400, form
        body = json.dumps(info.value.to_dict())
        assert "refers outside the document" in body and SECRET not in body, form
    bomb_at = time.perf_counter()
    with pytest.raises(OGCError) as info:
        read_package(alias_bomb().encode(), "application/cwl+yaml", w=None, max_bytes=10**7,
                     href_dirs=[])
    assert info.value.status == 400 and time.perf_counter() - bomb_at < 1.0
    deep = '{"executionUnit": {"value": ' + "[" * 50_000 + "]" * 50_000 + "}}"
    with pytest.raises(OGCError) as info:
        read_package(deep.encode(), "application/ogcapppkg+json", w=None, max_bytes=10**7,
                     href_dirs=[])
    assert info.value.status == 400 and "deeper than" in info.value.to_dict()["detail"]


def test_execute_request_refuses_directives_in_values():
    from eopde.services.ades.errors import OGCError
    from eopde.services.ades.inputs import check_execute

    desc = {"id": "p", "inputs": {"a": {"schema": {}, "minOccurs": 1, "maxOccurs": 1}}}
    assert check_execute({"inputs": {"a": {"b": [1, 2]}}}, desc)[0] == {"a": {"b": [1, 2]}}
    with pytest.raises(OGCError) as info:
        check_execute({"inputs": {"a": {"b": [{"$import": "file:///etc/passwd"}]}}}, desc)
    assert info.value.status == 400 and "`$import`" in info.value.detail
