"""Detached processes of the local platform, and the records that let `status` and `down` find them.

Each part runs in its own session (process group), so stopping a part also stops whatever it
started (PostgreSQL's backends, JupyterHub's proxy) and a part killed with SIGKILL leaves nothing
behind once its group is cleaned up.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class ProcessRecord:
    """What `up` remembers of a part it started."""

    part: str
    pid: int
    pgid: int
    cmd: list[str]
    log: str
    started: float

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / f"{self.part}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: Path, part: str) -> ProcessRecord | None:
        path = run_dir / f"{part}.json"
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    @staticmethod
    def remove(run_dir: Path, part: str) -> None:
        (run_dir / f"{part}.json").unlink(missing_ok=True)

    def alive(self) -> bool:
        """Whether the recorded process still runs (and is not a recycled pid)."""
        return pid_alive(self.pid, self.started)


def pid_alive(pid: int, started: float | None = None) -> bool:
    """True if `pid` runs and is not a zombie; with `started`, also that it began no earlier."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user (PostgreSQL run as its own account)
    fields = _stat_fields(Path(f"/proc/{pid}"))
    if fields is None:
        return True  # no /proc (macOS): trust kill(0)
    if fields[0] == "Z":
        return False
    if started is not None:
        ticks = int(fields[19])
        boot = _boot_time()
        if boot is not None:
            began = boot + ticks / os.sysconf("SC_CLK_TCK")
            # A recycled pid belongs to a process that began after our record was written.
            if began > started + 5:
                return False
    return True


def _stat_fields(proc_dir: Path) -> list[str] | None:
    """The fields of /proc/<pid>/stat after `pid (comm)`: state, ppid, pgrp, ... (comm may hold
    spaces, so split after the last ")"). None when the file cannot be read."""
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def group_alive(pgid: int) -> bool:
    """True if the process group `pgid` has a live member (zombies, which keep their pid until
    their parent reaps them, do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields and len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


#: Environment variable that names the platform instance a process belongs to. `up` sets it in
#: every part's environment and the hub in users' servers, so their children (the hub's proxy,
#: kernels, jobs) carry it too: what `down` stops is recognised by it, never by a name.
INSTANCE_ENV = "EOPDE_INSTANCE"


def instance_id(home: str | Path) -> str:
    """The instance marker of the platform whose state folder is `home`."""
    return hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:16]


def proc_environ(pid: int) -> dict[str, str] | None:
    """The environment `pid` started with (None when it cannot be read: gone, another user)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (entry.partition(b"=") for entry in raw.split(b"\0") if entry)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def proc_cmdline(pid: int) -> list[str] | None:
    """The command line of `pid` (None when it cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def belongs_to(pid: int, instance: str) -> bool:
    """True if `pid` runs, and its environment says it belongs to the platform `instance`."""
    env = proc_environ(pid)
    return bool(env) and env is not None and env.get(INSTANCE_ENV) == instance \
        and pid_alive(pid)


def instance_processes(instance: str) -> list[int]:
    """Live processes of the platform `instance` (by their environment), except this process and
    its ancestors (`eopde down` run from a terminal of a user's server must get to its end)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    spared = _ancestors(os.getpid())
    return [int(entry.name) for entry in proc.iterdir()
            if entry.name.isdigit() and int(entry.name) not in spared
            and belongs_to(int(entry.name), instance)]


def _ancestors(pid: int) -> set[int]:
    found = set()
    while pid > 1 and pid not in found:
        found.add(pid)
        fields = _stat_fields(Path(f"/proc/{pid}"))
        if not fields:
            break
        pid = int(fields[1])
    return found


def stop_pids(pids: list[int], *, timeout: float = 10.0) -> list[int]:
    """SIGTERM each of `pids`, SIGKILL what is left after `timeout`; returns those that ran."""
    sent = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            sent.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + timeout
    while any(pid_alive(pid) for pid in sent) and time.monotonic() < deadline:
        for pid in sent:
            _reap(pid)
        time.sleep(0.1)
    for pid in sent:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for _ in range(50):  # until the kernel has let go of their ports
        for pid in sent:
            _reap(pid)
        if not any(pid_alive(pid) for pid in sent):
            break
        time.sleep(0.1)
    return sent


def start_detached(
    part: str,
    cmd: list[str],
    *,
    log: Path,
    run_dir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ProcessRecord:
    """Start `cmd` in a new session with output appended to `log`, and record it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {part}: {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            user=user,
            close_fds=True,
        )
    record = ProcessRecord(
        part=part, pid=proc.pid, pgid=proc.pid, cmd=cmd, log=str(log), started=time.time()
    )
    record.save(run_dir)
    return record


def stop_group(pgid: int, *, sig: int = signal.SIGTERM, timeout: float = 15.0) -> bool:
    """Send `sig` to a process group, wait up to `timeout`, then SIGKILL what is left.

    Returns True if the group was running.
    """
    if not group_alive(pgid):
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # another account's processes: nothing we may do
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pgid)
        if not group_alive(pgid):
            return True
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(50):
        _reap(pgid)
        if not group_alive(pgid):
            break
        time.sleep(0.1)
    return True


def _reap(pid: int) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def port_in_use(host: str, port: int) -> bool:
    """True if something accepts connections on host:port (or the port cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too: a socket in TIME_WAIT must not count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def tail(path: str | Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file (empty if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
