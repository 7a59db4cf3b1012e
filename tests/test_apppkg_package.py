"""`eopde package`: the CWL passes cwltool, follows OGC 20-089, runs under cwltool, and carries
a container recipe pinned to this kernel."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import nbformat
import pystac
import pytest
import yaml

from eopde.apppkg.layout import APP_DIR_IN_IMAGE
from eopde.apppkg.package import PackageError, find_engine, make_package
from eopde.apppkg.parameters import NotebookParametersError
from eopde.apppkg.run import write_no_container_copy

BIN = Path(sys.executable).parent

PARAMS = '''from typing import Literal, Optional
from eopde.outputs import StacItem
threshold = 0.3  # NDVI threshold. Pixels below it are masked.
# Number of iterations
count = 3
scale: float = 2  # Scale factor
flag = True  # Whether to mask clouds
name = "a b = c"  # A label with spaces and =
url = "https://x.org/search?a=1&b=2"  # Catalogue search URL
bands = ["B04", "B08"]  # Bands to read
weights = [1, 2.5]  # Band weights
mode: Literal["fast", "exact"] = "fast"  # Processing mode
max_cloud: int | None = None  # Maximum cloud cover (percent)
note: Optional[str] = None  # Free text
scene: StacItem = "data/scene"  # The Sentinel-2 scene to process
'''

BODY = '''import json
import numpy as np
import rasterio
from rasterio.transform import from_origin
from eopde import outputs
values = dict(threshold=threshold, count=count, scale=scale, flag=flag, name=name, url=url,
              bands=bands, weights=weights, mode=mode, max_cloud=max_cloud, note=note, scene=scene)
with open("params.json", "w") as f:
    json.dump({k: [v, type(v).__name__] for k, v in values.items()}, f)
items = outputs.load_items(scene)
with rasterio.open("result.tif", "w", driver="GTiff", width=4, height=4, count=1,
                   dtype="float32", crs="EPSG:32632",
                   transform=from_origin(500000, 5000000, 10, 10)) as ds:
    ds.write(np.full((1, 4, 4), threshold * scale, dtype="float32"))
outputs.save("result.tif", datetime=items[0].datetime, properties={"input": items[0].id})
'''


def make_notebook(path: Path, params: str = PARAMS, body: str = BODY,
                  intro: str = "# Toy NDVI\n\nComputes a toy index from a staged scene.\n\nMore.") -> Path:
    nb = nbformat.v4.new_notebook()
    if intro:
        nb.cells.append(nbformat.v4.new_markdown_cell(intro))
    nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell(body))
    nbformat.write(nb, str(path))
    return path


def cwltool_validate(cwl: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "cwltool"), "--validate", str(cwl)], capture_output=True,
                          text=True, timeout=120)


OPTIONS = dict(author="Ada Lovelace <ada@example.org>", affiliation="Analytical Engines Ltd",
               license="CC-BY-4.0", code_repository="https://example.org/git/toy-ndvi")


def test_package_is_valid_cwl_and_follows_the_best_practice(tmp_path):
    nb = make_notebook(tmp_path / "Toy NDVI.ipynb")
    t0 = time.perf_counter()
    pkg = make_package(nb, tmp_path / "pkg", version="1.2.3", cores=2, ram=4096, **OPTIONS)
    t_package = time.perf_counter() - t0
    assert pkg.app_id == "toy-ndvi"
    assert pkg.cwl_path == tmp_path / "pkg" / "toy-ndvi.cwl"
    t0 = time.perf_counter()
    result = cwltool_validate(pkg.cwl_path)
    t_validate = time.perf_counter() - t0
    assert result.returncode == 0, result.stderr
    print(f"package {t_package:.2f} s, cwltool --validate {t_validate:.2f} s")

    doc = yaml.safe_load(pkg.cwl_path.read_text())
    assert doc == json.loads(json.dumps(pkg.cwl))  # what is written is what the API returns
    assert doc["cwlVersion"] == "v1.2"
    assert doc["$namespaces"] == {"s": "https://schema.org/"}
    assert "$schemas" not in doc
    wf, tool = doc["$graph"]
    assert wf["class"] == "Workflow" and wf["id"] == "toy-ndvi"
    assert tool["class"] == "CommandLineTool" and tool["id"] != "main"
    assert wf["label"] == "Toy NDVI"
    assert wf["doc"] == "Computes a toy index from a staged scene."
    for name, inp in wf["inputs"].items():
        assert inp["label"].strip() and inp["doc"].strip(), name
    assert wf["inputs"]["threshold"]["doc"] == "NDVI threshold. Pixels below it are masked."
    assert wf["inputs"]["scene"] == {"type": "Directory", "label": "The Sentinel-2 scene to process",
                                     "doc": "The Sentinel-2 scene to process"}
    assert wf["outputs"]["results"]["type"] == "Directory"
    assert list(wf["steps"]) == ["notebook"]
    assert wf["steps"]["notebook"]["run"] == f"#{tool['id']}"
    # no stage-in / stage-out in the package: one step, the notebook
    reqs = tool["requirements"]
    assert reqs["DockerRequirement"] == {"dockerPull": "localhost/eopde/toy-ndvi:1.2.3"}
    assert reqs["ResourceRequirement"] == {"coresMin": 2, "coresMax": 2, "ramMin": 4096,
                                           "ramMax": 4096}
    assert tool["baseCommand"] == ["papermill"]
    assert tool["arguments"][0] == f"{APP_DIR_IN_IMAGE}/Toy NDVI.ipynb"
    assert tool["outputs"]["results"] == {"type": "Directory", "outputBinding": {"glob": "."}}
    assert set(tool["inputs"]) == set(wf["inputs"])
    # schema.org SoftwareApplication
    assert doc["s:name"] == "Toy NDVI"
    assert doc["s:description"] == wf["doc"]
    assert doc["s:softwareVersion"] == "1.2.3"
    assert dt.date.fromisoformat(doc["s:dateCreated"]) == dt.date.today()
    assert doc["s:license"]["s:url"] == "https://spdx.org/licenses/CC-BY-4.0"
    (author,) = doc["s:author"]
    assert author["class"] == "s:Person"
    assert (author["s:givenName"], author["s:familyName"], author["s:email"]) == (
        "Ada", "Lovelace", "ada@example.org")
    assert author["s:affiliation"]["s:name"] == "Analytical Engines Ltd"
    assert doc["s:codeRepository"] == "https://example.org/git/toy-ndvi"
    assert doc["s:softwareHelp"]["class"] == "s:CreativeWork"
    assert doc["s:publisher"] == {"class": "s:Organization", "s:name": "Analytical Engines Ltd"}
    assert doc["s:keywords"]
    assert pkg.notebook_path.read_bytes() == nb.read_bytes()


@pytest.mark.parametrize("params, check", [
    ("x = 1  # one", lambda wf: wf["inputs"]["x"]["type"] == "int"),
    ("", lambda wf: wf["inputs"] == {}),
    ("from eopde.outputs import StacItem\nscenes: list[StacItem] = []  # scenes\n"
     "aoi: str | None = None  # WKT",
     lambda wf: wf["inputs"]["scenes"]["type"] == "Directory[]"
     and wf["inputs"]["aoi"]["type"] == "string?"),
    ('m: Literal["a", "b"] = "a"  # m\nn: Optional[Literal["x", "y"]] = None  # n\n'
     'k: list[Literal["p", "q"]] = ["p"]  # k',
     lambda wf: wf["inputs"]["m"]["type"]["symbols"] == ["a", "b"]),
    ("big = 10_000_000_000\nneg = -2.5\nid = 'x'\ntype = 'y'",
     lambda wf: wf["inputs"]["big"]["type"] == "long" and "id" in wf["inputs"]),
])
def test_various_notebooks_validate(tmp_path, params, check):
    nb = make_notebook(tmp_path / "app.ipynb", params=params, body="pass", intro="")
    pkg = make_package(nb, tmp_path / "pkg", **OPTIONS)
    result = cwltool_validate(pkg.cwl_path)
    assert result.returncode == 0, result.stderr
    wf = pkg.cwl["$graph"][0]
    assert wf["id"] == "app" and check(wf)
    assert wf["label"] and wf["doc"]  # derived, with warnings
    assert any("no markdown heading" in w for w in pkg.warnings)


def test_app_id_main_is_refused(tmp_path):
    nb = make_notebook(tmp_path / "main.ipynb")
    with pytest.raises(PackageError, match="cannot be `main`"):
        make_package(nb, tmp_path / "pkg", **OPTIONS)
    pkg = make_package(nb, tmp_path / "pkg", app_id="ndvi", **OPTIONS)
    assert pkg.cwl["$graph"][0]["id"] == "ndvi"
    with pytest.raises(PackageError, match="lowercase"):
        make_package(nb, tmp_path / "pkg2", app_id="Bad Id", **OPTIONS)


def test_bad_notebook_is_refused_before_writing(tmp_path):
    nb = make_notebook(tmp_path / "bad.ipynb", params="x = f(")
    with pytest.raises(NotebookParametersError, match="cell 1, line 1"):
        make_package(nb, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_container_recipe_is_pinned_to_this_kernel(tmp_path):
    body = "import yaml\nimport numpy as np\nimport os, json\nfrom eopde import outputs\n" \
           "%matplotlib inline\n!echo hi\nimport not_a_module_anywhere"
    nb = make_notebook(tmp_path / "app.ipynb", params="x = 1", body=body)
    pkg = make_package(nb, tmp_path / "pkg", **OPTIONS)
    lines = [l for l in pkg.requirements_path.read_text().splitlines() if not l.startswith("#")]
    pins = dict(l.split("==") for l in lines)
    for dist in ("PyYAML", "numpy", "papermill", "ipykernel", "pystac", "rasterio"):
        assert pins[dist] == metadata.version(dist), dist
    assert "eopde" not in pins  # eopde.outputs ships as source in vendor/
    assert (pkg.directory / "vendor" / "eopde" / "outputs.py").exists()
    assert "not_a_module_anywhere" in pkg.requirements_path.read_text()
    assert any("not_a_module_anywhere" in w for w in pkg.warnings)
    dockerfile = pkg.dockerfile_path.read_text()
    assert dockerfile.startswith("#") and "\nFROM docker.io/library/python:" in dockerfile
    assert "pip install -r" in dockerfile
    assert f'COPY ["app.ipynb", "{APP_DIR_IN_IMAGE}/app.ipynb"]' in dockerfile
    assert "ENV PYTHONPATH=/opt/eopde/vendor" in dockerfile


def test_cli_package_and_build_without_engine(tmp_path):
    nb = make_notebook(tmp_path / "app.ipynb")
    result = subprocess.run(
        [str(BIN / "eopde"), "package", str(nb), "--output", str(tmp_path / "pkg"), "--id", "toy",
         "--version", "2.0.0", "--author", "Ada Lovelace <ada@example.org>", "--affiliation",
         "AE", "--cores", "2", "--ram", "1024", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["app_id"] == "toy" and summary["image"] == "localhost/eopde/toy:2.0.0"
    assert summary["results"] == {"builds_catalog": False, "how": summary["results"]["how"]}
    assert "calls eopde.outputs.save" in summary["results"]["how"]
    assert Path(summary["cwl"]).exists()
    if find_engine() is not None:
        pytest.skip("a container engine is available here; --build would really build")
    result = subprocess.run(
        [str(BIN / "eopde"), "package", str(nb), "--output", str(tmp_path / "pkg"), "--build"],
        capture_output=True, text=True)
    assert result.returncode == 1
    assert "the image was not built" in result.stderr
    assert "docker build -t localhost/eopde/app:1.0.0 ." in result.stderr
    assert "written to" in result.stdout  # the package itself is there
    assert [p.name for p in (tmp_path / "pkg").glob("*.cwl")] == ["app.cwl"]  # toy.cwl replaced
    assert "results:    the notebook calls eopde.outputs.save" in result.stdout
    bad = make_notebook(tmp_path / "bad.ipynb", params="a, b = 1, (2")
    result = subprocess.run([str(BIN / "eopde"), "package", str(bad), "-o", str(tmp_path / "b")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "cell 1, line 1" in result.stderr and "not valid Python" in result.stderr


def make_staged_scene(folder: Path) -> None:
    cat = pystac.Catalog("staged", "staged input")
    item = pystac.Item("S2A_TEST", {"type": "Point", "coordinates": [9, 45]}, [9, 45, 9, 45],
                       dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc), {})
    (folder / "S2A_TEST").mkdir(parents=True)
    (folder / "S2A_TEST" / "B04.tif").write_text("not a real raster")
    item.add_asset("B04", pystac.Asset("./B04.tif", media_type="image/tiff"))
    cat.add_item(item)
    cat.normalize_hrefs(str(folder))
    cat.save(pystac.CatalogType.SELF_CONTAINED)


def test_cwltool_run_passes_typed_parameters_and_returns_a_stac_catalog(tmp_path):
    nb = make_notebook(tmp_path / "toy.ipynb")
    pkg = make_package(nb, tmp_path / "pkg", **OPTIONS)
    local = tmp_path / "local.cwl"
    # The same derived copy `eopde run` makes when there is no container engine.
    write_no_container_copy(pkg.cwl_path, local)
    assert APP_DIR_IN_IMAGE not in local.read_text()
    make_staged_scene(tmp_path / "scene")
    job = {"scene": {"class": "Directory", "path": str(tmp_path / "scene")},
           "scale": 3, "count": 7, "flag": False, "name": "x: y = 'z' \"q\" $(a) ${b}",
           "bands": [], "weights": [1, 2], "mode": "exact", "note": "hello"}
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / "cwltool"), "--no-container", "--outdir", str(tmp_path / "out"),
         f"{local}#{pkg.app_id}", str(tmp_path / "job.json")],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout)["results"]
    folder = Path(out["path"])
    got = json.loads((folder / "params.json").read_text())
    assert got == {
        "threshold": [0.3, "float"], "count": [7, "int"], "scale": [3.0, "float"],
        "flag": [False, "bool"], "name": ["x: y = 'z' \"q\" $(a) ${b}", "str"],
        "url": ["https://x.org/search?a=1&b=2", "str"], "bands": [[], "list"],
        "weights": [[1.0, 2.0], "list"], "mode": ["exact", "str"], "max_cloud": [None, "NoneType"],
        "note": ["hello", "str"], "scene": [got["scene"][0], "str"]}
    assert Path(got["scene"][0]).name == "scene"
    assert (folder / "toy.ipynb").exists()  # the executed notebook is beside the results
    assert not (folder / ".ipython").exists() and not (folder / ".local").exists()
    cat = pystac.Catalog.from_file(str(folder / "catalog.json"))
    (item,) = cat.get_items()
    assert item.properties["input"] == "S2A_TEST"
    assert item.datetime == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
    assert item.geometry["type"] == "Polygon" and len(item.bbox) == 4
    asset = item.assets["result"]
    assert asset.media_type.startswith("image/tiff") and asset.roles == ["data"]
    assert Path(asset.get_absolute_href()).exists()


@pytest.mark.parametrize("remote, expected", [
    ("/work/main", None),
    ("file:///home/ada/src/app.git", None),
    ("../app", None),
    ("git@github.com:ada/app.git", "https://github.com/ada/app.git"),
    ("https://ada:s3cret@gitlab.example/ada/app.git", "https://gitlab.example/ada/app.git"),
    ("ssh://git@host.example/ada/app", "https://host.example/ada/app"),
    (None, None),
])
def test_code_repository_never_leaks_a_local_path_or_credentials(remote, expected):
    from eopde.apppkg.package import public_repository_url

    assert public_repository_url(remote) == expected
