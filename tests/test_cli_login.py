"""A new terminal on the platform's machine: `eopde login`, then ADES commands just work."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import BIN

pytestmark = pytest.mark.platform


def test_login_then_ades_commands_from_another_folder(platform, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("EOPDE_TOKEN", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER",
                        "EOPDE_ADES_URL")}
    # Only where the platform lives (tests use a private state folder) and where to save.
    env.update(EOPDE_HOME=platform.env["EOPDE_HOME"],
               EOPDE_CREDENTIALS=str(tmp_path / "credentials.json"),
               EOPDE_CONFIG=str(tmp_path / "none.toml"))

    def run(*args):
        return subprocess.run([str(BIN / "eopde"), *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    before = run("processes", "--json")
    assert before.returncode == 1 and "eopde login" in before.stderr
    login = run("login")
    assert login.returncode == 0, login.stderr
    assert "as demo" in login.stdout
    after = run("processes", "--json")
    assert after.returncode == 0, after.stderr
    assert isinstance(json.loads(after.stdout), list)
