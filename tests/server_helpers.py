"""Helpers shared by the tests of the Jupyter server extension's routes (tests/test_server_*.py),
which run a real Jupyter server through pytest-jupyter's `jp_fetch`."""

from __future__ import annotations

import json
from typing import Any

from tornado.httpclient import HTTPClientError


async def call(jp_fetch: Any, route: str, method: str = "GET", body: Any = None,
               **query: str) -> tuple[int, dict]:
    """Ask `/eopde/<route>` (query parameters as keywords; a body as JSON unless given as text)
    and answer (status, JSON body), an error status included."""
    kwargs: dict = {"method": method}
    if body is not None:
        kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
    if query:
        kwargs["params"] = query
    try:
        r = await jp_fetch("eopde", *route.split("/"), **kwargs)
    except HTTPClientError as err:
        assert err.response is not None
        return err.code, json.loads(err.response.body)
    return r.code, json.loads(r.body)
