"""This checkout's build of the JupyterLab extension, installed for one user of the local
platform: into their own Jupyter folders (~/.local/share/jupyter/labextensions and
~/.jupyter/jupyter_server_config.d), which come before the venv's, so that tests exercise these
sources whatever the venv holds. Their server is stopped first so that it starts again with the
server extension."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
BUILT = REPO / "lib" / "eopde" / "labextension"
SERVER_SWITCH = REPO / "jupyter-config" / "jupyter_server_config.d" / "eopde.json"


def install_for_user(platform, user: str, token: str) -> None:
    assert (BUILT / "package.json").is_file(), "the extension is not built: run `make`"
    with httpx.Client(base_url=platform.hub_url, timeout=60,
                      headers={"Authorization": f"token {token}"}) as hub:
        stopped = hub.delete(f"/hub/api/users/{user}/server")
        assert stopped.status_code in (202, 204, 400), stopped.text  # 400: not running
        for _ in range(60):
            if not hub.get(f"/hub/api/users/{user}").json().get("servers"):
                break
            time.sleep(1)
    home = platform.settings().users_dir / user
    labext = home / ".local" / "share" / "jupyter" / "labextensions" / "eopde"
    shutil.rmtree(labext, ignore_errors=True)
    shutil.copytree(BUILT, labext)
    switch = home / ".jupyter" / "jupyter_server_config.d" / "eopde.json"
    switch.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SERVER_SWITCH, switch)
    # In a venv, jupyter_core puts the environment's data folder before the user's, so the
    # venv's copy of the extension would win: LabApp's extra path is looked in first (LabApp
    # reads its own config file; jupyter_server_config.d holds only server extension switches).
    (home / ".jupyter" / "jupyter_lab_config.json").write_text(json.dumps(
        {"LabApp": {"extra_labextensions_path": [str(labext.parent)]}}))


def spawn(platform, user: str, token: str, timeout: float = 120) -> None:
    """Start the user's server through the hub API and wait until it is ready."""
    with httpx.Client(base_url=platform.hub_url, timeout=60,
                      headers={"Authorization": f"token {token}"}) as hub:
        started = hub.post(f"/hub/api/users/{user}/server")
        assert started.status_code in (201, 202, 400), started.text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = hub.get(f"/hub/api/users/{user}").json().get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
    raise AssertionError(f"the server of {user} is not ready after {timeout} s")
