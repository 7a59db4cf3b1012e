"""`eopde publish`: publish a job's results, a STAC folder or item files to your workspace."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("publish", help="publish results (a job id, a STAC folder, item files) "
                                       "to your workspace")
    p.add_argument("source", nargs="+", help="a job id, a STAC catalog folder or item files")
    p.add_argument("--collection", help="your collection to publish into (default: your "
                                        "workspace collection ws-<you>)")
    p.add_argument("--new-collection", action="store_true",
                   help="a collection of the source's own (the job id, the catalog id)")
    p.add_argument("--api", choices=["eopde", "eoepca-1.4", "stac-api"],
                   help="the workspace API (default: EOPDE_WORKSPACE_API or eopde)")
    p.add_argument("--workers", type=int, default=16, help="parallel uploads (default 16)")
    p.set_defaults(func=cmd_publish)


def cmd_publish(args: argparse.Namespace) -> int:
    import sys

    from . import PublishError, Workspace

    source = args.source[0] if len(args.source) == 1 else list(args.source)
    try:
        ws = Workspace(api=args.api)
        done = ws.publish(source, collection=args.collection, merge=not args.new_collection,
                          workers=args.workers)
    except PublishError as err:
        print(f"eopde publish: {err}", file=sys.stderr)
        return 1
    print(f"published to {done.collection}: {len(done.created)} created, "
          f"{len(done.updated)} updated ({done.uploaded} files uploaded, {done.copied} copied)")
    return 0
