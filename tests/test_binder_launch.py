"""The Binder launch, simulated without Docker (tests/binder_session.py): the repository copied
into a fresh home owned by an ordinary account, `binder/postBuild` and `binder/start jupyter
lab ...` run as that account under `/user/binder-x/`, inside a memory cgroup with Binder's
2 GiB limit where this machine lets one be made. Then every tutorial runs with nbval in the
session while, at the same time, a real browser opens tutorial 01 there and gets map tiles
through jupyter-server-proxy, and the browser IDE opens the session's home; then nothing in
the cgroup was killed for want of memory.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import sys
from pathlib import Path

import httpx
import pytest

import binder_session
from binder_session import PREFIX, REPO, BinderSession
from conftest import ARTIFACTS, TEST_BASE_PORT, TEST_HUB_PORT

pytestmark = pytest.mark.platform

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# A block of ports beside the session platform's (base .. base+15): this platform's own.
BASE_PORT = TEST_BASE_PORT + 40
HUB_PORT = TEST_HUB_PORT + 5
LAB_PORT = TEST_HUB_PORT + 6


NO_CGROUP: list[str] = []  # why the session has no memory cgroup, if it has none


@pytest.fixture(scope="module")
def binder() -> BinderSession:
    try:
        cgroup = binder_session.MemoryCgroup.create(f"eopde-binder-{os.getpid()}",
                                                    binder_session.BINDER_MEMORY)
    except binder_session.CgroupUnavailable as err:
        if binder_session.memory_cgroup_offered():
            raise AssertionError(f"a memory cgroup could be made here, yet: {err}") from None
        cgroup = None
        NO_CGROUP.append(str(err))
    with binder_session.launched(BASE_PORT, HUB_PORT, LAB_PORT, cgroup) as session:
        yield session


def _uid(pid: int) -> int:
    return os.stat(f"/proc/{pid}").st_uid


def test_start_brings_every_part_up_before_the_server(binder):
    log = binder.log.read_text()
    assert re.search(r"eopde: platform healthy in \d+\.\d s", log), log[-3000:]
    assert log.index("platform healthy") < log.index("Jupyter Server")
    status = json.loads(binder.eopde("status", "--json").stdout)
    assert {name for name, part in status.items() if not part["healthy"]} == set()
    assert not (binder.home / "EOPDE-PLATFORM-FAILED.txt").exists()
    print(f"postBuild {binder.post_build_seconds:.1f} s, start to JupyterLab answering "
          f"{binder.launch_seconds:.1f} s")


def test_the_session_runs_as_an_ordinary_account(binder):
    """As Binder's notebook user: not root, so PostgreSQL runs as that user with its cluster
    in the home folder, and the server needs no --allow-root."""
    uid = pwd.getpwnam(binder.account).pw_uid if binder.account else os.geteuid()
    assert uid != 0
    status = json.loads(binder.eopde("status", "--json").stdout)
    running = {name: part["pid"] for name, part in status.items() if part["pid"]}
    assert {"postgres", "catalogue", "tiles", "storage", "ades", "hub"} <= set(running)
    assert {name: _uid(pid) for name, pid in running.items()} == dict.fromkeys(running, uid)
    assert _uid(binder.lab.pid) == uid
    cluster = binder.state / "postgres" / "data"
    assert not (binder.state / "postgres").is_symlink() and cluster.stat().st_uid == uid
    assert "--allow-root" not in binder.lab.args


def test_lab_has_the_platforms_offline_settings(binder):
    # hub_config/lab-settings/overrides.json: no news feed, no update check (offline).
    page = httpx.get(f"{binder.url}/lab", params={"token": binder.token}, timeout=30).text
    assert f'"appSettingsDir": "{binder.home / "hub_config" / "lab-settings"}"' in page


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
    code = "from eopde.maps.tiles import tiles_base; print(tiles_base())"
    printed = binder.run([sys.executable, "-c", code], env=binder.kernel_env(), timeout=60)
    assert printed.stdout.strip() == f"{PREFIX}proxy/{tiles_port}", printed.stderr


@pytest.fixture(scope="module")
def tutorials(binder):
    """nbval over tutorials 01-05 (one pytest run: one interpreter start-up instead of five),
    as the session's user, in its cgroup, started in the background so that the browser
    tests run meanwhile, as a second user of the session would;
    test_every_tutorial_runs_in_the_binder_session waits for it."""
    work = binder.home / "notebooks"
    log = binder.home / "nbval.log"
    process = binder.start(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-v",
         "--nbval-cell-timeout=300", "--rootdir", str(work),
         *[str(work / n.name) for n in NOTEBOOKS]],
        env=binder.kernel_env(), log=log, cgroup=True)
    try:
        yield process, log
    finally:
        binder_session.stop(process)


def test_tutorial_01_shows_tiles_in_the_binder_lab(binder, tutorials):
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
        failed = [(r.status, r.url, r.body()[:300]) for r in responses if r.status != 200]

    assert state["done"] == state["code"] > 0
    assert not errors, errors
    assert loaded > 0, "no map tile loaded through the session's jupyter-server-proxy"
    assert failed == []
    assert {kind for _, kind, _ in bodies} == {"image/png"}
    varied = [b for _, _, b in bodies if len(set(_png_pixels(b)[:3].ravel().tolist())) > 20]
    assert varied, "every tile was blank"


def test_the_ide_opens_the_sessions_home(binder, tutorials):
    """code-server through the session's server, as its user, on the home folder (Binder's
    repository: binder/, notebooks/ ...); its terminal runs eopde's Python."""
    from browser import browser_page

    if binder_session.code_server() is None:
        raise AssertionError("code-server is not installed: `make` installs it")
    marker = binder.home / "ide-python.txt"
    with browser_page(ARTIFACTS, "binder-ide") as page:
        # The token logs the browser in (a cookie); the launcher card is test_browser_ide's.
        page.goto(f"{binder.url}/lab?token={binder.token}")
        page.goto(f"{binder.url}/code-server/")
        page.locator(".monaco-workbench").wait_for(timeout=120_000)
        page.get_by_text("notebooks").first.wait_for(timeout=60_000)
        from test_browser_ide import run_in_terminal

        run_in_terminal(page, "python -c 'import eopde, sys; print(sys.executable, "
                              f"eopde.__file__)' > {marker}", marker)
    python, module = marker.read_text().split()
    assert python == sys.executable
    assert module == str(binder.home / "lib" / "eopde" / "__init__.py")


@pytest.mark.timeout(1500)
def test_every_tutorial_runs_in_the_binder_session(binder, tutorials):
    process, log = tutorials
    process.wait(timeout=1400)
    output = log.read_text()
    assert process.returncode == 0, output[-6000:]
    # (nbval names a cell `notebooks/01-search-and-preview::ipynb::Cell 3`.)
    ran = set(re.findall(r"(\d\d-[\w-]+)::ipynb::Cell \d+ PASSED", output))
    assert ran == {n.stem for n in NOTEBOOKS}, output[-3000:]


def test_the_session_fits_in_binders_memory(binder):
    """After the tutorials and the browser's run of tutorial 01, the session's cgroup (the
    platform, JupyterLab, the kernels) killed nothing for want of memory and every part is
    still up. (Placed after them: pytest runs a module's tests in order.)"""
    cgroup = binder.cgroup
    if cgroup is None:
        pytest.skip(f"no memory cgroup can be made here: {NO_CGROUP}")
    assert cgroup.limit() == binder_session.BINDER_MEMORY
    assert binder.lab.pid in cgroup.processes()
    assert cgroup.oom_kills() == 0
    status = json.loads(binder.eopde("status", "--json").stdout)
    assert {name for name, part in status.items() if not part["healthy"]} == set()
    # The platform's processes are charged here: far more than an empty group would hold.
    peak = cgroup.peak()
    print(f"session memory peak {peak / 2**20:.0f} MiB of {cgroup.limit() / 2**20:.0f} MiB "
          f"(cgroup v{cgroup.version}); not file cache now: {cgroup.anon() / 2**20:.0f} MiB")
    assert peak > 300 * 2**20


def test_a_failed_start_says_why_and_still_starts_the_server():
    """No platform: the postgres port is taken, so `start` fails at once. The log (which Binder
    shows) and a file in the home folder name the part and the port; the server still starts."""
    from eopde.services.settings import PlatformSettings

    with binder_session.home_of_its_own() as (home, account):
        session = BinderSession(home, binder_session.session_env(
            home, BASE_PORT + 20, HUB_PORT, account), account)
        port = PlatformSettings(base_port=BASE_PORT + 20).port("postgres")
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", port))
            taken.listen()
            done = session.run([str(REPO / "binder" / "start"), "sh", "-c",
                                "echo server started"], timeout=120)
        assert done.returncode == 0
        assert done.stdout.strip() == "server started"
        reason = f"port {port} for part 'postgres' is already in use"
        assert reason in done.stderr
        assert reason in (home / "EOPDE-PLATFORM-FAILED.txt").read_text()
        assert not (home / ".cache" / "eopde" / "binder.env").exists()
        assert Path(home / "EOPDE-PLATFORM-FAILED.txt").stat().st_uid == (
            pwd.getpwnam(account).pw_uid if account else os.geteuid())
