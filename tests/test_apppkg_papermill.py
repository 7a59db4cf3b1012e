"""Notebooks written for papermill, not for eopde, package and run: one that only writes a
GeoTIFF and a CSV (the package builds the result STAC catalog), and one whose parameters use
papermill's idioms (`x = None`, a dict, a value computed from another). Each is packaged,
validated (eopde and cwltool) and run locally with `run_package` (no container)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pystac
import pytest
from rasterio.warp import transform_bounds

from eopde.apppkg.package import make_package
from eopde.apppkg.run import load_workflow, run_package
from eopde.apppkg.validate import validate

BIN = Path(sys.executable).parent
OPTIONS = dict(author="Ada Lovelace <ada@example.org>", affiliation="Analytical Engines Ltd",
               code_repository="https://example.org/git/apps")


def code(source: str, tags: list[str] | None = None) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source.splitlines(keepends=True)}
    if tags:
        cell["metadata"]["tags"] = tags
    return cell


def write_notebook(path: Path, cells: list[dict]) -> Path:
    """An nbformat 4.5 notebook without cell ids, as older tools and many published notebooks
    write them (nbformat warns about each when reading it)."""
    path.write_text(json.dumps({
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}, indent=1))
    return path


# A water-mask notebook of the kind published with papermill: parameters, then plain rasterio and
# csv; results go to an output folder; no eopde anywhere.
WATER = [
    {"cell_type": "markdown", "metadata": {},
     "source": ["# Water mask\n", "\n", "Thresholds a water index and writes the mask as a "
                "GeoTIFF with a CSV summary.\n"]},
    code("# Parameters\n"
         "threshold = 0.2  # Water index threshold\n"
         "output_dir = \"output\"  # Folder the results are written to\n", ["parameters"]),
    code("import csv\nimport os\n\nimport numpy as np\nimport rasterio\n"
         "from rasterio.transform import from_origin\n"),
    code("os.makedirs(output_dir, exist_ok=True)\n"
         "index = np.linspace(-1, 1, 64, dtype='float32').reshape(8, 8)\n"
         "mask = (index > threshold).astype('uint8')\n"
         "profile = dict(driver='GTiff', width=8, height=8, count=1, dtype='uint8',\n"
         "               crs='EPSG:32633', transform=from_origin(600000, 5100000, 20, 20))\n"
         "with rasterio.open(os.path.join(output_dir, 'water.tif'), 'w', **profile) as ds:\n"
         "    ds.write(mask, 1)\n"
         "    ds.update_tags(TIFFTAG_DATETIME='2024:06:02 10:30:00')\n"
         "with open(os.path.join(output_dir, 'summary.csv'), 'w', newline='') as f:\n"
         "    w = csv.writer(f)\n"
         "    w.writerow(['class', 'pixels'])\n"
         "    w.writerow(['water', int(mask.sum())])\n"
         "    w.writerow(['land', int(mask.size - mask.sum())])\n"
         "# a Zarr store is a folder (written by hand here: no zarr library needed)\n"
         "os.makedirs(os.path.join(output_dir, 'cube.zarr'), exist_ok=True)\n"
         "with open(os.path.join(output_dir, 'cube.zarr', '.zgroup'), 'w') as f:\n"
         "    f.write('{\"zarr_format\": 2}')\n"),
]

# Parameters in papermill's own idioms.
IDIOMS = [
    {"cell_type": "markdown", "metadata": {},
     "source": ["# Idioms\n", "\n", "Records the parameters it was given.\n"]},
    code("label = None\n"
         "config = {\"bands\": [\"B04\", \"B08\"], \"scale\": 1.0, \"mask\": {\"clouds\": None}}"
         "  # Processing settings\n"
         "count = 2  # How many times\n"
         "total = count * 10\n", ["parameters"]),
    code("import json\n"
         "seen = {name: [value, type(value).__name__] for name, value in\n"
         "        dict(label=label, config=config, count=count, total=total).items()}\n"
         "with open('seen.json', 'w') as f:\n"
         "    json.dump(seen, f)\n"),
]


def cwltool_validate(cwl: Path) -> None:
    done = subprocess.run([str(BIN / "cwltool"), "--validate", str(cwl)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def check_valid(pkg) -> None:
    report = validate(pkg.directory)
    assert report.valid, [f.message for f in report.errors]
    cwltool_validate(pkg.cwl_path)


@pytest.fixture(scope="module")
def water(tmp_path_factory):
    work = tmp_path_factory.mktemp("water")
    nb = write_notebook(work / "water_mask.ipynb", WATER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no nbformat warning about the missing cell ids
        pkg = make_package(nb, work / "pkg", **OPTIONS)
    result = run_package(pkg.directory, {"threshold": "0.5"}, output=work / "run", engine="none")
    return pkg, result


def test_files_notebook_package_says_it_builds_the_catalog(water):
    pkg, _ = water
    assert pkg.builds_catalog
    assert "does not call eopde.outputs.save" in pkg.results_note
    assert "builds the result STAC catalog" in pkg.results_note
    tool = pkg.cwl["$graph"][1]
    assert tool["baseCommand"] == ["sh", "-c"]
    assert "papermill" in tool["arguments"][0] and "-m eopde.outputs" in tool["arguments"][0]
    assert tool["outputs"]["results"] == {"type": "Directory", "outputBinding": {"glob": "."}}
    # the image carries eopde.outputs and what it needs
    assert (pkg.directory / "vendor" / "eopde" / "outputs.py").is_file()
    assert {"pystac", "rasterio"} <= {n.lower() for n in pkg.requirements.pinned}
    # the shipped notebook got cell ids, so papermill does not warn in every run
    shipped = json.loads(pkg.notebook_path.read_text())
    assert all(cell.get("id") for cell in shipped["cells"])
    check_valid(pkg)


def test_files_notebook_runs_and_its_files_become_the_result_catalog(water):
    _, result = water
    assert result.ok, (result.message, result.log_tail)
    folder = Path(result.catalog).parent
    item = pystac.Catalog.from_file(str(result.catalog))
    [item] = list(item.get_items(recursive=True))
    assert item.id == "water_mask"
    assert {k: (a.media_type, a.roles) for k, a in item.assets.items()} == {
        "water": ("image/tiff; application=geotiff", ["data"]),
        "summary": ("text/csv", ["data"]),
        "cube": ("application/vnd+zarr", ["data"]),
        "notebook": ("application/x-ipynb+json", ["metadata"])}
    assert Path(item.assets["water"].get_absolute_href()) == folder / "output" / "water.tif"
    assert Path(item.assets["cube"].get_absolute_href()) == folder / "output" / "cube.zarr"
    executed = json.loads(Path(item.assets["notebook"].get_absolute_href()).read_text())
    assert "papermill" in executed["metadata"]
    assert executed["metadata"]["papermill"]["parameters"]["threshold"] == 0.5
    csv_text = Path(item.assets["summary"].get_absolute_href()).read_text()
    assert csv_text.splitlines()[0] == "class,pixels"
    # geometry and datetime from the GeoTIFF
    expected = transform_bounds("EPSG:32633", "EPSG:4326", 600000, 5100000 - 160, 600160,
                                5100000, densify_pts=21)
    assert item.bbox == pytest.approx(list(expected))
    assert item.geometry["type"] == "Polygon"
    assert item.datetime == dt.datetime(2024, 6, 2, 10, 30, tzinfo=dt.timezone.utc)
    assert item.assets["water"].extra_fields["proj:code"] == "EPSG:32633"
    assert "MissingIDFieldWarning" not in Path(result.log).read_text()


@pytest.fixture(scope="module")
def idioms(tmp_path_factory):
    work = tmp_path_factory.mktemp("idioms")
    nb = write_notebook(work / "idioms.ipynb", IDIOMS)
    pkg = make_package(nb, work / "pkg", **OPTIONS)
    given = run_package(pkg.directory, {
        "label": "north", "config": '{"bands": ["B02"], "scale": 2e3, "f": 1.5E-2, "n": 1, "on": true,\n "s": "2e3"}',
        "count": "5"}, output=work / "given", engine="none")
    defaults = run_package(pkg.directory, {}, output=work / "defaults", engine="none")
    return pkg, given, defaults


def seen(result) -> dict:
    assert result.ok, (result.message, result.log_tail)
    return json.loads((Path(result.catalog).parent / "seen.json").read_text())


def test_papermill_idioms_become_inputs_with_warnings(idioms):
    pkg, _, _ = idioms
    wf = pkg.cwl["$graph"][0]
    assert {k: v["type"] for k, v in wf["inputs"].items()} == {
        "label": "string?", "config": "string", "count": "int"}
    assert json.loads(wf["inputs"]["config"]["default"]) == {
        "bands": ["B04", "B08"], "scale": 1.0, "mask": {"clouds": None}}
    assert wf["inputs"]["config"]["label"] == "Processing settings"
    assert "JSON text" in wf["inputs"]["config"]["doc"]
    assert wf["inputs"]["count"]["default"] == 2
    lines = {w.split(" ", 2)[1]: w for w in pkg.warnings if w.startswith("line ")}
    assert "optional string" in lines["1"] and "label: int | None = None" in lines["1"]
    assert "JSON" in lines["2"]
    assert "`total` is computed (`count * 10`)" in lines["4"] and "not an input" in lines["4"]
    assert pkg.builds_catalog
    check_valid(pkg)
    # what a client sees: the workflow's inputs as `eopde run` reads them
    assert [i.name for i in load_workflow(pkg.directory).inputs] == ["label", "config", "count"]


def test_the_notebook_receives_the_same_python_values(idioms):
    _, given, defaults = idioms
    assert seen(given) == {
        "label": ["north", "str"],
        "config": [{"bands": ["B02"], "scale": 2000.0, "f": 0.015, "n": 1, "on": True,
                    "s": "2e3"}, "dict"],
        "count": [5, "int"],
        "total": [20, "int"]}  # computed in the parameters cell, before papermill injects count
    assert seen(defaults) == {
        "label": [None, "NoneType"],
        "config": [{"bands": ["B04", "B08"], "scale": 1.0, "mask": {"clouds": None}}, "dict"],
        "count": [2, "int"],
        "total": [20, "int"]}
    item = next(pystac.Catalog.from_file(str(given.catalog)).get_items(recursive=True))
    assert set(item.assets) == {"seen", "notebook"}
    assert item.assets["seen"].media_type == "application/json"
    assert item.bbox == [-180.0, -90.0, 180.0, 90.0]  # nothing located: the documented fallback


def test_bad_json_for_a_dict_input_fails_the_run_saying_so(idioms, tmp_path):
    pkg, _, _ = idioms
    result = run_package(pkg.directory, {"config": "{bands: B02"}, output=tmp_path / "run",
                         engine="none")
    assert not result.ok
    assert "input config must be JSON text" in Path(result.log).read_text()
