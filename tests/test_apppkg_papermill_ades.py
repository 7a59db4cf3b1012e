"""The papermill notebooks of test_apppkg_papermill, deployed on the platform's ADES and
executed there: the result catalog the ADES stages out to S3 is the one the package built (the
files-only notebook) and the idioms notebook receives the values of the execute request."""

from __future__ import annotations

import json
import time

import pytest

from test_ades_e2e import client_for
from test_apppkg_papermill import IDIOMS, OPTIONS, WATER, write_notebook

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def deployed(platform, ades_user_env, tmp_path_factory):
    from eopde.apppkg.images import publish_local
    from eopde.apppkg.package import make_package

    work = tmp_path_factory.mktemp("papermill-ades")
    demo = client_for(platform, "demo")
    packages = {}
    for name, cells in (("water_mask", WATER), ("idioms", IDIOMS)):
        pkg = make_package(write_notebook(work / f"{name}.ipynb", cells), work / name, **OPTIONS)
        publish_local(pkg)
        demo.deploy(pkg.directory, replace_existing=True)
        packages[pkg.app_id] = pkg
    yield demo, packages, work
    for app_id in packages:
        demo.undeploy(app_id)


def finished(job, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = job.status()
        if status.status in ("successful", "failed"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"job {job.id} still {status.status} after {seconds} s")


def test_files_only_notebook_on_the_ades(deployed):
    demo, _, work = deployed
    description = demo.describe("water-mask")
    assert description.inputs["threshold"]["schema"]["type"] == "number"
    job = demo.execute("water-mask", {"threshold": 0.5})
    status = finished(job)
    assert status.status == "successful", (status.message, job.logs()[-3000:])
    results = job.results()
    assert results.catalog_url == f"s3://user-demo/processing-results/{job.id}/catalog.json"
    [item] = results.items()
    assert item.id == "water_mask"
    assert {k: a.media_type for k, a in item.assets.items()} == {
        "water": "image/tiff; application=geotiff", "summary": "text/csv",
        "cube": "application/vnd+zarr", "notebook": "application/x-ipynb+json"}
    hrefs = {k: a.get_absolute_href() for k, a in item.assets.items()}
    prefix = f"s3://user-demo/processing-results/{job.id}/"
    assert hrefs["water"] == prefix + "output/water.tif"
    assert hrefs["cube"] == prefix + "output/cube.zarr"
    assert hrefs["notebook"] == prefix + "water_mask.ipynb"
    assert item.bbox[0] == pytest.approx(16.2, abs=0.2) and item.datetime.year == 2024


def test_idioms_notebook_on_the_ades_receives_the_values(deployed):
    demo, _, work = deployed
    job = demo.execute("idioms", {"label": "south", "count": 3,
                                  "config": '{"bands": ["B8A"], "scale": 1e-4}'})
    status = finished(job)
    assert status.status == "successful", (status.message, job.logs()[-3000:])
    catalog = job.results().download(work / "idioms-results")
    [seen_path] = list(catalog.parent.rglob("seen.json"))
    assert json.loads(seen_path.read_text()) == {
        "label": ["south", "str"], "config": [{"bands": ["B8A"], "scale": 0.0001}, "dict"],
        "count": [3, "int"], "total": [20, "int"]}
    assert list(catalog.parent.rglob("idioms.ipynb"))  # the executed notebook came along
