"""STAC API catalogues through pystac-client: `Catalogue` (one API, opened once) and `search()`.

pystac-client does the HTTP, paging and parameter encoding; this module adds what a notebook
user needs on top: the platform's URL and token by default, conformance-aware choices (a
cloud-cover bound becomes CQL2, a `query` expression, or a client-side check: `stacplan`),
collections checked before searching, and errors that say what to do (`stacerrors`).
"""

from __future__ import annotations

import difflib
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .base import (
    CatalogueBackend,
    CatalogueError,
    NotACatalogueError,
    Reused,
    SearchParameterError,
    SearchParams,
    UnknownCollectionError,
)
from .params import (
    BBoxLike,
    CloudCoverLike,
    CollectionsLike,
    DatetimeLike,
    FilterLike,
    IDsLike,
    IntersectsLike,
    QueryLike,
    SortbyLike,
    build_params,
    filter_cloud_cover,
)
from .results import SearchResults
from .stacerrors import api_error, default_name, reason, retry
from .stacplan import FEATURES, Prepared, conforms, plan_search

if TYPE_CHECKING:  # pragma: no cover
    import pystac
    from pystac_client import Client, ItemSearch
    from requests import Request

__all__ = ["FEATURES", "Catalogue", "CatalogueLike", "open_catalogue", "search"]

#: Seconds an opened catalogue (and its list of collections) is reused by `search(url=...)`.
CACHE_SECONDS = 300.0
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT = (5.0, 60.0)


class Catalogue:
    """A STAC API, opened once: its conformance, collections and queryables, and searching it.

    ``token`` is sent as ``Authorization: Bearer <token>``. Opening fails with
    CatalogueUnreachableError (no answer), CatalogueAuthError (401/403) or NotACatalogueError
    (an answer that is not a STAC API with item search).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        name: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        request_modifier: Callable[[Request], Request | None] | None = None,
    ):
        if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https"):
            raise SearchParameterError(
                f"catalogue URL {url!r} is not an http(s) URL; e.g. "
                "'https://earth-search.aws.element84.com/v1'")
        self.url = url.rstrip("/") or url
        self.name = name or default_name(url)
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        self._lock = threading.Lock()
        self._collections: dict[str, dict[str, Any]] | None = None
        self._collections_at = 0.0
        self.client: Client = self._open(url, all_headers, timeout, request_modifier)
        root = self.client.get_single_link("root")
        if root is not None and isinstance(root.target, str) \
                and root.target.rstrip("/") == url.rstrip("/"):
            # Opened as ".../stac" but the API calls its root ".../stac/": without this,
            # pystac fetches the landing page again on the first search.
            self.client.set_root(self.client)
        self._features = {f: self._conforms(f) for f in FEATURES}
        if not self._features["item-search"]:
            has = "" if self.client.has_conforms_to() else " (it lists no conformance at all: " \
                "a static STAC catalog?)"
            raise NotACatalogueError(
                f"{self.url} is a STAC catalog but not a STAC API with item search{has}. "
                "Search a STAC API's root URL; open static catalogs with "
                "pystac.Catalog.from_file().")
        # Tell pystac-client what we found, so it does not warn about classes it misreads.
        for feature in ("sort", "filter", "query", "fields"):
            if self._features[feature]:
                self.client.add_conforms_to(FEATURES[feature][0])
        self._post = self._post_advertised()

    def __repr__(self) -> str:
        return f"<Catalogue {self.name!r} {self.url}>"

    # ------------------------------------------------------------------ opening, errors

    def _open(self, url: str, headers: dict[str, str], timeout: Any,
              request_modifier: Any) -> Client:
        import pystac
        from pystac_client import Client
        from pystac_client.errors import ClientTypeError
        from pystac_client.exceptions import APIError
        from pystac_client.stac_api_io import StacApiIO
        from pystac_client.warnings import NoConformsTo

        stac_io = StacApiIO(max_retries=retry())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoConformsTo)  # reported below, our way
                return Client.open(url, headers=headers, timeout=timeout,
                                   request_modifier=request_modifier, stac_io=stac_io)
        except APIError as err:
            raise self._error(err, "opening it") from err
        except ClientTypeError as err:
            raise NotACatalogueError(
                f"{url} answered with STAC JSON that is not a catalog ({err}); give the STAC "
                "API's root URL (its landing page), not a collection or item URL") from err
        except (ValueError, KeyError, TypeError, pystac.STACError) as err:
            raise NotACatalogueError(
                f"{url} answered, but not with a STAC API landing page ({type(err).__name__}: "
                f"{reason(err)}); check that the URL is the STAC API's root") from err

    def _error(self, err: Exception, doing: str) -> CatalogueError:
        return api_error(err, doing, name=self.name, url=self.url)

    def _post_advertised(self) -> bool:
        methods = {(link.extra_fields.get("method") or "GET").upper()
                   for link in self.client.links if link.rel == "search"}
        return not methods or "POST" in methods

    # ------------------------------------------------------------------ capabilities

    def _conforms(self, feature: str) -> bool:
        return conforms(self.client.get_conforms_to(), feature)

    def conforms_to(self, feature: str) -> bool:
        """Whether the API supports a feature: "item-search", "filter", "sort", "fields",
        "query", "free-text", "collections", "context", "transaction", "collection-search"."""
        if feature not in self._features:
            raise ValueError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
        return self._features[feature]

    @property
    def features(self) -> dict[str, bool]:
        """Every feature name -> whether the API supports it (what a search panel offers)."""
        return dict(self._features)

    def _collection_map(self, refresh: bool = False) -> dict[str, dict[str, Any]]:
        from pystac_client.exceptions import APIError

        with self._lock:
            stale = time.monotonic() - self._collections_at > CACHE_SECONDS
            if self._collections is None or refresh or stale:
                if not self._features["collections"]:
                    return {}
                href = self.client._collections_href()
                found: dict[str, dict[str, Any]] = {}
                stac_io = self.client._stac_io
                assert stac_io is not None  # set by Client.open
                try:
                    for page in stac_io.get_pages(href):
                        for c in page.get("collections", []):
                            found[c["id"]] = c
                except APIError as err:
                    raise self._error(err, "listing collections") from err
                self._collections, self._collections_at = found, time.monotonic()
            return self._collections

    def collection_ids(self) -> list[str]:
        """The ids of the catalogue's collections (cached a few minutes)."""
        return sorted(self._collection_map())

    def collections(self) -> list[pystac.Collection]:
        """The catalogue's collections as pystac Collections."""
        import pystac

        return [pystac.Collection.from_dict(d, preserve_dict=True)
                for _, d in sorted(self._collection_map().items())]

    def check_collections(self, ids: Sequence[str]) -> None:
        """UnknownCollectionError for ids the catalogue does not have, with close names."""
        if not ids or not self._features["collections"]:
            return
        known = self._collection_map()
        if all(c in known for c in ids):
            return
        known = self._collection_map(refresh=True)
        missing = [c for c in ids if c not in known]
        if not missing:
            return
        lines = []
        for c in missing:
            close = [k for k in known if k.lower() == c.lower()]
            close += [k for k in difflib.get_close_matches(c, list(known), n=3, cutoff=0.5)
                      if k not in close]
            hint = f" (did you mean {' or '.join(repr(k) for k in close)}?)" if close else ""
            lines.append(f"collection {c!r} is not in catalogue {self.name!r}{hint}")
        listing = sorted(known)
        shown = ", ".join(listing[:20]) + (f", ... ({len(listing)} in all)"
                                           if len(listing) > 20 else "")
        raise UnknownCollectionError(
            "; ".join(lines) + f". Its collections: {shown or 'none'}; "
            "Catalogue(url).collection_ids() lists them.")

    def queryables(self, collection: str | None = None) -> dict[str, Any]:
        """The JSON Schema of the properties a CQL2 filter can use (of one collection, or of
        all). Empty ``properties`` when the API has no filter support."""
        from pystac_client.exceptions import APIError

        if not self._features["filter"]:
            return {"type": "object", "properties": {}}
        if collection is not None:
            self.check_collections([collection])
            href = self.client._get_collection_queryables_href(collection)
        else:
            href = self.client._get_queryables_href()
        try:
            return self.client.get_queryables_from(href)
        except APIError as err:
            raise self._error(err, "reading queryables") from err

    # ------------------------------------------------------------------ searching

    def _prepare(self, params: SearchParams) -> Prepared:
        if params.collections:
            self.check_collections(params.collections)
        return plan_search(params, self._features, post=self._post, name=self.name)

    def _item_search(self, prepared: Prepared) -> ItemSearch:
        try:
            return self.client.search(**prepared.kwargs)
        except Exception as err:  # pystac-client raises bare Exception for bad parameters
            if isinstance(err, CatalogueError):
                raise
            raise SearchParameterError(f"pystac-client rejected the search: {err}") from err

    def _iterate(self, search: ItemSearch, prepared: Prepared) -> Iterator[pystac.Item]:
        from pystac_client.exceptions import APIError

        items = filter_cloud_cover(search.items(), prepared.client_cloud_cover)
        try:
            yield from islice(items, prepared.max_items)
        except APIError as err:
            raise self._error(err, "searching") from err

    def search_items(self, params: SearchParams) -> Iterator[pystac.Item]:
        """Items matching `params`, fetched page by page (the CatalogueBackend protocol).
        Parameter errors are raised now, not at the first item."""
        prepared = self._prepare(params)
        return self._iterate(self._item_search(prepared), prepared)

    def _count(self, search: ItemSearch, prepared: Prepared) -> int | None:
        from pystac_client.exceptions import APIError

        if prepared.client_cloud_cover is not None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "numberMatched or context.matched not in ..."
                return search.matched()
        except APIError as err:
            raise self._error(err, "counting matches") from err

    def matched(self, params: SearchParams) -> int | None:
        """The number of items matching `params` as the API reports it (None if it does not)."""
        prepared = self._prepare(params)
        if prepared.client_cloud_cover is not None:
            return None
        return self._count(self._item_search(prepared), prepared)

    def search_params(self, params: SearchParams) -> SearchResults:
        """`search` with parameters already normalised."""
        prepared = self._prepare(params)
        item_search = self._item_search(prepared)
        return SearchResults(lambda: self._iterate(item_search, prepared),
                             max_items=params.max_items, catalogues=[self.name],
                             matched=lambda: self._count(item_search, prepared))

    def search(
        self,
        *,
        bbox: BBoxLike | None = None,
        intersects: IntersectsLike | None = None,
        datetime: DatetimeLike | None = None,
        collections: CollectionsLike | None = None,
        ids: IDsLike | None = None,
        filter: FilterLike | None = None,
        filter_lang: str | None = None,
        query: QueryLike | None = None,
        sortby: SortbyLike | None = None,
        cloud_cover: CloudCoverLike | None = None,
        max_items: int | None = 100,
        limit: int | None = None,
    ) -> SearchResults:
        """Search this catalogue; see `eopde.catalogue.search` for the parameters."""
        params = build_params(bbox=bbox, intersects=intersects, datetime=datetime,
                              collections=collections, ids=ids, filter=filter,
                              filter_lang=filter_lang, query=query, sortby=sortby,
                              cloud_cover=cloud_cover, max_items=max_items, limit=limit)
        return self.search_params(params)


CatalogueLike = str | Catalogue | CatalogueBackend

# ---------------------------------------------------------------------- URL + token defaults

_cache: Reused[Catalogue] = Reused(CACHE_SECONDS)


def open_catalogue(url: str, token: str | None = None, name: str | None = None) -> Catalogue:
    """A `Catalogue`, reused for a few minutes for the same URL, token and name."""
    return _cache.get((url.rstrip("/"), token, name),
                      lambda: Catalogue(url, token=token, name=name))


def same_endpoint(a: str, b: str | None) -> bool:
    """`a` and `b` are one endpoint (scheme, host and port, path without its trailing '/')."""
    if not b:
        return False
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.netloc, pa.path.rstrip("/")) == (pb.scheme, pb.netloc,
                                                           pb.path.rstrip("/"))


def platform_catalogue_url() -> str:
    """The configured catalogue URL (eopde.config), or ConfigError saying how to set one."""
    from eopde import config

    return config.load().require("catalogue_url")


def token_for(url: str, token: str | None) -> str | None:
    """The token to send to `url`: the one given, else the platform's token but only to the
    platform's own catalogue (never leak it to a third-party catalogue)."""
    if token is not None:
        return token or None
    from eopde import auth, config

    try:
        configured = config.load().catalogue_url
    except config.ConfigError:
        configured = None
    return auth.get_token() if same_endpoint(url, configured) else None


def search(
    *,
    url: CatalogueLike | Sequence[CatalogueLike] | Mapping[str, CatalogueLike] | None = None,
    token: str | None = None,
    bbox: BBoxLike | None = None,
    intersects: IntersectsLike | None = None,
    datetime: DatetimeLike | None = None,
    collections: CollectionsLike | None = None,
    ids: IDsLike | None = None,
    filter: FilterLike | None = None,
    filter_lang: str | None = None,
    query: QueryLike | None = None,
    sortby: SortbyLike | None = None,
    cloud_cover: CloudCoverLike | None = None,
    max_items: int | None = 100,
    limit: int | None = None,
) -> SearchResults:
    """Search a catalogue, or several at once.

    url: a STAC API URL, a `Catalogue`, another CatalogueBackend (CSW, OpenSearch), or a
      list (or {name: url} dict) of those for a federated search; default: the platform's
      catalogue (eopde.config). token: bearer token; default: the platform's (eopde.auth),
      sent only to the platform's own catalogue; "" for none.
    bbox: (west, south, east, north) in degrees; west > east crosses the antimeridian.
    intersects: GeoJSON dict, GeoJSON or WKT string, or any object with __geo_interface__
      (shapely, the map's drawn AOI).
    datetime: "2025-06-01", "2025-06-01T10:00:00Z", "2025-06", "2025-06-01/..",
      "../2025-07-01", a datetime/date, or a (start, end) tuple with None for open.
    collections, ids: a list, or a comma-separated string.
    filter: CQL2 text or JSON (filter_lang inferred). query: the query extension's dict.
    sortby: "-properties.eo:cloud_cover", "eo:cloud_cover", or a list of those.
    cloud_cover: at most this eo:cloud_cover (20), or a (min, max) pair.
    max_items: stop after this many (None: all, fetched as iterated). limit: page size.
    """
    params = build_params(bbox=bbox, intersects=intersects, datetime=datetime,
                          collections=collections, ids=ids, filter=filter,
                          filter_lang=filter_lang, query=query, sortby=sortby,
                          cloud_cover=cloud_cover, max_items=max_items, limit=limit)
    if url is None:
        url = platform_catalogue_url()
    if isinstance(url, Mapping) or (isinstance(url, Sequence) and not isinstance(url, str)):
        from .federated import federated_search

        return federated_search(url, params, token=token)
    if isinstance(url, str):
        return open_catalogue(url, token_for(url, token)).search_params(params)
    if isinstance(url, Catalogue):
        return url.search_params(params)
    if isinstance(url, CatalogueBackend):
        backend = url
        count = getattr(backend, "matched", None)  # the backend's own count, if it has one
        # the backend may not support the cloud-cover bound: it is checked here
        return SearchResults(lambda: filter_cloud_cover(backend.search_items(params),
                                                        params.cloud_cover),
                             max_items=params.max_items,
                             catalogues=[backend.name],
                             matched=(lambda: count(params)) if count else None)
    raise SearchParameterError(
        f"url must be a catalogue URL, a Catalogue, a catalogue backend or a list of those, "
        f"not {type(url).__name__}")

