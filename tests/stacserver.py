"""A folder of demo scenes served over HTTP, with one JSON file per STAC item: what a STAC API
gives a stage-in step (item URLs whose assets are absolute URLs)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Iterator

from loopback import serve, serve_folder


@contextmanager
def serve_demo_items(root: Path, count: int = 2) -> Iterator[dict]:
    """Generate the demo data in `root`, serve it, and yield {"base", "urls", "root", "items"}."""
    from eopde.services import demodata

    demodata.generate(root)
    with serve_folder(root) as server:
        base = server.url
        (root / "items").mkdir(exist_ok=True)
        urls, items = [], []
        for item in demodata.items(root, base)[:count]:
            (root / "items" / f"{item['id']}.json").write_text(json.dumps(item))
            urls.append(f"{base}/items/{item['id']}.json")
            items.append(item)
        yield {"base": base, "urls": urls, "root": root, "items": items}


Route = tuple[int, dict[str, str], bytes]


@contextmanager
def serve_routes(routes: dict[str, Route],
                 default: Route = (404, {}, b"no")) -> Iterator[str]:
    """A loopback HTTP server answering GET `path` with `routes[path]` (status, headers, body),
    else `default`; yields its base URL."""

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status, headers, body = routes.get(self.path, default)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with serve(Handler) as server:
        yield server.url
