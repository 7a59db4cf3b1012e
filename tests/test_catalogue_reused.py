"""`eopde.catalogue.base.Reused`: what it keeps, for how long, and how many."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from eopde.catalogue import base


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves by hand (Reused reads `time.monotonic` when it is made)."""
    now = SimpleNamespace(t=1000.0)
    monkeypatch.setattr(base, "time", SimpleNamespace(monotonic=lambda: now.t))
    return now


def test_an_entry_lives_seconds_from_when_its_making_began(clock):
    reused: base.Reused[str] = base.Reused(2.0)

    def slow_make() -> str:
        clock.t += 1.5  # e.g. a slow read of a STAC item
        return "first"

    assert reused.get("k", slow_make) == "first"
    clock.t += 0.4  # 1.9 s after the making began: still kept
    assert reused.get("k", lambda: "second") == "first"
    clock.t += 0.2  # 2.1 s after the making began, 0.6 s after it was stored: gone
    assert reused.peek("k") is None
    assert reused.get("k", lambda: "second") == "second"


def test_at_most_most_entries_are_kept_least_recently_used_first(clock):
    reused: base.Reused[int] = base.Reused(60.0, most=2)
    reused.get("a", lambda: 1)
    reused.get("b", lambda: 2)
    reused.get("a", lambda: 0)  # a is used again: b is now the least recently used
    reused.get("c", lambda: 3)
    assert (reused.peek("a"), reused.peek("b"), reused.peek("c")) == (1, None, 3)
    reused.clear()
    assert reused.peek("a") is None
