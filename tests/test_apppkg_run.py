"""eopde.apppkg.run / stagein / `eopde run`: STAC stage-in over a real HTTP server, parameter
conversion, and end-to-end runs of a hand-written package (tests/data/run_package) with
`cwltool --no-container` and papermill."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from stacserver import serve_demo_items

from eopde.apppkg import run as runmod
from eopde.apppkg.run import (NO_ENGINE_MESSAGE, ParameterError, convert_params, load_workflow,
                              parse_param_args, parse_stac_item_args, run_package)
from eopde.apppkg.stagein import StageInError, stage_items

PACKAGE = Path(__file__).parent / "data" / "run_package"
EOPDE = Path(sys.executable).parent / "eopde"


@pytest.fixture(scope="module")
def stac_server(tmp_path_factory):
    """Demo COGs + one JSON file per STAC item (absolute asset hrefs) served over HTTP."""
    with serve_demo_items(tmp_path_factory.mktemp("stac")) as served:
        yield served


# --------------------------------------------------------------------------- stage-in


def test_stage_in_one_catalog_with_local_assets(stac_server, tmp_path):
    import pystac

    messages: list[str] = []
    cats = stage_items(stac_server["urls"], tmp_path / "in", assets=["B04", "SCL"],
                       progress=messages.append)
    assert len(cats) == 1 and cats[0].catalog == tmp_path / "in" / "catalog.json"
    cat = pystac.Catalog.from_file(str(cats[0].catalog))
    items = list(cat.get_items(recursive=True))
    assert sorted(i.id for i in items) == sorted(u.rsplit("/", 1)[1][:-5] for u in stac_server["urls"])
    for item in items:
        assert set(item.assets) == {"B04", "SCL"}  # only the chosen ones, all local
        for asset in item.assets.values():
            assert not asset.href.startswith(("http", "/"))  # relative in the JSON
            path = Path(asset.get_absolute_href())
            assert path.is_file() and path.parent == tmp_path / "in" / item.id
            assert path.read_bytes()[:2] in (b"II", b"MM")  # a TIFF
        assert item.geometry and item.bbox and item.datetime
    raw = json.loads((tmp_path / "in" / items[0].id / f"{items[0].id}.json").read_text())
    assert {a["href"] for a in raw["assets"].values()} == {"./B04.tif", "./SCL.tif"}
    assert any("stage-in" in m for m in messages)


def test_stage_in_one_catalog_per_item(stac_server, tmp_path):
    import pystac

    cats = stage_items(stac_server["urls"], tmp_path / "in", per_item=True)
    assert len(cats) == 2
    for staged in cats:
        cat = pystac.Catalog.from_file(str(staged.catalog))
        (item,) = list(cat.get_items())
        assert staged.folder.name == item.id
        assert len(item.assets) == 6
        assert all(Path(a.get_absolute_href()).is_file() for a in item.assets.values())


def test_stage_in_errors(stac_server, tmp_path):
    with pytest.raises(StageInError, match="HTTP 404"):
        stage_items([stac_server["base"] + "/items/nope.json"], tmp_path / "a")
    with pytest.raises(StageInError, match="cannot fetch"):
        stage_items(["http://127.0.0.1:9/item.json"], tmp_path / "b")
    with pytest.raises(StageInError, match="no asset B99; it has B02"):
        stage_items(stac_server["urls"][:1], tmp_path / "c", assets=["B99"])
    with pytest.raises(StageInError, match="not a STAC Item"):
        stage_items([stac_server["base"] + "/sentinel-2-l2a/collection.json"], tmp_path / "d")


# --------------------------------------------------------------------------- parameters


def test_workflow_inputs_are_read():
    wf = load_workflow(PACKAGE)
    assert wf.id == "test-app"
    kinds = {i.name: i.type_str for i in wf.inputs}
    assert kinds == {"items": "Directory", "factor": "float", "label": "string", "count": "int",
                     "flag": "boolean", "mode": "enum(fast|exact)", "bands": "string[]",
                     "threshold": "float?", "fail": "boolean"}
    assert [i.name for i in wf.inputs if i.required] == ["items", "factor", "label"]
    assert wf.outputs == ["results"]


def test_parameter_conversion_per_type():
    wf = load_workflow(PACKAGE)
    job = convert_params(wf, parse_param_args([
        "factor=2.5", "label=a=b c", "count=7", "flag=yes", "mode=exact", "bands=B02,B03",
        "bands=B04", "threshold=", "fail=False"]))
    assert job == {"factor": 2.5, "label": "a=b c", "count": 7, "flag": True, "mode": "exact",
                   "bands": ["B02", "B03", "B04"], "threshold": None, "fail": False}
    assert convert_params(wf, {"bands": '["x,y", "z"]'})["bands"] == ["x,y", "z"]
    assert convert_params(wf, {"factor": 2, "flag": "no", "threshold": "0.5"}) == {
        "factor": 2.0, "flag": False, "threshold": 0.5}
    # python values through the API
    assert convert_params(wf, {"bands": ["B08"], "count": 3.0}) == {"bands": ["B08"], "count": 3}


@pytest.mark.parametrize("params, message", [
    ({"factor": "abc"}, "input 'factor' (float) expects a number, got 'abc'"),
    ({"count": "1.5"}, "input 'count' (int) expects an integer, got '1.5'"),
    ({"flag": "maybe"}, "input 'flag' (boolean) expects true/false"),
    ({"mode": "slow"}, "input 'mode' (enum(fast|exact)) expects one of fast, exact, got 'slow'"),
    ({"factor": ["1", "2"]}, "input 'factor' (float) takes one value, got 2"),
    ({"count": True}, "expects an integer"),
    ({"nope": "1"}, "test-app has no input 'nope'"),
])
def test_parameter_errors_list_the_inputs(params, message):
    wf = load_workflow(PACKAGE)
    with pytest.raises(ParameterError) as info:
        convert_params(wf, params)
    assert message in info.value.reason
    text = str(info.value)
    assert "Inputs of test-app:" in text and "float?" in text and "Scale factor" in text
    assert 'default ["B04", "B08"]' in text


def test_missing_required_and_bad_param_syntax(tmp_path):
    with pytest.raises(ParameterError, match=r"missing required input\(s\): items, label"):
        run_package(PACKAGE, {"factor": "1"}, output=tmp_path / "r", engine="none")
    assert not (tmp_path / "r").exists()  # nothing started
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        parse_param_args(["factor"])


def test_stac_item_arguments():
    wf = load_workflow(PACKAGE)
    url = "https://example.com/search?ids=a&x=1"
    assert parse_stac_item_args(wf, [url]) == [url]
    assert parse_stac_item_args(wf, [f"items={url}"]) == {"items": [url]}
    with pytest.raises(ParameterError, match="cannot take STAC items"):
        runmod.assign_stac_items(wf, {"factor": [url]})


def test_no_container_copy_rewrites_app_dir_and_docker(tmp_path):
    moved = runmod.write_no_container_copy(PACKAGE / "test-app.cwl", tmp_path / "x.cwl")
    text = (tmp_path / "x.cwl").read_text()
    assert moved == ["app"]
    assert runmod.APP_DIR_IN_IMAGE not in text and f"{PACKAGE.resolve()}/app.ipynb" in text
    from eopde.apppkg.cwlmodel import load_package_file

    tool = load_package_file(tmp_path / "x.cwl").process("#app")
    assert tool is not None and tool.cls == "CommandLineTool"
    [docker] = [r for r in tool.requirements if r.cls == "DockerRequirement"]
    assert docker.hint and docker.body["dockerPull"]


# --------------------------------------------------------------------------- end to end


def test_eopde_run_end_to_end(stac_server, tmp_path):
    import pystac

    out = tmp_path / "run"
    proc = subprocess.run(
        [str(EOPDE), "run", str(PACKAGE), "--param", "factor=2.5", "--param", "label=hello world",
         "--param", "flag=true", "--param", "mode=exact", "--param", "bands=B04,B08",
         "--stac-item", stac_server["urls"][0], "--stac-item", f"items={stac_server['urls'][1]}",
         "--assets", "B04,B08", "--output", str(out), "--json"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # --json: stdout is the JSON document alone (a pipe into jq works); the rest is on stderr
    result = json.loads(proc.stdout)
    assert proc.stdout.lstrip().startswith("{")
    assert NO_ENGINE_MESSAGE in proc.stderr
    assert "step run: completed success" in proc.stderr and "Run successful" in proc.stderr
    assert result["status"] == "successful"

    results = out / "outputs" / "results"
    catalog = pystac.Catalog.from_file(str(results / "catalog.json"))
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 2
    for item in items:
        assert item.geometry and item.bbox and item.datetime
        assert item.properties["test:label"] == "hello world"
        summary = json.loads(Path(item.assets["summary"].get_absolute_href()).read_text())
        assert set(summary["sizes"]) == {"B04", "B08"}  # the staged inputs reached the tool
    received = json.loads((results / "params.json").read_text())
    assert received["factor"] == 2.5 and received["types"]["factor"] == "float"
    assert received["label"] == "hello world" and received["flag"] is True
    assert received["mode"] == "exact" and received["bands"] == ["B04", "B08"]
    assert received["count"] == 3 and received["threshold"] is None  # default, optional
    nb = results / "app-executed.ipynb"
    assert nb.is_file() and result["notebook"] == str(nb)
    assert "papermill" in json.loads(nb.read_text())["metadata"]
    log = (out / "run.log").read_text()
    assert "--no-container" in log and "Final process status is success" in log
    assert (out / "job.yml").is_file()
    assert result["timings"]["tool"] > 0 and result["timings"]["stage_in"] >= 0


def test_failing_tool_gives_failed_result(stac_server, tmp_path):
    lines: list[str] = []
    result = run_package(PACKAGE, {"factor": 1, "label": "x", "fail": "true"},
                         stac_server["urls"][:1], output=tmp_path / "r", engine="auto",
                         assets=["B04"], progress=lines.append)
    assert result.status == "failed" and not result.ok
    assert "permanentFail" in result.message
    assert "failing on purpose" in result.message
    assert "failing on purpose" in result.log_tail
    assert result.catalog is None and result.items == []
    assert result.log.is_file()
    assert result.notebook is not None and result.notebook.is_file()  # the error is in it
    assert any(NO_ENGINE_MESSAGE in line for line in lines) or result.engine is not None


def test_result_without_catalog_is_not_a_success(tmp_path):
    (tmp_path / "out").mkdir()
    cat, items, problems = runmod.check_catalog(tmp_path / "out")
    assert cat is None and "no catalog.json" in problems[0]


def test_unreachable_item_is_a_clear_stage_in_error(tmp_path):
    proc = subprocess.run(
        [str(EOPDE), "run", str(PACKAGE), "-p", "factor=1", "-p", "label=x", "--no-container",
         "--stac-item", "http://127.0.0.1:9/items/x.json", "-o", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert ("stage-in failed: input 'items': STAC item http://127.0.0.1:9/items/x.json: cannot "
            "fetch it") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_parameter_error_lists_inputs(tmp_path):
    proc = subprocess.run(
        [str(EOPDE), "run", str(PACKAGE), "-p", "mode=slow", "-p", "factor=1", "-p", "label=x",
         "-o", str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "expects one of fast, exact, got 'slow'" in proc.stderr
    assert "Inputs of test-app:" in proc.stderr and "Processing mode" in proc.stderr
