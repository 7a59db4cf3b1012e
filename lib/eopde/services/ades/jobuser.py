"""The account a job's tool runs as, and what the tool may see.

When the ADES runs as root, each job's cwltool (and everything it starts) runs as an unprivileged
system account leased for that job alone: ``eopde-job0``, ``eopde-job1``, ... (the prefix is
``EOPDE_JOB_USER``), created with ``useradd`` when missing (no login shell, no home). A lease is
an ``flock`` on ``/var/lib/eopde/job-accounts/<name>.lock``, so two jobs (of this ADES or of
another platform on the same machine) never share an account at the same time; when a lease
starts and ends, every process of that account is killed (a tool that escaped its process group)
and the files it left in the shared temporary folders are removed, so the next job leased the same
account finds nothing of the previous one.

cwltool and the tool also run in their own PID and mount namespaces (:func:`wrapper`), so they
see no other process: not the ADES's /proc entry, not another job's command line.

The tool works in a sandbox folder outside the state folder (``/var/lib/eopde/jobs/<digest>/<job>``,
mode 0700, owned by the leased account; its parents are 0711: reachable, not listable; the state
folder links it as ``ades/sandboxes``, which ``eopde purge`` follows). The state
folder, the secrets file, the job logs (kept by the ADES in the state folder) and other jobs'
sandboxes are out of its reach: the ADES makes the state folder's service folders private to
root (:func:`protect_state_folder`) and /proc/<pid>/environ of the ADES is readable only by root
(and not even visible from the job's PID namespace).

As an ordinary user (a laptop), there is no other account to switch to: the job runs as that user,
with the scrubbed environment below, and the sandbox is the job's folder in the state folder.

Whatever the account, the tool's environment is an allow-list (:func:`tool_env`): no service
token, S3 keys or database passwords reach cwltool or the tool.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eopde.paths import lchown_tree

from ..process import instance_id, pid_alive

log = logging.getLogger(__name__)

STATE_ROOT = Path("/var/lib/eopde")
LEASE_DIR = STATE_ROOT / "job-accounts"
SANDBOX_ROOT = STATE_ROOT / "jobs"
MAX_ACCOUNTS = 64
SHARED_TMP = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))

#: Variables a tool may inherit (plus LC_*); everything else is dropped.
ALLOWED_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "GDAL_DATA",
               "PROJ_DATA", "PROJ_LIB", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
               "CURL_CA_BUNDLE", "EOPDE_CATALOGUE_URL", "EOPDE_DATA_URL", "EOPDE_TILES_URL")


class JobUserError(RuntimeError):
    """No account could be leased or created; the message says why."""


@dataclass
class JobAccount:
    """A leased account: name, uid, gid (None fields: the ADES's own account, not root)."""

    name: str | None
    uid: int | None
    gid: int | None

    @property
    def isolated(self) -> bool:
        return self.uid is not None


def isolating() -> bool:
    """True when jobs run under a leased account (the ADES runs as root)."""
    return os.geteuid() == 0


def prefix() -> str:
    return os.environ.get("EOPDE_JOB_USER") or "eopde-job"


def tool_env(base: Mapping[str, str], *, home: Path | None, tmp: Path,
             account: JobAccount) -> dict[str, str]:
    """The environment of cwltool and the tool: ``base`` reduced to :data:`ALLOWED_ENV`, with
    HOME and TMPDIR in the sandbox (HOME kept as it is when ``home`` is None)."""
    env = {k: v for k, v in base.items() if k in ALLOWED_ENV or k.startswith("LC_")}
    env["TMPDIR"] = str(tmp)
    if home is not None:
        env["HOME"] = str(home)
    elif base.get("HOME"):
        env["HOME"] = base["HOME"]
    if account.name:
        env["USER"] = env["LOGNAME"] = account.name
    return env


def sandbox_root(work_dir: Path) -> Path:
    """Where the jobs' sandboxes go: outside the state folder when isolating (one folder per
    ADES work folder), else the work folder itself."""
    if not isolating():
        return work_dir
    root = SANDBOX_ROOT / instance_id(work_dir)
    for folder in open_runtime_paths():
        log.warning("made %s traversable (o+x) so that jobs' accounts can run this Python",
                    folder)
    if not STATE_ROOT.exists():
        STATE_ROOT.mkdir(mode=0o755)  # shared with PostgreSQL's clusters (services/postgres)
    for folder in (SANDBOX_ROOT, root):
        folder.mkdir(exist_ok=True)
        os.chown(folder, 0, 0)
        folder.chmod(0o711)  # traversable by the job accounts, never listable
    link = work_dir.parent / "sandboxes"  # `eopde purge` deletes what it points to
    if not link.is_symlink() and not link.exists():
        link.symlink_to(root)
    return root


#: Folders of the state folder only root's services use: private to root when jobs run as
#: other accounts (PostgreSQL's cluster, run by its own account, is left as it is).
PRIVATE_PARTS = ("ades", "storage", "users", "logs", "hub", "run", "secrets", "images")


def protect_state_folder(home: Path) -> list[Path]:
    """As root: make the state folder's service folders and secrets.json private (0700/0600),
    whatever the state folder's own mode, so that no job account reads a bucket, a user's home,
    a log or a secret even where the state folder is reachable. Returns what was changed."""
    if not isolating():
        return []
    changed = []
    for name in PRIVATE_PARTS:
        path = home / name
        if path.is_dir() and not path.is_symlink() and path.stat().st_mode & 0o077:
            path.chmod(0o700)
            changed.append(path)
    secrets = home / "secrets.json"
    if secrets.is_file() and secrets.stat().st_mode & 0o077:
        secrets.chmod(0o600)
        changed.append(secrets)
    return changed


def chown_tree(path: Path, account: JobAccount) -> None:
    """Give ``path`` and everything under it to the account (symlinks themselves, never their
    targets); folders 0700."""
    if account.uid is not None and account.gid is not None:  # isolated
        lchown_tree(path, account.uid, account.gid, folder_mode=0o700)


def take_back(path: Path) -> None:
    """Give a sandbox back to root (0700) once its tool has stopped: what stage-out reads can no
    longer change, and the next job leased the same account cannot read it."""
    if not isolating() or not path.exists():
        return
    path.chmod(0o700)
    lchown_tree(path, 0, 0)


def runtime_paths() -> list[Path]:
    """What a job's cwltool must reach: this Python (the interpreter itself and its
    environment) and the PYTHONPATH entries."""
    import sys

    paths = [Path(sys.executable), Path(sys.executable).resolve(), Path(sys.prefix),
             Path(sys.base_prefix)]
    paths += [Path(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [p for p in paths if p.is_absolute() and p.exists()]


def open_runtime_paths() -> list[Path]:
    """Give other accounts the right to traverse (o+x: never to list or read) the folders
    leading to :func:`runtime_paths`, e.g. /root when Python was installed under it (pyenv).
    Returns the folders changed (the ADES logs them)."""
    changed = []
    for path in runtime_paths():
        for folder in reversed(path.parents):
            try:
                mode = folder.stat().st_mode
            except OSError:
                continue
            if not mode & 0o001:
                folder.chmod((mode & 0o7777) | 0o001)
                changed.append(folder)
    return changed


def wrapper(account: JobAccount):
    """A function prefixing cwltool's command so that it runs as ``account`` in its own PID
    and mount namespaces (``unshare --pid --mount-proc``): the tool sees no process but its
    job's (no other job's command line, no service's /proc entry), and when the job's leader
    is killed the kernel kills everything in the namespace. None when not isolating or when
    util-linux's ``unshare``/``setpriv`` are missing or refused (then only the account
    separates jobs)."""
    if not account.isolated:
        return None
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if not unshare or not setpriv or not _namespaces_work(unshare):
        return None
    prefix = [unshare, "--pid", "--fork", "--mount-proc", "--kill-child", "--",
              setpriv, f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups",
              "--no-new-privs", "--"]
    return lambda cmd: [*prefix, *cmd]


_NS_OK: bool | None = None


def _namespaces_work(unshare: str) -> bool:
    global _NS_OK
    if _NS_OK is None:
        try:
            _NS_OK = subprocess.run([unshare, "--pid", "--fork", "--mount-proc", "true"],
                                    capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _NS_OK = False
        if not _NS_OK:
            log.warning("unshare --pid is refused here: job tools run as their own account "
                        "but see the machine's processes")
    return _NS_OK


def _ensure_account(name: str) -> tuple[int, int]:
    for attempt in range(20):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            pass
        shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
        result = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", shell, "--comment", "eopde job (unprivileged)", name],
            capture_output=True, text=True)
        if result.returncode not in (0, 9):  # 9: it exists (another process made it)
            if "lock" not in result.stderr:
                raise JobUserError(f"cannot create the job account {name}: "
                                   f"{result.stderr.strip() or result.returncode}")
            time.sleep(0.1 * (attempt + 1))  # /etc/passwd locked by a concurrent useradd
    raise JobUserError(f"cannot create the job account {name}: /etc/passwd stays locked")


def _uid_of(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def reap(uid: int) -> int:
    """Kill every process of ``uid`` (a leased account runs nothing but its job). Returns how
    many were signalled."""
    killed = 0
    for _ in range(10):
        # zombies are dead already (their parent reaps them): signalling them again only spins
        found = [int(p) for p in os.listdir("/proc")
                 if p.isdigit() and _uid_of(p) == uid and pid_alive(int(p))]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.05)
    return killed


def clean_shared_tmp(uid: int) -> None:
    """Remove what ``uid`` left at the top of the shared temporary folders."""
    for base in SHARED_TMP:
        try:
            entries = list(os.scandir(base))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


@contextmanager
def lease() -> Iterator[JobAccount]:
    """An account for one job: a leased ``eopde-jobN`` as root, else the current account."""
    if not isolating():
        yield JobAccount(None, None, None)
        return
    LEASE_DIR.mkdir(parents=True, exist_ok=True)
    LEASE_DIR.chmod(0o700)
    for n in range(MAX_ACCOUNTS):
        name = f"{prefix()}{n}"
        handle = open(LEASE_DIR / f"{name}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            uid, gid = _ensure_account(name)
            if uid == 0 or gid == 0:
                raise JobUserError(f"the job account {name} is privileged (uid {uid}); "
                                   "remove it or set EOPDE_JOB_USER to another prefix")
            reap(uid)
            clean_shared_tmp(uid)
            try:
                yield JobAccount(name, uid, gid)
            finally:
                reap(uid)
                clean_shared_tmp(uid)
        finally:
            handle.close()  # releases the lock
        return
    raise JobUserError(f"all {MAX_ACCOUNTS} job accounts are in use")
