"""The catalogue panel's REST API under `<base_url>/eopde/catalogue/`: catalogues, collections,
queryables and searches, through `eopde.catalogue` (what `search()` in a notebook calls).

A search is kept (a few per server, the newest) so that the panel pages through it without
searching again; its answer carries the `eopde.catalogue.search(...)` call that reproduces it.
Which catalogue a request names (the platform's STAC API, a user's STAC API, CSW or OpenSearch
endpoint), the guard on what a user-added one makes this server fetch, and where the platform's
token goes: `sources.py`."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from itertools import islice
from typing import Any

import tornado.web

from eopde import catalogue as cat

from .errors import RequestError
from .handlers import _Handler
from .sources import CatalogueGuard, Source, open_source, platform_url
from .thumbnails import HEADERS, Thumbnails

#: Searches kept per server for paging (the oldest goes first).
KEPT_SEARCHES = 8
MAX_ITEMS = 5000
MAX_PAGE = 500
#: Properties sent with each footprint (the table's columns); the rest stay in the catalogue.
PROPERTIES = ("datetime", "eo:cloud_cover", "platform", "constellation", "gsd",
              "start_datetime", "end_datetime", "title")
SEARCH_KEYS = {"url", "kind", "collections", "bbox", "intersects", "datetime", "cloud_cover",
               "filter", "sortby", "max_items", "limit", "query"}
#: Longest WKT the AOI route reads.
MAX_WKT = 200_000


def catalogues() -> dict[str, Any]:
    """The platform's catalogue and the basemap template (user-added ones are lab settings)."""
    from eopde.maps import tiles

    url = platform_url()
    try:
        basemap: str | None = tiles.basemap_url()
    except (tiles.TilesConfigError, ValueError):
        basemap = None
    found = [{"name": "platform", "url": url, "platform": True}] if url else []
    return {"catalogues": found, "basemap": basemap}


def collections(url: Any, kind: Any, guard: CatalogueGuard) -> dict[str, Any]:
    """A STAC API's collections; a CSW/OpenSearch endpoint lists none, but is asked what it
    is (capabilities, description document) so that a wrong URL shows when it is picked."""
    source = open_source(url, kind, guard)
    if source.kind != "stac":
        from .sources import describe

        return {"url": source.url, "kind": source.kind, "collections": [],
                "features": {"filter": False, "sort": source.kind == "csw"},
                **describe(source)}
    with source.fetching():
        found = source.backend.collections()
    out = []
    for c in found:
        interval = c.extent.temporal.intervals[0] if c.extent.temporal.intervals else [None, None]
        out.append({"id": c.id, "title": c.title or c.id, "description": (c.description or "")[:400],
                    "interval": [t.isoformat() if t else None for t in interval]})
    return {"url": source.backend.url, "kind": "stac", "collections": out,
            "features": source.backend.features}


def _kind(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "enum"
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "string" and schema.get("format") in ("date-time", "date"):
        return "datetime"
    return kind if kind in ("number", "integer", "string", "boolean") else "other"


def queryables(url: Any, kind: Any, collection: Any, guard: CatalogueGuard) -> dict[str, Any]:
    """The catalogue's queryables as form fields: name, title, kind and bounds (a CSW or
    OpenSearch endpoint has none the library filters on: bbox, dates, cloud cover only)."""
    if collection is not None and not isinstance(collection, str):
        raise RequestError(400, "collection: give one collection id.", field="collection")
    source = open_source(url, kind, guard)
    if source.kind != "stac":
        return {"queryables": [], "features": {"filter": False}}
    catalogue = source.backend
    with source.fetching():
        doc = catalogue.queryables(collection or None)
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
    def __init__(self, source: Source, results: Any, code: str, catalogue: str):
        self.source = source
        self.results = results
        self.code = code
        self.catalogue = catalogue
        self.lock = threading.Lock()
        self.matched: int | None = None
        self.counted = False
        self.thumbnails = Thumbnails()


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


def search_code(source: Source, kwargs: dict[str, Any]) -> str:
    """The notebook code that runs the same search (the platform's catalogue is the default)."""
    names, url = source.code_url()
    args = [f"url={url}"] if url else []
    args += [f"{key}={value!r}" for key, value in kwargs.items()]
    return (f"from eopde.catalogue import {names}\n\n"
            f"found = search({', '.join(args)})\nfound")


def _href(item: Any) -> str | None:
    """The item's URL (what an ADES stages in): its self link, else (a CSW/OpenSearch record)
    the STAC Item it links to as a JSON alternate."""
    href = item.get_self_href()
    if href:
        return str(href)
    return next((link.href for link in item.links if link.rel == "alternate"
                 and (link.media_type or "").endswith("json") and link.href.startswith("http")),
                None)


def _feature(item: Any, thumbnails: Thumbnails | None, search_id: str) -> dict[str, Any]:
    """A footprint for the panel: geometry, the table's properties, a true-colour preview, a
    thumbnail (a user-added catalogue's: as this server's route, see thumbnails.py)."""
    from eopde.maps import tiles

    props = {k: item.properties[k] for k in PROPERTIES if k in item.properties}
    if "datetime" not in props and item.datetime is not None:
        # an Item built by the library (CSW/OpenSearch records) keeps it out of properties
        from pystac.utils import datetime_to_str

        props["datetime"] = datetime_to_str(item.datetime)
    if cat.CATALOGUE_PROPERTY in item.properties:
        props[cat.CATALOGUE_PROPERTY] = item.properties[cat.CATALOGUE_PROPERTY]
    try:
        preview: str | None = tiles.preset_url(item, "true_color")
    except Exception:  # noqa: BLE001 - no preview for items without RGB bands or a self link
        preview = None
    thumbnail = next((a.href for a in item.assets.values()
                      if "thumbnail" in (a.roles or []) and a.href.startswith("http")), None)
    if thumbnail and thumbnails is not None:
        thumbnail = f"catalogue/thumbnail/{search_id}/{thumbnails.number(thumbnail)}"
    return {"type": "Feature", "id": item.id, "collection": item.collection_id,
            "geometry": item.geometry, "bbox": item.bbox, "properties": props,
            "preview": preview, "thumbnail": thumbnail, "href": _href(item)}


def _page(found: _Search, search_id: str, offset: int, limit: int) -> dict[str, Any]:
    """Items offset..offset+limit. Whether more follow is judged without fetching a page ahead
    (a full page below max_items: maybe more; the last page may then come back empty)."""
    max_items = found.results.max_items
    with found.lock, found.source.fetching():  # one pull at a time from the lazy results
        items = list(islice(iter(found.results), offset, offset + limit))
        more = len(items) == limit and (max_items is None or offset + limit < max_items)
        if not found.counted:
            # a short page ends the matches: their number is known; else the catalogue's
            # count, asked once per search (None when it does not count)
            found.matched = offset + len(items) if len(items) < limit \
                else found.results.matched()
            found.counted = True
    # the platform's own catalogue (no guard policy): its items' thumbnails as they are
    thumbnails = None if found.source.policy is None else found.thumbnails
    return {"search": search_id, "offset": offset,
            "features": [_feature(i, thumbnails, search_id) for i in items],
            "next": offset + limit if more else None, "matched": found.matched,
            "code": found.code, "catalogue": found.catalogue}


def search(data: dict[str, Any], guard: CatalogueGuard) -> dict[str, Any]:
    """Run a search; answer its first page and the id to page through it."""
    limit = _int(data, "limit", 100, MAX_PAGE)
    kwargs = _kwargs(data)
    source = open_source(data.get("url"), data.get("kind"), guard)
    with source.fetching():
        # the panel's page size is the library's too: one request per page shown
        results = source.search(limit, kwargs)
    found = _Search(source, results, search_code(source, kwargs), source.url)
    search_id = uuid.uuid4().hex
    with _searches_lock:
        _searches[search_id] = found
        while len(_searches) > KEPT_SEARCHES:
            _searches.popitem(last=False)
    return _page(found, search_id, 0, limit)


def aoi(data: dict[str, Any]) -> dict[str, Any]:
    """A WKT (or GeoJSON) text as the GeoJSON geometry the panel draws, and its bbox."""
    text = data.get("wkt")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_WKT:
        raise RequestError(400, "wkt: give a WKT geometry, e.g. 'POLYGON ((12.1 43.1, 12.2 43.1, "
                                "12.2 43.2, 12.1 43.2, 12.1 43.1))'.", field="wkt")
    from eopde.catalogue.geometry import normalize_intersects

    try:
        geometry = normalize_intersects(text)
    except cat.SearchParameterError as err:
        raise RequestError(400, str(err), field="wkt") from None
    from shapely.geometry import shape

    return {"geometry": geometry, "bbox": list(shape(geometry).bounds)}


def _kept(search_id: str) -> _Search:
    with _searches_lock:
        found = _searches.get(search_id)
    if found is None:
        raise RequestError(404, "this search is no longer kept (the server keeps the "
                                f"{KEPT_SEARCHES} newest): search again.")
    return found


def thumbnail(search_id: str, number: str) -> tuple[bytes, str]:
    """The image of a kept search's thumbnail `number`, fetched through its catalogue's guard."""
    from .thumbnails import fetch

    found = _kept(search_id)
    url = found.thumbnails.url(int(number))
    if url is None or found.source.policy is None:
        raise RequestError(404, "no such thumbnail in this search.")
    return fetch(url, found.source.policy)


def page(search_id: str, offset: Any, limit: Any) -> dict[str, Any]:
    """The next page of a kept search."""
    found = _kept(search_id)
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


class _CatalogueHandler(_Handler):
    @property
    def guard(self) -> CatalogueGuard:
        return self.settings.get("eopde_catalogue_guard") or CatalogueGuard()


class CollectionsHandler(_CatalogueHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        url = self.get_query_argument("url", None)
        kind = self.get_query_argument("kind", None)
        await self.run(lambda: collections(url, kind, self.guard))


class QueryablesHandler(_CatalogueHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        url = self.get_query_argument("url", None)
        kind = self.get_query_argument("kind", None)
        collection = self.get_query_argument("collection", None)
        await self.run(lambda: queryables(url, kind, collection, self.guard))


class SearchHandler(_CatalogueHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        data = self.body_or_answer()
        if data is None:
            return
        await self.run(lambda: search(data, self.guard))


class AoiHandler(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        data = self.body_or_answer()
        if data is None:
            return
        await self.run(lambda: aoi(data))


class PageHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, search_id: str) -> None:
        offset = self.get_query_argument("offset", "0")
        limit = self.get_query_argument("limit", "100")
        await self.run(lambda: page(search_id, offset, limit))


class ThumbnailHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, search_id: str, number: str) -> None:
        import asyncio

        try:
            data, media_type = await asyncio.get_running_loop().run_in_executor(
                None, thumbnail, search_id, number)
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return
        for name, value in HEADERS.items():
            self.set_header(name, value)
        # (the Jupyter server's API Content-Security-Policy stays: default-src 'none')
        self.finish(data, set_content_type=media_type)


ROUTES = [("catalogue/catalogues", CataloguesHandler),
          ("catalogue/collections", CollectionsHandler),
          ("catalogue/queryables", QueryablesHandler),
          ("catalogue/search", SearchHandler),
          ("catalogue/aoi", AoiHandler),
          (r"catalogue/search/([0-9a-f]{32})", PageHandler),
          (r"catalogue/thumbnail/([0-9a-f]{32})/([0-9]{1,6})", ThumbnailHandler)]
