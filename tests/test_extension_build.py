"""The JupyterLab extension as shipped: one version everywhere, and a wheel of eopde that holds
the prebuilt labextension and the server extension's switch, so that installing it is enough
(checked in a fresh virtual environment with JupyterLab's own listing commands)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import eopde
from eopde.server.handlers import API_VERSION

REPO = Path(__file__).resolve().parent.parent
EXT = REPO / "extension"
BUILT = REPO / "lib" / "eopde" / "labextension"


def test_front_end_server_extension_and_distribution_share_one_version():
    version_ts = (EXT / "src" / "version.ts").read_text()
    assert re.search(r"export const VERSION = '([^']+)'", version_ts)[1] == eopde.__version__
    assert int(re.search(r"export const API_VERSION = (\d+)", version_ts)[1]) == API_VERSION
    assert json.loads((EXT / "package.json").read_text())["version"] == eopde.__version__
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M)[1] == eopde.__version__
    assert json.loads((BUILT / "package.json").read_text())["version"] == eopde.__version__


def test_settings_schema_offers_the_three_settings():
    schema = json.loads((EXT / "schema" / "plugin.json").read_text())
    assert {k: v["type"] for k, v in schema["properties"].items()} == {
        "defaultAdes": "string", "defaultImage": "string", "showToolbarButton": "boolean"}
    assert schema["additionalProperties"] is False
    assert schema["jupyter.lab.toolbars"]["Notebook"] == [{"name": "eopde-package", "rank": 90}]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    assert (BUILT / "package.json").is_file(), "the extension is not built: run `make`"
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    [found] = out.glob("eopde-*.whl")
    return found


def test_the_wheel_ships_the_labextension_and_the_server_switch(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    data = f"eopde-{eopde.__version__}.data/data/"
    assert data + "share/jupyter/labextensions/eopde/package.json" in names
    assert any(n.startswith(data + "share/jupyter/labextensions/eopde/static/remoteEntry.")
               for n in names)
    assert data + "share/jupyter/labextensions/eopde/schemas/eopde/plugin.json" in names
    assert data + "etc/jupyter/jupyter_server_config.d/eopde.json" in names
    assert not any(n.startswith("eopde/labextension/") for n in names)  # shipped once


def test_installing_the_wheel_is_enough(wheel, tmp_path):
    """A fresh venv that sees this environment's packages (a .pth file) but not its data
    files: installing the wheel alone makes JupyterLab list the extension and the server load
    the server extension."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True).stdout.strip()
    Path(purelib, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(REPO / "lib")}
    labext = subprocess.run(
        [str(py), "-c", "import sys; sys.argv = ['jupyter-labextension', 'list']; "
         "from jupyterlab.labextensions import main; main()"],
        capture_output=True, text=True, env=env, cwd=tmp_path)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", labext.stdout + labext.stderr)
    assert f"{venv}/share/jupyter/labextensions" in listing
    assert re.search(rf"eopde v{re.escape(eopde.__version__)} enabled\s+OK", listing), listing
    server = subprocess.run(
        [str(py), "-c", "import sys; sys.argv = ['jupyter-server-extension', 'list']; "
         "from jupyter_server.extension.serverextension import main; main()"],
        capture_output=True, text=True, env=env, cwd=tmp_path)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr)
    assert f"Config dir: {venv}/etc/jupyter\n    eopde.server enabled" in listing, listing
    assert "eopde.server  OK" in listing or "eopde.server OK" in listing, listing
