"""Bad input and bad times for the catalogue: 4xx/503 JSON answers instead of 500s.

`RequestGuard` (ASGI middleware) refuses, before stac-fastapi sees them: bodies over a size
limit (413), paths and query strings that are not UTF-8 or hold NUL characters, bodies that
are not JSON (or hold lone surrogates or NUL), search bodies that are not an object, and search
filters that are not valid CQL2 (400). `install_error_handlers` maps what still fails deeper
down: values PostgreSQL or pgstac refuse (400), a database that cannot be reached (503);
`ErrorsAsJson` answers anything else with a JSON 500 without internals, keeping the connection.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from .asgi import HttpMiddleware, LastResortMiddleware, send_body

log = logging.getLogger("eopde.catalogue")

#: Largest body of a transaction (collections, items, bulk items).
MAX_WRITE_BODY = 16 * 1024 * 1024
#: Largest body of a search (and of any other request).
MAX_SEARCH_BODY = 1024 * 1024

#: Methods whose body is read (and checked) here; POST /search is the one read among them.
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_NEED_BODY = {"POST", "PUT", "PATCH"}
#: A JSON `\u0000` escape (not preceded by an escaping backslash): PostgreSQL refuses NUL.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class BadRequest(Exception):
    """The request is refused before reaching the API: `status` and a description."""

    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def is_search(scope: dict) -> bool:
    """POST /search is a read."""
    return scope["method"] == "POST" and scope["path"].rstrip("/") == "/search"


def is_write(scope: dict) -> bool:
    """A request that changes the catalogue (every body method but POST /search)."""
    return scope["method"] in _BODY_METHODS and not is_search(scope)


def body_limit(scope: dict) -> int:
    """The largest body accepted for this request."""
    return MAX_WRITE_BODY if is_write(scope) else MAX_SEARCH_BODY


def check_text(raw: bytes, what: str) -> None:
    """Refuse percent-encoded text (path or query) that is not UTF-8 or holds NUL."""
    try:
        text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(400, "InvalidParameterValue",
                         f"the {what} is not valid UTF-8 once percent-decoded "
                         f"(byte {err.start}); encode text as UTF-8") from None
    if "\x00" in text:
        raise BadRequest(400, "InvalidParameterValue",
                         f"the {what} holds a NUL character (%00), which no id or value may "
                         "contain")


def check_query_parameter(raw: bytes) -> None:
    """The query extension's `query` parameter, when JSON, must be an object: stac-fastapi's
    collection search indexes whatever it is (a list was a 500)."""
    from urllib.parse import parse_qsl

    import orjson

    for name, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        if name != "query" or not value:
            continue
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue  # answered 400 "not valid JSON" further in
        if parsed is not None and not isinstance(parsed, dict):
            raise BadRequest(400, "InvalidParameterValue",
                             "the query parameter must be a JSON object, e.g. "
                             '{"eo:cloud_cover": {"lt": 20}}')


def check_json_body(body: bytes, scope: dict) -> None:
    """Refuse a JSON body the catalogue cannot store: not UTF-8, lone surrogates, NUL; and a
    search body that is not a valid search. Cheap scans first: a 16 MiB body of items is
    parsed here only when it holds a surrogate escape (stac-fastapi parses it anyway)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(400, "InvalidBody",
                         f"the request body is not valid UTF-8 (byte {err.start})") from None
    data = None
    if is_search(scope) or b"\\ud" in body or b"\\uD" in body:
        data = _parse(body)
    if b"\\u0000" in body and _NUL_ESCAPE.search(body):
        raise BadRequest(400, "InvalidBody",
                         "the request body holds a NUL character (\\u0000) in a string, which "
                         "the catalogue cannot store; remove it")
    if is_search(scope):
        check_search(data)


def _parse(body: bytes) -> Any:
    import orjson

    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        # orjson refuses what PostgreSQL would: lone surrogates (and invalid JSON).
        raise BadRequest(400, "InvalidBody", f"the request body is not valid JSON (UTF-8, "
                                             f"no lone surrogates): {err}") from None


def check_search(data: Any) -> None:
    """A POST /search body: a JSON object whose CQL2 filter (if any) is valid."""
    if not isinstance(data, dict):
        raise BadRequest(400, "InvalidBody",
                         "the search body must be a JSON object, e.g. {\"collections\": [...], "
                         "\"limit\": 10}")
    expr = data.get("filter")
    if isinstance(expr, dict):
        from cql2 import Expr

        try:
            Expr(expr).validate()
        except Exception as err:  # cql2 raises plain exceptions (ValidationError, ValueError)
            raise BadRequest(400, "InvalidParameterValue",
                             f"Invalid filter (CQL2 JSON): {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:500]


class RequestGuard(HttpMiddleware):
    """ASGI middleware: size limits and text/JSON checks before the app (see module doc)."""

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            check_text(scope.get("raw_path") or scope["path"].encode(), "path")
            check_text(scope.get("query_string", b""), "query string")
            check_query_parameter(scope.get("query_string", b""))
            body = await self._read_body(scope, receive)
        except BadRequest as err:
            await send_json(send, err.status, err.code, err.description)
            return
        if body is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: dict, receive: Any) -> bytes | None:
        """The whole body (checked), or None when the method carries none."""
        if scope["method"] not in _BODY_METHODS:
            return None
        limit = body_limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest(400, "InvalidHeader", "Content-Length must be a number")
            if int(declared) > limit:
                raise _too_large(scope, limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(scope, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            _require_json(scope)
            check_json_body(body, scope)
        elif scope["method"] in _NEED_BODY and not is_search(scope):
            # stac-fastapi would hand its clients None (a 500 on main)
            raise BadRequest(400, "InvalidBody",
                             f"{scope['method']} {scope['path']} needs a JSON body (a "
                             "collection, an item or a patch)")
        return body


def _too_large(scope: dict, limit: int) -> BadRequest:
    fix = ("use a simpler geometry or fewer ids" if is_search(scope)
           else "send fewer items per request")
    return BadRequest(413, "PayloadTooLarge",
                      f"the request body is larger than {limit // (1024 * 1024)} MiB; {fix}")


def _require_json(scope: dict) -> None:
    """Every body the catalogue takes is JSON (application/json, *+json, or unlabelled)."""
    kind = (_header(scope, b"content-type") or "application/json").split(";")[0].strip().lower()
    if not (kind == "application/json" or kind.endswith("+json")):
        raise BadRequest(415, "UnsupportedMediaType",
                         f"the body must be JSON, sent with Content-Type: application/json "
                         f"(not {kind[:80]!r})")


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands the app the body already read, then the real channel."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_json(send: Any, status: int, code: str, description: str,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer an ASGI request with a STAC API error body."""
    body = json.dumps({"code": code, "description": description}).encode()
    await send_body(send, status, b"application/json", body, headers)


# --- errors raised inside the app -------------------------------------------------------------

_INTERNAL = "the catalogue failed on this request; the catalogue log has the details"


def install_error_handlers(app: Any) -> None:
    """Map database and ownership errors to 4xx/503 JSON."""
    import asyncpg.exceptions as pg
    import jsonpatch

    from .ownership import OwnershipError

    def answer(status: int, code: str, description: str, **headers: str) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"code": code, "description": description}, status_code=status,
                            headers=headers or None)

    async def ownership(request: Any, err: OwnershipError) -> Any:
        return answer(err.status, err.code, err.description)

    async def refused_value(request: Any, err: Exception) -> Any:
        # SQLSTATE 22 (data exceptions) and pgstac's own RAISEs: values of the request.
        return answer(400, "InvalidParameterValue",
                      f"the catalogue cannot use a value of this request: {_first_line(err)}")

    async def bad_json_parameter(request: Any, err: Exception) -> Any:
        return answer(400, "InvalidParameterValue",
                      f"a parameter that must hold JSON (query, intersects, filter) is not "
                      f"valid JSON: {_first_line(err)}")

    async def bad_patch(request: Any, err: Exception) -> Any:
        return answer(400, "InvalidBody", f"the patch cannot be applied: {_first_line(err)}")

    async def sql_syntax(request: Any, err: Exception) -> Any:
        # Free text (`q`) becomes a PostgreSQL tsquery; any other syntax error is ours.
        if "tsquery" in str(err):
            return answer(400, "InvalidParameterValue",
                          f"the free-text query (q) cannot be read: {_first_line(err)}; use "
                          "words, \"quoted phrases\", OR, AND and - (not)")
        return await internal(request, err)

    async def database_down(request: Any, err: Exception) -> Any:
        log.warning("database unavailable: %r", err)
        return answer(503, "ServiceUnavailable",
                      "the catalogue's database is not reachable right now; try again in a few "
                      "seconds (`eopde status` shows the platform's parts, `eopde up` restarts "
                      "what stopped)", **{"Retry-After": "5"})

    async def interface(request: Any, err: Exception) -> Any:
        # asyncpg says "connection is closed" / "pool is closing" when the database went away;
        # any other InterfaceError is a bug here, not an outage.
        if "clos" in str(err):
            return await database_down(request, err)
        return await internal(request, err)

    async def internal(request: Any, err: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return answer(500, "InternalServerError", _INTERNAL)

    app.add_exception_handler(OwnershipError, ownership)
    for kind in (pg.DataError, pg.RaiseError, pg.ProgramLimitExceededError):
        app.add_exception_handler(kind, refused_value)
    app.add_exception_handler(json.JSONDecodeError, bad_json_parameter)
    for kind in (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
        app.add_exception_handler(kind, bad_patch)
    for kind in (OSError, pg.PostgresConnectionError, pg.OperatorInterventionError,
                 pg.InsufficientResourcesError):
        app.add_exception_handler(kind, database_down)
    app.add_exception_handler(pg.InterfaceError, interface)
    app.add_exception_handler(pg.PostgresSyntaxError, sql_syntax)


class ErrorsAsJson(LastResortMiddleware):
    """Outermost ASGI middleware: an unexpected exception becomes a 500 STAC API error body
    (see :class:`~eopde.services.asgi.LastResortMiddleware`)."""

    reraise_when_started = True

    def failed(self, scope: dict) -> tuple[bytes, bytes]:
        log.exception("unexpected error on %s %s", scope["method"], scope["path"])
        body = json.dumps({"code": "InternalServerError", "description": _INTERNAL}).encode()
        return b"application/json", body
