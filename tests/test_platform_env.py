"""What each part and each user's server gets in its environment, and how `up` tells its own
leftovers from another program's (no platform needed)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from eopde.hub.local import configure
from eopde.services.errors import PortInUseError
from eopde.services.parts import HubPart
from eopde.services.platform import Platform
from eopde.services.process import INSTANCE_ENV, instance_id, instance_processes, pid_alive
from eopde.services.secrets import read_secret
from eopde.services.settings import PlatformSettings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def platform(tmp_path, monkeypatch):
    # Secrets in the shell that runs `up` are not handed down either.
    monkeypatch.setenv("EOPDE_SERVICE_TOKEN", "from-the-shell")
    monkeypatch.setenv("PGPASSWORD", "from-the-shell")
    return Platform(PlatformSettings(home=str(tmp_path / "home"), base_port=_free_port(),
                                     hub_port=_free_port(), demo_password="pw-of-the-demo"))


def _values(platform: Platform) -> dict[str, str]:
    s = platform.secrets
    return {k: s[k] for k in ("service_token", "postgres_password", "proxy_auth_token",
                              "demo_password", "s3_secret_key")}


def test_no_part_gets_a_secret_value_in_its_environment(platform):
    values = _values(platform)
    for part in platform.parts:
        if not part.daemon:
            continue
        env = part.env()
        text = "\n".join(f"{k}={v}" for k, v in env.items())
        allowed = {"s3_secret_key"} if part.name in ("ades", "storage") else set()
        leaked = {k for k, v in values.items() if v in text} - allowed
        assert leaked == set(), (part.name, leaked)
        assert "from-the-shell" not in text, part.name
        assert env[INSTANCE_ENV] == instance_id(platform.settings.home_path)
    storage = platform.part("storage")
    assert platform.secrets["s3_secret_key"] not in " ".join(storage.command())


@pytest.mark.parametrize("part, files", [
    ("catalogue", {"EOPDE_SERVICE_TOKEN", "PGPASSWORD"}), ("ades", {"EOPDE_SERVICE_TOKEN"}),
    ("hub", {"EOPDE_DEMO_PASSWORD"}), ("tiles", set()), ("data", set()), ("storage", set()),
])
def test_secrets_come_as_private_files_to_the_parts_that_need_them(platform, part, files):
    env = platform.part(part).env()
    given = {k.removesuffix("_FILE") for k in env if k.endswith("_FILE") and k.startswith(
        ("EOPDE_", "PG"))}
    assert given == files
    for var in files:
        path = Path(env[f"{var}_FILE"])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    expected = {"EOPDE_SERVICE_TOKEN": "service_token", "PGPASSWORD": "postgres_password",
                "EOPDE_DEMO_PASSWORD": "pw-of-the-demo"}
    for var in files:
        value = read_secret(var, env)
        assert value == platform.secrets.get(expected[var], expected[var])


def test_read_secret_prefers_the_file(tmp_path):
    (tmp_path / "t").write_text("from-file\n")
    assert read_secret("X", {"X_FILE": str(tmp_path / "t"), "X": "from-env"}) == "from-file"
    assert read_secret("X", {"X": "from-env"}) == "from-env"
    assert read_secret("X", {}) is None


def test_users_servers_get_no_platform_secret(platform, monkeypatch):
    """The hub's own environment may hold anything: the Spawner gives a user's server only
    env_keep, the platform's endpoints and the (shared) S3 keys."""
    from jupyterhub.spawner import SimpleLocalProcessSpawner

    values = _values(platform)
    for name, value in [("EOPDE_SERVICE_TOKEN", values["service_token"]),
                        ("PGPASSWORD", values["postgres_password"]),
                        ("CONFIGPROXY_AUTH_TOKEN", values["proxy_auth_token"]),
                        ("EOPDE_DEMO_PASSWORD", values["demo_password"])]:
        monkeypatch.setenv(name, value)
    c = Config()
    configure(c, platform.settings)
    user = SimpleNamespace(name="mallory", escaped_name="mallory", url="/user/mallory/",
                           id=1, server=None)
    hub = SimpleNamespace(api_url="http://127.0.0.1:1/hub/api", base_url="/hub/",
                          public_host="", url="http://127.0.0.1:1/hub/")
    spawner = SimpleLocalProcessSpawner(config=c, user=user, hub=hub, api_token="users-token",
                                        oauth_client_id="jupyterhub-user-mallory")
    env = spawner.get_env()
    text = "\n".join(f"{k}={v}" for k, v in env.items())
    assert [k for k, v in values.items() if v in text] == []  # own workspace keys only
    assert env[INSTANCE_ENV] == instance_id(platform.settings.home_path)
    assert env["EOPDE_S3_BUCKET"] == "user-mallory"


def _listener(port: int, api_port: int, marker: str) -> subprocess.Popen:
    """A process listening on `port` whose command line names `api_port` as a proxy's would."""
    code = ("import socket,sys,time;s=socket.socket();s.bind(('127.0.0.1',int(sys.argv[1])));"
            "s.listen();time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(port), "--api-port", str(api_port)],
                            env={**os.environ, INSTANCE_ENV: marker}, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def _hub_only(platform: Platform) -> Platform:
    platform.parts = [HubPart(platform)]
    return platform


def test_up_never_stops_another_programs_process(platform):
    """A process on the hub's port named by the proxy pid file but not carrying this platform's
    marker (another program, or another platform's proxy): `up` leaves it and says which port."""
    s = platform.settings
    other = _listener(s.hub_port, s.port("proxy_api"), "another-platform")
    try:
        s.hub_dir.mkdir(parents=True)
        (s.hub_dir / "proxy.pid").write_text(str(other.pid))
        with pytest.raises(PortInUseError) as err:
            _hub_only(platform).up()
        assert str(s.hub_port) in str(err.value) and "EOPDE_HUB_PORT" in str(err.value)
        assert other.poll() is None and pid_alive(other.pid)
    finally:
        other.kill()
        other.wait()


def test_up_stops_its_own_leftover_and_down_stops_marked_processes(platform):
    """The recognition itself: marker + pid file + API port on the command line."""
    s = platform.settings
    marker = instance_id(s.home_path)
    ours = _listener(s.hub_port, s.port("proxy_api"), marker)
    stray = subprocess.Popen([sys.executable, "-c", "import time;time.sleep(60)"],
                             env={**os.environ, INSTANCE_ENV: marker}, start_new_session=True)
    try:
        s.hub_dir.mkdir(parents=True)
        (s.hub_dir / "proxy.pid").write_text(str(ours.pid))
        assert HubPart(platform).leftovers() == [ours.pid]
        assert set(instance_processes(marker)) == {ours.pid, stray.pid}
        platform.down()
        for proc in (ours, stray):
            proc.wait(10)  # raises TimeoutExpired (the test fails) while it still runs
        assert instance_processes(marker) == []
    finally:
        for proc in (ours, stray):
            proc.kill()
            proc.wait()
