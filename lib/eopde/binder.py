"""The Binder demo: the local platform inside one single-user container (binder/).

Binder (repo2docker) runs ``binder/postBuild`` once when it builds the image and ``binder/start``
at every launch, before the notebook server. Both call this module:

* ``python -m eopde.binder build``: starts the whole platform once and stops it, so that the
  database cluster, the pgstac schema, the demo scenes and their catalogue entries are in the
  image and a launch only starts processes;
* ``python -m eopde.binder start --env-file F``: starts the platform (detached processes, as
  ``eopde up``), then writes to ``F`` the environment the hub would give a user's server (the
  endpoints, the user's own storage keys, an API token of the platform's identity provider),
  which ``binder/start`` exports before it execs the notebook server.

The platform's hub runs as the identity provider of the services (they check tokens with it);
nobody logs in to it: Binder's own JupyterHub serves the notebook. Browsers reach the tile
server through jupyter-server-proxy of the session's server (``eopde.maps.tiles`` builds
``{JUPYTERHUB_SERVICE_PREFIX}proxy/<port>/...`` when ``EOPDE_TILES_PUBLIC_PATH`` is unset).

A platform-side module, like ``eopde.hub.local``: it imports ``eopde.services`` inside its
functions only, so importing ``eopde`` in a kernel never pulls the services in.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

#: Written in the home folder when the platform did not start, so the user sees why in JupyterLab.
FAILURE_FILE = "EOPDE-PLATFORM-FAILED.txt"
#: The user of the platform's hub when Binder does not name one (JUPYTERHUB_USER).
DEFAULT_USER = "binder"
#: The checkout holding this module (binder/ and pyproject.toml are there).
REPO = Path(__file__).resolve().parents[2]
#: What a launch from the README's badge opens.
LAUNCH_PATH = "lab/tree/notebooks/01-search-and-preview.ipynb"


def session_user() -> str:
    """The user the session acts as: Binder's JUPYTERHUB_USER (the name `eopde.auth` and the
    workspace client use) when it is a plain lowercase name, as Binder's are; else ``binder``.
    Any such name gets a valid bucket (`eopde.hub.local.bucket_name`)."""
    name = os.environ.get("JUPYTERHUB_USER", "")
    return name if re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,127}", name) else DEFAULT_USER


def _platform() -> Any:
    from eopde.services.platform import Platform

    return Platform()


def build(progress=print) -> float:
    """Start every part once (cluster, schema, demo data, catalogue entries), then stop them.
    Returns the seconds it took."""
    began = time.monotonic()
    platform = _platform()
    try:
        platform.up(progress=progress)
    finally:
        platform.down(progress=progress)
    return time.monotonic() - began


def session_env(platform: Any, user: str) -> dict[str, str]:
    """The environment the hub gives ``user``'s server (`eopde.hub.local.user_environment`),
    with a fresh API token and without the hub's tile route (Binder has no such route: tiles
    go through jupyter-server-proxy)."""
    from eopde.hub.local import user_environment
    from eopde.services.tokens import issue_token

    spawner = SimpleNamespace(user=SimpleNamespace(name=user))
    env = {key: value(spawner) if callable(value) else value
           for key, value in user_environment(platform.settings, platform.secrets).items()}
    env.pop("EOPDE_TILES_PUBLIC_PATH", None)
    env["EOPDE_TOKEN"] = issue_token(user, settings=platform.settings, note="binder session")
    env["JUPYTERHUB_USER"] = os.environ.get("JUPYTERHUB_USER") or user
    return env


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """``KEY='value'`` lines a shell can source, readable by the owner only (it holds keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        for key, value in sorted(env.items()):
            handle.write(f"{key}={shlex.quote(str(value))}\n")


def start(env_file: Path, home: Path | None = None, progress=print) -> float:
    """Start the platform and write the session's environment to ``env_file``. Returns the
    seconds from the call to all parts healthy. Raises PlatformError (the message names the
    part and its log's last lines)."""
    began = time.monotonic()
    platform = _platform()
    platform.up(progress=progress)
    seconds = time.monotonic() - began
    write_env_file(env_file, session_env(platform, session_user()))
    failure = (home or Path.home()) / FAILURE_FILE
    failure.unlink(missing_ok=True)
    return seconds


def repository_url(pyproject: Path = REPO / "pyproject.toml") -> str:
    """The public repository, the one place that names it: ``[project.urls] Repository`` of
    pyproject.toml (the package's metadata carries it too)."""
    import tomllib

    urls = tomllib.loads(pyproject.read_text()).get("project", {}).get("urls", {})
    if "Repository" not in urls:
        raise ValueError(f"{pyproject} has no Repository under [project.urls]: add "
                         'Repository = "https://github.com/<owner>/<name>"')
    return str(urls["Repository"])


def badge(repository: str) -> str:
    """The README's Binder badge for a GitHub ``repository`` URL: the launch link (the one link
    out of the repository the README has) around the badge image kept in binder/."""
    found = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repository)
    if found is None:
        raise ValueError(f"Binder's badge needs a GitHub repository URL "
                         f"(https://github.com/<owner>/<name>), not {repository!r}")
    owner, name = found.groups()
    return (f"[![Launch the Binder demo](binder/badge.svg)](https://mybinder.org/v2/gh/"
            f"{owner}/{name}/HEAD?urlpath={LAUNCH_PATH})")


def write_badge(readme: Path, line: str) -> bool:
    """Put ``line`` in place of the README's badge line. Returns True if the file changed."""
    lines = readme.read_text().split("\n")
    where = [i for i, text in enumerate(lines) if text.startswith("[![") and "mybinder.org" in text]
    if len(where) != 1:
        raise ValueError(f"{readme} should have exactly one Binder badge line, has {len(where)}")
    if lines[where[0]] == line:
        return False
    lines[where[0]] = line
    readme.write_text("\n".join(lines))
    return True


def _report_failure(err: BaseException, home: Path) -> None:
    """Say why on stderr (the container's log, which Binder shows) and in the home folder."""
    text = (f"eopde: the local platform did not start, so the tutorials cannot reach it.\n"
            f"{type(err).__name__}: {err}\n"
            "Every part's log is in ~/.local/state/eopde/logs/; `eopde status` tells which parts "
            "run, `eopde up` tries again.\n")
    print(text, file=sys.stderr, flush=True)
    try:
        (home / FAILURE_FILE).write_text(text)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eopde.binder", description=__doc__.split(
        "\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="set the platform up once, at image build time")
    p = sub.add_parser("start", help="start the platform and write the session's environment")
    p.add_argument("--env-file", type=Path, required=True)
    b = sub.add_parser("badge", help="print the README's Binder badge, made from the "
                       "repository named in pyproject.toml ([project.urls] Repository)")
    b.add_argument("--write", type=Path, metavar="README", help="put it in this README instead")
    args = parser.parse_args(argv)
    if args.command == "badge":
        line = badge(repository_url())
        if args.write is None:
            print(line)
        else:
            print(f"{args.write}: {'updated' if write_badge(args.write, line) else 'unchanged'}")
        return 0

    def progress(message: str) -> None:
        print(f"eopde: {message}", file=sys.stderr, flush=True)

    home = Path.home()
    try:
        if args.command == "build":
            progress(f"platform set up in {build(progress):.1f} s")
        else:
            progress(f"platform healthy in {start(args.env_file, home, progress):.1f} s")
    except Exception as err:  # every failure must reach the log with its reason
        _report_failure(err, home)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
