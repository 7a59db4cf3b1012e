"""Where the local platform keeps its state, for every `eopde` command from any folder.

The kernel library (`eopde.config`) and the platform (`eopde.services.settings`) both ask here, so
a command run from another directory finds the platform that `eopde up` started.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """The state folder: ``$EOPDE_HOME``, else ``$XDG_STATE_HOME/eopde``, else
    ``~/.local/state/eopde``; always absolute, never relative to the current folder."""
    explicit = os.environ.get("EOPDE_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    state = os.environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(state).expanduser().absolute() / "eopde"


def write_private(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` readable by its owner only (0600), atomically: a crash leaves the
    old file or the new one, never a truncated one, and never a moment with wider modes."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover tmp file keeps its modes through O_CREAT
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def lchown_tree(path: str | os.PathLike, uid: int, gid: int,
                folder_mode: int | None = None) -> None:
    """Give `path` and everything under it to uid:gid — links themselves, never their targets —
    and set `folder_mode` on its folders when given."""
    for folder, dirs, files in os.walk(os.fspath(path)):
        os.lchown(folder, uid, gid)
        if folder_mode is not None:
            os.chmod(folder, folder_mode)
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, gid)
