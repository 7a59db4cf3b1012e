"""Credentials saved by `eopde login`, so the CLI works from any new terminal.

One file, ``$EOPDE_CREDENTIALS`` (default ``~/.config/eopde/credentials.json``, mode 0600), holding
``{platform name: {"user": ..., "token": ...}}``. `eopde.auth.get_token` and the ADES client read
it after the environment, so a user's server (which has its own token) never needs it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def credentials_file() -> Path:
    return Path(os.environ.get("EOPDE_CREDENTIALS",
                               "~/.config/eopde/credentials.json")).expanduser()


def _read() -> dict:
    path = credentials_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def saved(platform: str = "local") -> dict[str, str]:
    """``{"user", "token"}`` saved for `platform`, or ``{}``."""
    entry = _read().get(platform)
    if not isinstance(entry, dict):
        return {}
    return {k: v for k, v in entry.items() if k in ("user", "token") and isinstance(v, str)}


def save(platform: str, user: str, token: str) -> Path:
    """Save `user` and `token` for `platform` (file created 0600, other platforms kept)."""
    data = _read()
    data[platform] = {"user": user, "token": token}
    return _write(data)


def _write(data: dict) -> Path:
    """Write the whole file, readable by its owner only (also when it existed with wider modes)."""
    from .paths import write_private

    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return write_private(path, json.dumps(data, indent=1))


def forget(platform: str) -> bool:
    """Remove what was saved for `platform`; True when there was something."""
    data = _read()
    if data.pop(platform, None) is None:
        return False
    _write(data)
    return True


def current_platform() -> str:
    """The name credentials are saved under: EOPDE_PLATFORM, else the configuration's default."""
    from .config import load

    try:
        return os.environ.get("EOPDE_PLATFORM") or load().name
    except Exception:  # a broken config file must not hide saved credentials of `local`
        return "local"
