"""Benchmark: time from `eopde up` to ready (cold and warm) and time to spawn a user's server.

    .venv/bin/python bench/startup.py [--runs N]

Cold: an empty state folder (initdb, schema, demo data generation, first hub start).
Warm: the same folder after `eopde down` (what a user sees every morning).
Spawn: from the hub API's spawn request to the server answering, for a logged-in user.
Aims (issue 10): warm up ≤ 10 s, spawn ≤ 3 s (issue 2 asked for 20 s and 5 s). It uses ports of its own
(EOPDE_BENCH_BASE_PORT, default 19700; EOPDE_BENCH_HUB_PORT, default 700 below) and a temporary state folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from _platform import BIN, platform_env  # noqa: E402
from _platform import eopde as _eopde  # noqa: E402
from hubsession import HubSession  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm starts and spawns to time")
    args = parser.parse_args()
    base = int(os.environ.get("EOPDE_BENCH_BASE_PORT", "19700"))
    hub_port = int(os.environ.get("EOPDE_BENCH_HUB_PORT", str(base - 700)))
    env, home = platform_env(base, hub_port)

    try:
        cold = _eopde(env, "up")
        warm = []
        for _ in range(args.runs):
            _eopde(env, "down")
            warm.append(_eopde(env, "up"))
        noop = _eopde(env, "up")

        password = json.loads((home / "secrets.json").read_text())["demo_password"]
        session = HubSession(f"http://127.0.0.1:{hub_port}", "demo")
        session.login(password)
        spawns = []
        for _ in range(args.runs):
            session.stop()
            _wait_stopped(session)
            spawns.append(session.spawn(timeout=120))
        session.stop()
        session.close()
    finally:
        subprocess.run([str(BIN / "eopde"), "purge", "--yes"], env=env, capture_output=True)

    print("eopde startup benchmark")
    print(f"  cold up (empty state folder)   {cold:6.1f} s")
    print(f"  warm up, median of {len(warm)}         {statistics.median(warm):6.1f} s"
          f"   (runs: {', '.join(f'{w:.1f}' for w in warm)}; aim ≤ 10 s)")
    print(f"  up while running (no-op)       {noop:6.1f} s")
    print(f"  spawn, median of {len(spawns)}           {statistics.median(spawns):6.1f} s"
          f"   (runs: {', '.join(f'{s:.1f}' for s in spawns)}; aim ≤ 3 s)")
    print(f"  warm/cold ratio                {statistics.median(warm) / cold:6.2f}")


def _wait_stopped(session: HubSession, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = session.client.get(f"/hub/api/users/{session.username}",
                                   headers={"X-XSRFToken": session._xsrf("/hub/")}).json()
        if not model.get("servers"):
            return
        time.sleep(0.2)
    raise SystemExit("the server did not stop")


if __name__ == "__main__":
    main()
