"""Users' workspaces on the local platform: names, buckets and each user's own S3 key pair.

One record per user in ``$EOPDE_HOME/workspace/keys.json`` (mode 0600, in a 0700 folder),
written under a lock (the workspace part, the hub and the ADES all create workspaces on first
use) and replaced atomically. The storage part's auth proxy (:mod:`.storage_auth`) reads the
same file to map an access key to its secret and to the one bucket it may see.

Names: the workspace of user ``alice`` is ``ws-alice``, their bucket ``user-alice``
(:func:`eopde.hub.local.bucket_name`, one rule for every part), their default catalogue
collection ``ws-alice``; further collections of theirs are ``ws-alice.<name>``.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets as _secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..paths import write_private

#: Prefix of workspace names, as EOEPCA's Workspace API (`PREFIX_FOR_NAME`).
PREFIX = "ws-"
KEYS_FILE_ENV = "EOPDE_WORKSPACE_KEYS_PATH"


@dataclass(frozen=True)
class UserKeys:
    """One user's storage credentials."""

    user: str
    bucket: str
    access: str
    secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"UserKeys(user={self.user!r}, bucket={self.bucket!r}, access={self.access!r})"


def bucket_of(user: str) -> str:
    from ..hub.local import bucket_name

    return bucket_name(user)


def workspace_name(user: str) -> str:
    """``ws-<name>``: the bucket's suffix, so as unique and as safe as the bucket name."""
    return PREFIX + bucket_of(user).removeprefix("user-")


def collection_id(user: str, name: str | None = None) -> str:
    """The user's default workspace collection, or their collection ``name`` (``ws-x.name``)."""
    base = workspace_name(user)
    return f"{base}.{name}" if name else base


def keys_file(home: str | os.PathLike[str]) -> Path:
    return Path(home) / "workspace" / "keys.json"


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    with open(path.parent / "keys.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_keys(path: Path, user: str, storage_dir: Path | None = None) -> UserKeys:
    """The user's key pair, made on first use (and their bucket folder under ``storage_dir``)."""
    bucket = bucket_of(user)
    if storage_dir is not None:
        (storage_dir / bucket).mkdir(parents=True, exist_ok=True)
    record = _read(path).get(user)
    if record is None:
        with _locked(path):
            data = _read(path)
            record = data.get(user)
            if record is None:
                record = {"bucket": bucket, "access": "EOPDEWS" + _secrets.token_hex(8).upper(),
                          "secret": _secrets.token_urlsafe(30)}
                data[user] = record
                write_private(path, json.dumps(data, indent=1))  # atomic
    return UserKeys(user, record["bucket"], record["access"], record["secret"])


def find_access_key(path: Path, access: str) -> UserKeys | None:
    """The user whose access key is ``access``, or None."""
    for user, record in _read(path).items():
        if isinstance(record, dict) and _secrets.compare_digest(
                str(record.get("access", "")), access):
            return UserKeys(user, record["bucket"], record["access"], record["secret"])
    return None


__all__ = ["UserKeys", "ensure_keys", "find_access_key", "workspace_name", "collection_id",
           "bucket_of", "keys_file", "PREFIX", "KEYS_FILE_ENV"]
