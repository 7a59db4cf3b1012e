"""CSW and OpenSearch endpoints for the catalogue panel's tests: a real pycsw 2.6.2 (`pycsw_server`)
loaded with the demo scenes as ISO 19139 records, their files served over HTTP (so the records'
links to the STAC Items resolve), and a recorder that answers anything and keeps the headers.

A fake only in the recorder: it stands for a third party (a hostile catalogue), which cannot
run here."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eopde.services import demodata
from loopback import serve, serve_folder
from pycsw_server import PycswServer, iso_record, serve_pycsw


@contextmanager
def demo_pycsw(folder: Path) -> Iterator[tuple[PycswServer, list[dict[str, Any]]]]:
    """pycsw with the demo scenes (each record links to its STAC Item JSON); the items."""
    dest = folder / "demodata"
    demodata.generate(dest)
    with serve_folder(dest) as files:
        base = files.url
        items = demodata.items(dest, base)

        def item_url(item: dict[str, Any]) -> str:
            return f"{base}/{demodata.COLLECTION_ID}/{item['id']}/{item['id']}.json"

        records = [iso_record(i, item_url(i)) for i in items]
        with serve_pycsw(records, folder / "pycsw") as server:
            yield server, items


@contextmanager
def recorder(status: int = 200, body: bytes = b"<html></html>",
             location: str | None = None) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server answering every GET/POST with `status` (a redirect to `location` if given),
    recording each request's path and headers (lower-case names)."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if self.command == "POST":
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    with serve(Handler) as httpd:
        yield httpd.url, seen
