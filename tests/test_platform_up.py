"""`eopde up` starts independent parts together, keeps the order parts need, and when one part
fails says which and why and stops the parts still starting (real processes, fake parts)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from eopde.services.errors import PartFailedError
from eopde.services.parts import Part
from eopde.services.platform import Platform
from eopde.services.process import ProcessRecord, group_alive
from eopde.services.settings import PlatformSettings


@pytest.fixture
def platform(tmp_path):
    return Platform(PlatformSettings(home=str(tmp_path / "home"), base_port=29700,
                                     hub_port=29000, demo_password="pw"))


class Step(Part):
    """A one-shot step that takes `seconds` and records when it ran."""

    daemon = False
    seconds = 0.4
    times: dict[str, tuple[float, float]]

    def healthy(self) -> bool:
        return self.name in self.times

    def run_step(self) -> None:
        began = time.monotonic()
        time.sleep(self.seconds)
        self.times[self.name] = (began, time.monotonic())


def step(name: str, times: dict, needs: tuple[str, ...] = ()) -> type[Part]:
    return type(name, (Step,), {"name": name, "needs": needs, "times": times})


class Sleeper(Part):
    """A real detached process that never answers its health check (still starting)."""

    name = "slow"
    start_timeout = 30.0

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    def healthy(self) -> bool:
        return False


class Crasher(Part):
    """A real process that exits at once, after a moment."""

    name = "crashing"

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import sys, time; time.sleep(0.5); "
                "print('cannot read my config', flush=True); sys.exit(3)"]

    def healthy(self) -> bool:
        return False


def test_independent_parts_start_together_and_needs_are_kept(platform):
    times: dict[str, tuple[float, float]] = {}
    classes = [step("db", times), step("schema", times, ("db",)), step("tiles", times),
               step("storage", times), step("catalogue", times, ("schema",))]
    platform.parts = [cls(platform) for cls in classes]
    said: list[str] = []
    began = time.monotonic()
    report = platform.up(progress=said.append)
    took = time.monotonic() - began

    assert report.started == ["db", "schema", "tiles", "storage", "catalogue"]
    # db, tiles and storage ran at once; schema after db, catalogue after schema
    starts = sorted(times[n][0] for n in ("db", "tiles", "storage"))
    assert starts[-1] - starts[0] < 0.2
    assert times["schema"][0] >= times["db"][1]
    assert times["catalogue"][0] >= times["schema"][1]
    assert took < 3 * 0.4 + 0.5  # the chain db -> schema -> catalogue, not the five in a row
    assert sorted(said) == sorted(f"{n}: setting up" for n in times)
    # a second `up` finds everything healthy and starts nothing
    assert platform.up().started == []


def test_a_failing_part_is_named_and_the_others_are_stopped(platform):
    times: dict[str, tuple[float, float]] = {}
    platform.parts = [Crasher(platform), Sleeper(platform),
                      step("after-crash", times, ("crashing",))(platform)]
    said: list[str] = []
    began = time.monotonic()
    with pytest.raises(PartFailedError) as failed:
        platform.up(progress=said.append)
    assert time.monotonic() - began < 10  # not the sleeper's 30 s timeout
    assert failed.value.part == "crashing"
    message = str(failed.value)
    assert message.startswith("part 'crashing' failed: exited during start-up\nlog: ")
    assert "cannot read my config" in message
    # nothing that needed the failed part ran; the part still starting was stopped, unrecorded
    assert times == {}
    run_dir = platform.settings.run_dir
    assert ProcessRecord.load(run_dir, "slow") is None
    assert ProcessRecord.load(run_dir, "crashing") is None
    assert sorted(said) == ["crashing: starting", "slow: starting"]
    assert not [t for t in threading.enumerate() if t.name.startswith("up-")]


def test_the_stopped_part_is_really_gone(platform):
    platform.parts = [Crasher(platform), Sleeper(platform)]
    seen: list[int] = []
    original = Sleeper.healthy

    def healthy(self) -> bool:
        record = ProcessRecord.load(self.settings.run_dir, self.name)
        if record and record.pgid not in seen:
            seen.append(record.pgid)
        return original(self)

    Sleeper.healthy = healthy  # type: ignore[method-assign]
    try:
        with pytest.raises(PartFailedError):
            platform.up()
    finally:
        Sleeper.healthy = original  # type: ignore[method-assign]
    assert len(seen) == 1 and not group_alive(seen[0])


def test_demo_items_are_loaded_again_only_when_something_changed(platform, monkeypatch):
    from eopde.services import parts_data, queryables

    data = platform.part("data")
    data.settings.data_dir.mkdir(parents=True)
    (data.settings.data_dir / "B04.tif").write_bytes(b"II*\x00" + bytes(100))
    loads: list[int] = []
    in_catalogue = {"count": 0}

    def load(_platform) -> int:
        loads.append(1)
        in_catalogue["count"] = 6
        return 6

    monkeypatch.setattr(parts_data, "load_demo_items", load)
    monkeypatch.setattr(parts_data, "demo_item_count", lambda _platform: in_catalogue["count"])
    monkeypatch.setattr(queryables, "register_queryables", lambda dsn: None)

    data.after_start()
    data.after_start()
    assert len(loads) == 1  # the warm start found them there
    in_catalogue["count"] = 5  # someone deleted a demo item
    data.after_start()
    assert len(loads) == 2
    (data.settings.data_dir / "B04.tif").write_bytes(b"II*\x00" + bytes(200))  # new data
    data.after_start()
    assert len(loads) == 3
    in_catalogue["count"] = None  # database not answering: load (and fail there, if so)
    data.after_start()
    assert len(loads) == 4
    data.after_start()
    assert len(loads) == 4
