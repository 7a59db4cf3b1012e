"""Shared fixtures. The local platform is started once per test run, in a temporary state
folder and on ports of its own, through the `eopde` command as a user would start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TEST_BASE_PORT = int(os.environ.get("EOPDE_TEST_BASE_PORT", "18700"))
TEST_HUB_PORT = int(os.environ.get("EOPDE_TEST_HUB_PORT", "18000"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def clean_env() -> dict[str, str]:
    """This process's environment without any EOPDE_* setting of the developer's own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EOPDE_")}


def eopde(env: dict[str, str], *args: str, check: bool = True,
          timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the `eopde` command with `env`; on failure with check, show its output."""
    result = subprocess.run([str(BIN / "eopde"), *args], env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"eopde {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


class RunningPlatform:
    """Handle on the platform the tests started."""

    def __init__(self, home: Path, env: dict[str, str]):
        self.home = home
        self.env = env

    def eopde(self, *args: str, check: bool = True, timeout: float = 300):
        return eopde(self.env, *args, check=check, timeout=timeout)

    def status(self) -> dict:
        return json.loads(self.eopde("status", "--json", check=False).stdout)

    @property
    def secrets(self) -> dict:
        return json.loads((self.home / "secrets.json").read_text())

    def url(self, part: str) -> str:
        return self.status()[part]["url"]

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{TEST_HUB_PORT}"

    def settings(self):
        from eopde.services.settings import PlatformSettings

        return PlatformSettings(home=str(self.home), base_port=TEST_BASE_PORT,
                                hub_port=TEST_HUB_PORT)


@pytest.fixture(scope="session")
def platform_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("eopde-home")
    env = clean_env()
    env.update(
        EOPDE_HOME=str(home),
        EOPDE_BASE_PORT=str(TEST_BASE_PORT),
        EOPDE_HUB_PORT=str(TEST_HUB_PORT),
        # Two ADES workers, whatever the machine: the restart test fills both.
        EOPDE_ADES_WORKERS="2",
    )
    return env


@pytest.fixture(scope="session")
def platform(platform_env) -> RunningPlatform:
    """The local platform, up for the whole run; stopped (and checked stopped) at the end."""
    running = RunningPlatform(Path(platform_env["EOPDE_HOME"]), platform_env)
    try:
        result = running.eopde("up", timeout=600)
    except AssertionError:
        logs = running.eopde("logs", "-n", "60", check=False).stdout
        running.eopde("purge", "--yes", check=False)
        raise AssertionError(f"eopde up failed; logs:\n{logs}") from None
    running.up_output = result.stdout
    running.catalogue_at_start = catalogue_contents(running)
    _started.append(running)
    yield running
    _started.clear()
    records = [json.loads(p.read_text()) for p in (running.home / "run").glob("*.json")]
    running.eopde("down", timeout=120)
    from eopde.services.process import group_alive

    left = [r["part"] for r in records if group_alive(r["pgid"])]
    assert not left, f"eopde down left these parts running: {left}"
    # As root the cluster may live outside the (private) temporary folder: delete it too.
    outside = (running.home / "postgres").resolve()
    running.eopde("purge", "--yes", timeout=120)
    assert not running.home.exists() and not outside.exists()


_started: list[RunningPlatform] = []  # the session platform, once a test has started it


def catalogue_contents(platform: RunningPlatform) -> dict[str, int]:
    """Every collection of the platform's catalogue with its number of items (from pgstac)."""
    import psycopg

    from eopde.services.platform import Platform

    dsn = Platform(platform.settings()).part("postgres").dsn()
    with psycopg.connect(dsn, connect_timeout=30) as conn:
        rows = conn.execute("SELECT c.id, count(i.id) FROM pgstac.collections c "
                            "LEFT JOIN pgstac.items i ON i.collection = c.id "
                            "GROUP BY c.id").fetchall()
    return {cid: int(count) for cid, count in rows}


@pytest.fixture(scope="module", autouse=True)
def catalogue_left_as_found():
    """Each module leaves the shared catalogue as it found it (collections, item counts):
    other modules list or count all of it, and would fail only when run after the one that
    leaked. Checked where the session platform runs, after the module's own clean-ups."""
    before = catalogue_contents(_started[0]) if _started else None
    yield
    if not _started:
        return
    running = _started[0]
    if before is None:  # the platform started within this module
        before = running.catalogue_at_start
    after = catalogue_contents(running)
    changed = {cid: (before.get(cid), after.get(cid)) for cid in before.keys() | after.keys()
               if before.get(cid) != after.get(cid)}
    assert not changed, ("this module left the catalogue changed, collection: (items before, "
                         f"items after; None = no collection): {changed}; delete what it "
                         "made (workspace_helpers.drop_collections)")


@pytest.fixture(scope="module")
def ades_user_env(platform):
    """What a user's server has for the ADES tests: endpoints, S3 credentials (the platform's
    key: these tests read every job's bucket), the images folder; put back afterwards."""
    secrets = platform.secrets
    values = {
        "EOPDE_IMAGES_DIR": str(platform.home / "images"),
        "AWS_ACCESS_KEY_ID": secrets["s3_access_key"],
        "AWS_SECRET_ACCESS_KEY": secrets["s3_secret_key"],
        "AWS_ENDPOINT_URL_S3": platform.url("storage"),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def eopde_server_config() -> dict:
    """What a module's tests add to their Jupyter server's config (traitlets, by class name):
    nothing unless the module overrides this fixture."""
    return {}


@pytest.fixture
def jp_server_config(eopde_server_config: dict) -> dict:
    """pytest-jupyter's config of the Jupyter server a test runs through `jp_fetch` (modules that
    do say `pytest_plugins = ["pytest_jupyter.jupyter_server"]`): the eopde server extension
    on, plus the module's own `eopde_server_config`."""
    return {"ServerApp": {"jpserver_extensions": {"eopde.server": True}}, **eopde_server_config}
