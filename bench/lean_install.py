"""Benchmark: `pip install eopde` (lean) against `pip install eopde[platform]` (full).

    .venv/bin/python bench/lean_install.py [--wheelhouse DIR] [--rounds 1] [--keep]

1. builds eopde's wheel from this checkout;
2. fills a wheelhouse with every wheel both installs need (``pip wheel``: from the registry the
   first time, then from pip's cache; DIR is kept between runs, default ~/.cache/eopde/wheelhouse);
3. for each of lean and full, ROUNDS times: a fresh venv, then ``pip install --no-index
   --find-links DIR`` of the wheel (pip resolves everything itself, offline, same wheels for
   both), timed; then the venv's size on disk, its distributions and the wheels' download size.

Prints one line per install and the lean/full ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str | Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def build_wheel(out: Path) -> Path:
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", out, ROOT)
    return next(out.glob("eopde-*.whl"))


def fill_wheelhouse(wheel: Path, house: Path) -> float:
    """Every wheel `eopde[platform]` needs (the lean set is a part of it); seconds taken."""
    start = time.perf_counter()
    run(sys.executable, "-m", "pip", "wheel", "-q", "-w", house, f"{wheel}[platform]")
    return time.perf_counter() - start


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def install(target: str, house: Path, workdir: Path) -> dict:
    venv = workdir / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    start = time.perf_counter()
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index",
        "--find-links", house, target)
    seconds = time.perf_counter() - start
    freeze = run(sys.executable, "-m", "pip", "--python", python, "list", "--format=freeze",
                 capture_output=True, text=True).stdout.split()
    names = {line.split("==")[0].lower().replace("_", "-") for line in freeze}
    wheels = [w for w in house.glob("*.whl")
              if w.name.split("-")[0].lower().replace("_", "-") in names]
    return {"seconds": seconds, "bytes": du(venv), "dists": len(freeze),
            "wheel_bytes": sum(w.stat().st_size for w in wheels), "names": names}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheelhouse", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
                        / "eopde" / "wheelhouse")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp) / "wheel")
        args.wheelhouse.mkdir(parents=True, exist_ok=True)
        for old in args.wheelhouse.glob("eopde-*.whl"):
            old.unlink()
        filled = fill_wheelhouse(wheel, args.wheelhouse)
        print(f"wheelhouse {args.wheelhouse}: filled in {filled:.1f} s")
        results: dict[str, list[dict]] = {"lean": [], "full": []}
        for _ in range(args.rounds):
            for kind, target in (("lean", str(wheel)), ("full", f"{wheel}[platform]")):
                results[kind].append(install(target, args.wheelhouse, Path(tmp) / kind))
        for kind, rows in results.items():
            best = min(rows, key=lambda r: r["seconds"])
            print(f"{kind:5} install {best['seconds']:6.1f} s (best of {len(rows)})  "
                  f"on disk {best['bytes'] / 1e6:7.0f} MB  wheels {best['wheel_bytes'] / 1e6:6.0f} "
                  f"MB  distributions {best['dists']}")
        lean = min(results["lean"], key=lambda r: r["seconds"])
        full = min(results["full"], key=lambda r: r["seconds"])
        print(f"lean/full: time {lean['seconds'] / full['seconds']:.2f}, "
              f"disk {lean['bytes'] / full['bytes']:.2f}, "
              f"wheels {lean['wheel_bytes'] / full['wheel_bytes']:.2f}")
        extra = sorted(full["names"] - lean["names"])
        print(f"only in the full install ({len(extra)}): {', '.join(extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
