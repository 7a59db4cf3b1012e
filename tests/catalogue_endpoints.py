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
from loopback import JsonHandler, serve, serve_folder
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


@contextmanager
def hostile_opensearch(thumbnails: list[str], redirect_to: str = ""
                       ) -> Iterator[tuple[str, list[str]]]:
    """An OpenSearch endpoint (a third party: a fake) whose records' browse graphics
    (`<link rel="icon">`) are `thumbnails` ("{self}": its own origin), one record each;
    `/redirect.png` on it redirects to `redirect_to`. Yields the description document's URL and
    the paths asked."""
    asked: list[str] = []

    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            asked.append(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/redirect"):
                self.send_body(302, b"", "text/plain", {"Location": redirect_to})
            elif self.path.startswith("/os.xml"):
                self.send_body(200, _description(base).encode(), "application/xml")
            else:
                feed = _feed([t.replace("{self}", base) for t in thumbnails])
                self.send_body(200, feed.encode(), "application/atom+xml")

    with serve(Handler) as httpd:
        yield f"{httpd.url}/os.xml", asked


def _description(base: str) -> str:
    return ('<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:geo="http://a9.com/-/opensearch/extensions/geo/1.0/"><ShortName>x</ShortName>'
            f'<Url type="application/atom+xml" rel="results" template="{base}/search?'
            'box={geo:box?}&amp;count={count?}&amp;startIndex={startIndex?}"/>'
            "</OpenSearchDescription>")


def _feed(thumbnails: list[str]) -> str:
    from xml.sax.saxutils import quoteattr

    entries = "".join(
        f"<entry><id>hostile-{n}</id><updated>2025-06-01T10:00:00Z</updated>"
        f"<georss:box>43 12 43.2 12.2</georss:box><link rel=\"icon\" href={quoteattr(url)}/>"
        "</entry>" for n, url in enumerate(thumbnails))
    return ('<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:os="http://a9.com/-/spec/opensearch/1.1/" '
            'xmlns:georss="http://www.georss.org/georss">'
            f"<os:totalResults>{len(thumbnails)}</os:totalResults>{entries}</feed>")
