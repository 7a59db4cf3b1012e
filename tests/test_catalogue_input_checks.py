"""The catalogue's request checks (eopde.services.catalogue_input), without a platform."""

from __future__ import annotations

import asyncio
import json

import pytest

from eopde.services.catalogue_input import (
    MAX_SEARCH_BODY,
    MAX_WRITE_BODY,
    BadRequest,
    RequestGuard,
    body_limit,
    check_json_body,
    check_search,
    check_text,
    is_search,
)


def _scope(method: str, path: str, headers=(), query: bytes = b"") -> dict:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
            "query_string": query, "headers": list(headers)}


def test_search_is_the_one_read_post():
    assert is_search(_scope("POST", "/search"))
    assert is_search(_scope("POST", "/search/"))
    assert not is_search(_scope("POST", "/collections/search"))
    assert not is_search(_scope("POST", "/collections/x/items/search"))
    assert body_limit(_scope("POST", "/search")) == MAX_SEARCH_BODY
    assert body_limit(_scope("POST", "/collections")) == MAX_WRITE_BODY
    assert body_limit(_scope("PUT", "/collections/x")) == MAX_WRITE_BODY


@pytest.mark.parametrize("raw", [b"ids=%00", b"ids=%ff", b"ids=%ED%A0%80", b"a=%C3"])
def test_bad_text_is_refused(raw):
    with pytest.raises(BadRequest) as caught:
        check_text(raw, "query string")
    assert caught.value.status == 400 and "query string" in caught.value.description


@pytest.mark.parametrize("raw", [b"", b"ids=caf%C3%A9", b"q=a+b", b"filter=a%3D%27b%27"])
def test_good_text_passes(raw):
    check_text(raw, "query string")


@pytest.mark.parametrize("path", ["/collections", "/search"])
@pytest.mark.parametrize("body,words", [
    (b'{"ids": ["\\ud800"]}', "surrogate"),
    (b'{"ids": ["\\uDC00x"]}', "surrogate"),
    (b'{"ids": ["\\u0000"]}', "NUL"),
    (b'{"ids": ["\\\\\\u0000"]}', "NUL"),      # an escaped backslash, then a NUL
    (b'{"ids": ["\xff"]}', "not valid UTF-8"),
])
def test_bad_json_is_refused(body, words, path):
    with pytest.raises(BadRequest) as caught:
        check_json_body(body, _scope("POST", path))
    assert caught.value.status == 400 and words in caught.value.description


def test_search_body_must_be_json():
    with pytest.raises(BadRequest, match="not valid JSON"):
        check_json_body(b"not json", _scope("POST", "/search"))


def test_valid_surrogate_pairs_pass():
    body = json.dumps({"title": "\U0001F600"}).encode()  # an emoji: a surrogate pair escaped
    assert b"\\ud83d" in body
    check_json_body(body, _scope("POST", "/collections"))


def test_escaped_backslash_before_u0000_is_text():
    body = json.dumps({"ids": ["\\u0000"]}).encode()  # the six characters \u0000
    check_json_body(body, _scope("POST", "/search"))


@pytest.mark.parametrize("data", [[1, 2], "text", 3])
def test_search_body_must_be_an_object(data):
    with pytest.raises(BadRequest, match="JSON object"):
        check_search(data)


def test_search_filter_is_validated():
    check_search({"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}})
    with pytest.raises(BadRequest, match="Invalid filter"):
        check_search({"filter": {"op": "=", "args": [{"property": "x"}]}})


def _run_guard(scope: dict, chunks: list[bytes]) -> tuple[list[dict], list[bytes]]:
    """Send `chunks` through RequestGuard; what it answered and what the app received."""
    sent: list[dict] = []
    seen: list[bytes] = []

    async def app(scope, receive, send):
        message = await receive()
        seen.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main():
        queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                 for i, c in enumerate(chunks)]

        async def receive():
            return queue.pop(0) if queue else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await RequestGuard(app)(scope, receive, send)

    asyncio.run(main())
    return sent, seen


def test_guard_counts_chunked_bodies():
    chunk = b" " * (512 * 1024)
    sent, seen = _run_guard(_scope("POST", "/search"), [b"{}", chunk, chunk, chunk])
    assert sent[0]["status"] == 413 and not seen
    assert b"1 MiB" in sent[1]["body"]


def test_guard_refuses_declared_oversize_without_reading():
    scope = _scope("PUT", "/collections/x",
                   headers=[(b"content-length", str(MAX_WRITE_BODY + 1).encode())])
    sent, seen = _run_guard(scope, [])
    assert sent[0]["status"] == 413 and not seen
    sent, _ = _run_guard(_scope("PUT", "/collections/x", headers=[(b"content-length", b"-1")]),
                         [b"{}"])
    assert sent[0]["status"] == 400


def test_guard_replays_the_body_it_checked():
    body = json.dumps({"limit": 1}).encode()
    sent, seen = _run_guard(_scope("POST", "/search"), [body[:3], body[3:]])
    assert sent[0]["status"] == 200 and seen == [body]


def test_guard_wants_json_bodies():
    scope = _scope("POST", "/search", headers=[(b"content-type", b"text/plain")])
    sent, seen = _run_guard(scope, [b"{}"])
    assert sent[0]["status"] == 415 and not seen
    patch = _scope("PATCH", "/collections/x",
                   headers=[(b"content-type", b"application/merge-patch+json")])
    assert _run_guard(patch, [b"{}"])[0][0]["status"] == 200


def test_guard_checks_path_and_query():
    assert _run_guard(_scope("GET", "/collections/%00"), [])[0][0]["status"] == 400
    assert _run_guard(_scope("GET", "/search", query=b"ids=%ff"), [])[0][0]["status"] == 400
    assert _run_guard(_scope("GET", "/search", query=b"ids=a"), [])[0][0]["status"] == 200


def test_unexpected_errors_are_json_and_not_reraised():
    from eopde.services.catalogue_input import ErrorsAsJson

    async def broken(scope, receive, send):
        raise RuntimeError("/secret/path leaked?")

    sent: list[dict] = []

    async def main():
        async def send(message):
            sent.append(message)

        await ErrorsAsJson(broken)(_scope("GET", "/search"), None, send)

    asyncio.run(main())  # no exception: the server keeps the connection
    assert sent[0]["status"] == 500
    body = json.loads(sent[1]["body"])
    assert body["code"] == "InternalServerError" and "secret" not in body["description"]


@pytest.mark.parametrize("method,path", [("PUT", "/collections/x"), ("PATCH", "/collections/x"),
                                         ("POST", "/collections/x/items"),
                                         ("PUT", "/collections/x/items/y")])
def test_writes_need_a_body(method, path):
    sent, seen = _run_guard(_scope(method, path), [b""])
    assert sent[0]["status"] == 400 and b"needs a JSON body" in sent[1]["body"] and not seen
    assert _run_guard(_scope("DELETE", path), [b""])[0][0]["status"] == 200


def test_query_parameter_must_be_an_object():
    from eopde.services.catalogue_input import check_query_parameter

    check_query_parameter(b"query=%7B%22eo%3Acloud_cover%22%3A%7B%22lt%22%3A20%7D%7D&limit=1")
    check_query_parameter(b"query=%7Bbad")  # not JSON: refused further in, with its own text
    check_query_parameter(b"limit=1")
    check_query_parameter(b"query=null")  # no query, as before
    for raw in (b"query=%5B1%5D", b"query=1", b"query=%22x%22", b"a=1&query=%5B%5D"):
        with pytest.raises(BadRequest, match="JSON object"):
            check_query_parameter(raw)
