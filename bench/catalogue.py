"""Benchmark: catalogue search through eopde against plain pystac-client, same queries, same run;
and paging through a 10 000-item result.

    .venv/bin/python bench/catalogue.py [--repeat N] [--items N]

Starts a throw-away local platform (ports from EOPDE_BENCH_BASE_PORT, default 19800), loads
N synthetic items into a collection `bench-10k`, then prints:
- per query, the median ms of pystac-client and of eopde.catalogue.search, and their ratio
  (target: at most 1.1);
- items per second paging through all N items (page size 1000), eopde and pystac-client.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _platform import running_platform  # noqa: E402

BENCH_COLLECTION = "bench-10k"


def synthetic_items(count: int) -> list[dict]:
    """Small point-footprint items spread over Europe, one a minute from 2025-01-01."""
    import datetime as dt

    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    items = []
    for i in range(count):
        lon, lat = -10 + (i % 200) * 0.2, 36 + (i // 200) * 0.4
        when = (start + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append({
            "type": "Feature", "stac_version": "1.0.0", "id": f"bench-{i:05d}",
            "collection": BENCH_COLLECTION,
            "geometry": {"type": "Polygon", "coordinates": [[
                [lon, lat], [lon + 0.1, lat], [lon + 0.1, lat + 0.1], [lon, lat + 0.1], [lon, lat]]]},
            "bbox": [lon, lat, lon + 0.1, lat + 0.1],
            "properties": {"datetime": when, "eo:cloud_cover": (i * 7) % 100},
            "links": [], "assets": {},
        })
    return items


def load(dsn: str, count: int) -> float:
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    collection = {
        "type": "Collection", "stac_version": "1.0.0", "id": BENCH_COLLECTION,
        "description": "synthetic items for benchmarks", "license": "other", "links": [],
        "extent": {"spatial": {"bbox": [[-10, 36, 30, 56]]},
                   "temporal": {"interval": [["2025-01-01T00:00:00Z", None]]}},
    }
    began = time.monotonic()
    db = PgstacDB(dsn=dsn)
    try:
        loader = Loader(db)
        loader.load_collections(iter([collection]), insert_mode=Methods.upsert)
        loader.load_items(iter(synthetic_items(count)), insert_mode=Methods.upsert)
    finally:
        db.close()
    return time.monotonic() - began


QUERIES = {
    "bbox + datetime": dict(collections=["sentinel-2-l2a"], bbox=[11.9, 43.0, 12.3, 43.3],
                            datetime="2025-06-01T00:00:00Z/2025-12-31T00:00:00Z"),
    "collection": dict(collections=["sentinel-2-l2a"]),
    "CQL2 JSON filter": dict(collections=[BENCH_COLLECTION], max_items=50, filter={
        "op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}, filter_lang="cql2-json"),
    "sortby": dict(collections=[BENCH_COLLECTION], max_items=50, sortby="-datetime"),
}


def time_query(run, repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        count = run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="runs per query")
    parser.add_argument("--items", type=int, default=10_000, help="items to page through")
    args = parser.parse_args()

    import warnings

    from pystac_client import Client
    from pystac_client.warnings import DoesNotConformTo

    # pystac-client 0.9 misreads the server's v1.1 sort class; the baseline need not say so.
    warnings.simplefilter("ignore", DoesNotConformTo)

    from eopde.catalogue import Catalogue, search
    from eopde.services.platform import Platform
    from eopde.services.settings import PlatformSettings

    base = int(os.environ.get("EOPDE_BENCH_BASE_PORT", "19800"))
    with running_platform(base) as (env, home):
        settings = PlatformSettings(home=str(home), base_port=base, hub_port=base - 700)
        url = settings.url("catalogue")
        seconds = load(Platform(settings).part("postgres").dsn(), args.items)
        print(f"loaded {args.items} items in {seconds:.1f} s")

        plain = Client.open(url)
        ours = Catalogue(url, token="")
        # Warm both clients (imports, landing page, connection pools).
        list(plain.search(collections=["sentinel-2-l2a"], max_items=1).items())
        list(search(url=ours, collections=["sentinel-2-l2a"], max_items=1))

        print(f"search, median of {args.repeat} runs (ms)")
        print(f"  {'query':<18} {'pystac-client':>13} {'eopde':>8} {'ratio':>6}  items")
        for name, query in QUERIES.items():
            query = {"max_items": 100, **query}
            base_ms, n_plain = time_query(
                lambda: len(list(plain.search(**query).items())), args.repeat)
            ours_ms, n_ours = time_query(lambda: len(list(search(url=ours, **query))), args.repeat)
            assert n_plain == n_ours, (name, n_plain, n_ours)
            print(f"  {name:<18} {base_ms:>13.1f} {ours_ms:>8.1f} {ours_ms / base_ms:>6.2f}  {n_ours}")

        print(f"paging through {args.items} items, page size 1000")
        began = time.perf_counter()
        n = sum(1 for _ in plain.search(collections=[BENCH_COLLECTION], limit=1000,
                                        max_items=None).items())
        plain_rate = n / (time.perf_counter() - began)
        began = time.perf_counter()
        m = sum(1 for _ in search(url=ours, collections=[BENCH_COLLECTION], limit=1000,
                                  max_items=None))
        ours_rate = m / (time.perf_counter() - began)
        assert n == m == args.items, (n, m)
        print(f"  pystac-client {plain_rate:8.0f} items/s")
        print(f"  eopde         {ours_rate:8.0f} items/s   (ratio {plain_rate / ours_rate:.2f} "
              "time per item, eopde / pystac-client)")


if __name__ == "__main__":
    main()
