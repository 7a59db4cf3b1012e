"""Item 1 (environment half): the platform's secrets never sit where user code or error text can
reach them.

A process's environment is readable in /proc/<pid>/environ by its own account (every user's code
runs as that account in the demo, and a `$include: /proc/self/environ` once echoed it back) and is
inherited by all it starts; a command line is readable by every account (`ps`). So the service
token (it mints tokens for any user), the database password, the proxy's token and the demo
password are in no part's environment nor anyone's command line or log; the catalogue and the
ADES, which check tokens with the hub, read the service token from a 0600 file. Users' servers and
kernels get none of them, nor the platform's S3 keys: they get their own workspace keys.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest

from eopde.services.process import proc_cmdline, proc_environ

pytestmark = pytest.mark.platform


def _secrets(platform) -> dict[str, str]:
    s = platform.secrets
    return {"service token": s["service_token"], "database password": s["postgres_password"],
            "proxy token": s["proxy_auth_token"], "demo password": s["demo_password"]}


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _part_processes(platform) -> dict[int, str]:
    """Every live process of every part (its process group) and the hub's proxy: pid -> label."""
    groups = {}
    for path in (platform.home / "run").glob("*.json"):
        record = json.loads(path.read_text())
        groups[record["pgid"]] = record["part"]
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            if int(fields[2]) in groups and fields[0] not in "ZX":
                found[int(entry.name)] = groups[int(fields[2])]
    proxy = int((platform.home / "hub" / "proxy.pid").read_text())
    found[proxy] = "hub's proxy"
    assert {"catalogue", "ades", "hub", "tiles", "storage", "data", "postgres"} <= set(
        found.values()), found
    return found


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


def _environ_text(pid: int) -> str:
    env = proc_environ(pid)
    assert env is not None, f"cannot read /proc/{pid}/environ"
    return "\n".join(f"{k}={v}" for k, v in env.items())


def test_no_part_has_a_platform_secret_in_its_environment(platform, canary):
    secrets = _secrets(platform)
    assert secrets["service token"] == canary
    leaks = {}
    for pid, part in _part_processes(platform).items():
        found = _leaks(_environ_text(pid), secrets)
        if part == "hub's proxy":  # JupyterHub hands its proxy the token as CONFIGPROXY_AUTH_TOKEN
            found = [name for name in found if name != "proxy token"]
        if found:
            leaks.setdefault(part, set()).update(found)
    assert leaks == {}, f"secrets in /proc/<pid>/environ: {leaks}"


def test_no_secret_on_a_command_line_or_in_a_log(platform):
    """Command lines are readable by every account; logs are shown by `eopde logs`."""
    secrets = _secrets(platform) | {"S3 secret key": platform.secrets["s3_secret_key"]}
    leaks = {}
    for pid, part in _part_processes(platform).items():
        if found := _leaks(" ".join(proc_cmdline(pid) or []), secrets):
            leaks.setdefault(f"{part} command line", set()).update(found)
    for path in [*(platform.home / "logs").glob("*.log"), *(platform.home / "run").glob("*.json")]:
        if found := _leaks(path.read_text(errors="replace"), secrets):
            leaks.setdefault(path.name, set()).update(found)
    assert leaks == {}, f"secrets where others can read them: {leaks}"


def test_services_read_the_service_token_from_a_private_file(platform, mallory):
    """Only the catalogue, the ADES and the workspace get it, as a 0600 file; they still check
    tokens."""
    holders = {}
    for pid, part in _part_processes(platform).items():
        path = (proc_environ(pid) or {}).get("EOPDE_SERVICE_TOKEN_FILE")
        if path:
            holders[part] = path
    assert set(holders) == {"catalogue", "ades", "workspace"}, holders
    for path in set(holders.values()):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(Path(path).parent).st_mode) == 0o700
    with mallory.client() as client:
        assert client.get(mallory.ades("/processes")).status_code == 200
        refused = httpx.delete(f"{platform.url('catalogue')}/collections/nope",
                               headers={"Authorization": "Bearer not-a-token"})
        assert refused.status_code == 401
        checked = client.delete(f"{platform.url('catalogue')}/collections/nope")
        assert checked.status_code == 404, checked.text  # the token was checked: no such one


def _servers_of(platform, user: str) -> dict[int, dict[str, str]]:
    """Processes of `user`'s server on this platform (the server and its kernels)."""
    hub_api = f":{platform.settings().port('hub_api')}/"
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (env := proc_environ(int(entry.name))):
            if env.get("JUPYTERHUB_USER") == user and hub_api in env.get("JUPYTERHUB_API_URL", ""):
                found[int(entry.name)] = env
    return found


def test_users_servers_and_kernels_get_no_platform_secret(platform, mallory):
    """mallory's server, spawned through the hub API, and a kernel in it."""
    api = f"http://127.0.0.1:{platform.settings().port('hub_api')}/hub/api"
    with mallory.client(timeout=60) as client:
        started = client.post(f"{api}/users/mallory/server")
        assert started.status_code in (201, 202, 400), started.text
        deadline = time.monotonic() + 90
        while not client.get(f"{api}/users/mallory").json()["servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, "mallory's server did not start"
            time.sleep(0.3)
        kernel = client.post(f"{platform.hub_url}/user/mallory/api/kernels", json={})
        assert kernel.status_code == 201, kernel.text
        try:
            deadline = time.monotonic() + 30
            while len(processes := _servers_of(platform, "mallory")) < 2:
                assert time.monotonic() < deadline, f"no kernel process: {processes}"
                time.sleep(0.3)
            secrets = _secrets(platform)
            for pid, env in processes.items():
                text = "\n".join(f"{k}={v}" for k, v in env.items())
                assert _leaks(text, secrets) == [], f"pid {pid} ({env.get('_', '?')})"
                assert not any(k.endswith("_FILE") and k.startswith("EOPDE_") for k in env)
                # mallory's own workspace keys, never the platform's
                assert env["AWS_SECRET_ACCESS_KEY"] != platform.secrets["s3_secret_key"]
                assert env["AWS_ACCESS_KEY_ID"].startswith("EOPDEWS")
        finally:
            client.delete(f"{platform.hub_url}/user/mallory/api/kernels/{kernel.json()['id']}")
            client.delete(f"{api}/users/mallory/server")
