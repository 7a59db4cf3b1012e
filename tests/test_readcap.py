"""eopde.readcap: a response body read up to a limit, and the three readers built on it (the
ADES's execution-unit href, the tile server's STAC item, stage-in's STAC item), against a real
HTTP server on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from eopde.readcap import ResponseTooLarge, read_capped
from loopback import serve

LIMIT = 1000
ENDLESS = 1 << 30  # what /endless would send if nobody stopped reading


class _Handler(BaseHTTPRequestHandler):
    """/size/N: N bytes (with a Content-Length); /endless: 64 KiB chunks without one, until
    the client goes away (the bytes it managed to send are counted in `sent`)."""

    sent: dict[str, int] = {}

    def do_GET(self) -> None:
        if self.path.startswith("/size/"):
            body = b"x" * int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.end_headers()  # HTTP/1.0, no length: the body ends when the connection does
        chunk, sent = b"y" * 65536, 0
        try:
            while sent < ENDLESS:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:  # the client hung up
            pass
        finally:
            _Handler.sent[self.path] = sent

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve(_Handler) as httpd:
        yield httpd.url


def _read(url: str, limit: int) -> bytes:
    with httpx.stream("GET", url, timeout=30) as response:
        return read_capped(response, limit)


@pytest.mark.parametrize("size", [0, 1, LIMIT - 1, LIMIT])
def test_a_body_within_the_limit_is_read_whole(server: str, size: int) -> None:
    assert _read(f"{server}/size/{size}", LIMIT) == b"x" * size


def test_one_byte_over_the_limit_is_refused_naming_the_limit(server: str) -> None:
    with pytest.raises(ResponseTooLarge) as info:
        _read(f"{server}/size/{LIMIT + 1}", LIMIT)
    assert isinstance(info.value, ValueError) and info.value.limit == LIMIT
    assert str(info.value) == f"the response is larger than {LIMIT} bytes"


def test_an_endless_body_is_not_read_to_its_end(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge):
        _read(f"{server}/endless?1", 100_000)
    seconds = time.monotonic() - started
    deadline = time.monotonic() + 30
    while "/endless?1" not in _Handler.sent and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices the hang-up on its next write
    # the limit plus one chunk, plus what the sockets buffer: nowhere near the gigabyte
    assert _Handler.sent["/endless?1"] < 64 << 20, _Handler.sent
    assert seconds < 20


def test_a_negative_limit_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="limit"):
        read_capped(httpx.Response(200, content=b""), -1)


# --- the readers built on it ------------------------------------------------------------------


def test_tile_server_refuses_a_too_large_item_with_its_error(server: str, monkeypatch) -> None:
    from eopde.services import tiles_guard

    monkeypatch.setattr(tiles_guard, "MAX_ITEM_BYTES", LIMIT)
    assert tiles_guard._get(f"{server}/size/{LIMIT}") == b"x" * LIMIT
    with pytest.raises(tiles_guard.TooLarge, match=f"STAC item is larger than {LIMIT} bytes"):
        tiles_guard._get(f"{server}/size/{LIMIT + 1}")


def test_stage_in_refuses_a_too_large_item_with_its_error(server: str, monkeypatch) -> None:
    from eopde.apppkg import stagein

    monkeypatch.setattr(stagein, "MAX_ITEM_BYTES", LIMIT)
    url = f"{server}/size/{LIMIT + 1}"
    with pytest.raises(stagein.StageInError, match=f"STAC item {url}: larger than {LIMIT} bytes"):
        stagein.fetch_item(url)


def test_ades_refuses_a_too_large_execution_unit_href_with_413(server: str) -> None:
    from eopde.services.ades import deploy
    from eopde.services.ades.errors import OGCError
    from eopde.urlguard import UrlPolicy

    policy = UrlPolicy.of([server])  # the test server stands for the platform's own
    assert deploy._fetch(f"{server}/size/{LIMIT}", max_bytes=LIMIT, href_dirs=[],
                         policy=policy) == "x" * LIMIT
    with pytest.raises(OGCError) as info:
        deploy._fetch(f"{server}/size/{LIMIT + 1}", max_bytes=LIMIT, href_dirs=[], policy=policy)
    assert info.value.status == 413 and f"limit of {LIMIT} bytes" in info.value.detail
