"""Secrets of the local platform, generated once and kept in the state folder (mode 0600).

A service that needs a secret gets the path of a file holding it (`<VAR>_FILE`, mode 0600),
never the value in its environment: a process's environment is readable by its user in
/proc/<pid>/environ and is inherited by everything it starts (a job's tool, a kernel).
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
from collections.abc import Mapping
from pathlib import Path

from ..paths import write_private

#: Every secret the platform uses, with how to make a fresh one.
_GENERATORS = {
    "postgres_password": lambda: _secrets.token_urlsafe(18),
    "s3_access_key": lambda: "eopde" + _secrets.token_hex(6),
    "s3_secret_key": lambda: _secrets.token_urlsafe(30),
    "service_token": lambda: _secrets.token_hex(32),
    "proxy_auth_token": lambda: _secrets.token_hex(32),
    "demo_password": lambda: _secrets.token_urlsafe(9),
    # JupyterHub's CryptKeeper key (32 bytes, hex): encrypts users' auth_state (OIDC tokens).
    "hub_crypt_key": lambda: _secrets.token_hex(32),
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
        write_private(path, json.dumps(data, indent=1))
    return data


#: Environment variables that carry a platform secret. `up` never hands them down from the
#: shell that ran it; a service that needs one gets `<VAR>_FILE` instead (see `read_secret`).
SECRET_ENV = (
    "EOPDE_SERVICE_TOKEN", "EOPDE_DEMO_PASSWORD", "PGPASSWORD", "CONFIGPROXY_AUTH_TOKEN",
    "JUPYTERHUB_API_TOKEN", "RCLONE_AUTH_KEY", "JUPYTERHUB_CRYPT_KEY", "EOPDE_OIDC_CLIENT_SECRET",
)


def write_secret_file(folder: Path, name: str, value: str) -> Path:
    """Write one secret to `folder`/`name` (folder 0700, file 0600); returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return write_private(folder / name, value)


def read_secret(var: str, env: Mapping[str, str] | None = None) -> str | None:
    """A secret given to a service: the content of the file named by `<var>_FILE`, else the
    variable `var` itself (deployments that inject secrets as variables), else None."""
    env = os.environ if env is None else env
    path = env.get(f"{var}_FILE")
    if path:
        return Path(path).read_text().strip() or None
    return env.get(var) or None
