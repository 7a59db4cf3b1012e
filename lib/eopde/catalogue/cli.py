"""`eopde search`: find items in a catalogue from a terminal (the item URLs that `eopde run -i`
and `eopde execute --stac-item` take)."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "search", help="search a STAC catalogue (default: the platform's)",
        description="Search a STAC API. Prints a table of items with their URLs; --urls prints "
        "only the URLs (one a line) for `eopde run -i` / `eopde execute --stac-item`.")
    p.add_argument("--url", help="STAC API root (default: the platform's catalogue)")
    p.add_argument("-c", "--collections", help="comma-separated collection ids")
    p.add_argument("--bbox", help="west,south,east,north in degrees")
    p.add_argument("--intersects", help="GeoJSON geometry or WKT")
    p.add_argument("-d", "--datetime", help="2025-06-01, 2025-06, 2025-06-01/.., ../2025-07-01")
    p.add_argument("--cloud-cover", type=float, metavar="MAX", help="at most this eo:cloud_cover")
    p.add_argument("--ids", help="comma-separated item ids")
    p.add_argument("--filter", help="CQL2 text filter, e.g. \"platform = 'sentinel-2a'\"")
    p.add_argument("--sortby", help="e.g. -properties.eo:cloud_cover")
    p.add_argument("-n", "--max-items", type=int, default=20, help="at most this many (20)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--urls", action="store_true", help="print only the item URLs")
    out.add_argument("--json", action="store_true", help="print a GeoJSON FeatureCollection")
    p.set_defaults(func=cmd_search)


def _bbox(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--bbox {text!r}: give four numbers west,south,east,north") from None
    if len(values) != 4:
        raise ValueError(f"--bbox {text!r}: give four numbers west,south,east,north")
    return values


def _self_url(item) -> str:
    return item.get_self_href() or ""


def cmd_search(args: argparse.Namespace) -> int:
    from ..config import ConfigError
    from .base import CatalogueError
    from .stac import search

    try:
        results = search(url=args.url, collections=args.collections, bbox=_bbox(args.bbox),
                         intersects=args.intersects, datetime=args.datetime,
                         cloud_cover=args.cloud_cover, ids=args.ids, filter=args.filter,
                         sortby=args.sortby, max_items=args.max_items)
        items = list(results)
    except (CatalogueError, ConfigError, ValueError, TypeError) as err:
        print(f"eopde search: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(results.to_geojson(), indent=1))
    elif args.urls:
        for item in items:
            print(_self_url(item))
    else:
        for item in items:
            date = item.datetime.isoformat()[:19] if item.datetime else "-"
            cloud = item.properties.get("eo:cloud_cover")
            cloud_text = f"{cloud:5.1f}%" if isinstance(cloud, (int, float)) else "     -"
            print(f"{item.id:<44} {item.collection_id or '-':<16} {date} {cloud_text}  "
                  f"{_self_url(item)}")
        print(f"{len(items)} item(s)", file=sys.stderr)
    return 0
