"""Item 8: after the hub is killed, `eopde up` repairs it and `eopde down` stops what it left.

JupyterHub starts configurable-http-proxy in a session of its own, so when the hub dies the proxy
lives on, holding the hub's public port. `up` recognises that proxy as its own (the hub's pid file,
the platform's instance marker in the proxy's environment, our proxy API port on its command line)
and replaces it; `down` stops it even with the hub gone.
"""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest
from conftest import TEST_BASE_PORT, TEST_HUB_PORT, clean_env, eopde

from eopde.services.process import pid_alive, port_in_use

pytestmark = pytest.mark.platform


def _kill_hub(home) -> int:
    """SIGKILL the hub process (its group's leader, not the proxy); return the proxy's pid."""
    hub = json.loads((home / "run" / "hub.json").read_text())
    proxy = int((home / "hub" / "proxy.pid").read_text())
    os.kill(hub["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(hub["pid"]):
        assert time.monotonic() < deadline, "the hub did not die"
        time.sleep(0.1)
    assert pid_alive(proxy), "the proxy died with the hub: nothing to repair"
    return proxy


def test_up_replaces_the_proxy_a_killed_hub_left(platform, alice):
    old_proxy = _kill_hub(platform.home)
    try:
        result = platform.eopde("up", check=False, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "hub: starting" in result.stdout
    finally:
        if pid_alive(old_proxy) and not httpx.get(f"{platform.hub_url}/hub/health").is_success:
            os.kill(old_proxy, signal.SIGKILL)  # on failure: keep the platform up for the others
            time.sleep(1)
            platform.eopde("up", check=False, timeout=300)
    assert not pid_alive(old_proxy)
    new_proxy = int((platform.home / "hub" / "proxy.pid").read_text())
    assert new_proxy != old_proxy and pid_alive(new_proxy)
    assert httpx.get(f"{platform.hub_url}/hub/health").status_code == 200
    assert platform.status()["hub"]["healthy"]
    # Through the new proxy, the hub still knows alice's token.
    me = httpx.get(f"{platform.hub_url}/hub/api/user", headers=alice.headers)
    assert me.status_code == 200 and me.json()["name"] == "alice"


@pytest.fixture
def lone_hub(tmp_path):
    """A platform of its own that runs only the hub, on ports of its own (base + 50)."""
    from eopde.services.parts import HubPart
    from eopde.services.platform import Platform
    from eopde.services.settings import PlatformSettings

    settings = PlatformSettings(home=str(tmp_path / "home"), base_port=TEST_BASE_PORT + 50,
                                hub_port=TEST_HUB_PORT + 50)
    hub_only = Platform(settings)
    hub_only.parts = [HubPart(hub_only)]
    env = clean_env()
    env.update(EOPDE_HOME=settings.home, EOPDE_BASE_PORT=str(settings.base_port),
               EOPDE_HUB_PORT=str(settings.hub_port))
    try:
        hub_only.up()
    except Exception:
        hub_only.down()  # a hub that never became healthy still runs: leave nothing behind
        raise
    proxy = int((settings.hub_dir / "proxy.pid").read_text())
    yield settings, env, proxy
    hub_only.down()
    if pid_alive(proxy):  # main: down leaves it; do not leave it to the next run
        os.kill(proxy, signal.SIGKILL)


def test_down_stops_the_proxy_of_a_killed_hub(lone_hub):
    settings, env, _ = lone_hub
    proxy = _kill_hub(settings.home_path)
    eopde(env, "down", timeout=120)
    deadline = time.monotonic() + 5
    while pid_alive(proxy) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(proxy), "eopde down left the proxy of the killed hub running"
    assert not port_in_use("127.0.0.1", settings.hub_port)
