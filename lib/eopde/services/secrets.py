"""Secrets of the local platform, generated once and kept in the state folder (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets as _secrets
from pathlib import Path

#: Every secret the platform uses, with how to make a fresh one.
_GENERATORS = {
    "postgres_password": lambda: _secrets.token_urlsafe(18),
    "s3_access_key": lambda: "eopde" + _secrets.token_hex(6),
    "s3_secret_key": lambda: _secrets.token_urlsafe(30),
    "service_token": lambda: _secrets.token_hex(32),
    "proxy_auth_token": lambda: _secrets.token_hex(32),
    "demo_password": lambda: _secrets.token_urlsafe(9),
}


def load_secrets(path: Path, *, create: bool = True) -> dict[str, str]:
    """Read the secrets file, adding any missing secret (written back with mode 0600)."""
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text())
    missing = [key for key in _GENERATORS if key not in data]
    if missing and create:
        for key in missing:
            data[key] = _GENERATORS[key]()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    return data
