"""Helpers shared by the tests of the Jupyter server extension's routes (tests/test_server_*.py),
which run a real Jupyter server through pytest-jupyter's `jp_fetch` (its config: the
`jp_server_config` fixture of tests/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

from tornado.httpclient import HTTPClientError


async def exchange(jp_fetch: Any, route: str, method: str = "GET", body: Any = None,
                   headers: dict[str, str] | None = None,
                   **query: str | list[str]) -> tuple[int, dict | None, dict[str, str]]:
    """Ask `/eopde/<route>` (query parameters as keywords, a list for a repeated one; a body as
    JSON unless given as text) and answer (status, JSON body or None when there is none,
    response headers), an error status included."""
    kwargs: dict = {"method": method, "headers": headers or {}}
    if body is not None:
        kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
    if query:
        kwargs["params"] = [(k, v) for k, vs in query.items()
                            for v in (vs if isinstance(vs, list) else [vs])]
    try:
        r = await jp_fetch("eopde", *route.split("/"), **kwargs)
    except HTTPClientError as err:
        assert err.response is not None
        text = err.response.body
        return err.code, json.loads(text) if text else None, dict(err.response.headers)
    return r.code, json.loads(r.body) if r.body else None, dict(r.headers)


async def call(jp_fetch: Any, route: str, method: str = "GET", body: Any = None,
               **query: str | list[str]) -> tuple[int, dict]:
    """`exchange` for a route that always answers a JSON body: (status, body)."""
    code, answer, _ = await exchange(jp_fetch, route, method, body, **query)
    assert answer is not None, f"{method} /eopde/{route} answered {code} without a body"
    return code, answer
