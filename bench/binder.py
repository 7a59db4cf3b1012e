"""Benchmark: the Binder launch simulated (binder/ files, a temporary HOME, no Docker).

    .venv/bin/python bench/binder.py

Measures `postBuild` (s), `start` until every part is healthy (s, as `start` reports it, and
until JupyterLab answers), then runs tutorial 01 in a kernel of the session (nbclient, the
session's environment) and, with that kernel still alive, sums the memory of the platform's
processes (every part's process group), the JupyterLab server and the kernel: RSS (what the
issue asks; it counts shared pages once per process) and PSS (shared pages split; closer to
what the container's memory limit sees). Aim: well under Binder's 2 GB.
Ports: EOPDE_BENCH_BASE_PORT (default 19740) .. +15, hub +55, JupyterLab +59.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
PREFIX = "/user/binder-x/"


def session_env(home: Path, base: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EOPDE_", "JUPYTER", "AWS_"))}
    env.update(HOME=str(home), PYTHONPATH=str(REPO / "lib"), EOPDE_BINDER_PYTHON=sys.executable,
               EOPDE_BINDER_IDE="none", EOPDE_BASE_PORT=str(base), EOPDE_HUB_PORT=str(base + 55),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
               JUPYTERHUB_SERVICE_PREFIX=PREFIX, JUPYTERHUB_BASE_URL="/",
               JUPYTERHUB_USER="binder-x")
    return env


def memory(pids: set[int]) -> tuple[float, float, int]:
    """(RSS MiB, PSS MiB, processes) of ``pids``."""
    rss = pss = 0
    count = 0
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        count += 1
    return rss / 2**20, pss / 2**20, count


def platform_pids(state: Path) -> set[int]:
    """Every part's process group and each part's descendants (PostgreSQL's backends and the
    hub's proxy run in sessions of their own)."""
    records = [json.loads(p.read_text()) for p in (state / "run").glob("*.json")]
    groups = {r["pgid"] for r in records}
    pids = {p.pid for p in psutil.process_iter() if _pgid(p.pid) in groups}
    for record in records:
        pids |= tree(record["pid"])
    return pids


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def tree(pid: int) -> set[int]:
    try:
        process = psutil.Process(pid)
        return {pid} | {c.pid for c in process.children(recursive=True)}
    except psutil.Error:
        return set()


def main() -> None:
    base = int(os.environ.get("EOPDE_BENCH_BASE_PORT", "19740"))
    home = Path(tempfile.mkdtemp(prefix="eopde-binder-bench-"))
    env = session_env(home, base)
    state = home / ".local" / "state" / "eopde"
    lab = None
    try:
        began = time.monotonic()
        subprocess.run([str(REPO / "binder" / "postBuild")], env=env, check=True,
                       capture_output=True, timeout=900)
        post_build = time.monotonic() - began
        shutil.copytree(REPO / "notebooks", home / "notebooks")
        token = secrets.token_hex(16)
        log = home / "start.log"
        command = [str(REPO / "binder" / "start"), sys.executable, "-m", "jupyter", "lab",
                   "--no-browser", "--ip=127.0.0.1", f"--port={base + 59}",
                   f"--ServerApp.base_url={PREFIX}", f"--IdentityProvider.token={token}",
                   f"--ServerApp.root_dir={home}"] + (["--allow-root"] if os.geteuid() == 0
                                                       else [])
        began = time.monotonic()
        with open(log, "w") as out:
            lab = subprocess.Popen(command, env=env, cwd=home, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{base + 59}{PREFIX}api/status?token={token}"
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if lab.poll() is not None or time.monotonic() - began > 240:
                raise SystemExit("JupyterLab did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.2)
        lab_seconds = time.monotonic() - began
        said = re.search(r"platform healthy in (\d+\.\d) s", log.read_text())
        if said is None:
            raise SystemExit("start did not report a healthy platform:\n" + log.read_text())
        healthy = float(said[1])
        idle = memory(platform_pids(state) | tree(lab.pid))
        busy, parts = run_tutorial_01(home, env, state, lab.pid)
    finally:
        if lab is not None:
            os.killpg(lab.pid, signal.SIGTERM)
            lab.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "eopde.cli", "purge", "--yes"],
                       env=dict(env, EOPDE_HOME=str(state)), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps({
        "post_build_s": round(post_build, 1),
        "start_to_platform_healthy_s": healthy,
        "start_to_jupyterlab_answering_s": round(lab_seconds, 1),
        "idle_platform_and_lab": {"rss_mib": round(idle[0]), "pss_mib": round(idle[1]),
                                  "processes": idle[2]},
        "with_tutorial_01_kernel": {"rss_mib": round(busy[0]), "pss_mib": round(busy[1]),
                                    "processes": busy[2], **parts},
        "cpus": os.cpu_count(),
    }, indent=1))


def run_tutorial_01(home: Path, env: dict[str, str], state: Path, lab_pid: int):
    """Run tutorial 01 in a kernel with the session's environment; with the kernel still alive,
    measure everything, and each of platform, JupyterLab server and kernel (RSS MiB)."""
    import nbformat
    from nbclient import NotebookClient

    kernel_env = dict(env)
    for line in (home / ".cache" / "eopde" / "binder.env").read_text().splitlines():
        key, _, value = line.partition("=")
        kernel_env[key] = value.strip("'")
    notebook = nbformat.read(home / "notebooks" / "01-search-and-preview.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="eopde",
                            resources={"metadata": {"path": str(home / "notebooks")}})
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env)  # the kernel inherits this process's environment
    try:
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            kernel = tree(client.km.provisioner.process.pid)  # type: ignore[union-attr]
            platform, lab = platform_pids(state), tree(lab_pid)
            parts = {"platform_rss_mib": round(memory(platform)[0]),
                     "platform_processes": len(platform),
                     "jupyterlab_rss_mib": round(memory(lab - platform)[0]),
                     "kernel_rss_mib": round(memory(kernel)[0])}
            return memory(platform | lab | kernel), parts
    finally:
        os.environ.clear()
        os.environ.update(saved)


if __name__ == "__main__":
    main()
