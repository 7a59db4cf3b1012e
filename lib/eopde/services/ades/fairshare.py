"""Which queued job starts next: a fair share of the ADES's workers between users.

Jobs wait in one queue per user. When a worker is free, the waiting user with the fewest running
jobs goes first (ties: the oldest job), so a user alone may use every worker, and a newcomer is
served before anyone else's next job. Since running jobs are never pre-empted, a user who holds
more than a fair share (``max(1, workers // active users)``) when another user arrives would
keep that user waiting until one of their jobs ends; so a user below their fair share starts at
once on an extra worker, up to ``burst`` jobs running in all (default: twice the workers).
"""

from __future__ import annotations

import itertools
from collections import Counter, deque


class FairQueue:
    """Per-user queues of job ids and the count of running jobs per user (not thread-safe: the
    executor holds its lock)."""

    def __init__(self, workers: int, burst: int | None = None):
        self.workers = max(1, workers)
        self.burst = max(self.workers, burst if burst is not None else 2 * self.workers)
        self._pending: dict[str, deque[tuple[int, str]]] = {}
        self._running: Counter[str] = Counter()
        self._seq = itertools.count()

    def push(self, user: str, job_id: str) -> None:
        self._pending.setdefault(user, deque()).append((next(self._seq), job_id))

    def remove(self, job_id: str) -> bool:
        """Drop a queued job; False if it was not queued."""
        for jobs in self._pending.values():
            for entry in jobs:
                if entry[1] == job_id:
                    jobs.remove(entry)
                    return True
        return False

    def clear(self) -> None:
        self._pending.clear()

    @property
    def running(self) -> int:
        return self._running.total()

    def share(self) -> int:
        active = {u for u, q in self._pending.items() if q} | {
            u for u, n in self._running.items() if n > 0}
        return max(1, self.workers // max(1, len(active)))

    def pop_ready(self) -> tuple[str, str] | None:
        """The (user, job id) to start now, marked running; None when none may start."""
        waiting = [u for u, q in self._pending.items() if q]
        if not waiting:
            return None
        total, share = self.running, self.share()
        waiting.sort(key=lambda u: (self._running.get(u, 0), self._pending[u][0][0]))
        for user in waiting:
            mine = self._running.get(user, 0)
            if total < self.workers or (mine < share and total < self.burst):
                _, job_id = self._pending[user].popleft()
                self._running[user] += 1
                return user, job_id
        return None

    def done(self, user: str) -> None:
        """A job of ``user`` ended (or never started after all)."""
        self._running -= Counter((user,))  # in place; drops a count that reaches 0
