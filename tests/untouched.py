"""A loopback port that stands for an attacker's server which nothing may reach."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def untouched_listener(path: str = "/ogc-api") -> Iterator[str]:
    """Yield the URL of a listening loopback port; on leaving the block, fail if anything
    connected to it meanwhile (a connection would wait in the backlog)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}{path}"
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
