"""An HTTP response body read up to a size limit, for documents a user names by URL: the ADES's
execution-unit href, the tile server's STAC item, stage-in's STAC item. The body is read chunk by
chunk and the read stops as soon as it passes the limit, so a huge or endless answer costs at
most the limit plus one chunk of memory. (httpx has no such limit of its own.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import httpx

#: Bytes asked of the stream at a time (each caller may pass its own).
CHUNK = 64 * 1024


class ResponseTooLarge(ValueError):
    """The body is larger than ``limit`` bytes; callers turn it into their own error."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the response is larger than {limit} bytes")
        self.limit = limit


def read_capped(response: httpx.Response, limit: int, *, chunk_size: int = CHUNK) -> bytes:
    """The (decoded) body of a streamed httpx response, at most ``limit`` bytes long; raises
    :class:`ResponseTooLarge` as soon as more arrives, without reading the rest."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    body = bytearray()
    for chunk in response.iter_bytes(chunk_size):
        body += chunk
        if len(body) > limit:
            raise ResponseTooLarge(limit)
    return bytes(body)
