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
