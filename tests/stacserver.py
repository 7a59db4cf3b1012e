"""A folder of demo scenes served over HTTP, with one JSON file per STAC item: what a STAC API
gives a stage-in step (item URLs whose assets are absolute URLs)."""

from __future__ import annotations

import functools
import json
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@contextmanager
def serve_demo_items(root: Path, count: int = 2) -> Iterator[dict]:
    """Generate the demo data in `root`, serve it, and yield {"base", "urls", "root", "items"}."""
    from eopde.services import demodata

    demodata.generate(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    (root / "items").mkdir(exist_ok=True)
    urls, items = [], []
    for item in demodata.items(root, base)[:count]:
        (root / "items" / f"{item['id']}.json").write_text(json.dumps(item))
        urls.append(f"{base}/items/{item['id']}.json")
        items.append(item)
    try:
        yield {"base": base, "urls": urls, "root": root, "items": items}
    finally:
        server.shutdown()
        server.server_close()
