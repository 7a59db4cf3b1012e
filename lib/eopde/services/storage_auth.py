"""The storage part's auth proxy: ``rclone serve s3 --auth-proxy`` runs this program for each
access key it has not seen (or not for 5 minutes) and gets back the key's secret and the
backend the key may see (rclone's "Auth Proxy" protocol: JSON on stdin and stdout).

- a user's key (:mod:`.workspace_store`): a ``combine`` backend whose only top-level folder is
  the user's bucket, mapped to ``<storage>/<bucket>``. Other buckets do not exist for that key
  (list, read, write and create all fail), and rclone refuses keys with ``..`` or ``//``.
- the platform's key (``secrets.json``): the whole storage folder, every bucket (the platform's
  own tools: making buckets, repairs; the ADES stages jobs in and out with their owner's keys).
- anything else: refused (no secret returned).

Run as ``python -m eopde.services.storage_auth`` with ``EOPDE_HOME`` set (the storage part's
environment, which rclone hands down).
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
import sys
from pathlib import Path
from typing import Any


def _quoted(value: str) -> str:
    # combine's upstreams are a space-separated CSV list: quote so that spaces in paths survive.
    return '"' + value.replace('"', '""') + '"'


def answer(access_key: str, home: Path) -> dict[str, Any] | None:
    """The backend configuration for ``access_key``, or None to refuse it."""
    from .secrets import load_secrets
    from .workspace_store import find_access_key, keys_file

    storage = home / "storage"
    platform = load_secrets(home / "secrets.json", create=False)
    if platform.get("s3_access_key") and _secrets.compare_digest(
            platform["s3_access_key"], access_key):
        return {"type": "local", "_root": str(storage),
                "_secret_access_key": platform["s3_secret_key"]}
    keys = find_access_key(keys_file(home), access_key)
    if keys is None:
        return None
    folder = storage / keys.bucket
    folder.mkdir(parents=True, exist_ok=True)
    return {"type": "combine", "upstreams": _quoted(f"{keys.bucket}={folder}"), "_root": "",
            "_secret_access_key": keys.secret}


def main() -> int:
    try:
        request = json.load(sys.stdin)
        user = str(request.get("user", ""))
    except (ValueError, AttributeError):
        return 1
    home = Path(os.environ.get("EOPDE_HOME", ""))
    config = answer(user, home) if user and home.is_absolute() else None
    if config is None:
        json.dump({}, sys.stdout)
        return 1
    json.dump(config, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
