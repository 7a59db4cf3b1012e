"""The tile server when the server holding the COGs fails: a busy data server's 5xx is asked
again by GDAL before a tile fails; one that keeps failing, or cannot be reached, is a 503 saying
"try again" (a 404 tells the browser the tile does not exist, and Leaflet never asks again);
a missing file stays a 404. GDAL's error text (which names the internal server) is never shown.

The data server here is a small range-serving HTTP server on loopback that can be told to fail:
it stands for the platform's data server (`rclone serve http`) having a bad moment, which the
real one cannot be made to have on demand.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from eopde.services import tiles
from test_tiles_app import SIZE, centre_tile, gradient, write_cog


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the folder with byte ranges; answers 503 while the file `FAIL` holds a count
    above 0 (taking one off per request), and notes every path asked for in `asked.log`."""

    folder = Path()

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, body: bool) -> None:
        with open(self.folder / "asked.log", "a") as log:
            log.write(self.path + "\n")
        flag = self.folder / "FAIL"
        left = int(flag.read_text() or 0) if flag.exists() else 0
        if left > 0:
            flag.write_text(str(left - 1))
            return self._empty(503)
        path = self.folder / self.path.lstrip("/")
        if not path.is_file():
            return self._empty(404)
        data = path.read_bytes()
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if wanted:
            start = int(wanted[1])
            end = min(int(wanted[2]) if wanted[2] else len(data) - 1, len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            data = data[start:end + 1]
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)


class DataServer:
    """The stand-in in its own process (in this one, GDAL reading while holding the GIL
    could wait for a server thread that waits for the GIL)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen([sys.executable, __file__, str(folder), str(self.port)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("the stand-in data server did not start")

    def fail_next(self, count: int) -> None:
        (self.folder / "FAIL").write_text(str(count))

    @contextlib.contextmanager
    def failing(self) -> Iterator[None]:
        """Every request answered 503 meanwhile."""
        self.fail_next(10_000)
        try:
            yield
        finally:
            self.fail_next(0)

    def asked(self) -> list[str]:
        log = self.folder / "asked.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(scope="module")
def data_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upstream")
    for name in ("retried.tif", "failing.tif", "healthy.tif"):
        write_cog(folder / name, gradient("xy"))
    server = DataServer(folder)
    yield server
    server.process.terminate()
    server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def client(data_server):
    from fastapi.testclient import TestClient

    base = f"http://127.0.0.1:{data_server.port}/"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(tiles.ALLOWED_URLS_ENV, base)
        for key in ("GDAL_HTTP_MAX_RETRY", "GDAL_HTTP_RETRY_DELAY"):
            mp.delenv(key, raising=False)  # the tile server's own defaults
        with TestClient(tiles.create_app()) as c:
            yield c, base


def _tile(client, url: str):
    t = centre_tile()
    return client.get(f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
                      params={"url": url, "rescale": "0,5000"})


def test_a_healthy_data_server_gives_tiles(client):
    c, base = client
    resp = _tile(c, base + "healthy.tif")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"


def test_one_failed_answer_is_asked_again(client, data_server):
    c, base = client
    data_server.fail_next(1)
    before = len(data_server.asked())
    resp = _tile(c, base + "retried.tif")
    assert resp.status_code == 200, resp.text
    asked = data_server.asked()[before:]
    assert asked.count("/retried.tif") >= 2, asked  # the 503'd request, then again


def test_a_failing_data_server_is_a_503_to_try_again(client, data_server):
    c, base = client
    with data_server.failing():
        resp = _tile(c, base + "failing.tif")
    assert resp.status_code == 503, resp.text
    detail = resp.json()["detail"]
    assert "try again" in detail
    assert str(data_server.port) not in detail and "CURL" not in detail
    # Once the server is back, the same tile comes (nothing remembered the failure).
    assert _tile(c, base + "failing.tif").status_code == 200


def test_a_server_failing_after_the_open_is_a_503_too(client, data_server):
    """The header was read (the dataset is open and kept), then the blocks fail: titiler
    would answer 500 with GDAL's text, the data server's address in it."""
    c, base = client
    noise = np.random.default_rng(1).integers(0, 10_000, (SIZE, SIZE), dtype="uint16")
    write_cog(data_server.folder / "later.tif", noise)  # blocks that do not fit the first read
    assert c.get("/cog/info", params={"url": base + "later.tif"}).status_code == 200
    with data_server.failing():
        resp = _tile(c, base + "later.tif")
    assert resp.status_code == 503, resp.text
    assert str(data_server.port) not in resp.text and "CURL" not in resp.text
    assert _tile(c, base + "later.tif").status_code == 200


def test_an_unreachable_data_server_is_a_503(monkeypatch):
    from fastapi.testclient import TestClient

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    monkeypatch.setenv(tiles.ALLOWED_URLS_ENV, base)
    with TestClient(tiles.create_app()) as c:
        resp = _tile(c, base + "anything.tif")
    assert resp.status_code == 503, resp.text
    assert str(port) not in resp.json()["detail"]


def test_a_missing_file_is_still_a_404(client):
    c, base = client
    resp = _tile(c, base + "nope.tif")
    assert resp.status_code == 404, resp.text
    assert "could not be read" in resp.json()["detail"]


def test_the_data_is_what_was_written(client):
    """The range server serves the COG whole (a check on the stand-in itself)."""
    c, base = client
    info = c.get("/cog/info", params={"url": base + "healthy.tif"})
    assert info.status_code == 200, info.text
    assert info.json()["width"] == SIZE


if __name__ == "__main__":  # the stand-in data server: <folder> <port>
    _Handler.folder = Path(sys.argv[1])
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), _Handler).serve_forever()
