"""The demo as an ordinary user on a laptop: no root, so PostgreSQL runs as that user and the
single-user servers run without --allow-root. CI runs as root, so this test makes an ordinary
account and runs the platform as it."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ordinary_account
from conftest import BIN, TEST_BASE_PORT, clean_env
from hubsession import HubSession

pytestmark = pytest.mark.platform

USER = "eopde-laptop"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def laptop_user(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("already an ordinary user: the main end-to-end tests cover this path")
    if not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("useradd/runuser not available to make an ordinary account")
    ordinary_account.ensure(USER)
    # The account must reach the interpreter, the venv and the checkout (ordinary_account);
    # without EOPDE_TEST_GRANT_TRAVERSE the test is skipped rather than touching folders.
    needed = [Path(os.path.realpath(sys.executable)).parent, Path(sys.base_prefix) / "lib",
              BIN, REPO / "hub_config" / "node_modules"]
    try:
        ordinary_account.check_reachable(USER, needed)
    except ordinary_account.Unreachable as err:
        pytest.skip(str(err))
    with ordinary_account.traverse_granted(USER, needed):
        home = Path(pwd.getpwnam(USER).pw_dir) / "eopde-state"
        if home.exists():
            subprocess.run(["runuser", "-u", USER, "--", str(BIN / "eopde"), "down"],
                           env=_env(home), capture_output=True)
            shutil.rmtree(home)
        yield home


def _env(home: Path) -> dict[str, str]:
    env = clean_env()
    env.update(EOPDE_HOME=str(home), EOPDE_BASE_PORT=str(TEST_BASE_PORT + 100),
               EOPDE_HUB_PORT=str(TEST_BASE_PORT + 90), HOME=str(home.parent),
               USER=USER, LOGNAME=USER)
    return env


def _as_user(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["runuser", "-u", USER, "--", str(BIN / "eopde"), *args], env=env,
                            capture_output=True, text=True, timeout=600, cwd=env["HOME"])
    if check and result.returncode != 0:
        logs = subprocess.run(["runuser", "-u", USER, "--", str(BIN / "eopde"), "logs", "-n", "30"],
                              env=env, capture_output=True, text=True).stdout
        raise AssertionError(f"eopde {args} as {USER}: {result.stdout}\n{result.stderr}\n{logs}")
    return result


def test_platform_runs_as_an_ordinary_user(laptop_user):
    env = _env(laptop_user)
    uid = pwd.getpwnam(USER).pw_uid
    try:
        _as_user(env, "up")
        status = json.loads(_as_user(env, "status", "--json").stdout)
        assert all(part["healthy"] for part in status.values()), status
        # Every part, PostgreSQL included, runs as the ordinary user.
        for name, part in status.items():
            if part["pid"]:
                assert os.stat(f"/proc/{part['pid']}").st_uid == uid, name
        password = json.loads((laptop_user / "secrets.json").read_text())["demo_password"]
        session = HubSession(f"http://127.0.0.1:{TEST_BASE_PORT + 90}", "demo")
        try:
            session.login(password)
            session.spawn(timeout=90)
            kernel = session.start_kernel("eopde")
            result = session.execute(kernel, "import os; print(os.geteuid())")
            assert result.status == "ok", result.error
            assert result.stdout.strip() == str(uid)
        finally:
            session.stop()
            session.close()
    finally:
        _as_user(env, "down", check=False)
