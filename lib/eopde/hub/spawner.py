"""The local platform's spawner: JupyterHub's SimpleLocalProcessSpawner that says how far a
start has got.

JupyterHub shows what :meth:`ProgressSpawner.progress` yields on ``/hub/spawn-pending/<user>``
and streams it at ``/hub/api/users/<user>/server/progress``; the stock spawner says only
"Spawning server..." while JupyterLab takes seconds to answer. The stages here, in order:

1. ``starting your JupyterLab`` (20 %): the hub called :meth:`start`;
2. ``JupyterLab is running; waiting for it to answer`` (40 %): the process runs; :meth:`start`
   returns once it accepts connections (every 50 ms: the hub's own polling backs off to
   seconds between looks, which made a spawn seconds longer than JupyterLab's start);
3. ``still waiting for JupyterLab to answer (N s)``, every :data:`TICK_SECONDS`, the bar moving
   towards 95 % (a server that takes long shows it is not stuck);

then the hub's own ``Server ready at /user/<name>/`` (100 %) or ``Spawn failed: ...``.

Every event of one start is kept, so a page opened late (or reloaded) replays them from the
first. No message carries a path, a port or a process id.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner

STARTING = "starting your JupyterLab"
WAITING = "JupyterLab is running; waiting for it to answer"
STILL_WAITING = "still waiting for JupyterLab to answer ({seconds} s)"
#: Seconds between "still waiting" events.
TICK_SECONDS = 2.0
#: How often :meth:`ProgressSpawner.start` tries to connect to the new JupyterLab.
LISTEN_POLL_SECONDS = 0.05
#: How often the event stream looks for a new stage (the stages come from :meth:`start`).
POLL_SECONDS = 0.1


def configure(c: Any) -> None:
    """Use :class:`ProgressSpawner` in a JupyterHub config `c`, and send browsers to the
    spawn-pending page at once (``slow_spawn_timeout`` 0) instead of a blank wait of up to 10 s
    before it."""
    c.JupyterHub.spawner_class = "eopde.hub.spawner.ProgressSpawner"
    c.JupyterHub.tornado_settings.update({"slow_spawn_timeout": 0})


def waiting_progress(seconds: float) -> int:
    """The bar while the hub waits for JupyterLab: 40 % at first, nearing 95 % (86 % at 15 s)."""
    return min(95, 40 + int(55 * (1 - math.exp(-seconds / 8))))


class ProgressSpawner(SimpleLocalProcessSpawner):
    """SimpleLocalProcessSpawner with progress events (configured as ``SimpleLocalProcessSpawner``:
    traitlets applies a parent class's section to its subclasses)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stages: list[tuple[float, dict]] = []

    def _stage(self, progress: int, message: str) -> None:
        self._stages.append((time.monotonic(), {"progress": progress, "message": message}))

    async def start(self) -> Any:
        """Start JupyterLab (the stock spawner), recording the stages."""
        self._stages = []
        self._stage(20, STARTING)
        address = await super().start()
        self._stage(40, WAITING)
        if isinstance(address, tuple):
            await self._wait_listening(address[0] or "127.0.0.1", address[1])
        return address

    async def _wait_listening(self, host: str, port: int) -> None:
        """Return once JupyterLab accepts connections on `port`, its process ended, or
        ``http_timeout`` passed: the hub then finds it answering at its first look.

        The hub polls a new server with a randomised exponential back-off (waits drawn from
        0-0.2 s, 0-0.4 s, 0-0.8 s ... up to 5 s), so it saw a server up to seconds after it
        answered; connecting every :data:`LISTEN_POLL_SECONDS` costs nothing."""
        deadline = time.monotonic() + self.http_timeout
        while time.monotonic() < deadline:
            if await self.poll() is not None:
                return  # exited: the hub reports the failure
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(LISTEN_POLL_SECONDS)
                continue
            writer.close()
            await writer.wait_closed()
            return

    async def progress(self) -> AsyncIterator[dict]:
        """The stages of the current start, then "still waiting" events until it answers.

        JupyterHub stops iterating when the start finishes (ready or failed)."""
        sent = 0
        ticks = 0
        while self._spawn_pending or sent < len(self._stages):
            stages = self._stages
            while sent < len(stages):
                yield dict(stages[sent][1])
                sent += 1
            if stages and stages[-1][1]["message"] == WAITING:
                waited = time.monotonic() - stages[-1][0]
                if waited >= (ticks + 1) * TICK_SECONDS:
                    ticks = int(waited // TICK_SECONDS)
                    yield {"progress": waiting_progress(waited),
                           "message": STILL_WAITING.format(seconds=int(waited))}
            await asyncio.sleep(POLL_SECONDS)
