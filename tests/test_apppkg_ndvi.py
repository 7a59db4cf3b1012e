"""The NDVI tutorial app end to end: packaged, validated, run locally on a demo scene from the
platform's catalogue; the NDVI it wrote is checked against values computed here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.platform

APP = Path(__file__).resolve().parent.parent / "notebooks" / "apps" / "ndvi.ipynb"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def ndvi_run(platform, tmp_path_factory):
    from pystac_client import Client

    from eopde.apppkg.package import make_package
    from eopde.apppkg.run import run_package

    work = tmp_path_factory.mktemp("ndvi")
    pkg = make_package(APP, work / "pkg", app_id="ndvi", version="1.0.0", author="Ada Lovelace",
                       email="ada@example.org", affiliation="eopde tests")
    # The cloudiest scene: the cloud mask then has real work to do.
    items = list(Client.open(platform.url("catalogue")).search(
        collections=["sentinel-2-l2a"], max_items=10).items())
    scene = max(items, key=lambda i: i.properties["eo:cloud_cover"])
    result = run_package(pkg.directory, params={"cloud_mask": True},
                         stac_items={"scene": [scene.get_self_href()]},
                         assets=["B04", "B08", "SCL"], output=work / "run")
    return pkg, scene, result


def test_package_is_valid(ndvi_run):
    from eopde.apppkg.validate import validate

    pkg, _, _ = ndvi_run
    report = validate(pkg.directory)
    assert report.valid, [f.message for f in report.errors]
    assert not [f for f in report.findings if f.rule.startswith("OGC-20-089")]
    checked = subprocess.run([str(BIN / "cwltool"), "--validate", str(pkg.cwl_path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr[-2000:]
    workflow = next(p for p in pkg.cwl["$graph"] if p["class"] == "Workflow")
    assert workflow["id"] == "ndvi"
    assert workflow["inputs"]["scene"]["type"] == "Directory"


def test_result_catalog_and_ndvi_values(ndvi_run, platform):
    import pystac
    import rasterio

    _, scene, result = ndvi_run
    assert result.ok, result.log_tail
    catalog = pystac.Catalog.from_file(str(result.catalog))
    [item] = list(catalog.get_items(recursive=True))
    assert item.geometry and item.bbox and item.datetime == scene.datetime
    assert item.id == f"{scene.id}-ndvi"
    assert result.notebook and Path(result.notebook).exists()
    with rasterio.open(item.assets["ndvi"].get_absolute_href()) as src:
        ndvi = src.read(1)
        nodata = src.nodata

    # Independently: the scene's own files in the platform's data folder.
    folder = platform.home / "data" / "sentinel-2-l2a" / scene.id
    with rasterio.open(folder / "B04.tif") as src:
        red = src.read(1).astype("float64") * 0.0001 - 0.1
    with rasterio.open(folder / "B08.tif") as src:
        nir = src.read(1).astype("float64") * 0.0001 - 0.1
    with rasterio.open(folder / "SCL.tif") as src:
        scl = src.read(1)
    expected = (nir - red) / (nir + red)
    cloudy = np.isin(np.repeat(np.repeat(scl, 2, 0), 2, 1), [3, 8, 9, 10])
    assert cloudy.any() and (~cloudy).any()

    rng = np.random.default_rng(7)
    rows, cols = np.nonzero(~cloudy)
    pick = rng.choice(rows.size, 200, replace=False)
    for r, c in zip(rows[pick], cols[pick]):
        assert ndvi[r, c] == pytest.approx(expected[r, c], abs=1e-5)
    rows, cols = np.nonzero(cloudy)
    assert (ndvi[rows, cols] == nodata).all()
    water = np.repeat(np.repeat(scl == 6, 2, 0), 2, 1)
    assert np.median(ndvi[water & ~cloudy]) < 0
    vegetation = np.repeat(np.repeat(scl == 4, 2, 0), 2, 1)
    assert np.median(ndvi[vegetation & ~cloudy]) > 0.5
