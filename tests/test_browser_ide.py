"""The browser IDE: code-server behind jupyter-server-proxy (eopde.proxy), seen in a real browser.

A user's server as the hub demo and Binder run it (JupyterLab with jupyter-server-proxy, under
a /user/<name>/ base URL, in a home of its own); no platform is needed. code-server is the one
`make` installs (<prefix>/share/eopde/code-server), or EOPDE_CODE_SERVER.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest

from browser import browser_page
from conftest import ARTIFACTS, TEST_HUB_PORT, clean_env

REPO = Path(__file__).resolve().parent.parent
PORT = TEST_HUB_PORT + 7


def test_code_server_is_an_entry_point_of_jupyter_server_proxy():
    names = {ep.name: ep.value for ep in entry_points(group="jupyter_serverproxy_servers")}
    assert names.get("code-server") == "eopde.proxy:setup_code_server", (
        "the installed eopde lacks the entry point: reinstall it (make)")


def test_without_code_server_the_route_says_how_to_install_it(monkeypatch, tmp_path):
    from eopde import proxy

    monkeypatch.setattr(proxy, "code_server_path", lambda: None)
    monkeypatch.setenv("HOME", str(tmp_path))
    config = proxy.setup_code_server()
    assert config["launcher_entry"]["enabled"] is False
    assert config["command"] == [sys.executable, "-m", "eopde.proxy", "missing", "{unix_socket}"]
    assert not (tmp_path / ".local").exists()  # nothing written for an IDE that is not there


def test_the_missing_page_answers_on_the_socket(tmp_path):
    sock = tmp_path / "ide.sock"
    server = subprocess.Popen([sys.executable, "-m", "eopde.proxy", "missing", str(sock)],
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock))) as client:
            page = client.get("http://ide/code-server/")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert page.status_code == 200
    assert "python -m eopde.proxy install-code-server" in page.text


def test_code_server_listens_on_a_private_socket_with_this_python(monkeypatch, tmp_path):
    from eopde import proxy

    monkeypatch.setattr(proxy, "code_server_path", lambda: "/opt/code-server")
    monkeypatch.setenv("HOME", str(tmp_path))
    config = proxy.setup_code_server()
    assert config["unix_socket"] is True
    assert config["command"][:5] == ["/opt/code-server", "--auth", "none", "--socket",
                                     "{unix_socket}"]
    assert config["command"][-1] == str(tmp_path)
    assert config["environment"]["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    settings = tmp_path / ".local/share/eopde/code-server/User/settings.json"
    written = json.loads(settings.read_text())
    assert written["python.defaultInterpreterPath"] == sys.executable
    assert written["terminal.integrated.env.linux"] == {
        "PATH": str(Path(sys.executable).parent) + os.pathsep + "${env:PATH}"}
    tasks = json.loads(settings.with_name("tasks.json").read_text())["tasks"]
    assert tasks == [proxy.RUN_FILE_TASK]
    assert proxy.RUN_FILE_TASK["command"] == "${config:python.defaultInterpreterPath}"
    settings.write_text("{}")  # a user's own settings are never overwritten
    proxy.setup_code_server()
    assert settings.read_text() == "{}"


@pytest.fixture
def lab(tmp_path):
    from eopde.proxy import code_server_path

    if code_server_path() is None:
        raise AssertionError("code-server is not installed: `make` installs it "
                             "(python -m eopde.proxy install-code-server)")
    home = tmp_path / "home"
    home.mkdir()
    (home / "hello_ide.py").write_text("print('hello from the IDE')\n")
    token = secrets.token_hex(16)
    env = clean_env()
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join(
        [str(REPO / "lib")] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    if os.environ.get("EOPDE_CODE_SERVER"):
        env["EOPDE_CODE_SERVER"] = os.environ["EOPDE_CODE_SERVER"]
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={PORT}", "--ServerApp.base_url=/user/ide-x/",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, cwd=home, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{PORT}/user/ide-x"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/status?token={token}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError(log.read_text()[-3000:])
        yield url, token, home
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_launcher_opens_code_server_on_the_users_home(lab):
    url, token, home = lab
    with browser_page(ARTIFACTS, "browser-ide") as page:
        page.goto(f"{url}/lab?token={token}")
        card = page.locator(".jp-LauncherCard[title='Code editor']")
        card.wait_for(timeout=90_000)
        icon = card.locator("img, svg").first
        assert icon.count() == 1
        page.goto(f"{url}/code-server/")
        page.locator(".monaco-workbench").wait_for(timeout=120_000)
        # The explorer shows the home folder's files.
        page.get_by_text("hello_ide.py").first.wait_for(timeout=60_000)
    settings = home / ".local/share/eopde/code-server/User/settings.json"
    assert json.loads(settings.read_text())["python.defaultInterpreterPath"] == sys.executable


def run_in_terminal(page, command: str, marker: Path, timeout: float = 90) -> None:
    """In the code-server on ``page``: open a new terminal (command palette), run ``command``
    in it, and wait until it has written ``marker``."""
    page.locator(".monaco-workbench").click(position={"x": 600, "y": 400})
    palette(page, ">Terminal: Create New Terminal", "Create New Terminal")
    # The terminal draws on a canvas (no text to wait for): type once its input is there, and
    # again if the shell was not reading yet (the command is idempotent).
    keys = page.locator(".terminal-wrapper .xterm-helper-textarea").last
    keys.wait_for(state="attached", timeout=60_000)
    deadline = time.monotonic() + timeout
    while True:
        keys.focus()
        page.keyboard.type(command)
        page.keyboard.press("Enter")
        retry = min(deadline, time.monotonic() + 20)
        while time.monotonic() < retry:
            if marker.exists() and marker.read_text().strip():
                return
            page.wait_for_timeout(300)
        if time.monotonic() >= deadline:
            raise AssertionError(f"the terminal did not run {command!r}")


def test_the_terminal_runs_eopdes_python(lab):
    """Without VS Code's Python extension (no marketplace offline), the terminal is where the
    IDE runs code: its `python` is this environment's, with eopde."""
    url, token, home = lab
    marker = home / "ide-python.txt"
    with browser_page(ARTIFACTS, "browser-ide-terminal") as page:
        page.goto(f"{url}/lab?token={token}")
        page.locator(".jp-LauncherCard[title='Code editor']").wait_for(timeout=90_000)
        page.goto(f"{url}/code-server/")
        page.locator(".monaco-workbench").wait_for(timeout=120_000)
        run_in_terminal(page, "python -c 'import eopde, sys; print(sys.executable, "
                              f"eopde.__file__)' > {marker}", marker)
    python, module = marker.read_text().split()
    assert python == sys.executable
    assert module == str(REPO / "lib" / "eopde" / "__init__.py")


def palette(page, text: str, item: str) -> None:
    """Type ``text`` into code-server's quick input (F1) and run the item showing ``item``."""
    page.keyboard.press("F1")
    box = page.locator(".quick-input-widget input")
    box.wait_for(timeout=30_000)
    box.fill(text)
    page.locator(".quick-input-list .monaco-list-row", has_text=item).first.wait_for(
        timeout=30_000)
    page.keyboard.press("Enter")


def test_the_build_task_runs_the_open_file_with_the_interpreter_setting(lab):
    """The interpreter setting at work without the Python extension: Run Build Task runs the
    open file with it (eopde.proxy.RUN_FILE_TASK)."""
    url, token, home = lab
    (home / "where_am_i.py").write_text(
        "import pathlib, sys\npathlib.Path('ide-task.txt').write_text(sys.executable)\n")
    marker = home / "ide-task.txt"
    with browser_page(ARTIFACTS, "browser-ide-task") as page:
        page.goto(f"{url}/lab?token={token}")
        page.goto(f"{url}/code-server/")
        page.locator(".monaco-workbench").wait_for(timeout=120_000)
        page.get_by_text("where_am_i.py").first.wait_for(timeout=60_000)
        page.locator(".monaco-workbench").click(position={"x": 600, "y": 400})
        palette(page, "where_am_i.py", "where_am_i.py")
        page.locator(".tab", has_text="where_am_i.py").wait_for(timeout=30_000)
        palette(page, ">Tasks: Run Build Task", "Run Build Task")
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            page.wait_for_timeout(300)
    assert marker.exists(), "the build task did not run the file"
    assert marker.read_text() == sys.executable


def test_the_ide_route_needs_the_servers_login(lab):
    """Without the server's token or cookie the route gives no IDE."""
    url, token, home = lab
    anonymous = httpx.get(f"{url}/code-server/", follow_redirects=False, timeout=30)
    assert anonymous.status_code in (302, 403)
    assert "monaco" not in anonymous.text
    if anonymous.status_code == 302:
        assert "/login" in anonymous.headers["location"]


@pytest.mark.platform
def test_code_server_in_the_hub_demo(platform):
    """The demo user's server behind the hub: the same route opens the editor on their home
    (which holds the tutorials)."""
    from browser import hub_login

    with browser_page(ARTIFACTS, "browser-ide-hub") as page:
        hub_login(page, platform.hub_url, "demo", platform.secrets["demo_password"])
        page.goto(f"{platform.hub_url}/user/demo/code-server/")
        page.locator(".monaco-workbench").wait_for(timeout=120_000)
        page.get_by_text("tutorials").first.wait_for(timeout=60_000)
