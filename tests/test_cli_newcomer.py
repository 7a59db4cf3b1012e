"""A new terminal on the platform's machine, in another folder: the README's CLI lines work."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import BIN

pytestmark = pytest.mark.platform


def _newcomer_env(platform, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("EOPDE_TOKEN", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER",
                        "EOPDE_ADES_URL")}
    # Only where the platform lives (tests use a private state folder) and where to save.
    env.update(EOPDE_HOME=platform.env["EOPDE_HOME"],
               EOPDE_CREDENTIALS=str(tmp_path / "credentials.json"),
               EOPDE_CONFIG=str(tmp_path / "none.toml"))
    return env


def test_login_then_ades_commands_from_another_folder(platform, tmp_path):
    env = _newcomer_env(platform, tmp_path)

    def run(*args):
        return subprocess.run([str(BIN / "eopde"), *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    before = run("processes", "--json")
    assert before.returncode == 1 and "eopde login" in before.stderr
    login = run("login")
    assert login.returncode == 0, login.stderr
    assert "as demo" in login.stdout
    after = run("processes", "--json")
    assert after.returncode == 0, after.stderr
    assert isinstance(json.loads(after.stdout), list)


def test_search_prints_item_urls_for_execute(platform, tmp_path):
    import httpx

    env = _newcomer_env(platform, tmp_path)
    found = subprocess.run([str(BIN / "eopde"), "search", "-c", "sentinel-2-l2a", "--bbox",
                            "12.0,43.08,12.2,43.22", "--urls"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    urls = found.stdout.split()
    assert len(urls) == 3  # the three Trasimeno scenes of the demo data
    item = httpx.get(urls[0], timeout=10).json()
    assert item["type"] == "Feature" and item["properties"]["grid:code"] == "MGRS-33TTH"
    table = subprocess.run([str(BIN / "eopde"), "search", "--bbox", "12,43,12.2"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert table.returncode == 1 and "four numbers" in table.stderr


def test_readme_cli_lines_verbatim(platform, tmp_path):
    """package -> validate -> run -> deploy -> execute --wait -> results --download, as the
    README writes them, from a new terminal in another folder."""
    import shutil

    import rasterio

    env = _newcomer_env(platform, tmp_path)
    repo = BIN.parent.parent
    shutil.copytree(repo / "notebooks" / "apps", tmp_path / "notebooks" / "apps")

    def run(*args, timeout=300):
        done = subprocess.run([str(BIN / "eopde"), *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"eopde {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run("login")
    url = run("search", "-c", "sentinel-2-l2a", "--bbox", "12.0,43.08,12.2,43.22", "--urls",
              "-n", "1").split()[0]
    run("package", "notebooks/apps/ndvi.ipynb", "-o", "build/ndvi")
    run("validate", "build/ndvi")
    run("run", "build/ndvi", "-i", url, "-p", "cloud_mask=true", timeout=600)
    run("deploy", "build/ndvi", "--replace")
    executed = run("execute", "ndvi", "--stac-item", url, "-i", "cloud_mask:=true", "--wait",
                   timeout=600)
    assert "successful" in executed and "eopde results" in executed
    job_id = executed.split()[1]
    fetched = run("results", job_id, "--download", "out")
    assert "downloaded:" in fetched
    tifs = list((tmp_path / "out").rglob("*.tif"))
    assert tifs, fetched
    with rasterio.open(tifs[0]) as raster:  # the job's result is a Cloud Optimized GeoTIFF
        assert raster.count == 1 and raster.width > 0
        assert raster.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
