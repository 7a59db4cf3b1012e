"""OpenSearch catalogues (OpenSearch 1.1 with the Geo and Time extensions) as eopde search backends.

Hand-written, on requests and lxml: no maintained Python library covers OpenSearch description
documents and Atom result feeds (OWSLib has no OpenSearch client; the PyPI packages named
"opensearch" are either unmaintained or clients of the OpenSearch search engine).

`OpenSearchCatalogue(url)` reads the description document at `url`, picks its Atom URL template
and fills it from the normalised `SearchParams`:

| SearchParams          | template parameter                                     |
|-----------------------|--------------------------------------------------------|
| bbox / intersects     | {geo:box} (west,south,east,north); {geo:geometry} (WKT) when offered |
| datetime              | {time:start}, {time:end} (an open side is left out)     |
| ids                   | {geo:uid}, one request per id                           |
| collections           | {eo:parentIdentifier}, one request per collection      |
| extra["q"]            | {searchTerms}                                          |
| extra["eo:cloudCover"] etc. | the template parameter of that name (prefix as in the description) |
| limit / max_items     | {count}; paging with {startIndex} (or {startPage})     |

Query parameters whose template holds only optional parameters that were not given are left
out of the URL (rather than sent empty, which servers such as pycsw read as a filter on "").

Atom entries become `pystac.Item`s: id = dc:identifier or atom:id; geometry from GeoRSS
(georss:where with a GML Envelope/Polygon/Point, georss:box/polygon/point; GML and GeoRSS
coordinates are latitude first unless the srsName says otherwise); datetime from dc:date
(an instant or "start/end"), else atom:published, else atom:updated; title (atom:title),
description (atom:summary), keywords (atom:category terms); "enclosure" links become data assets;
"icon" links, Media RSS thumbnails (media:thumbnail, media:content of category THUMBNAIL or
QUICKLOOK) and links typed as a thumbnail protocol become the "thumbnail" asset; other links stay
links.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from eopde.catalogue.base import (
    CatalogueError,
    CatalogueUnreachableError,
    NotACatalogueError,
    SearchParameterError,
    SearchParams,
)
from eopde.catalogue.diagnose import (
    auth_error,
    check_supported,
    describe_response,
    parse_xml,
    report_text,
    short_error,
    text_param,
)
from eopde.catalogue.records import (
    add_asset,
    add_link,
    add_thumbnail,
    guess_media_type,
    is_thumbnail,
    item_matches,
    new_item,
    parse_datetime,
    parse_interval,
    parse_period,
    query_boxes,
)

if TYPE_CHECKING:  # pragma: no cover
    import datetime as _dt

    import pystac

__all__ = ["OpenSearchCatalogue"]

OS = "http://a9.com/-/spec/opensearch/1.1/"
GEO = "http://a9.com/-/opensearch/extensions/geo/1.0/"
TIME = "http://a9.com/-/opensearch/extensions/time/1.0/"
EO = "http://a9.com/-/opensearch/extensions/eo/1.0/"
ATOM = "http://www.w3.org/2005/Atom"
GEORSS = "http://www.georss.org/georss"
GML = "http://www.opengis.net/gml"
GML32 = "http://www.opengis.net/gml/3.2"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"
ATOM_TYPE = "application/atom+xml"

DEFAULT_TIMEOUT = 30.0
DEFAULT_PAGE_SIZE = 50

_PLACEHOLDER = re.compile(r"\{([^{}?]+)(\??)\}")
_NS = {"atom": ATOM, "os": OS, "georss": GEORSS, "gml": GML, "gml32": GML32, "dc": DC}


@dataclass
class UrlTemplate:
    """An OpenSearch <Url> template: its parameters are (namespace URI, local name) pairs."""

    template: str
    namespaces: dict[str | None, str]  #: prefixes in scope on the <Url> element
    index_offset: int = 1
    page_offset: int = 1
    parameters: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.parameters = {self.qualify(m.group(1)) for m in _PLACEHOLDER.finditer(self.template)}

    def qualify(self, name: str) -> tuple[str, str]:
        prefix, _, local = name.rpartition(":")
        if not prefix:
            return OS, local
        return self.namespaces.get(prefix, prefix), local

    def names(self) -> list[str]:
        """The template's parameters as the description names them ("eo:cloudCover")."""
        prefixes = {uri: prefix for prefix, uri in self.namespaces.items() if prefix}
        return sorted(local if uri == OS else f"{prefixes.get(uri, uri)}:{local}"
                      for uri, local in self.parameters)

    def has(self, namespace: str, local: str) -> bool:
        return (namespace, local) in self.parameters

    def fill(self, values: dict[tuple[str, str], str]) -> str:
        """The URL for `values`; query parameters left with only unfilled optional
        placeholders are dropped, other unfilled placeholders become empty."""

        def substitute(text: str) -> str:
            return _PLACEHOLDER.sub(
                lambda m: quote(values.get(self.qualify(m.group(1)), ""), safe=""), text)

        def unfilled(text: str) -> bool:
            found = list(_PLACEHOLDER.finditer(text))
            return bool(found) and all(
                m.group(2) == "?" and self.qualify(m.group(1)) not in values for m in found)

        base, sep, query = self.template.partition("?")
        pairs = [p for p in query.split("&") if p and not unfilled(p.partition("=")[2])]
        return substitute(base) + (sep + "&".join(substitute(p) for p in pairs) if pairs else "")


class OpenSearchCatalogue:
    """An OpenSearch catalogue (Geo and Time extensions, Atom results).

    url: the OpenSearch description document (for pycsw:
        ``<csw>?mode=opensearch&service=CSW&version=2.0.2&request=GetCapabilities``).
    name: short name for messages and federated results (default: the URL's host[:port]).
    timeout: seconds per HTTP request.
    headers: extra HTTP headers (e.g. ``{"Authorization": "Bearer ..."}``).
    """

    def __init__(self, url: str, name: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.name = name or urlsplit(url).netloc or url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._template: UrlTemplate | None = None
        self._session: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenSearchCatalogue({self.url!r}, name={self.name!r})"

    # ------------------------------------------------------------------ HTTP

    def _get(self, url: str, what: str) -> Any:
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update(self.headers)
        try:
            resp = self._session.get(url, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise CatalogueUnreachableError(
                f"OpenSearch catalogue {self.name!r} ({self.url}) is unreachable "
                f"({short_error(exc)}) while fetching {what}. Check the URL and that the "
                "service is up and reachable from this machine."
            ) from None
        if resp.status_code in (401, 403):
            raise auth_error(f"OpenSearch catalogue {self.name!r} ({self.url})", resp.status_code)
        if resp.status_code >= 500:
            raise CatalogueUnreachableError(
                f"OpenSearch catalogue {self.name!r} ({self.url}) failed with HTTP "
                f"{resp.status_code} on {what}; try again later."
            )
        return resp

    @property
    def template(self) -> UrlTemplate:
        """The Atom URL template of the description document (fetched on first use)."""
        with self._lock:
            if self._template is None:
                self._template = self._read_description()
            return self._template

    def _read_description(self) -> UrlTemplate:
        resp = self._get(self.url, "the description document")
        advice = ("Give the URL of the OpenSearch description document "
                  "(application/opensearchdescription+xml).")
        root = parse_xml(resp.content)
        if root is None or root.tag != f"{{{OS}}}OpenSearchDescription":
            looks = describe_response(resp)
            raise NotACatalogueError(
                f"{self.url} is not an OpenSearch description document: it returned {looks}."
                + ("" if "use the" in looks else f" {advice}")
            )
        urls = root.findall(f"{{{OS}}}Url")
        atom = [u for u in urls if (u.get("type") or "").split(";")[0].strip() == ATOM_TYPE
                and u.get("rel", "results") == "results" and u.get("template")]
        if not atom:
            offered = ", ".join(sorted({u.get("type") or "?" for u in urls})) or "none"
            raise NotACatalogueError(
                f"The OpenSearch description at {self.url} offers no Atom ({ATOM_TYPE}) result "
                f"template (offered: {offered}); eopde reads Atom results."
            )
        url = atom[0]
        return UrlTemplate(
            template=urljoin(self.url, url.get("template")),
            namespaces=dict(url.nsmap),
            index_offset=int(url.get("indexOffset", "1")),
            page_offset=int(url.get("pageOffset", "1")),
        )

    # ------------------------------------------------------------------ search

    def search_items(self, params: SearchParams) -> Iterator[pystac.Item]:
        """Yield the entries matching `params` as pystac Items, up to params.max_items."""
        check_supported(params, self.name, "OpenSearch")
        if params.sortby:
            raise SearchParameterError(
                f"OpenSearch catalogue {self.name!r} cannot sort results: search it without "
                "sortby= (sort the Items afterwards)."
            )
        if params.max_items is not None and params.max_items <= 0:
            return
        tpl = self.template
        searches, recheck = self._searches(tpl, params)
        check = any(recheck.values()) or params.cloud_cover is not None
        found = 0
        limit = params.max_items
        for values in searches:
            # with checks on the Items, the pages cannot be cut to what is still wanted
            want = None if limit is None or check else limit - found
            for item in self._pages(tpl, values, params, want):
                if check and not item_matches(item, params, temporal=False, collections=False,
                                              **recheck):
                    continue
                yield item
                found += 1
                if limit is not None and found >= limit:
                    return

    def matched(self, params: SearchParams) -> int | None:
        """The number of entries matching `params` as the catalogue counts them
        (os:totalResults); None when part of the search is done on the Items."""
        check_supported(params, self.name, "OpenSearch")
        tpl = self.template
        searches, recheck = self._searches(tpl, params)
        if any(recheck.values()) or params.cloud_cover is not None:
            return None
        total = 0
        for values in searches:
            if tpl.has(OS, "count"):
                values = {**values, (OS, "count"): "1"}
            count, _ = self._search(tpl.fill(values))
            if count is None:
                return None
            total += count
        return total

    def _searches(self, tpl: UrlTemplate, params: SearchParams
                  ) -> tuple[list[dict[tuple[str, str], str]], dict[str, bool]]:
        """The template values of each search to run (one per id with {geo:uid}, one per
        collection with {eo:parentIdentifier}) and the checks left for the Items."""
        base, recheck = self._values(tpl, params)
        uids: list[str | None] = [None]
        if params.ids and tpl.has(GEO, "uid"):
            uids = list(dict.fromkeys(params.ids))
        parents: list[str | None] = [None]
        if params.collections:
            if not tpl.has(EO, "parentIdentifier"):
                raise SearchParameterError(
                    f"OpenSearch catalogue {self.name!r} cannot filter by collection (its "
                    "template has no {eo:parentIdentifier}): search it without collections=."
                )
            parents = list(dict.fromkeys(params.collections))
        searches = []
        for uid in uids:
            for parent in parents:
                values = dict(base)
                if uid is not None:
                    values[(GEO, "uid")] = uid
                if parent is not None:
                    values[(EO, "parentIdentifier")] = parent
                searches.append(values)
        return searches, recheck

    def _values(self, tpl: UrlTemplate, params: SearchParams
                ) -> tuple[dict[tuple[str, str], str], dict[str, bool]]:
        values: dict[tuple[str, str], str] = {}
        recheck = {"spatial": False, "ids": False}
        if params.intersects is not None and tpl.has(GEO, "geometry"):
            from shapely.geometry import shape

            values[(GEO, "geometry")] = shape(params.intersects).wkt
        elif params.bbox is not None or params.intersects is not None:
            if not tpl.has(GEO, "box"):
                raise SearchParameterError(
                    f"OpenSearch catalogue {self.name!r} has no spatial search ({{geo:box}}): "
                    "search it without bbox=/intersects=."
                )
            boxes = query_boxes(params)
            west, south, east, north = (boxes[0][0], boxes[0][1], boxes[-1][2], boxes[-1][3])
            values[(GEO, "box")] = ",".join(_num(v) for v in (west, south, east, north))
            recheck["spatial"] = params.intersects is not None
        if params.datetime:
            lo, hi = parse_interval(params.datetime)
            if not (tpl.has(TIME, "start") or tpl.has(TIME, "end")):
                raise SearchParameterError(
                    f"OpenSearch catalogue {self.name!r} has no time search ({{time:start}}, "
                    "{time:end}): search it without datetime=."
                )
            if lo is not None:
                values[(TIME, "start")] = _rfc3339(lo)
            if hi is not None:
                values[(TIME, "end")] = _rfc3339(hi)
        if params.ids and not tpl.has(GEO, "uid"):
            if not values:
                raise SearchParameterError(
                    f"OpenSearch catalogue {self.name!r} cannot fetch records by id (its template"
                    " has no {geo:uid}): add bbox= or datetime= so the ids can be picked from "
                    "the results."
                )
            recheck["ids"] = True
        if params.cloud_cover is not None and tpl.has(EO, "cloudCover"):
            # OpenSearch EO numeric sets: "[a,b]", "b]" (at most), "[a" (at least); the Items
            # are checked too (servers such as pycsw 2.6 ignore the parameter)
            low, high = params.cloud_cover
            if low is not None and high is not None:
                values[(EO, "cloudCover")] = f"[{_num(low)},{_num(high)}]"
            elif high is not None:
                values[(EO, "cloudCover")] = f"{_num(high)}]"
            elif low is not None:
                values[(EO, "cloudCover")] = f"[{_num(low)}"
        q = text_param(params)
        if q:
            if not tpl.has(OS, "searchTerms"):
                raise SearchParameterError(
                    f"OpenSearch catalogue {self.name!r} has no text search ({{searchTerms}})."
                )
            values[(OS, "searchTerms")] = q
        for key, value in params.extra.items():
            if key == "q" or ":" not in key:
                continue
            qualified = tpl.qualify(key)
            if qualified not in tpl.parameters:
                names = sorted(f"{p}:{n}" if p != OS else n for p, n in tpl.parameters)
                raise SearchParameterError(
                    f"OpenSearch catalogue {self.name!r} has no parameter {key!r}; its template "
                    f"offers: {', '.join(names)}."
                )
            values[qualified] = str(value)
        return values, recheck

    def _pages(self, tpl: UrlTemplate, values: dict[tuple[str, str], str],
               params: SearchParams, want: int | None) -> Iterator[pystac.Item]:
        page_size = params.limit or DEFAULT_PAGE_SIZE
        by_index = tpl.has(OS, "startIndex")
        by_page = not by_index and tpl.has(OS, "startPage")
        index, page, got = tpl.index_offset, tpl.page_offset, 0
        seen: set[str] = set()
        while True:
            page_values = dict(values)
            if tpl.has(OS, "count"):
                count = page_size if (want is None or by_page) else min(page_size, want - got)
                page_values[(OS, "count")] = str(max(count, 1))
            if by_index:
                page_values[(OS, "startIndex")] = str(index)
            elif by_page:
                page_values[(OS, "startPage")] = str(page)
            total, entries = self._search(tpl.fill(page_values))
            new = 0
            for entry in entries:
                item = item_from_entry(entry)
                if item is None or item.id in seen:
                    continue
                seen.add(item.id)
                new += 1
                yield item
                got += 1
                if want is not None and got >= want:
                    return
            index += len(entries)
            page += 1
            if (not entries or new == 0 or not (by_index or by_page)
                    or (total is not None and index - tpl.index_offset >= total)):
                return

    def _search(self, url: str) -> tuple[int | None, list[Any]]:
        from lxml import etree

        resp = self._get(url, "search results")
        where = f"OpenSearch catalogue {self.name!r} ({self.url})"
        root = parse_xml(resp.content)
        if root is not None and etree.QName(root).localname == "ExceptionReport":
            raise CatalogueError(f"{where} rejected the search {url}: "
                                 f"{report_text(root) or 'exception report'}")
        if resp.status_code >= 400:
            raise CatalogueError(f"{where} answered the search {url} with "
                                 f"{describe_response(resp)}")
        if root is None or root.tag != f"{{{ATOM}}}feed":
            raise NotACatalogueError(
                f"{where} answered the search {url} with {describe_response(resp)}, not an Atom "
                "feed."
            )
        total_text = root.findtext(f"{{{OS}}}totalResults")
        total = int(total_text) if total_text and total_text.strip().isdigit() else None
        return total, root.findall(f"{{{ATOM}}}entry")


# ---------------------------------------------------------------------- Atom entry -> Item


def item_from_entry(entry: Any) -> pystac.Item | None:
    """A pystac Item from an Atom entry (see the module docstring for the mapping)."""
    item_id = (entry.findtext(f"{{{DC}}}identifier") or entry.findtext(f"{{{ATOM}}}id") or "")
    item_id = item_id.strip()
    if not item_id:
        return None
    bbox, geometry = _entry_geometry(entry)
    start = end = None
    date = entry.findtext(f"{{{DC}}}date")
    if date and date.strip():
        start, end = parse_period(date.strip())
    for tag in ("published", "updated"):
        if start is None and end is None:
            start = end = parse_datetime(entry.findtext(f"{{{ATOM}}}{tag}"))
    if start is None and end is None:
        return None
    props: dict[str, Any] = {}
    title = (entry.findtext(f"{{{ATOM}}}title") or "").strip()
    if title:
        props["title"] = title
    summary = (entry.findtext(f"{{{ATOM}}}summary") or entry.findtext(f"{{{ATOM}}}content")
               or "").strip()
    if summary:
        props["description"] = summary
    terms = [c.get("term") for c in entry.findall(f"{{{ATOM}}}category") if c.get("term")]
    if terms:
        props["keywords"] = terms
    item = new_item(item_id, bbox, start, end, props)
    if geometry is not None:
        item.geometry = geometry
    for link in entry.findall(f"{{{ATOM}}}link"):
        _add_atom_link(item, link)
    _add_media_thumbnails(item, entry)
    return item


def _add_media_thumbnails(item: Any, entry: Any) -> None:
    """Media RSS browse graphics (OpenSearch EO): media:thumbnail, and media:content whose
    media:category is THUMBNAIL or QUICKLOOK."""
    for node in entry.iter(f"{{{MEDIA}}}thumbnail"):
        if node.get("url"):
            add_thumbnail(item, node.get("url"))
    for node in entry.iter(f"{{{MEDIA}}}content"):
        category = node.findtext(f"{{{MEDIA}}}category") or ""
        if node.get("url") and is_thumbnail(category):
            add_thumbnail(item, node.get("url"), media_type=node.get("type"))


def _add_atom_link(item: Any, link: Any) -> None:
    href = link.get("href")
    if not href:
        return
    rel = link.get("rel") or "alternate"
    ltype = link.get("type") or ""
    title = link.get("title")
    media_type = ltype if "/" in ltype else None
    if rel == "enclosure" or (not media_type and "DOWNLOAD" in ltype.upper()):
        # pycsw 2.6 puts the ISO online-resource protocol in the type of an unrelated link
        add_asset(item, href, title=title, roles=["data"], media_type=media_type)
    elif rel == "icon" or (not media_type and is_thumbnail(ltype)):
        # pycsw 2.6 writes the online resource's protocol (…image-thumbnail) as the type
        add_thumbnail(item, href, title=title, media_type=media_type)
    else:
        add_link(item, href, title=title, protocol="" if media_type else ltype,
                 rel="via" if rel == "self" else rel, media_type=media_type or (
                     guess_media_type(href) if rel == "alternate" else None))


def _entry_geometry(entry: Any) -> tuple[tuple[float, float, float, float] | None,
                                          dict[str, Any] | None]:
    """(bbox, geometry or None for "the bbox polygon") from GeoRSS / GML in an entry."""
    where = entry.find(f"{{{GEORSS}}}where")
    if where is not None and len(where):
        gml = where[0]
        latlon = _lat_first(gml.get("srsName"))
        local = gml.tag.rsplit("}", 1)[-1]
        if local == "Envelope":
            lower = _coords(_child_text(gml, "lowerCorner"), latlon)
            upper = _coords(_child_text(gml, "upperCorner"), latlon)
            if lower and upper:
                (x0, y0), (x1, y1) = lower[0], upper[0]
                return (x0, y0, x1, y1), None
        elif local in ("Polygon", "Point"):
            text = " ".join(t for t in gml.xpath(".//*[local-name()='posList' or "
                                                 "local-name()='pos']/text()"))
            points = _coords(text, latlon)
            if points:
                return _shape(local, points)
    box = entry.findtext(f"{{{GEORSS}}}box")
    if box:
        points = _coords(box, True)
        if len(points) == 2:
            (x0, y0), (x1, y1) = points
            return (x0, y0, x1, y1), None
    for tag, kind in (("polygon", "Polygon"), ("point", "Point")):
        text = entry.findtext(f"{{{GEORSS}}}{tag}")
        if text:
            points = _coords(text, True)
            if points:
                return _shape(kind, points)
    return None, None


def _shape(kind: str, points: list[tuple[float, float]]
           ) -> tuple[tuple[float, float, float, float], dict[str, Any]]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    bbox = (min(xs), min(ys), max(xs), max(ys))
    if kind == "Point":
        return bbox, {"type": "Point", "coordinates": list(points[0])}
    ring = [list(p) for p in points]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return bbox, {"type": "Polygon", "coordinates": [ring]}


def _child_text(node: Any, local: str) -> str:
    found = node.xpath(f"./*[local-name()='{local}']/text()")
    return found[0] if found else ""


def _coords(text: str, lat_first: bool) -> list[tuple[float, float]]:
    try:
        numbers = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        return []
    pairs = list(zip(numbers[0::2], numbers[1::2], strict=False))
    return [(b, a) if lat_first else (a, b) for a, b in pairs]


def _lat_first(srs: str | None) -> bool:
    """GeoRSS GML is latitude first; so is EPSG:4326 in any URN/URI form; CRS84 is not."""
    if not srs:
        return True
    if "CRS84" in srs.upper():
        return False
    from owslib.crs import Crs

    try:
        return Crs(srs).axisorder == "yx"
    except (ValueError, IndexError, TypeError, AttributeError):  # unknown: GeoRSS's default
        return True


def _rfc3339(moment: _dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _num(value: float) -> str:
    return f"{value:.10g}"
