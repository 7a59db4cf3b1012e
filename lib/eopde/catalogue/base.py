"""What every catalogue backend (STAC API, CSW, OpenSearch) shares: normalised search
parameters, the backend protocol, the exceptions, and the reuse of opened catalogues."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

V = TypeVar("V")


class CatalogueError(Exception):
    """Base class of the catalogue errors; messages say what was wrong and how to fix it."""


class SearchParameterError(CatalogueError, ValueError):
    """A search parameter is malformed or out of range (bbox, datetime, filter...)."""


class CatalogueUnreachableError(CatalogueError, ConnectionError):
    """The catalogue did not answer (DNS, refused connection, timeout, 5xx)."""


class NotACatalogueError(CatalogueError):
    """The URL answered, but not as a catalogue of the expected kind."""


class UnknownCollectionError(CatalogueError, LookupError):
    """A collection asked for does not exist in the catalogue."""


class CatalogueAuthError(CatalogueError, PermissionError):
    """The catalogue refused the request (HTTP 401/403): no token, or a token it does not accept."""


class CatalogueWarning(UserWarning):
    """Something the user should know that did not stop the search (a catalogue of a federated
    search was unreachable, a filter was applied on the client side...)."""


@dataclass(frozen=True)
class SearchParams:
    """Search parameters after validation, in the shapes the STAC API uses.

    bbox is (west, south, east, north) in WGS84 degrees; intersects a GeoJSON geometry dict;
    datetime an RFC 3339 interval string ("2025-06-01T00:00:00Z/..", or a single instant);
    filter a CQL2 text string or CQL2 JSON dict, with filter_lang "cql2-text" / "cql2-json".
    """

    bbox: tuple[float, float, float, float] | None = None
    intersects: dict[str, Any] | None = None
    datetime: str | None = None
    collections: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    filter: str | dict[str, Any] | None = None
    filter_lang: str | None = None
    query: dict[str, Any] | None = None
    sortby: tuple[str, ...] | None = None
    max_items: int | None = 100
    limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: eo:cloud_cover bounds in percent, (min, max), None for an open end. Backends that cannot
    #: filter on it may ignore it: federated search also checks it on the client side.
    cloud_cover: tuple[float | None, float | None] | None = None


@runtime_checkable
class CatalogueBackend(Protocol):
    """A catalogue that can be searched. Items come back as pystac Items, lazily."""

    #: A short name for messages and for tagging federated results.
    name: str
    #: The endpoint.
    url: str

    def search_items(self, params: SearchParams) -> Iterator[Any]:
        """Yield `pystac.Item`s matching `params` (up to params.max_items), page by page."""
        ...


class Reused(Generic[V]):
    """Objects made on first use and reused for `seconds` from when their making began, `most`
    of them at the most (the least recently used go first): opened catalogues, each of which
    read a landing page, capabilities or description document when it was made; the tile
    server's STAC items. Safe across threads."""

    def __init__(self, seconds: float, most: int = 64) -> None:
        from cachetools import TLRUCache

        # Counted from the start of `make()`, not from the end: what a slow make read is not
        # kept longer than `seconds` after it was read (an item deleted meanwhile disappears in
        # time). Entries are (began, object).
        self._made: TLRUCache = TLRUCache(maxsize=most, timer=time.monotonic,
                                          ttu=lambda _key, entry, _now: entry[0] + seconds)
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The object made for `key` less than `seconds` ago, else a new one from `make()`
        (called outside the lock: it may fetch)."""
        found = self.peek(key)
        if found is None:
            began = time.monotonic()
            found = make()
            with self._lock:
                self._made[key] = (began, found)
        return found

    def peek(self, key: Hashable) -> V | None:
        """The object kept for `key`, if any (nothing is made)."""
        with self._lock:
            entry = self._made.get(key)
        return None if entry is None else entry[1]

    def clear(self) -> None:
        with self._lock:
            self._made.clear()
