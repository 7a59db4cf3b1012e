"""A private PostgreSQL + PostGIS cluster in the platform's state folder.

PostgreSQL refuses to run as root, so when eopde runs as root the cluster belongs to an
unprivileged account (Debian's `postgres`); as an ordinary user it is simply that user's.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from .errors import PlatformError

DB_USER = "eopde"
DB_NAME = "eopde"


def find_bindir() -> Path:
    """The bin folder of the newest installed PostgreSQL that has PostGIS (EOPDE_PG_BINDIR wins)."""
    override = os.environ.get("EOPDE_PG_BINDIR")
    if override:
        path = Path(override)
        if not (path / "initdb").exists():
            raise PlatformError(f"EOPDE_PG_BINDIR={override} has no `initdb`; point it at PostgreSQL's bin folder")
        return path
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    if not candidates:
        found = shutil.which("initdb")
        if found:
            return Path(found).parent
        raise PlatformError(
            "PostgreSQL is not installed. Install it with:\n"
            "  sudo apt-get install postgresql postgresql-15-postgis-3\n"
            "or set EOPDE_PG_BINDIR to the folder holding initdb and postgres."
        )
    for initdb in candidates:
        version = Path(initdb).parts[-3]
        if glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            return Path(initdb).parent
    version = Path(candidates[0]).parts[-3]
    raise PlatformError(
        f"PostGIS for PostgreSQL {version} is not installed. Install it with:\n"
        f"  sudo apt-get install postgresql-{version}-postgis-3"
    )


def run_user() -> str | None:
    """The account PostgreSQL runs as: None (the current user) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("EOPDE_PG_USER"), "postgres"):
        if not name:
            continue
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PlatformError(
        "PostgreSQL cannot run as root and there is no `postgres` account. Install the Debian "
        "package `postgresql` (it creates one) or set EOPDE_PG_USER to an unprivileged account."
    )


def traversable_by(path: Path, user: str) -> bool:
    """True if `user` can reach `path` (execute permission on every ancestor folder)."""
    entry = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for folder in [path, *path.parents]:
        if not folder.exists():
            continue
        st = folder.stat()
        if st.st_uid == entry.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


def cluster_dir(home: Path, user: str | None) -> Path:
    """The cluster's folder: inside the state folder, or (root only) a folder the PostgreSQL
    account can reach, linked from the state folder, when the state folder is private."""
    wanted = home / "postgres"
    if user is None or traversable_by(home, user):
        return wanted
    if wanted.is_symlink():
        return wanted.resolve()
    import hashlib

    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    outside = Path("/var/lib/eopde/clusters") / digest
    outside.mkdir(parents=True, exist_ok=True)
    for folder in (Path("/var/lib/eopde"), Path("/var/lib/eopde/clusters"), outside):
        folder.chmod(0o755)
    if not wanted.exists():
        wanted.symlink_to(outside)
    return outside


def init_cluster(bindir: Path, pgdir: Path, password: str, user: str | None) -> bool:
    """Create the cluster if it does not exist yet. Returns True if it was created."""
    data = pgdir / "data"
    if (data / "PG_VERSION").exists():
        return False
    pgdir.mkdir(parents=True, exist_ok=True)
    pwfile = pgdir / "initdb-password"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(pgdir, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        result = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D", str(data),
                "-U", DB_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E", "UTF8",
                "--locale=C",
            ],
            capture_output=True,
            text=True,
            user=user,
            cwd=pgdir,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise PlatformError(f"initdb failed in {data}:\n{result.stdout}\n{result.stderr}")
    return True


def server_command(bindir: Path, pgdir: Path, host: str, port: int) -> list[str]:
    """The foreground `postgres` command: TCP on loopback only, no Unix socket."""
    return [
        str(bindir / "postgres"),
        "-D", str(pgdir / "data"),
        "-p", str(port),
        "-c", f"listen_addresses={host}",
        "-c", "unix_socket_directories=",
        "-c", "fsync=on",
        "-c", "max_connections=100",
    ]


def dsn(host: str, port: int, password: str, dbname: str = DB_NAME) -> str:
    from urllib.parse import quote

    return f"postgresql://{DB_USER}:{quote(password, safe='')}@{host}:{port}/{dbname}"
