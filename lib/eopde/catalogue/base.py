"""What every catalogue backend (STAC API, CSW, OpenSearch) shares: normalised search
parameters, the backend protocol, and the exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


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
