"""An ordinary (unprivileged) account for tests that run the demo as a laptop user or as
Binder's notebook user, when the tests themselves run as root (CI does).

The account must reach the interpreter (pyenv keeps it under /root in CI), the venv and the
checkout. ``.ci/run`` sets EOPDE_TEST_GRANT_TRAVERSE=1: `traverse_granted` then lends the
account traverse-only permission (o+x) on the folders in the way for the test, and takes it
back afterwards; without it, `Unreachable` names the folders and the variable.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Unreachable(Exception):
    """Folders the account cannot traverse, and no permission to lend it access."""


def ensure(name: str) -> pwd.struct_passwd:
    """The account ``name``, made with useradd when it does not exist (root only)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        if not shutil.which("useradd"):
            raise
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        return pwd.getpwnam(name)


def blocking_folders(paths: list[Path], user: str) -> list[Path]:
    """Folders on the way to ``paths`` that ``user`` cannot traverse."""
    from eopde.services.postgres import traversable_by

    blocked: list[Path] = []
    for path in paths:
        for folder in [path, *path.parents]:
            if folder.is_dir() and not traversable_by(folder, user):
                if not folder.stat().st_mode & stat.S_IXOTH and folder not in blocked:
                    blocked.append(folder)
    return blocked


def check_reachable(user: str, paths: list[Path]) -> list[Path]:
    """The folders `traverse_granted` would open for ``user``; raises `Unreachable` when some
    are in the way and lending access is not allowed."""
    blocked = blocking_folders(paths, user)
    if blocked and os.environ.get("EOPDE_TEST_GRANT_TRAVERSE") != "1":
        raise Unreachable(f"{[str(b) for b in blocked]} not reachable by the ordinary account "
                          f"{user!r}; set EOPDE_TEST_GRANT_TRAVERSE=1 to grant o+x for the test "
                          "(.ci/run does)")
    return blocked


@contextmanager
def traverse_granted(user: str, paths: list[Path]) -> Iterator[None]:
    """``user`` can reach ``paths`` inside the block (see the module docstring)."""
    blocked = check_reachable(user, paths)
    modes = {folder: folder.stat().st_mode for folder in blocked}
    for folder, mode in modes.items():
        folder.chmod(mode | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in modes.items():
            folder.chmod(mode)


def popen_as(user: str) -> dict[str, Any]:
    """subprocess keyword arguments that run a child as ``user`` (its own groups only)."""
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def demotion(user: str) -> Callable[[], None]:
    """A function that turns the calling (root) process into ``user``: for a `preexec_fn`
    that must do something as root first (subprocess's ``user=`` switches before it runs)."""
    entry = pwd.getpwnam(user)
    uid, gid = entry.pw_uid, entry.pw_gid

    def demote() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return demote


def give(path: Path, user: str) -> None:
    """Make ``user`` the owner of ``path`` and everything under it (no symlinks followed)."""
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.lchown(path, entry.pw_uid, entry.pw_gid)
