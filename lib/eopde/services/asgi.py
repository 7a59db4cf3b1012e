"""ASGI plumbing the platform's services share (catalogue, ADES, tiles).

:class:`HttpMiddleware` acts on HTTP requests and hands every other message (lifespan,
websocket) to the app untouched; :class:`LastResortMiddleware` answers an exception nothing
else handled with a 500 body of the service's own shape; :func:`send_body` answers a request
in one go. Standard library only: the services import this module at import time.
"""

from __future__ import annotations

from typing import Any


class HttpMiddleware:
    """ASGI middleware that acts on HTTP requests (`http`); lifespan and websocket messages
    go to the app untouched."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        raise NotImplementedError


class LastResortMiddleware(HttpMiddleware):
    """Outermost ASGI middleware: an exception nothing else handled becomes the 500 answer
    :meth:`failed` gives (no internals), handled here so that the server keeps the connection
    (Starlette's own 500 handler re-raises, and uvicorn then resets the client's next request on
    that connection)."""

    #: When half an answer is out, only ending the connection is left: re-raise (uvicorn closes
    #: it and logs the trace again) or return (uvicorn closes it, logging that the response
    #: was not completed).
    reraise_when_started = False

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            content_type, body = self.failed(scope)
            if started:
                if self.reraise_when_started:
                    raise
                return
            await send_body(send, 500, content_type, body)

    def failed(self, scope: dict) -> tuple[bytes, bytes]:
        """Log the exception being handled; the content type and body of the 500 answer."""
        raise NotImplementedError


async def send_body(send: Any, status: int, content_type: bytes, body: bytes,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer an ASGI request with `body` (Content-Type and Content-Length set, then
    `headers`)."""
    all_headers = [(b"content-type", content_type),
                   (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})
