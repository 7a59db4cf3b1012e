"""jupyter-server-proxy routes of a user's own server: the browser IDE, and Binder's settings.

* ``setup_code_server()`` is the ``jupyter_serverproxy_servers`` entry point (pyproject.toml):
  code-server at ``{base_url}code-server/``, in JupyterLab's launcher, opening the user's home,
  with this environment's Python first on its PATH (its terminals' too), as the interpreter
  setting, and in a user task that runs the open file with it (Run Build Task).
  It listens on a Unix socket in a folder only the user can open (jupyter-server-proxy makes
  it), so no other local account reaches an IDE that runs with ``--auth none``.
* ``python -m eopde.proxy binder-config REPO`` prints the JupyterLab configuration
  ``binder/postBuild`` installs (the repository's offline settings, ``hub_config/lab-settings``).
* ``python -m eopde.proxy install-code-server`` installs code-server from the npm registry into
  ``<prefix>/share/eopde/code-server`` (see `code_server_install`).

Tiles, ADES and workspace need no named route: jupyter-server-proxy's ``/proxy/<port>/`` reaches
the platform's loopback services, and `eopde.maps.tiles` builds its browser URLs on it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

ICON = Path(__file__).with_name("proxy_icons") / "code-server.svg"
#: Where `install-code-server` puts code-server (one copy for every user of the environment).
CODE_SERVER_DIR = Path(os.environ.get("EOPDE_CODE_SERVER_DIR")
                       or Path(sys.prefix) / "share" / "eopde" / "code-server")


def code_server_path() -> str | None:
    """The code-server program: EOPDE_CODE_SERVER, on PATH, or the environment's own copy."""
    candidates = [os.environ.get("EOPDE_CODE_SERVER"), shutil.which("code-server"),
                  str(CODE_SERVER_DIR / "node_modules" / ".bin" / "code-server")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


#: A user task (Terminal > Run Build Task) that runs the open Python file with the interpreter
#: setting: what makes that setting useful without VS Code's Python extension, which is not
#: installed (no marketplace offline).
RUN_FILE_TASK = {
    "label": "Run this Python file (eopde)",
    "type": "process",
    "command": "${config:python.defaultInterpreterPath}",
    "args": ["${file}"],
    "options": {"cwd": "${fileDirname}"},
    "group": {"kind": "build", "isDefault": True},
    "presentation": {"reveal": "always", "panel": "dedicated"},
    "problemMatcher": [],
}


def _user_settings(data_dir: Path) -> None:
    """code-server's first user settings and tasks: this environment's Python (never
    overwrites a user's own)."""
    tasks = data_dir / "User" / "tasks.json"
    if not tasks.exists():
        tasks.parent.mkdir(parents=True, exist_ok=True)
        tasks.write_text(json.dumps({"version": "2.0.0", "tasks": [RUN_FILE_TASK]}, indent=1))
    path = data_dir / "User" / "settings.json"
    if path.exists():
        return
    bindir = str(Path(sys.executable).parent)
    path.write_text(json.dumps({
        "python.defaultInterpreterPath": sys.executable,
        # The terminals of VS Code's server do not get the server's own PATH (they had
        # Debian's default one, without `python`): put this environment's bin first again.
        "terminal.integrated.env.linux": {"PATH": bindir + os.pathsep + "${env:PATH}"},
        # The platform's many loopback ports are not for forwarding (and would each notify).
        "remote.autoForwardPorts": False,
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "workbench.startupEditor": "none",
    }, indent=1))


def setup_code_server() -> dict[str, Any]:
    """jupyter-server-proxy's description of code-server (see the module docstring)."""
    home = Path.home()
    data_dir = home / ".local" / "share" / "eopde" / "code-server"
    program = code_server_path()
    if program is None:
        # Not installed: the route answers with how to install it, and no launcher icon.
        command = [sys.executable, "-m", "eopde.proxy", "missing", "{unix_socket}"]
    else:
        _user_settings(data_dir)
        command = [program, "--auth", "none", "--socket", "{unix_socket}",
                   "--socket-mode", "600", "--disable-telemetry", "--disable-update-check",
                   "--disable-workspace-trust", "--user-data-dir", str(data_dir),
                   "--extensions-dir", str(data_dir / "extensions"), str(home)]
    bindir = str(Path(sys.executable).parent)
    return {
        "command": command,
        "unix_socket": True,
        "timeout": 90,
        "environment": {"PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])},
        "new_browser_tab": False,
        "launcher_entry": {
            "enabled": program is not None,
            "title": "Code editor",
            "icon_path": str(ICON),
            "category": "Notebook",
        },
    }


def code_server_install(prefix: Path = CODE_SERVER_DIR, version: str = "4.100.3") -> None:
    """Install code-server with npm into ``prefix``. (Done in steps because its own postinstall
    downloads ripgrep from GitHub: the system's ``rg`` stands in for it.)"""
    import subprocess

    script = Path(__file__).with_name("proxy_install_code_server.sh")
    subprocess.run(["bash", str(script), str(prefix), version], check=True)


def binder_config(repo: Path) -> dict[str, Any]:
    """The JupyterLab configuration of the Binder session (see binder/postBuild)."""
    return {"LabApp": {"app_settings_dir": str(repo / "hub_config" / "lab-settings")}}


def _serve_missing(socket_path: str) -> None:
    """A one-page answer on ``socket_path``: code-server is not installed, and how to."""
    import http.server
    import socketserver

    page = (b"<!doctype html><title>code-server is not installed</title><p>code-server is not "
            b"installed in this environment. Install it with <code>python -m eopde.proxy "
            b"install-code-server</code>, then restart your server. JupyterLab's own editor "
            b"(File, New, Python File) works meanwhile.</p>")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def address_string(self) -> str:
            return "local"

    class Server(socketserver.UnixStreamServer):
        def get_request(self):  # Unix-socket peers have no address: give one
            request, _ = super().get_request()
            return request, ("local", 0)

    with Server(socket_path, Handler) as server:
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["binder-config"] and len(args) == 2:
        print(json.dumps(binder_config(Path(args[1]).resolve()), indent=1))
    elif args[:1] == ["install-code-server"]:
        code_server_install()
    elif args[:1] == ["missing"] and len(args) == 2:
        _serve_missing(args[1])
    else:
        print("usage: python -m eopde.proxy binder-config REPO | install-code-server",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
