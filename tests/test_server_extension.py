"""The Jupyter server extension (eopde.server) through a real Jupyter server (pytest-jupyter's
`jp_fetch`) and the real library: detect, package, validate, the version handshake, and the
requests it must refuse with a 4xx JSON answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tornado.httpclient import HTTPClientError

import eopde
from server_helpers import call

pytest_plugins = ["pytest_jupyter.jupyter_server"]


def _code(source: str, tags: list[str] | None = None) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source}
    if tags:
        cell["metadata"]["tags"] = tags
    return cell


# A burnt-area notebook written for papermill, as such notebooks are published: a title and an
# introduction, a documented parameters cell (one input a STAC item), then the processing.
PARAMETERS = (
    "# Parameters\n"
    "\n"
    "# Pre-fire Sentinel-2 scene\n"
    "pre_scene: StacItem = \"data/S2A_20230801\"\n"
    "post_scene: StacItem = \"data/S2A_20230901\"  # Post-fire Sentinel-2 scene\n"
    "dnbr_threshold = 0.27  # dNBR threshold. Pixels above it count as burnt.\n"
    "min_area_ha: int = 5  # Smallest burnt patch kept, in hectares\n"
    "method: Literal[\"otsu\", \"fixed\"] = \"fixed\"  # Thresholding method\n"
)
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "id": "m1",
         "source": "# Burnt area mapping\n\nMaps burnt areas from the dNBR of two scenes.\n"},
        {**_code("from typing import Literal\nfrom eopde.outputs import StacItem\n"), "id": "c1"},
        {**_code(PARAMETERS, ["parameters"]), "id": "c2"},
        {**_code("import os\nos.makedirs('results', exist_ok=True)\n"
                 "print(pre_scene, post_scene, dnbr_threshold, min_area_ha, method)\n"),
         "id": "c3"},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}
META = {"id": "burnt-area", "label": "Burnt area", "description": "Burnt areas from dNBR.",
        "version": "1.2.0", "author": "Ada Lovelace <ada@example.org>",
        "affiliation": "Analytical Engines Ltd", "license": "MIT",
        "keywords": ["wildfire", "dNBR"]}


@pytest.fixture
def notebook(jp_root_dir: Path) -> str:
    (jp_root_dir / "apps").mkdir()
    (jp_root_dir / "apps" / "burnt.ipynb").write_text(json.dumps(NOTEBOOK))
    return "apps/burnt.ipynb"


async def post(jp_fetch, route: str, body) -> tuple[int, dict]:
    return await call(jp_fetch, route, "POST", body)


async def test_version_handshake(jp_fetch):
    r = await jp_fetch("eopde", "version")
    assert json.loads(r.body) == {"version": eopde.__version__, "api": 3}


async def test_detects_parameters_with_types_docs_and_eo_inputs(jp_fetch, notebook):
    status, body = await post(jp_fetch, "parameters", {"path": notebook})
    assert status == 200, body
    assert body["cell"] == 2
    params = {p["name"]: p for p in body["parameters"]}
    assert list(params) == ["pre_scene", "post_scene", "dnbr_threshold", "min_area_ha", "method"]
    assert params["pre_scene"]["eo"] == "item" and params["pre_scene"]["type"] == "Directory"
    assert params["pre_scene"]["label"] == "Pre-fire Sentinel-2 scene"
    assert params["dnbr_threshold"]["type"] == "double"
    assert params["dnbr_threshold"]["label"] == "dNBR threshold"
    assert params["dnbr_threshold"]["doc"] == "dNBR threshold. Pixels above it count as burnt."
    assert params["min_area_ha"]["python_type"] == "int"
    assert params["method"]["type"] == {"type": "enum", "symbols": ["otsu", "fixed"]}
    assert [p["line"] for p in params.values()] == [4, 5, 6, 7, 8]
    assert all(p["problems"] == [] for p in params.values())
    assert body["problems"] == []
    assert len(body["digest"]) == 16


async def test_edits_are_applied_and_a_bad_type_is_reported_on_its_parameter(jp_fetch, notebook,
                                                                             jp_root_dir):
    edits = {"min_area_ha": {"type": "float", "label": "Smallest patch",
                             "doc": "Smallest burnt patch kept, in hectares"},
             "dnbr_threshold": {"type": "integr"},
             "pre_scene": {"type": "list[StacItem]"}}
    status, body = await post(jp_fetch, "parameters", {"path": notebook, "parameters": edits})
    assert status == 200, body
    params = {p["name"]: p for p in body["parameters"]}
    assert params["min_area_ha"]["type"] == "double"
    assert params["min_area_ha"]["label"] == "Smallest patch"
    assert params["min_area_ha"]["doc"] == ("Smallest patch. Smallest burnt patch kept, "
                                            "in hectares")
    # the library set the unknown annotation aside and typed the value; the field says why
    assert params["dnbr_threshold"]["type"] == "double"
    [problem] = params["dnbr_threshold"]["problems"]
    assert problem.startswith("line 6 `dnbr_threshold: integr = 0.27")
    assert "the annotation `integr` is not a parameter type" in problem
    assert [p["line"] for p in body["problems"]] == [4, 6]
    # a wrong EO annotation (a single scene where a list is declared) is set aside too: the
    # input is no longer an EO input, and the field says why
    assert (params["pre_scene"]["eo"], params["pre_scene"]["type"]) == (None, "string")
    assert "is not a list but the annotation is `list[StacItem]`" in params["pre_scene"][
        "problems"][0]
    # the notebook itself is not changed
    assert json.loads((jp_root_dir / notebook).read_text()) == NOTEBOOK


async def test_package_returns_cwl_process_description_and_findings(jp_fetch, notebook,
                                                                    jp_root_dir):
    before = (jp_root_dir / notebook).read_bytes()
    status, body = await post(jp_fetch, "package", {
        "path": notebook, "metadata": META,
        "runtime": {"image": "registry.example.org/burnt-area:1.2.0", "cores": 2, "ram": 4096},
        "parameters": {"min_area_ha": {"label": "Smallest patch"}}})
    assert status == 200, body
    assert (jp_root_dir / notebook).read_bytes() == before
    assert sorted(jp_root_dir.rglob("*")) == [jp_root_dir / "apps", jp_root_dir / notebook]
    assert body["id"] == "burnt-area" and body["version"] == "1.2.0"
    assert body["image"] == "registry.example.org/burnt-area:1.2.0"
    assert body["files"] == [".dockerignore", "Dockerfile", "burnt-area.cwl", "burnt.ipynb",
                             "requirements.txt", "vendor/eopde/__init__.py",
                             "vendor/eopde/outputs.py"]
    cwl = yaml.safe_load(body["cwl"])
    graph = {p["id"]: p for p in cwl["$graph"]}
    wf = graph["burnt-area"]
    assert wf["label"] == "Burnt area"
    assert wf["inputs"]["min_area_ha"]["label"] == "Smallest patch"
    req = graph["burnt-area-notebook"]["requirements"]
    assert req["ResourceRequirement"] == {"coresMin": 2, "coresMax": 2, "ramMin": 4096,
                                          "ramMax": 4096}
    assert req["DockerRequirement"]["dockerPull"] == "registry.example.org/burnt-area:1.2.0"
    assert cwl["s:softwareVersion"] == "1.2.0"
    assert cwl["s:keywords"] == ["wildfire", "dNBR"]
    process = body["process"]
    assert process["id"] == "burnt-area" and process["version"] == "1.2.0"
    assert sorted(process["inputs"]) == ["dnbr_threshold", "method", "min_area_ha",
                                         "post_scene", "pre_scene"]
    assert process["inputs"]["pre_scene"]["minOccurs"] == 1
    assert process["inputs"]["method"]["schema"]["enum"] == ["otsu", "fixed"]
    assert body["valid"] is True
    assert all({"rule", "severity", "message", "where", "fix"} <= set(f)
               <= {"rule", "severity", "message", "where", "fix", "source"}
               for f in body["findings"])
    assert "/tmp" not in json.dumps(body) and str(jp_root_dir) not in json.dumps(body)


async def test_validate_reports_findings_on_cwl_text(jp_fetch, notebook):
    _, packaged = await post(jp_fetch, "package", {"path": notebook, "metadata": META})
    broken = packaged["cwl"].replace("class: Workflow", "class: Workflw")
    status, body = await post(jp_fetch, "validate", {"cwl": broken})
    assert status == 200
    assert body["valid"] is False
    assert any(f["severity"] == "error" for f in body["findings"])
    status, body = await post(jp_fetch, "validate", {"cwl": packaged["cwl"]})
    assert (status, body["valid"]) == (200, True)
    assert body["process"]["id"] == "burnt-area"


@pytest.mark.parametrize("path, status", [
    ("../outside.ipynb", 403),
    ("apps/../../outside.ipynb", 403),
    ("/etc/passwd", 400),
    ("apps/missing.ipynb", 404),
    ("apps/.hidden.ipynb", 403),
    ("apps/link.ipynb", 403),
    ("apps", 400),
    ("", 400),
    (42, 400),
])
async def test_paths_outside_the_root_or_not_notebooks_are_refused(jp_fetch, notebook, jp_root_dir,
                                                                   tmp_path_factory, path, status):
    outside = tmp_path_factory.mktemp("outside") / "secret.ipynb"
    outside.write_text(json.dumps(NOTEBOOK).replace("Burnt area", "TOP SECRET"))
    (jp_root_dir / "apps" / "link.ipynb").symlink_to(outside)
    for route in ("parameters", "package"):
        got, body = await post(jp_fetch, route, {"path": path})
        assert got == status, body
        assert body["field"] == "path"
        text = json.dumps(body)
        assert "TOP SECRET" not in text and str(jp_root_dir) not in text
        assert str(outside.parent) not in text


@pytest.mark.parametrize("route, body, status, field", [
    ("parameters", "not json", 400, None),
    ("parameters", "[1, 2]", 400, None),
    ("parameters", {"path": "apps/burnt.ipynb", "parameters": []}, 400, "parameters"),
    ("parameters", {"path": "apps/burnt.ipynb", "parameters": {"nope": {"type": "int"}}}, 422,
     "parameters.nope"),
    ("parameters", {"path": "apps/burnt.ipynb", "parameters": {"method": {"type": "int("}}}, 422,
     "parameters.method.type"),
    ("parameters", {"path": "apps/burnt.ipynb", "parameters": {"method": {"label": "a\nb"}}},
     400, "parameters.method.label"),
    ("package", {"path": "apps/burnt.ipynb", "metadata": {"id": "Burnt Area!"}}, 422,
     "metadata.id"),
    ("package", {"path": "apps/burnt.ipynb", "metadata": {"version": "1 0"}}, 422,
     "metadata.version"),
    ("package", {"path": "apps/burnt.ipynb", "runtime": {"cores": 0}}, 400, "runtime.cores"),
    ("package", {"path": "apps/burnt.ipynb", "runtime": {"ram": "lots"}}, 400, "runtime.ram"),
    ("package", {"path": "apps/burnt.ipynb", "metadata": {"keywords": "fire"}}, 400,
     "metadata.keywords"),
    ("package", {"path": "apps/burnt.ipynb", "metadata": []}, 400, "metadata"),
    ("validate", {"cwl": 3}, 400, "cwl"),
    ("validate", {}, 400, "cwl"),
])
async def test_bad_requests_get_a_4xx_json_answer(jp_fetch, notebook, route, body, status, field):
    got, answer = await post(jp_fetch, route, body)
    assert got == status, answer
    assert answer["message"]
    assert answer.get("field") == field


async def test_validate_never_reads_a_file_named_by_the_request(jp_fetch, jp_root_dir):
    secret = jp_root_dir / "secret.cwl"
    secret.write_text("cwlVersion: v1.2\nclass: CommandLineTool\nlabel: TOP SECRET\n"
                      "baseCommand: echo\ninputs: {}\noutputs: {}\n")
    for text in (str(secret), "/etc/passwd", f"run: {secret}\n"):
        status, body = await post(jp_fetch, "validate", {"cwl": text})
        assert status == 200
        assert body["valid"] is False
        dumped = json.dumps(body)
        assert "TOP SECRET" not in dumped and "root:" not in dumped


async def test_a_notebook_that_is_not_json_is_a_422(jp_fetch, jp_root_dir):
    (jp_root_dir / "broken.ipynb").write_text("{ not a notebook")
    status, body = await post(jp_fetch, "parameters", {"path": "broken.ipynb"})
    assert (status, body["field"]) == (422, "path")


async def test_a_parameters_cell_that_is_not_python_is_reported_with_cell_and_line(
        jp_fetch, jp_root_dir):
    nb = json.loads(json.dumps(NOTEBOOK))
    nb["cells"][2]["source"] = "threshold = 0.3\nbands = [\"B04\", \n"
    (jp_root_dir / "bad.ipynb").write_text(json.dumps(nb))
    status, body = await post(jp_fetch, "parameters", {"path": "bad.ipynb"})
    assert status == 200
    assert body["parameters"] == []
    [problem] = body["problems"]
    assert (problem["cell"], problem["line"]) == (2, 2)
    assert "not valid Python" in problem["message"]
    status, body = await post(jp_fetch, "package", {"path": "bad.ipynb"})
    assert (status, body["field"], body["cell"], body["line"]) == (422, "parameters", 2, 2)


async def test_routes_need_a_login(jp_fetch, jp_serverapp):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("eopde", "version", headers={"Authorization": "token wrong"})
    assert err.value.code == 403


async def test_the_code_repository_comes_from_the_notebooks_git_checkout(jp_fetch, notebook,
                                                                        jp_root_dir):
    import subprocess

    apps = jp_root_dir / "apps"
    subprocess.run(["git", "init", "-q", str(apps)], check=True)
    subprocess.run(["git", "-C", str(apps), "remote", "add", "origin",
                    "git@git.example.org:eo/burnt-area.git"], check=True)
    _, body = await post(jp_fetch, "package", {"path": notebook, "metadata": META})
    assert yaml.safe_load(body["cwl"])["s:codeRepository"] == \
        "https://git.example.org/eo/burnt-area.git"
    assert not any("code repository" in w for w in body["warnings"])
    given = {**META, "codeRepository": "https://example.org/other"}
    _, body = await post(jp_fetch, "package", {"path": notebook, "metadata": given})
    assert yaml.safe_load(body["cwl"])["s:codeRepository"] == "https://example.org/other"
