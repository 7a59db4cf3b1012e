"""The local platform as a whole: `up`, `status`, `down`.

There is no supervisor daemon: each part runs detached in its own process group and leaves a
record in `$EOPDE_HOME/run/`. `up` starts what is not running (so it also repairs a part that
crashed), `status` checks the records and health checks, `down` stops what the records name.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import PartFailedError, PlatformError, PortInUseError
from .parts import PARTS, Part, wait_until
from .process import (
    INSTANCE_ENV,
    ProcessRecord,
    group_alive,
    instance_id,
    instance_processes,
    port_in_use,
    start_detached,
    stop_group,
    stop_pids,
    tail,
)
from .secrets import SECRET_ENV, load_secrets, write_secret_file
from .settings import PORT_ENV, PlatformSettings


@dataclass
class PartStatus:
    """What `eopde status` says of one part."""

    healthy: bool
    url: str
    pid: int | None
    log: str | None = None


@dataclass
class UpReport:
    """What `up` did: the parts it started (empty if everything was already running)."""

    started: list[str]
    seconds: float


class Platform:
    """The local platform of one state folder."""

    def __init__(self, settings: PlatformSettings | None = None):
        self.settings = settings or PlatformSettings()
        self.parts: list[Part] = [cls(self) for cls in PARTS]
        self._secrets: dict[str, str] | None = None

    # -- shared facts -------------------------------------------------------------------

    @property
    def secrets(self) -> dict[str, str]:
        if self._secrets is None:
            self._secrets = load_secrets(self.settings.secrets_file)
            if self.settings.demo_password:
                self._secrets["demo_password"] = self.settings.demo_password
        return self._secrets

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"no part named {name!r}; parts: {', '.join(p.name for p in self.parts)}")

    def child_env(self, part: Part | None = None) -> dict[str, str]:
        """Environment of a part: the settings made explicit, the endpoints, the instance
        marker, PATH with this Python's bin folder first, and for each secret the part needs
        (`Part.secret_files`) the path of a 0600 file holding it, never the value. Secrets in
        the environment of the shell that ran `up` are not handed down."""
        env = {k: v for k, v in os.environ.items()
               if k.removesuffix("_FILE") not in SECRET_ENV and k != INSTANCE_ENV}
        s = self.settings
        env["EOPDE_HOME"] = str(s.home_path)
        env["EOPDE_BIND_HOST"] = s.host
        env["EOPDE_BASE_PORT"] = str(s.base_port)
        for key, var in PORT_ENV.items():
            env[var] = str(s.port(key))
        env.update(s.endpoints())
        env[INSTANCE_ENV] = instance_id(s.home_path)
        for var, key in (part.secret_files if part else {}).items():
            env[f"{var}_FILE"] = str(write_secret_file(self.secrets_dir, key, self.secrets[key]))
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
        return env

    @property
    def secrets_dir(self) -> Path:
        """One 0600 file per secret a part needs, in a 0700 folder of the state folder."""
        return self.settings.home_path / "secrets"

    # -- up / status / down -------------------------------------------------------------

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.run_dir / "lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PlatformError(
                    f"another `eopde up` or `eopde down` is working on {self.settings.home}"
                ) from None
            yield

    def up(self, progress: Callable[[str], None] = lambda message: None) -> UpReport:
        """Start every part that is not running, in order; return once all are healthy.

        Raises PortInUseError or PartFailedError (with the part's log) when a part cannot start.
        """
        began = time.monotonic()
        started: list[str] = []
        self.settings.home_path.mkdir(parents=True, exist_ok=True)
        with self._lock():
            for part in self.parts:
                if part.daemon:
                    if self._ensure_daemon(part, progress):
                        started.append(part.name)
                elif not part.healthy():
                    progress(f"{part.name}: setting up")
                    part.run_step()
                    started.append(part.name)
            self._write_endpoints()
        return UpReport(started=started, seconds=time.monotonic() - began)

    def _ensure_daemon(self, part: Part, progress: Callable[[str], None]) -> bool:
        run_dir = self.settings.run_dir
        record = ProcessRecord.load(run_dir, part.name)
        if record and record.alive():
            if wait_until(part.healthy, timeout=part.start_timeout):
                return False
            raise PartFailedError(part.name, "running but not answering its health check",
                                  record.log, tail(record.log))
        if record:
            # Crashed: clear what is left of its process group (orphaned children).
            stop_group(record.pgid, timeout=5)
            ProcessRecord.remove(run_dir, part.name)
        leftovers = part.leftovers()
        if leftovers:
            progress(f"{part.name}: stopping what its last run left behind (pid "
                     f"{', '.join(map(str, leftovers))})")
            stop_pids(leftovers)
        if part.port_key and part.port is not None and port_in_use(self.settings.host, part.port):
            raise PortInUseError(part.name, part.port, PORT_ENV[part.port_key])
        progress(f"{part.name}: starting")
        part.prepare()
        log = self.settings.log_dir / f"{part.name}.log"
        record = start_detached(
            part.name, part.command(), log=log, run_dir=run_dir, env=part.env(),
            cwd=part.cwd(), user=part.user(),
        )

        def ready() -> bool:
            if not record.alive():
                raise PartFailedError(part.name, "exited during start-up", str(log), tail(log))
            return part.healthy()

        if not wait_until(ready, timeout=part.start_timeout):
            raise PartFailedError(
                part.name, f"not healthy after {part.start_timeout:.0f} s", str(log), tail(log)
            )
        part.after_start()
        progress(f"{part.name}: ready at {part.url}")
        return True

    def status(self) -> dict[str, PartStatus]:
        """Each part: healthy, URL, pid (None when not running)."""
        result: dict[str, PartStatus] = {}
        for part in self.parts:
            if part.daemon:
                record = ProcessRecord.load(self.settings.run_dir, part.name)
                alive = bool(record and record.alive())
                result[part.name] = PartStatus(
                    healthy=alive and part.healthy(),
                    url=part.url,
                    pid=record.pid if record and alive else None,
                    log=record.log if record else None,
                )
            else:
                try:
                    healthy = part.healthy()
                except Exception:
                    healthy = False
                result[part.name] = PartStatus(healthy=healthy, url=part.url, pid=None)
        return result

    def running(self) -> bool:
        """True if every part is healthy."""
        return all(s.healthy for s in self.status().values())

    def down(self, progress: Callable[[str], None] = lambda message: None) -> list[str]:
        """Stop what `up` started, in reverse order. Returns the parts that were running."""
        stopped: list[str] = []
        with self._lock():
            for part in reversed(self.parts):
                if not part.daemon:
                    continue
                record = ProcessRecord.load(self.settings.run_dir, part.name)
                if record and (record.alive() or group_alive(record.pgid)):
                    progress(f"{part.name}: stopping")
                    stop_group(record.pgid, sig=part.stop_signal, timeout=20)
                    stopped.append(part.name)
                if stop_pids(part.leftovers()) and part.name not in stopped:
                    stopped.append(part.name)
                if record:
                    ProcessRecord.remove(self.settings.run_dir, part.name)
            # What the parts started in sessions of their own and left running when they died:
            # users' servers and kernels of a killed hub, jobs of a killed ADES.
            rest = instance_processes(instance_id(self.settings.home_path))
            if rest:
                progress(f"stopping {len(rest)} process(es) the parts left behind")
                stop_pids(rest)
        return stopped

    def purge(self, progress: Callable[[str], None] = lambda message: None) -> list[Path]:
        """Stop everything, then delete the state folder and, when the database cluster or the
        ADES's job sandboxes live outside it (root), those too. Returns what was
        deleted. Everything is lost: databases, object storage, logs, secrets."""
        import shutil

        home = self.settings.home_path
        if not home.exists():
            return []
        self.down(progress)
        removed: list[Path] = []
        # Folders kept outside a private state folder as root, linked from it: the database
        # cluster, the ADES's job sandboxes (services/ades/jobuser.py).
        for link in (home / "postgres", home / "ades" / "sandboxes"):
            if link.is_symlink():
                outside = link.resolve()
                shutil.rmtree(outside, ignore_errors=True)
                removed.append(outside)
        if home.exists():
            shutil.rmtree(home)
            removed.append(home)
        return removed

    def _write_endpoints(self) -> None:
        path = self.settings.home_path / "endpoints.json"
        path.write_text(json.dumps(self.settings.endpoints(), indent=1))
        self.settings.record()

    def status_json(self, status: dict[str, PartStatus] | None = None) -> dict[str, dict]:
        """`status` (default: a fresh one) as `eopde status --json` prints it."""
        return {
            name: {k: v for k, v in asdict(s).items() if k != "log"}
            for name, s in (status or self.status()).items()
        }
