"""Loopback HTTP servers for the tests' stand-ins (a remote third party that cannot run here, or
a file server for generated data): `serve` runs a handler class in a thread on a free port of
127.0.0.1; `JsonHandler` is the base of the stand-ins that answer JSON; `serve_folder` serves
a folder's files."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """A `ThreadingHTTPServer` on 127.0.0.1 that says its base URL."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON (`send_json`) and logs nothing (pytest's output
    stays clean)."""

    def send_json(self, status: int, body: Any) -> None:
        self.send_body(status, json.dumps(body).encode(), "application/json")

    def send_body(self, status: int, data: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve(handler: Any) -> Iterator[LoopbackServer]:
    """`handler` (a request handler class, or a callable making one) served in a thread on a
    free loopback port until the block ends."""
    server = LoopbackServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[LoopbackServer]:
    """The files below `folder` served over HTTP until the block ends."""
    with serve(functools.partial(_QuietFiles, directory=str(folder))) as server:
        yield server
