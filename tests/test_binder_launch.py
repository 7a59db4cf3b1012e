"""The Binder launch, simulated without Docker: a fresh HOME, the files of binder/ alone.

What repo2docker and Binder do, step by step, minus the image: `binder/postBuild` (kernel,
lab extension, server configuration, the platform set up once: cluster, schema, demo data),
then `binder/start jupyter lab ...` with the variables Binder's JupyterHub gives a session
(`JUPYTERHUB_SERVICE_PREFIX=/user/binder-x/`, ...) and the server under that base URL. Then
every tutorial runs with nbval in the session's environment, and a real browser opens
tutorial 01 in that JupyterLab and gets map tiles through jupyter-server-proxy.

Not simulated: installing binder/apt.txt and requirements.txt (this environment has them; CI
installs the same packages through make), and code-server (EOPDE_BINDER_IDE=none: the browser
IDE has its own test). The session runs as the test's own user (root in CI: the platform then
runs PostgreSQL as its unprivileged account, as `eopde up` does).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import ARTIFACTS, TEST_BASE_PORT, TEST_HUB_PORT, clean_env

pytestmark = pytest.mark.platform

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PREFIX = "/user/binder-x/"
# A block of ports beside the session platform's (base .. base+15): this platform's own.
BASE_PORT = TEST_BASE_PORT + 40
HUB_PORT = TEST_HUB_PORT + 5
LAB_PORT = TEST_HUB_PORT + 6


@dataclass
class BinderSession:
    home: Path
    env: dict[str, str]      # the test's environment of the session (Binder's variables)
    url: str                 # http://127.0.0.1:<port>/user/binder-x
    token: str
    log: Path
    post_build_seconds: float
    launch_seconds: float    # start until JupyterLab answers

    def kernel_env(self) -> dict[str, str]:
        """What a kernel of the session sees: the session's variables plus what `start`
        exported (read from the file it sourced)."""
        env = dict(self.env)
        for line in (self.home / ".cache" / "eopde" / "binder.env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value.strip("'")
        return env


def _session_env(home: Path) -> dict[str, str]:
    env = clean_env()
    for var in ("JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"):
        env.pop(var, None)
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=str(REPO / "lib"),
        EOPDE_BINDER_PYTHON=sys.executable,
        EOPDE_BINDER_IDE="none",
        EOPDE_BASE_PORT=str(BASE_PORT),
        EOPDE_HUB_PORT=str(HUB_PORT),
        # What Binder's JupyterHub sets in a session.
        JUPYTERHUB_SERVICE_PREFIX=PREFIX,
        JUPYTERHUB_BASE_URL="/",
        JUPYTERHUB_USER="binder-x",
    )
    return env


def _wait_http(url: str, timeout: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n"
                                 + log.read_text()[-4000:])
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout} s:\n" + log.read_text()[-4000:])


def _eopde(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eopde.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def binder(tmp_path_factory) -> BinderSession:
    home = tmp_path_factory.mktemp("binder-home")
    env = _session_env(home)
    began = time.monotonic()
    built = subprocess.run([str(REPO / "binder" / "postBuild")], env=env, capture_output=True,
                           text=True, timeout=900)
    post_build_seconds = time.monotonic() - began
    state = dict(env, EOPDE_HOME=str(home / ".local" / "state" / "eopde"))
    try:
        assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
        # Binder's repository is the home folder: the tutorials are in ~/notebooks.
        shutil.copytree(REPO / "notebooks", home / "notebooks")
        token = secrets.token_hex(16)
        log = home / "binder-start.log"
        command = [str(REPO / "binder" / "start"), sys.executable, "-m", "jupyter", "lab",
                   "--no-browser", "--ip=127.0.0.1", f"--port={LAB_PORT}",
                   f"--ServerApp.base_url={PREFIX}", f"--IdentityProvider.token={token}",
                   f"--ServerApp.root_dir={home}",
                   "--LabApp.expose_app_in_browser=True"]  # for the browser test's checks
        if os.geteuid() == 0:
            command.append("--allow-root")
        began = time.monotonic()
        with open(log, "w") as out:
            lab = subprocess.Popen(command, env=env, cwd=home, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{LAB_PORT}{PREFIX.rstrip('/')}"
        try:
            _wait_http(f"{url}/api/status?token={token}", 240, lab, log)
            yield BinderSession(home, env, url, token, log, post_build_seconds,
                                time.monotonic() - began)
        finally:
            os.killpg(lab.pid, signal.SIGTERM)
            try:
                lab.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(lab.pid, signal.SIGKILL)
    finally:
        outside = (home / ".local" / "state" / "eopde" / "postgres").resolve()
        _eopde(state, "purge", "--yes")
        assert not outside.exists()


def test_start_brings_every_part_up_before_the_server(binder):
    log = binder.log.read_text()
    assert re.search(r"eopde: platform healthy in \d+\.\d s", log), log[-3000:]
    assert log.index("platform healthy") < log.index("Jupyter Server")
    status = json.loads(_eopde(dict(binder.env, EOPDE_HOME=str(
        binder.home / ".local/state/eopde")), "status", "--json").stdout)
    assert {name for name, part in status.items() if not part["healthy"]} == set()
    assert not (binder.home / "EOPDE-PLATFORM-FAILED.txt").exists()


def test_lab_has_the_platforms_offline_settings(binder):
    # hub_config/lab-settings/overrides.json: no news feed, no update check (offline).
    page = httpx.get(f"{binder.url}/lab", params={"token": binder.token}, timeout=30).text
    assert f'"appSettingsDir": "{REPO / "hub_config" / "lab-settings"}"' in page


def test_session_environment_is_the_users_own(binder):
    env = binder.kernel_env()
    assert env["JUPYTERHUB_USER"] == "binder-x"
    assert env["EOPDE_S3_BUCKET"] == "user-binder-x"
    assert env["EOPDE_ADES_URL"].endswith("/binder-x/ogc-api")
    assert "EOPDE_TILES_PUBLIC_PATH" not in env  # Binder has no hub route: the proxy serves
    assert (binder.home / ".cache/eopde/binder.env").stat().st_mode & 0o777 == 0o600
    who = httpx.get(f"{env['EOPDE_WORKSPACE_URL']}/workspaces/ws-binder-x",
                    headers={"Authorization": f"Bearer {env['EOPDE_TOKEN']}"}, timeout=10)
    assert who.status_code == 200
    assert who.json()["storage"]["credentials"]["access"] == env["AWS_ACCESS_KEY_ID"]


def test_tiles_reach_the_browser_through_the_session_server(binder):
    from eopde.services.settings import PlatformSettings

    tiles_port = PlatformSettings(base_port=BASE_PORT).port("tiles")
    answer = httpx.get(f"{binder.url}/proxy/{tiles_port}/healthz",
                       params={"token": binder.token}, timeout=10)
    assert answer.status_code == 200
    code = ("from eopde.maps.tiles import tiles_base; print(tiles_base())")
    printed = subprocess.run([sys.executable, "-c", code], env=binder.kernel_env(),
                             capture_output=True, text=True, timeout=60)
    assert printed.stdout.strip() == f"{PREFIX}proxy/{tiles_port}", printed.stderr


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_tutorial_runs_in_the_binder_session(binder, notebook):
    work = binder.home / "notebooks"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         "--nbval-cell-timeout=300", "--rootdir", str(work), str(work / notebook.name)],
        env=binder.kernel_env(), capture_output=True, text=True, timeout=900, cwd=work,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


def test_tutorial_01_shows_tiles_in_the_binder_lab(binder):
    from browser import browser_page, cell_errors, run_all_cells, show_every_cell, wait_kernel_idle
    from eopde.services.settings import PlatformSettings
    from test_browser_notebook import _png_pixels

    route = f"{PREFIX}proxy/{PlatformSettings(base_port=BASE_PORT).port('tiles')}/"
    path = "notebooks/01-search-and-preview.ipynb"
    responses = []
    with browser_page(ARTIFACTS, "binder-01-search-and-preview") as page:
        page.on("response", lambda r: responses.append(r)
                if route in r.url and ".png" in r.url else None)
        page.goto(f"{binder.url}/lab/tree/{path}?token={binder.token}")
        page.wait_for_function(
            """(path) => {
                const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return !!(panel && panel.context && panel.context.path === path
                          && panel.content && panel.content.widgets.length);
            }""", arg=path, timeout=120_000)
        wait_kernel_idle(page, timeout=120)
        state = run_all_cells(page, timeout=300)
        show_every_cell(page)
        page.wait_for_timeout(2000)
        errors = cell_errors(page)
        loaded = page.locator(f"img.leaflet-tile-loaded[src*='{route}']").count()
        bodies = [(r.status, r.headers.get("content-type"), r.body()) for r in responses[:40]]

    assert state["done"] == state["code"] > 0
    assert not errors, errors
    assert loaded > 0, "no map tile loaded through the session's jupyter-server-proxy"
    assert [s for s, _, _ in bodies if s != 200] == []
    assert {kind for _, kind, _ in bodies} == {"image/png"}
    varied = [b for _, _, b in bodies if len(set(_png_pixels(b)[:3].ravel().tolist())) > 20]
    assert varied, "every tile was blank"


def test_a_failed_start_says_why_and_still_starts_the_server(tmp_path):
    """No platform: the postgres port is taken, so `start` fails at once. The log (which Binder
    shows) and a file in the home folder name the part and the port; the server still starts."""
    env = _session_env(tmp_path)
    env["EOPDE_BASE_PORT"] = str(BASE_PORT + 20)
    from eopde.services.settings import PlatformSettings

    port = PlatformSettings(base_port=BASE_PORT + 20).port("postgres")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run([str(REPO / "binder" / "start"), "sh", "-c", "echo server started"],
                              env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == "server started"
    reason = f"port {port} for part 'postgres' is already in use"
    assert reason in done.stderr
    assert reason in (tmp_path / "EOPDE-PLATFORM-FAILED.txt").read_text()
    assert not (tmp_path / ".cache" / "eopde" / "binder.env").exists()
