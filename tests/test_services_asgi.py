"""`eopde.services.asgi`: the middleware base and last-resort 500 the services share, and the
two services' last resorts (catalogue: STAC error JSON; ADES: problem document)."""

from __future__ import annotations

import asyncio
import json

import pytest

from eopde.services.ades.errors import LastResort
from eopde.services.asgi import HttpMiddleware
from eopde.services.catalogue_input import ErrorsAsJson

SCOPE = {"type": "http", "method": "GET", "path": "/x", "headers": []}


def _run(middleware, scope: dict = SCOPE) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, None, send))
    return sent


async def _broken(scope, receive, send):
    raise RuntimeError("/secret/path")


async def _broken_halfway(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise RuntimeError("/secret/path")


@pytest.mark.parametrize("kind,content_type", [(ErrorsAsJson, b"application/json"),
                                               (LastResort, b"application/problem+json")])
def test_an_error_before_the_answer_is_a_500_without_internals(kind, content_type):
    start, body = _run(kind(_broken))
    headers = dict(start["headers"])
    assert start["status"] == 500 and headers[b"content-type"] == content_type
    assert int(headers[b"content-length"]) == len(body["body"])
    assert json.loads(body["body"]) and b"secret" not in body["body"]


def test_an_error_after_the_answer_started_ends_the_connection():
    # The catalogue re-raises (the server closes the connection); the ADES returns, and the
    # server closes the unfinished response. Neither sends a second start.
    with pytest.raises(RuntimeError):
        _run(ErrorsAsJson(_broken_halfway))
    sent = _run(LastResort(_broken_halfway))
    assert [m["type"] for m in sent] == ["http.response.start"]


def test_other_messages_pass_through_untouched():
    seen: list[dict] = []

    async def app(scope, receive, send):
        seen.append(scope)

    class Refuse(HttpMiddleware):
        async def http(self, scope, receive, send):
            raise AssertionError("not for lifespan")

    _run(Refuse(app), {"type": "lifespan"})
    _run(ErrorsAsJson(app), {"type": "websocket"})
    assert [s["type"] for s in seen] == ["lifespan", "websocket"]
