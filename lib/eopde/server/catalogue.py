"""The catalogue panel's REST API under `<base_url>/eopde/catalogue/`: catalogues, collections,
queryables and searches, through `eopde.catalogue` (what `search()` in a notebook calls).

A search is kept (a few per server, the newest) so that the panel pages through it without
searching again; its answer carries the `eopde.catalogue.search(...)` call that reproduces it.
The platform's token goes only to the platform's catalogue (`token_for`); a catalogue the user
added is asked without one."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from itertools import islice
from typing import Any

import tornado.web

from eopde import catalogue as cat
from eopde.catalogue.stac import open_catalogue, platform_catalogue_url, token_for

from .errors import RequestError
from .handlers import _Handler

#: Searches kept per server for paging (the oldest goes first).
KEPT_SEARCHES = 8
MAX_ITEMS = 5000
MAX_PAGE = 500
#: Properties sent with each footprint (the table's columns); the rest stay in the catalogue.
PROPERTIES = ("datetime", "eo:cloud_cover", "platform", "constellation", "gsd",
              "start_datetime", "end_datetime", "title")
SEARCH_KEYS = {"url", "collections", "bbox", "intersects", "datetime", "cloud_cover", "filter",
               "sortby", "max_items", "limit", "query"}


def _errors(err: Exception) -> RequestError:
    """A library error as the REST API's 4xx (the catalogue's fault: 502)."""
    if isinstance(err, cat.SearchParameterError):
        return RequestError(400, str(err))
    if isinstance(err, cat.UnknownCollectionError):
        return RequestError(404, str(err), field="collections")
    if isinstance(err, cat.CatalogueAuthError):
        return RequestError(403, str(err))
    if isinstance(err, (cat.CatalogueUnreachableError, cat.NotACatalogueError,
                        cat.CatalogueError)):
        return RequestError(502, str(err), field="url")
    # a third-party catalogue's answer that pystac cannot read: its fault, not the user's
    return RequestError(502, f"the catalogue's answer could not be read ({type(err).__name__}: "
                             f"{str(err)[:300]})", field="url")


def _platform_url() -> str | None:
    from eopde.config import ConfigError

    try:
        return platform_catalogue_url()
    except ConfigError:
        return None


def _open(url: Any) -> Any:
    """The catalogue at `url` (default: the platform's), opened by the library."""
    if url in (None, ""):
        url = _platform_url()
        if not url:
            raise RequestError(400, "no platform catalogue is configured (EOPDE_CATALOGUE_URL): "
                                    "add a catalogue by its STAC API URL.", field="url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise RequestError(400, "url: give a STAC API's http(s) URL, e.g. "
                                "https://earth-search.aws.element84.com/v1", field="url")
    try:
        return open_catalogue(url, token_for(url, None))
    except Exception as err:  # noqa: BLE001 - sorted by _errors
        raise _errors(err) from None


def catalogues() -> dict[str, Any]:
    """The platform's catalogue and the basemap template (user-added ones are lab settings)."""
    from eopde.maps import tiles

    url = _platform_url()
    try:
        basemap: str | None = tiles.basemap_url()
    except (tiles.TilesConfigError, ValueError):
        basemap = None
    found = [{"name": "platform", "url": url, "platform": True}] if url else []
    return {"catalogues": found, "basemap": basemap}


def collections(url: Any) -> dict[str, Any]:
    catalogue = _open(url)
    try:
        found = catalogue.collections()
    except Exception as err:  # noqa: BLE001 - sorted by _errors
        raise _errors(err) from None
    out = []
    for c in found:
        interval = c.extent.temporal.intervals[0] if c.extent.temporal.intervals else [None, None]
        out.append({"id": c.id, "title": c.title or c.id, "description": (c.description or "")[:400],
                    "interval": [t.isoformat() if t else None for t in interval]})
    return {"url": catalogue.url, "collections": out, "features": catalogue.features}


def _kind(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "enum"
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "string" and schema.get("format") in ("date-time", "date"):
        return "datetime"
    return kind if kind in ("number", "integer", "string", "boolean") else "other"


def queryables(url: Any, collection: Any) -> dict[str, Any]:
    """The catalogue's queryables as form fields: name, title, kind and bounds."""
    if collection is not None and not isinstance(collection, str):
        raise RequestError(400, "collection: give one collection id.", field="collection")
    catalogue = _open(url)
    try:
        doc = catalogue.queryables(collection or None)
    except Exception as err:  # noqa: BLE001 - sorted by _errors
        raise _errors(err) from None
    fields = []
    for name, schema in (doc.get("properties") or {}).items():
        if not isinstance(schema, dict):
            continue
        field = {"name": name, "title": schema.get("title") or name, "kind": _kind(schema)}
        for key in ("minimum", "maximum", "enum", "description"):
            if key in schema:
                field[key] = schema[key]
        fields.append(field)
    return {"queryables": fields, "features": catalogue.features}


class _Search:
    def __init__(self, results: Any, code: str, catalogue: str):
        self.results = results
        self.code = code
        self.catalogue = catalogue
        self.lock = threading.Lock()
        self.matched: int | None = None
        self.counted = False


_searches: OrderedDict[str, _Search] = OrderedDict()
_searches_lock = threading.Lock()


def _int(data: dict[str, Any], key: str, default: int, top: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise RequestError(400, f"{key}: a whole number from 1 to {top}.", field=key)
    return value


def _kwargs(data: dict[str, Any]) -> dict[str, Any]:
    """The search's keyword arguments, as `eopde.catalogue.search` takes them."""
    unknown = sorted(set(data) - SEARCH_KEYS)
    if unknown:
        raise RequestError(400, f"unknown search fields {unknown}; known: {sorted(SEARCH_KEYS)}.")
    out: dict[str, Any] = {}
    for key in ("collections", "bbox", "intersects", "datetime", "cloud_cover", "filter",
                "sortby", "query"):
        value = data.get(key)
        if value not in (None, "", []):
            out[key] = tuple(value) if key == "bbox" and isinstance(value, list) else value
    out["max_items"] = _int(data, "max_items", 100, MAX_ITEMS)
    return out


def search_code(url: str | None, kwargs: dict[str, Any]) -> str:
    """The notebook code that runs the same search (the platform's catalogue is the default)."""
    args = [f"url={url!r}"] if url else []
    args += [f"{key}={value!r}" for key, value in kwargs.items()]
    return ("from eopde.catalogue import search\n\n"
            f"found = search({', '.join(args)})\nfound")


def _feature(item: Any) -> dict[str, Any]:
    """A footprint for the panel: geometry, the table's properties, a true-colour preview."""
    from eopde.maps import tiles

    props = {k: item.properties[k] for k in PROPERTIES if k in item.properties}
    if cat.CATALOGUE_PROPERTY in item.properties:
        props[cat.CATALOGUE_PROPERTY] = item.properties[cat.CATALOGUE_PROPERTY]
    try:
        preview: str | None = tiles.preset_url(item, "true_color")
    except Exception:  # noqa: BLE001 - no preview for items without RGB bands or a self link
        preview = None
    thumbnail = next((a.href for a in item.assets.values()
                      if "thumbnail" in (a.roles or []) and a.href.startswith("http")), None)
    return {"type": "Feature", "id": item.id, "collection": item.collection_id,
            "geometry": item.geometry, "bbox": item.bbox, "properties": props,
            "preview": preview, "thumbnail": thumbnail, "href": item.get_self_href()}


def _page(found: _Search, search_id: str, offset: int, limit: int) -> dict[str, Any]:
    with found.lock:  # one pull at a time from the library's lazy results
        try:
            items = list(islice(iter(found.results), offset, offset + limit + 1))
            if not found.counted:  # one count per search, not one per page
                found.matched, found.counted = found.results.matched(), True
        except Exception as err:  # noqa: BLE001 - sorted by _errors
            raise _errors(err) from None
    return {"search": search_id, "offset": offset,
            "features": [_feature(i) for i in items[:limit]],
            "next": offset + limit if len(items) > limit else None, "matched": found.matched,
            "code": found.code, "catalogue": found.catalogue}


def search(data: dict[str, Any]) -> dict[str, Any]:
    """Run a search; answer its first page and the id to page through it."""
    limit = _int(data, "limit", 100, MAX_PAGE)
    kwargs = _kwargs(data)
    catalogue = _open(data.get("url"))
    try:
        results = catalogue.search(**kwargs)
    except Exception as err:  # noqa: BLE001 - sorted by _errors
        raise _errors(err) from None
    url = None if catalogue.url.rstrip("/") == (_platform_url() or "").rstrip("/") \
        else catalogue.url
    found = _Search(results, search_code(url, kwargs), catalogue.url)
    search_id = uuid.uuid4().hex
    with _searches_lock:
        _searches[search_id] = found
        while len(_searches) > KEPT_SEARCHES:
            _searches.popitem(last=False)
    return _page(found, search_id, 0, limit)


def page(search_id: str, offset: Any, limit: Any) -> dict[str, Any]:
    """The next page of a kept search."""
    with _searches_lock:
        found = _searches.get(search_id)
    if found is None:
        raise RequestError(404, "this search is no longer kept (the server keeps the "
                                f"{KEPT_SEARCHES} newest): search again.")
    try:
        start, size = int(offset or 0), int(limit or 100)
    except ValueError:
        raise RequestError(400, "offset and limit: whole numbers.") from None
    if not 0 <= start <= MAX_ITEMS or not 1 <= size <= MAX_PAGE:
        raise RequestError(400, f"offset: 0 to {MAX_ITEMS}; limit: 1 to {MAX_PAGE}.")
    return _page(found, search_id, start, size)


class CataloguesHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.run(catalogues)


class CollectionsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        url = self.get_query_argument("url", None)
        await self.run(lambda: collections(url))


class QueryablesHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        url = self.get_query_argument("url", None)
        collection = self.get_query_argument("collection", None)
        await self.run(lambda: queryables(url, collection))


class SearchHandler(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            data = self.body()
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return
        await self.run(lambda: search(data))


class PageHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, search_id: str) -> None:
        offset = self.get_query_argument("offset", "0")
        limit = self.get_query_argument("limit", "100")
        await self.run(lambda: page(search_id, offset, limit))


ROUTES = [("catalogue/catalogues", CataloguesHandler),
          ("catalogue/collections", CollectionsHandler),
          ("catalogue/queryables", QueryablesHandler),
          ("catalogue/search", SearchHandler),
          (r"catalogue/search/([0-9a-f]{32})", PageHandler)]
