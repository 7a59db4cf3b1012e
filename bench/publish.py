"""Benchmark: publishing to the workspace on a throw-away local platform.

    PYTHONPATH=lib .venv/bin/python bench/publish.py [--files 8] [--mib 32] [--items 1000]
        [--rounds 3] [--workers N] [--base-port 19400] [--hub-port 19490]

Prints, measured in the same run against the same S3 server with the same user's keys:
1. upload throughput (MB/s) of `eopde.workspace.publish` for FILES rasters of MIB MiB each,
   against plain boto3 `upload_file` of the same files (a default boto3 client, 8 threads), and
   the ratio (aim >= 0.9); medians of ROUNDS alternated rounds; the load average after them
   (the machine may be shared), and the CPU seconds each way took in this process and in the
   storage part (rclone), which the other work on a shared machine moves far less than MB/s;
2. seconds to publish ITEMS small items (1 KiB asset each, upload + documents + registration),
   against stac-fastapi-pgstac's bulk insert (`POST .../bulk_items`) of the same item JSON alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import BIN, eopde  # noqa: E402


WHEN = datetime(2024, 6, 1, tzinfo=timezone.utc)


def big_catalog(folder: Path, files: int, mib: int) -> Path:
    import pystac

    folder.mkdir(parents=True)
    catalog = pystac.Catalog("bench-big", "throughput")
    for i in range(files):
        path = folder / f"big-{i}.tif"
        path.write_bytes(os.urandom(mib * 1024 * 1024))
        item = pystac.Item(f"big-{i}", None, None, WHEN, {})
        item.add_asset("data", pystac.Asset(str(path), media_type="image/tiff"))
        catalog.add_item(item)
    catalog.normalize_hrefs(str(folder))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return folder


def small_catalog(folder: Path, count: int) -> Path:
    import pystac

    folder.mkdir(parents=True)
    catalog = pystac.Catalog("bench-small", "many small items")
    for i in range(count):
        path = folder / f"s-{i}.txt"
        path.write_bytes(os.urandom(1024))
        west = (i % 300) - 150.0
        item = pystac.Item(f"s-{i}", {"type": "Point", "coordinates": [west, 10.0]},
                           [west, 10.0, west, 10.0], WHEN, {})
        item.add_asset("data", pystac.Asset(str(path), media_type="text/plain"))
        catalog.add_item(item)
    catalog.normalize_hrefs(str(folder))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="publish's (default its own)")
    parser.add_argument("--base-port", type=int, default=19400)
    parser.add_argument("--hub-port", type=int, default=19490)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="eopde-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOPDE_")}
    env.update(EOPDE_HOME=str(home), EOPDE_BASE_PORT=str(args.base_port),
               EOPDE_HUB_PORT=str(args.hub_port))
    try:
        print(f"platform up: {eopde(env, 'up'):.1f} s")
        os.environ.update(env)
        run(env, home, args)
    finally:
        subprocess.run([str(BIN / "eopde"), "purge", "--yes"], env=env, capture_output=True)


class CpuClock:
    """CPU seconds used by this process (all threads) and by the storage part (rclone)."""

    def __init__(self, home: Path):
        self.storage_pid = json.loads((home / "run" / "storage.json").read_text())["pid"]

    def read(self) -> tuple[float, float]:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        fields = Path(f"/proc/{self.storage_pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return own.ru_utime + own.ru_stime, ticks / os.sysconf("SC_CLK_TCK")

    def since(self, start: tuple[float, float]) -> tuple[float, float]:
        now = self.read()
        return now[0] - start[0], now[1] - start[1]


def run(env: dict, home: Path, args: argparse.Namespace) -> None:
    from eopde.workspace import Workspace

    token = subprocess.run([str(BIN / "eopde"), "token", "bench"], env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    ports = json.loads((home / "endpoints.json").read_text())
    ws = Workspace("bench", url=ports["EOPDE_WORKSPACE_URL"], token=token,
                   catalogue_url=ports["EOPDE_CATALOGUE_URL"])
    with tempfile.TemporaryDirectory(prefix="eopde-bench-data-") as folder:
        measure(ws, token, ports, Path(folder), args, CpuClock(home))


def measure(ws: Any, token: str, ports: dict, data: Path, args: argparse.Namespace,
            clock: CpuClock) -> None:
    import httpx

    big = big_catalog(data / "big", args.files, args.mib)
    total = args.files * args.mib * 1024 * 1024
    files = sorted(big.glob("big-*.tif"))

    import statistics

    import boto3
    from botocore.config import Config

    creds = ws.info["storage"]["credentials"]
    plain_s3 = boto3.client("s3", endpoint_url=creds["endpoint"], region_name=creds["region"],
                            aws_access_key_id=creds["access"],
                            aws_secret_access_key=creds["secret"],
                            config=Config(s3={"addressing_style": "path"}))
    plains, publishes, unverified, uploads = [], [], [], []
    cpu: dict[str, list[tuple[float, float]]] = {"plain": [], "publish": []}
    options = {"workers": args.workers} if args.workers else {}
    for _ in range(args.rounds):  # alternated, medians: the machine is shared
        began, cpu0 = time.monotonic(), clock.read()
        with ThreadPoolExecutor(8) as pool:
            # the same layout as publish's keys (folder depth costs the server lookups)
            list(pool.map(lambda p: plain_s3.upload_file(
                str(p), ws.bucket, f"plain/bench-big/{p.stem}/{p.name}"), files))
        plains.append(time.monotonic() - began)
        cpu["plain"].append(clock.since(cpu0))
        began, cpu0 = time.monotonic(), clock.read()
        done = ws.publish(big, collection="bench-big", progress=False, **options)
        publishes.append(time.monotonic() - began)
        cpu["publish"].append(clock.since(cpu0))
        uploads.append(done.timings["upload"])
        began = time.monotonic()
        ws.publish(big, collection="bench-big", progress=False, verify=False, **options)
        unverified.append(time.monotonic() - began)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    plain, published = statistics.median(plains), statistics.median(publishes)
    fast, upload = statistics.median(unverified), statistics.median(uploads)
    print(f"upload of {args.files} x {args.mib} MiB (median of {args.rounds}): plain boto3 "
          f"{total / plain / 1e6:.0f} MB/s ({plain:.2f} s), publish "
          f"{total / published / 1e6:.0f} MB/s ({published:.2f} s, upload + checks + documents "
          f"+ registration), ratio {plain / published:.2f}; its upload phase alone "
          f"{total / upload / 1e6:.0f} MB/s ({upload:.2f} s), ratio {plain / upload:.2f}; "
          f"without the MD5 checks {total / fast / 1e6:.0f} MB/s, ratio {plain / fast:.2f}; "
          f"load average after: {load}")
    spent = {k: [statistics.median(c[i] for c in v) for i in (0, 1)] for k, v in cpu.items()}
    print("CPU seconds (median): plain boto3 {:.2f} here + {:.2f} storage = {:.2f}; publish "
          "{:.2f} here + {:.2f} storage = {:.2f}; ratio {:.2f}".format(
              *spent["plain"], sum(spent["plain"]), *spent["publish"], sum(spent["publish"]),
              sum(spent["plain"]) / sum(spent["publish"])))

    small = small_catalog(data / "small", args.items)
    began = time.monotonic()
    done = ws.publish(small, collection="bench-small", progress=False)
    seconds = time.monotonic() - began
    assert len(done.created) == args.items, done
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in done.timings.items())
    docs = {i.id: i.to_dict(include_self_link=False) for i in ws.items("bench-small",
                                                                              args.items)}
    for doc in docs.values():
        doc["collection"] = ws.collection_id("bench-small")
        doc["links"] = []
    with httpx.Client(base_url=ports["EOPDE_CATALOGUE_URL"], timeout=300,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        began = time.monotonic()
        answer = client.post(f"/collections/{ws.collection_id('bench-small')}/bulk_items",
                             json={"items": docs, "method": "upsert"})
        bulk = time.monotonic() - began
        answer.raise_for_status()
    print(f"publish of {args.items} small items: {seconds:.2f} s ({phases}) "
          f"(stac-fastapi bulk insert of the same item JSON alone: {bulk:.2f} s)")


if __name__ == "__main__":
    main()
