"""Benchmark: the Binder launch simulated as CI simulates it (tests/binder_session.py): the
repository copied into a fresh home of an ordinary account (a throwaway one made with useradd
when run as root, which needs EOPDE_TEST_GRANT_TRAVERSE=1 when the interpreter is under
/root), no Docker.

    EOPDE_TEST_GRANT_TRAVERSE=1 .venv/bin/python bench/binder.py [--memory-limit MiB | --no-cgroup]

Measures `postBuild` (s), `start` until every part is healthy (s, as `start` reports it, and
until JupyterLab answers). The session (`start`, the platform, JupyterLab and its kernels)
runs in a memory cgroup with Binder's limit (2 GiB by default; v2 `memory.max`, or v1
`memory.limit_in_bytes` on a hybrid host like this one): tutorial 01 runs in a kernel that the
session's JupyterLab starts (REST + WebSocket, as the browser would), and with that kernel
still alive the bench reads the cgroup's peak (`memory.peak` / `memory.max_usage_in_bytes`,
page cache included), its anonymous memory, and its OOM-kill count, and sums the processes'
RSS (shared pages counted once per process) and PSS (shared pages split). Aim: no OOM kill
and room to spare under 2 GiB.
Ports: EOPDE_BENCH_BASE_PORT (default 19740) .. +15, hub +55, JupyterLab +59.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import binder_session  # noqa: E402

NOTEBOOK = "notebooks/01-search-and-preview.ipynb"


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


def kernel_pids(lab_pid: int, kernel_id: str) -> set[int]:
    """The kernel ``kernel_id`` among the server's children (its connection file names it)."""
    for pid in tree(lab_pid):
        try:
            if any(kernel_id in arg for arg in psutil.Process(pid).cmdline()):
                return tree(pid)
        except psutil.Error:
            continue
    raise SystemExit(f"kernel {kernel_id} not found under the server {lab_pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memory-limit", type=int, default=binder_session.BINDER_MEMORY // 2**20,
                        metavar="MiB", help="the session's cgroup limit (default: Binder's 2 GiB)")
    parser.add_argument("--no-cgroup", action="store_true", help="run without a memory cgroup")
    args = parser.parse_args()
    base = int(os.environ.get("EOPDE_BENCH_BASE_PORT", "19740"))
    cgroup = None
    why_not = None
    if not args.no_cgroup:
        try:
            cgroup = binder_session.MemoryCgroup.create(f"eopde-binder-bench-{os.getpid()}",
                                                        args.memory_limit * 2**20)
        except binder_session.CgroupUnavailable as err:
            why_not = str(err)
    with binder_session.launched(base, base + 55, base + 59, cgroup) as session:
        said = re.search(r"platform healthy in (\d+\.\d) s", session.log.read_text())
        if said is None:
            raise SystemExit("start did not report a healthy platform:\n"
                             + session.log.read_text()[-3000:])
        assert session.lab is not None
        idle = memory(platform_pids(session.state) | tree(session.lab.pid))
        kernel_id = binder_session.run_notebook_in_lab(session, NOTEBOOK)
        kernel = kernel_pids(session.lab.pid, kernel_id)
        platform, lab = platform_pids(session.state), tree(session.lab.pid)
        busy = memory(platform | lab)
        figures = {
            "account": session.account or "(this process's user)",
            "post_build_s": round(session.post_build_seconds, 1),
            "start_to_platform_healthy_s": float(said[1]),
            "start_to_jupyterlab_answering_s": round(session.launch_seconds, 1),
            "idle_platform_and_lab": {"rss_mib": round(idle[0]), "pss_mib": round(idle[1]),
                                      "processes": idle[2]},
            "with_tutorial_01_kernel": {
                "rss_mib": round(busy[0]), "pss_mib": round(busy[1]), "processes": busy[2],
                "platform_rss_mib": round(memory(platform)[0]),
                "platform_processes": len(platform),
                "jupyterlab_rss_mib": round(memory(lab - platform - kernel)[0]),
                "kernel_rss_mib": round(memory(kernel)[0])},
            "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 1),
        }
        if cgroup is not None:
            figures["cgroup"] = {
                "version": cgroup.version, "limit_mib": cgroup.limit() // 2**20,
                "peak_mib": round(cgroup.peak() / 2**20), "anon_now_mib":
                round(cgroup.anon() / 2**20), "oom_kills": cgroup.oom_kills(),
                "processes_in_it": len(cgroup.processes())}
        else:
            figures["cgroup"] = {"none": why_not or "--no-cgroup"}
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
