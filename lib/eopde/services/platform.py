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
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import PartFailedError, PlatformError, PortInUseError
from .parts import PARTS, Cancelled, Part, wait_until
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
        self._env_lock = threading.Lock()

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
        """Start every part that is not running; return once all are healthy.

        Parts start as soon as the parts they need (`Part.needs`) are ready, so independent
        ones start together and their health checks are waited on in parallel. When a part
        fails, no other part starts, the ones still starting are stopped, and PortInUseError or
        PartFailedError (naming the part, with its log) is raised; parts already ready stay up
        (`up` again starts what is missing, `down` stops everything).
        """
        began = time.monotonic()
        self.settings.home_path.mkdir(parents=True, exist_ok=True)
        with self._lock():
            self.secrets  # noqa: B018 - made once, before the parts' threads read them
            self._check_ports()
            started = _Starter(self, progress).run()
            self._write_endpoints()
        return UpReport(started=started, seconds=time.monotonic() - began)

    def _check_ports(self) -> None:
        """Refuse before starting anything when a part that is not running finds its port taken
        (today each part found out in turn, after the ones before it had started)."""
        for part in self.parts:
            if not (part.daemon and part.port_key and part.port is not None):
                continue
            record = ProcessRecord.load(self.settings.run_dir, part.name)
            if record and record.alive():
                continue
            if part.leftovers():
                continue  # its own leftover holds the port: `_ensure_daemon` stops it
            if port_in_use(self.settings.host, part.port):
                raise PortInUseError(part.name, part.port, PORT_ENV[part.port_key])

    def _ensure_daemon(self, part: Part, progress: Callable[[str], None],
                       stop: threading.Event | None = None,
                       before_after_start: Callable[[], None] = lambda: None) -> bool:
        """Start `part` unless it runs and answers; True if it was started. A part this call
        started and did not see through (`stop` set, a failure) is stopped again, so that the
        next `up` starts it afresh (its `after_start` work included)."""
        run_dir = self.settings.run_dir
        record = ProcessRecord.load(run_dir, part.name)
        if record and record.alive():
            if wait_until(part.healthy, timeout=part.start_timeout, stop=stop):
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
        began = time.monotonic()
        part.prepare()
        log = self.settings.log_dir / f"{part.name}.log"
        with self._env_lock:  # the parts' secret files are shared: written one at a time
            env = part.env()
        record = start_detached(
            part.name, part.command(), log=log, run_dir=run_dir, env=env,
            cwd=part.cwd(), user=part.user(),
        )

        def ready() -> bool:
            if not record.alive():
                raise PartFailedError(part.name, "exited during start-up", str(log), tail(log))
            return part.healthy()

        try:
            if not wait_until(ready, timeout=part.start_timeout, stop=stop):
                raise PartFailedError(
                    part.name, f"not healthy after {part.start_timeout:.0f} s", str(log),
                    tail(log))
            before_after_start()
            part.after_start()
        except BaseException:
            stop_group(record.pgid, sig=part.stop_signal, timeout=20)
            ProcessRecord.remove(run_dir, part.name)
            raise
        progress(f"{part.name}: ready at {part.url} ({time.monotonic() - began:.1f} s)")
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


class _Starter:
    """One `up`: a thread per part, each waiting for the parts it needs, then starting its part
    (or running its step) and waiting on its health check; the first failure cancels the rest."""

    def __init__(self, platform: Platform, progress: Callable[[str], None]) -> None:
        self.platform = platform
        lock = threading.Lock()

        def say(message: str) -> None:
            with lock:  # one line at a time from the parts' threads
                progress(message)

        self.say = say
        self.ready = {part.name: threading.Event() for part in platform.parts}
        self.stop = threading.Event()
        self.started: set[str] = set()
        self.failures: list[BaseException] = []
        self.lock = threading.Lock()

    def run(self) -> list[str]:
        """Start what is not running; the names of the parts started, in `PARTS` order."""
        threads = [threading.Thread(target=self._one, args=(part,), name=f"up-{part.name}",
                                    daemon=True) for part in self.platform.parts]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # Ctrl-C: the parts still starting are stopped, then it goes on
            self.stop.set()
            for thread in threads:
                thread.join()
            raise
        if self.failures:
            first = self.failures[0]
            others = [getattr(f, "part", "?") for f in self.failures[1:]]
            if others:
                self.say(f"also failed: {', '.join(others)}")
            raise first
        return [part.name for part in self.platform.parts if part.name in self.started]

    def _wait_for(self, names: tuple[str, ...]) -> None:
        for name in names:
            while not self.ready[name].wait(0.1):
                if self.stop.is_set():
                    raise Cancelled()

    def _one(self, part: Part) -> None:
        try:
            self._wait_for(part.needs)
            if self.stop.is_set():
                raise Cancelled()
            if part.daemon:
                did = self.platform._ensure_daemon(
                    part, self.say, self.stop,
                    before_after_start=lambda: self._wait_for(part.after_start_needs))
            elif not part.healthy():
                self.say(f"{part.name}: setting up")
                part.run_step()
                did = True
            else:
                did = False
            with self.lock:
                if did:
                    self.started.add(part.name)
            self.ready[part.name].set()
        except Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by run(), in this thread's stead
            with self.lock:
                self.failures.append(exc)
            self.stop.set()
