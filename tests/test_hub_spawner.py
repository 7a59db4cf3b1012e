"""The hub's spawner says how far a user's server has got (/hub/spawn-pending/<user>)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from traitlets.config import Config, PyFileConfigLoader

from eopde.hub import spawner as progress_spawner
from eopde.hub.spawner import STARTING, WAITING, ProgressSpawner, waiting_progress

from hubsession import HubSession

REPO = Path(__file__).resolve().parent.parent
STILL = re.compile(r"still waiting for JupyterLab to answer \((\d+) s\)")


def test_configure_sets_the_spawner_and_keeps_other_tornado_settings():
    c = Config()
    c.JupyterHub.tornado_settings = {"cookie_options": {"samesite": "Lax"}}
    progress_spawner.configure(c)
    assert c.JupyterHub.spawner_class == "eopde.hub.spawner.ProgressSpawner"
    assert c.JupyterHub.tornado_settings == {"cookie_options": {"samesite": "Lax"},
                                             "slow_spawn_timeout": 0}


def test_the_checkouts_hub_config_uses_it(monkeypatch, tmp_path):
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path))
    loader = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "hub_config"))
    c = loader.load_config()
    assert c.JupyterHub.spawner_class == "eopde.hub.spawner.ProgressSpawner"
    assert c.JupyterHub.tornado_settings.to_dict()["update"] == {"slow_spawn_timeout": 0}
    # the stock spawner's settings reach the subclass
    assert c.SimpleLocalProcessSpawner.home_dir_template == str(tmp_path / "users" / "{username}")


def test_waiting_progress_rises_towards_95():
    assert [waiting_progress(s) for s in (0, 2, 8, 15, 60, 600)] == [40, 52, 74, 86, 94, 95]


def test_progress_replays_the_stages_then_ticks_until_the_start_ends(monkeypatch):
    monkeypatch.setattr(progress_spawner, "TICK_SECONDS", 0.2)
    monkeypatch.setattr(progress_spawner, "POLL_SECONDS", 0.01)
    spawner = ProgressSpawner()
    spawner._spawn_pending = True
    spawner._stage(20, STARTING)
    spawner._stage(40, WAITING)

    async def listen() -> list[dict]:
        async def finish() -> None:
            await asyncio.sleep(0.5)
            spawner._spawn_pending = False

        task = asyncio.ensure_future(finish())
        events = [event async for event in spawner.progress()]
        await task
        return events

    events = asyncio.run(listen())
    assert events[:2] == [{"progress": 20, "message": STARTING},
                          {"progress": 40, "message": WAITING}]
    ticks = events[2:]
    assert len(ticks) == 2  # at 0.2 s and 0.4 s of the 0.5 s wait
    assert [int(STILL.fullmatch(t["message"]).group(1)) for t in ticks] == [0, 0]
    assert all(40 <= t["progress"] <= 95 for t in ticks)


@pytest.mark.platform
def test_spawn_progress_stream_from_the_real_hub(platform):
    """The hub's event stream for a start: the spawner's stages in order, then ready."""
    session = HubSession(platform.hub_url, "demo")
    try:
        assert session.login(platform.secrets["demo_password"]).status_code == 200
        xsrf = {"X-XSRFToken": session._xsrf("/hub/")}
        _stopped(session, xsrf)  # earlier tests on the shared platform leave demo's server up
        started = session.client.post("/hub/api/users/demo/server", headers=xsrf)
        # slow_spawn_timeout 0: the hub answers at once, the start goes on
        assert started.status_code == 202, started.text
        events = []
        with session.client.stream("GET", "/hub/api/users/demo/server/progress",
                                   headers=xsrf, timeout=90) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: "):]))
                    if events[-1].get("ready") or events[-1].get("failed"):
                        break
        page = session.client.get("/hub/spawn-pending/demo")
    finally:
        session.stop()
        session.close()
    messages = [e["message"] for e in events if not STILL.fullmatch(e["message"])]
    assert messages == ["Server requested", STARTING, WAITING, "Server ready at /user/demo/"]
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and progress[0] == 0 and progress[-1] == 100
    # once ready, the pending page sends the browser on to the server
    assert page.status_code == 200 and "/user/demo/" in str(page.url)


def _stopped(session, xsrf, timeout: float = 60) -> None:
    """Stop demo's server and wait until the hub has it neither running nor pending."""
    import time

    session.stop()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = session.client.get("/hub/api/users/demo", headers=xsrf).json()
        if not model.get("server") and not model.get("pending"):
            return
        time.sleep(0.2)
    raise AssertionError(f"demo's server did not stop within {timeout} s: {model}")


def test_start_returns_as_soon_as_the_server_listens(monkeypatch):
    """`_wait_listening` sees a listener within ~0.1 s, whatever the hub's back-off."""
    import socket
    import threading
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spawner = ProgressSpawner()

    async def running() -> None:
        return None

    monkeypatch.setattr(spawner, "poll", running)
    server = socket.socket()

    def listen_later() -> None:
        time.sleep(0.6)
        server.bind(("127.0.0.1", port))
        server.listen()

    threading.Thread(target=listen_later).start()
    began = time.monotonic()
    try:
        asyncio.run(spawner._wait_listening("127.0.0.1", port))
        waited = time.monotonic() - began
    finally:
        server.close()
    assert 0.6 <= waited < 0.8


def test_start_stops_waiting_when_the_server_exits(monkeypatch):
    import time

    spawner = ProgressSpawner()

    async def exited() -> int:
        return 1

    monkeypatch.setattr(spawner, "poll", exited)
    began = time.monotonic()
    asyncio.run(spawner._wait_listening("127.0.0.1", 9))  # nothing listens on port 9
    assert time.monotonic() - began < 0.1
