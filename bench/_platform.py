"""A throw-away local platform for benchmarks: its own state folder and ports."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def eopde(env: dict, *args: str) -> float:
    """Run `eopde ARGS` with env; return the seconds it took (exit on failure)."""
    began = time.monotonic()
    result = subprocess.run([str(BIN / "eopde"), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"eopde {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.monotonic() - began


def platform_env(base_port: int, hub_port: int | None = None) -> tuple[dict, Path]:
    """Environment for a platform in a new temporary folder, hub on `hub_port` (default
    EOPDE_BENCH_HUB_PORT, else base_port - 700)."""
    home = Path(tempfile.mkdtemp(prefix="eopde-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOPDE_")}
    env.update(EOPDE_HOME=str(home), EOPDE_BASE_PORT=str(base_port),
               EOPDE_HUB_PORT=str(hub_port or os.environ.get("EOPDE_BENCH_HUB_PORT")
                                  or base_port - 700))
    return env, home


@contextmanager
def running_platform(base_port: int):
    """Start a platform, yield (env, home), stop it afterwards."""
    env, home = platform_env(base_port)
    try:
        eopde(env, "up")
        yield env, home
    finally:
        subprocess.run([str(BIN / "eopde"), "purge", "--yes"], env=env, capture_output=True)
