"""The thumbnails (browse graphics, quicklooks) of the catalogue panel's rows from a user-added
catalogue, fetched by this server through the catalogue's guard.

A record's thumbnail URL is the catalogue's word, so it is as hostile as the catalogue: the
user's browser is never sent to it. The panel's row names a number within its kept search
(`Thumbnails`); this server fetches the URL behind that number with `eopde.urlguard` (every
connection and redirect checked at connect time against the catalogue's `UrlPolicy`: public
addresses and the origins an administrator allowed), without the platform's token, reads at most
`MAX_BYTES`, and answers it only when it is a PNG, JPEG, GIF or WebP image (recognised by its
first bytes, not by what the remote server says it is: an SVG or HTML page would run in the
Jupyter server's origin)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .errors import RequestError

if TYPE_CHECKING:  # pragma: no cover
    from eopde.urlguard import UrlPolicy

#: The largest thumbnail answered (a quicklook is a few hundred kB at most).
MAX_BYTES = 2_000_000
#: Seconds for the whole fetch of one thumbnail (connect: the guard's 10 s).
TIMEOUT = 20.0
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
               (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))
#: What an answered thumbnail carries besides its type: nothing in it may run or be sniffed.
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=600"}


def image_type(data: bytes) -> str | None:
    """The media type of a PNG, JPEG, GIF or WebP image from its first bytes; None otherwise.
    (A few signatures by hand: Pillow is not in the user's server's dependencies.)"""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class Thumbnails:
    """The thumbnail URLs of one kept search, by number: what the browser names instead of a
    URL."""

    def __init__(self) -> None:
        self._urls: list[str] = []
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()

    def number(self, url: str) -> int:
        with self._lock:
            if url not in self._numbers:
                self._numbers[url] = len(self._urls)
                self._urls.append(url)
            return self._numbers[url]

    def url(self, number: int) -> str | None:
        with self._lock:
            return self._urls[number] if 0 <= number < len(self._urls) else None


def fetch(url: str, policy: UrlPolicy) -> tuple[bytes, str]:
    """(the image, its media type) at `url`, fetched as `policy` allows; a RequestError (502)
    saying why not, without what the remote server answered."""
    import httpx

    from eopde.readcap import ResponseTooLarge, read_capped
    from eopde.urlguard import UrlRefused, guarded_client, open_guarded

    try:
        with guarded_client(policy, timeout=TIMEOUT) as client, \
                open_guarded(client, url, policy) as response:
            if response.status_code != 200:
                raise RequestError(502, f"the record's thumbnail answered HTTP "
                                        f"{response.status_code}.")
            data = read_capped(response, MAX_BYTES)
    except ResponseTooLarge:
        raise RequestError(502, f"the record's thumbnail is over {MAX_BYTES} bytes.") from None
    except UrlRefused as err:
        raise RequestError(502, f"the record's thumbnail URL is not fetched: {err}") from None
    except httpx.HTTPError as err:
        raise RequestError(502, f"the record's thumbnail could not be fetched "
                                f"({type(err).__name__}).") from None
    media_type = image_type(data)
    if media_type is None:
        raise RequestError(502, "the record's thumbnail is not a PNG, JPEG, GIF or WebP image.")
    return data, media_type
