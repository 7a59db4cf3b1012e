"""Benchmark: 256 px tile rendering from a full-size Sentinel-2 band COG (10980 x 10980 uint16).

    .venv/bin/python bench/tiles.py [--tiles N] [--keep DIR]

Prints, per zoom level, the median and p95 milliseconds per tile for:
- rio-tiler's Reader.tile() in this process (the baseline: pure rendering), and
- the platform's tile server (eopde.services.tiles, TiTiler) over HTTP on loopback,
  as a browser would ask for them (PNG with rescale),
and the ratio server/baseline, measured in the same run, tile by tile alternately; then the CPU
time per tile of each (rio-tiler's in this process; the server process's own, from /proc),
steadier than wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = 10980
EPSG = 32633
ORIGIN = (300000.0, 4900020.0)  # a real 33T tile corner (UL), 10 m pixels


def make_cog(path: Path) -> float:
    """Write a 10980 x 10980 uint16 COG with field-like texture; returns seconds taken."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    began = time.monotonic()
    rng = np.random.default_rng(42)
    coarse = rng.integers(1200, 4500, size=(SIZE // 60 + 1, SIZE // 60 + 1), dtype=np.uint16)
    data = np.repeat(np.repeat(coarse, 60, axis=0), 60, axis=1)[:SIZE, :SIZE]
    data = data + rng.integers(0, 200, size=(SIZE, SIZE), dtype=np.uint16)
    profile = dict(driver="COG", width=SIZE, height=SIZE, count=1, dtype="uint16", crs=f"EPSG:{EPSG}",
                   transform=from_origin(*ORIGIN, 10, 10), nodata=0, compress="DEFLATE",
                   blocksize=512, overview_resampling="average")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return time.monotonic() - began


def tiles_at(path: Path, zoom: int, count: int) -> list[tuple[int, int, int]]:
    import morecantile
    from rio_tiler.io import Reader

    tms = morecantile.tms.get("WebMercatorQuad")
    with Reader(str(path)) as src:
        west, south, east, north = src.get_geographic_bounds(tms.rasterio_geographic_crs)
        candidates = list(tms.tiles(west, south, east, north, [zoom]))
        # Keep tiles whose four corners lie inside the scene itself, in the scene's CRS: the
        # lon/lat bounding box of a UTM scene is larger than the scene (corners outside it made
        # the zoom-14 run fail with TileOutsideBounds).
        inside = [t for t in candidates if _inside(tms.bounds(t), src.crs, src.bounds)]
        # Low zooms: no tile fits inside the scene; take the tiles that overlap it.
        chosen = inside or [t for t in candidates if src.tile_exists(t.x, t.y, t.z)]
    random.Random(zoom).shuffle(chosen)
    return [(t.x, t.y, t.z) for t in chosen[:count]]


def _inside(b, crs, bounds) -> bool:
    from rasterio.warp import transform

    xs, ys = transform("EPSG:4326", crs, [b.left, b.left, b.right, b.right],
                       [b.bottom, b.top, b.bottom, b.top])
    left, bottom, right, top = bounds
    return all(left <= x <= right for x in xs) and all(bottom <= y <= top for y in ys)


def time_reader(path: Path, tiles: list[tuple[int, int, int]]) -> list[float]:
    from rio_tiler.io import Reader

    times = []
    with Reader(str(path)) as src:
        for x, y, z in tiles:
            began = time.perf_counter()
            img = src.tile(x, y, z, tilesize=256)
            img.rescale(in_range=((1000, 5000),))
            img.render(img_format="PNG")
            times.append((time.perf_counter() - began) * 1000)
    return times


def time_server(base: str, path: Path, tiles: list[tuple[int, int, int]]) -> list[float]:
    import httpx

    times = []
    with httpx.Client(timeout=60) as client:
        for x, y, z in tiles:
            began = time.perf_counter()
            response = client.get(f"{base}/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png",
                                  params={"url": str(path), "rescale": "1000,5000"})
            response.raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
    return times


def time_pairs(base: str, path: Path, tiles: list[tuple[int, int, int]]
               ) -> tuple[list[float], list[float]]:
    """Each tile rendered by rio-tiler (one open Reader, as in `time_reader`) and then asked of
    the server (as in `time_server`): the milliseconds of each."""
    import httpx
    from rio_tiler.io import Reader

    direct, served = [], []
    with Reader(str(path)) as src, httpx.Client(timeout=60) as client:
        for x, y, z in tiles:
            began, cpu = time.perf_counter(), time.process_time()
            img = src.tile(x, y, z, tilesize=256)
            img.rescale(in_range=((1000, 5000),))
            img.render(img_format="PNG")
            direct.append((time.perf_counter() - began) * 1000)
            _CPU["direct"] += time.process_time() - cpu
            began = time.perf_counter()
            response = client.get(f"{base}/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png",
                                  params={"url": str(path), "rescale": "1000,5000"})
            response.raise_for_status()
            served.append((time.perf_counter() - began) * 1000)
    return direct, served


#: CPU seconds rio-tiler spent rendering (this process), summed by `time_pairs`.
_CPU = {"direct": 0.0}


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used (Linux /proc): on a shared
    machine CPU time per tile moves far less than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=30, help="tiles per zoom level")
    parser.add_argument("--zooms", default="8,10,12,14", help="zoom levels")
    parser.add_argument("--rounds", type=int, default=3,
                        help="passes over the tiles (each tile: rio-tiler, then the server)")
    parser.add_argument("--keep", type=Path, help="folder to keep the COG in (reused if present)")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="eopde-bench-tiles-"))
    folder.mkdir(parents=True, exist_ok=True)
    cog = folder / "B04_10980.tif"
    if not cog.exists():
        seconds = make_cog(cog)
        print(f"wrote {cog} ({cog.stat().st_size / 1e6:.0f} MB) in {seconds:.1f} s")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "eopde.services.tiles:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
         "--http", "httptools"],  # as the platform runs it (services/parts.py TilesPart)
        # The tile server reads only under its allowed prefixes: here, the benchmark's folder.
        env={**os.environ, "EOPDE_TILES_ALLOWED_URLS": f"{folder.resolve()}/"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        print(f"256 px tiles from a {SIZE} x {SIZE} uint16 COG, {args.tiles} tiles per zoom, "
              f"{args.rounds} rounds")
        print(f"{'':>4}  {'wall time per tile':<52}  {'CPU time per tile (mean)'}")
        print(f"{'zoom':>4}  {'rio-tiler p50':>13} {'p95':>7}  {'server p50':>10} {'p95':>7}  ratio p50"
              f"   {'rio-tiler':>9} {'server':>9} {'ratio':>5}")
        for zoom in [int(z) for z in args.zooms.split(",")]:
            tiles = tiles_at(cog, zoom, args.tiles)
            time_reader(cog, tiles[:2])  # warm the file cache
            time_server(base, cog, tiles[:2])  # and the server (FastAPI builds its routes lazily)
            direct, served = [], []
            # Tile by tile, the two alternate, so that a busy spell of the machine (a shared one
            # swings by 2x within seconds) hits both alike.
            _CPU["direct"], cpu_served = 0.0, server_cpu(server.pid)
            for _ in range(args.rounds):
                pair_direct, pair_served = time_pairs(base, cog, tiles)
                direct += pair_direct
                served += pair_served
            cpu_served = server_cpu(server.pid) - cpu_served
            ratio = statistics.median(served) / statistics.median(direct)
            n = len(direct)
            print(f"{zoom:>4}  {statistics.median(direct):>10.1f} ms {p95(direct):>7.1f}  "
                  f"{statistics.median(served):>7.1f} ms {p95(served):>7.1f}  {ratio:>8.2f}"
                  f"   {_CPU['direct'] / n * 1000:>6.1f} ms {cpu_served / n * 1000:>6.1f} ms "
                  f"{cpu_served / _CPU['direct']:>5.2f}")
    finally:
        server.terminate()
        server.wait(10)


def _wait(base: str, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("tile server did not start")


if __name__ == "__main__":
    main()
