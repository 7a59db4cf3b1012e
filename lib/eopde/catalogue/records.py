"""Catalogue records as pystac Items, and the checks done on Items, for the CSW and OpenSearch
backends.

Both backends get records whose server-side filtering cannot be trusted to be exact (see
`eopde.catalogue.csw`), so they build Items with the helpers here (`new_item`, `add_asset`,
`item_from_iso`, `item_from_dc`) and re-check the search on them (`item_matches`).
"""

from __future__ import annotations

import datetime as _dt
import mimetypes
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from eopde.catalogue.base import SearchParameterError, SearchParams
from eopde.catalogue.params import bbox_geometry, cloud_cover_matches

if TYPE_CHECKING:  # pragma: no cover
    import pystac

__all__ = [
    "add_asset", "add_link", "add_thumbnail", "guess_media_type", "is_thumbnail", "item_from_dc",
    "item_from_iso", "item_matches", "item_period", "new_item", "parse_datetime", "parse_interval", "parse_period", "query_boxes",
    "text_matches",
]

# ---------------------------------------------------------------------- records -> Items


def item_from_iso(md: Any) -> pystac.Item | None:
    """A pystac Item from an OWSLib `MD_Metadata` (ISO 19139 record).

    id = fileIdentifier; collection = parentIdentifier; geometry/bbox = the geographic bounding
    box; datetime = the temporal extent (start_datetime/end_datetime when it is a period), else the
    citation's dates, else the metadata dateStamp; title, description (abstract), keywords;
    eo:cloud_cover from MD_ImageDescription; assets from the distribution's online resources
    (downloads) and graphic overviews (thumbnails); other online resources as links.
    """
    ident = getattr(md, "identification", None)
    if isinstance(ident, list):
        ident = ident[0] if ident else None
    if not md.identifier:
        raise ValueError("no fileIdentifier")
    bbox = None
    box = getattr(ident, "bbox", None) if ident is not None else None
    if box is not None and None not in (box.minx, box.miny, box.maxx, box.maxy):
        bbox = (float(box.minx), float(box.miny), float(box.maxx), float(box.maxy))
    start = parse_datetime(getattr(ident, "temporalextent_start", None))
    end = parse_datetime(getattr(ident, "temporalextent_end", None))
    if start is None and end is None and ident is not None:
        dates = {d.type: d.date for d in getattr(ident, "date", []) or []}
        for kind in ("creation", "publication", "revision"):
            start = end = parse_datetime(dates.get(kind))
            if start:
                break
    if start is None and end is None:
        start = end = parse_datetime(md.datestamp)
    props: dict[str, Any] = {}
    if ident is not None:
        if ident.title:
            props["title"] = ident.title
        if ident.abstract:
            props["description"] = ident.abstract
        keywords = _iso_keywords(ident)
        if keywords:
            props["keywords"] = keywords
    for content in getattr(md, "contentinfo", None) or []:
        cloud = getattr(content, "cloud_cover", None)
        if cloud not in (None, ""):
            props["eo:cloud_cover"] = float(cloud)
            break
    item = new_item(md.identifier, bbox, start, end, props, md.parentidentifier)
    online: list[Any] = []  # OWSLib's CI_OnlineResource objects
    distribution = getattr(md, "distribution", None)
    if distribution is not None:
        online.extend(distribution.online or [])
        for distributor in getattr(distribution, "distributor", None) or []:
            online.extend(getattr(distributor, "online", None) or [])
    overviews = list(getattr(ident, "graphicoverview", None) or []) if ident is not None else []
    for url in overviews:
        add_thumbnail(item, url)
    for res in online:
        if not res.url or res.url in overviews:
            continue
        protocol = res.protocol or ""
        if is_thumbnail(protocol):
            add_thumbnail(item, res.url, title=res.description or res.name)
        elif (res.function or "").lower() == "download" or "DOWNLOAD" in protocol.upper():
            add_asset(item, res.url, key=res.name, title=res.description or res.name,
                      roles=["data"])
        else:
            add_link(item, res.url, title=res.description or res.name, protocol=protocol)
    return item


def _iso_keywords(ident: Any) -> list[str]:
    out: list[str] = []
    for group in getattr(ident, "keywords", None) or []:
        words = group.get("keywords", []) if isinstance(group, dict) else getattr(
            group, "keywords", [])
        for word in words or []:
            text = getattr(word, "name", word)
            if text and text not in out:
                out.append(str(text))
    return out


def item_from_dc(rec: Any) -> pystac.Item | None:
    """A pystac Item from an OWSLib `CswRecord` / `Csw30Record` (Dublin Core).

    id = dc:identifier; geometry/bbox = ows:BoundingBox (OWSLib reads it in lon/lat order);
    datetime = dct:temporal (a "start/end" period) or dc:date, else dct:modified/created/issued;
    collection = dct:isPartOf; references and URIs become assets (downloads) or links.
    """
    if not rec.identifier:
        raise ValueError("no dc:identifier")
    bbox = _dc_bbox(rec)
    start = end = None
    if getattr(rec, "temporal", None):
        start, end = parse_period(rec.temporal)
    if start is None and end is None:
        for value in (rec.date, rec.modified, getattr(rec, "created", None),
                      getattr(rec, "issued", None)):
            if value and "/" in value:
                start, end = parse_period(value)
            else:
                start = end = parse_datetime(value)
            if start is not None:
                break
    props: dict[str, Any] = {}
    if rec.title:
        props["title"] = rec.title
    if rec.abstract:
        props["description"] = rec.abstract
    if getattr(rec, "subjects", None):
        props["keywords"] = [s for s in rec.subjects if s]
    item = new_item(rec.identifier, bbox, start, end, props, getattr(rec, "ispartof", None))
    for ref in getattr(rec, "references", []) or []:
        _dc_link(item, ref.get("url"), ref.get("scheme") or "", None)
    for uri in getattr(rec, "uris", []) or []:
        _dc_link(item, uri.get("url"), uri.get("protocol") or "",
                 uri.get("description") or uri.get("name"), key=uri.get("name"))
    return item


def _dc_bbox(rec: Any) -> tuple[float, float, float, float] | None:
    box = getattr(rec, "bbox", None)
    if box is not None and None not in (box.minx, box.miny, box.maxx, box.maxy):
        return (float(box.minx), float(box.miny), float(box.maxx), float(box.maxy))
    # OWSLib 0.28's Csw30Record finds ows20:BoundingBox but reads its corners in the OWS 1.0
    # namespace, so they stay empty: read them here
    from lxml import etree
    from owslib.crs import Crs

    root = etree.fromstring(rec.xml)
    for node in root.xpath(".//*[local-name()='BoundingBox' or local-name()='WGS84BoundingBox']"):
        lower = node.xpath("./*[local-name()='LowerCorner']/text()")
        upper = node.xpath("./*[local-name()='UpperCorner']/text()")
        if not lower or not upper:
            continue
        (x0, y0), (x1, y1) = (map(float, lower[0].split()[:2]), map(float, upper[0].split()[:2]))
        crs = node.get("crs")
        latlon = etree.QName(node).localname == "BoundingBox" and (
            crs is None or Crs(crs).axisorder == "yx")
        return (y0, x0, y1, x1) if latlon else (x0, y0, x1, y1)
    return None


def _dc_link(item: Any, url: str | None, protocol: str, title: str | None,
             key: str | None = None) -> None:
    if not url:
        return
    if is_thumbnail(protocol):
        add_thumbnail(item, url, title=title)
    elif "DOWNLOAD" in protocol.upper():
        add_asset(item, url, key=key, title=title, roles=["data"])
    else:
        add_link(item, url, title=title, protocol=protocol)


def new_item(item_id: str, bbox: tuple[float, float, float, float] | None,
             start: _dt.datetime | None, end: _dt.datetime | None,
             properties: dict[str, Any], collection: str | None = None) -> pystac.Item:
    """A pystac Item with a bbox-polygon geometry (split at the antimeridian) and a datetime,
    or start/end datetimes when `start` != `end`."""
    import pystac

    if start is None and end is None:
        raise ValueError("no date")
    start = start or end
    end = end or start
    assert start is not None and end is not None
    geometry = bbox_geometry(bbox) if bbox is not None else None
    if start == end:
        item = pystac.Item(item_id, geometry, list(bbox) if bbox else None, start,
                           dict(properties), collection=collection or None)
    else:
        item = pystac.Item(item_id, geometry, list(bbox) if bbox else None, None,
                           dict(properties), start_datetime=start, end_datetime=end,
                           collection=collection or None)
    if "eo:cloud_cover" in properties:
        item.stac_extensions.append("https://stac-extensions.github.io/eo/v1.1.0/schema.json")
    return item


_MEDIA_TYPES = {
    ".tif": "image/tiff; application=geotiff", ".tiff": "image/tiff; application=geotiff",
    ".jp2": "image/jp2", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".json": "application/json", ".geojson": "application/geo+json", ".xml": "application/xml",
    ".nc": "application/netcdf", ".zip": "application/zip", ".zarr": "application/vnd+zarr",
    ".h5": "application/x-hdf5", ".html": "text/html",
}


def guess_media_type(url: str) -> str | None:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        ext = path[dot:]
        return _MEDIA_TYPES.get(ext) or mimetypes.types_map.get(ext)
    return None


def _asset_key(item: Any, key: str | None, url: str) -> str:
    if not key:
        path = urlsplit(url).path.rstrip("/")
        key = path.rsplit("/", 1)[-1].split(".", 1)[0] or "asset"
    base, n = key, 2
    while key in item.assets:
        key, n = f"{base}-{n}", n + 1
    return key


def add_asset(item: Any, url: str, *, key: str | None = None, title: str | None = None,
              roles: list[str] | None = None, media_type: str | None = None) -> None:
    import pystac

    item.add_asset(_asset_key(item, key, url), pystac.Asset(
        url, title=title or None, media_type=media_type or guess_media_type(url), roles=roles))


#: Words that mark a link as the record's browse graphic, in an online resource's protocol
#: ("WWW:LINK-1.0-http--image-thumbnail"), a Dublin Core reference's scheme or an Atom link's
#: type (pycsw writes the protocol there), an OpenSearch EO media:category ("QUICKLOOK").
_THUMBNAIL_WORDS = ("thumbnail", "quicklook", "browse")


def is_thumbnail(kind: str | None) -> bool:
    """Whether a link's protocol, scheme or category names a thumbnail / quicklook."""
    text = (kind or "").lower()
    return any(word in text for word in _THUMBNAIL_WORDS)


def add_thumbnail(item: Any, url: str, *, title: str | None = None,
                  media_type: str | None = None) -> None:
    """The record's browse graphic as a "thumbnail" asset (once per URL)."""
    if any(a.href == url for a in item.assets.values()):
        return
    add_asset(item, url, key="thumbnail", title=title or "Thumbnail", roles=["thumbnail"],
              media_type=media_type)


def add_link(item: Any, url: str, *, title: str | None = None, protocol: str = "",
             rel: str | None = None, media_type: str | None = None) -> None:
    """A link; a JSON document (a STAC Item, typically) is an "alternate", others "related"."""
    import pystac

    media_type = media_type or guess_media_type(url)
    if rel is None:
        rel = "alternate" if (media_type or "").endswith("json") else "related"
    link = pystac.Link(rel, url, media_type=media_type, title=title or None)
    if protocol:
        link.extra_fields["protocol"] = protocol
    item.add_link(link)


# ---------------------------------------------------------------------- dates


def parse_datetime(value: str | None) -> _dt.datetime | None:
    """An aware UTC datetime from an ISO 8601 date or date-time (naive = UTC); None if empty."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or text == "..":
        return None
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        from dateutil.parser import isoparse

        try:
            parsed = isoparse(text)
        except (ValueError, OverflowError):
            raise ValueError(f"not an ISO 8601 date or date-time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.astimezone(_dt.UTC)


def parse_period(value: str) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """(start, end) of "start/end" (either side may be empty or ".."), or of an instant."""
    if "/" in value:
        a, b = value.split("/", 1)
        return parse_datetime(a), parse_datetime(b)
    moment = parse_datetime(value)
    return moment, moment


def parse_interval(value: str | None) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """(start, end) of a SearchParams.datetime interval; None for an open side."""
    if not value:
        return None, None
    try:
        return parse_period(value)
    except ValueError as exc:
        raise SearchParameterError(
            f"datetime {value!r} is not an RFC 3339 instant or interval ({exc}); give e.g. "
            "'2025-06-01T00:00:00Z/2025-07-01T00:00:00Z' or '2025-06-01T00:00:00Z/..'."
        ) from None


def item_period(item: Any) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    props = item.properties
    if item.datetime is not None:
        return item.datetime, item.datetime
    return parse_datetime(props.get("start_datetime")), parse_datetime(props.get("end_datetime"))


# ---------------------------------------------------------------------- checks on Items


def query_boxes(params: SearchParams) -> list[tuple[float, float, float, float]]:
    """The search area as WGS84 boxes (two when it crosses the antimeridian)."""
    if params.intersects is not None:
        from shapely.geometry import shape

        west, south, east, north = shape(params.intersects).bounds
    else:
        assert params.bbox is not None
        west, south, east, north = params.bbox
    if west <= east:
        return [(west, south, east, north)]
    return [(west, south, 180.0, north), (-180.0, south, east, north)]


def item_matches(item: Any, params: SearchParams, *, spatial: bool = True,
                 temporal: bool = True, collections: bool = True, ids: bool = True,
                 cloud_cover: bool = True) -> bool:
    """Whether an Item satisfies `params` (STAC semantics: geometry intersects, datetime
    interval overlaps, inclusive; an Item without eo:cloud_cover fails a cloud-cover bound, as
    in CQL2); the keyword flags say which tests to run."""
    if ids and params.ids and item.id not in params.ids:
        return False
    if cloud_cover and params.cloud_cover is not None:
        if not cloud_cover_matches(item.properties, params.cloud_cover):
            return False
    if collections and params.collections and item.collection_id not in params.collections:
        return False
    if spatial and (params.bbox is not None or params.intersects is not None):
        if item.geometry is None:
            return False
        from shapely.geometry import box, shape

        geom = shape(item.geometry)
        if params.intersects is not None:
            target = shape(params.intersects)
            if not geom.intersects(target):
                return False
        elif not any(geom.intersects(box(*b)) for b in query_boxes(params)):
            return False
    if temporal and params.datetime:
        lo, hi = parse_interval(params.datetime)
        start, end = item_period(item)
        if start is None or end is None:
            return False
        if hi is not None and start > hi:
            return False
        if lo is not None and end < lo:
            return False
    return True


def text_matches(item: Any, q: str) -> bool:
    """A client-side stand-in for AnyText LIKE '%q%' (case-insensitive)."""
    props = item.properties
    text = " ".join(str(v) for v in (item.id, props.get("title"), props.get("description"),
                                     " ".join(props.get("keywords", []))) if v)
    return q.lower() in text.lower()
