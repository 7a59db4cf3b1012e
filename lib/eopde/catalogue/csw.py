"""OGC CSW catalogues (2.0.2 and 3.0) as eopde search backends, through OWSLib.

`CSWCatalogue` implements the `CatalogueBackend` protocol of `eopde.catalogue.base`: it turns the
normalised `SearchParams` into an OGC filter, pages through GetRecords (or fetches GetRecordById
for `ids`) and yields each metadata record as a `pystac.Item`.

Records are asked for as ISO 19139 (`gmd:MD_Metadata`, the ISO Application Profile's queryables
`apiso:*`) when the catalogue offers that output schema, as EO catalogues usually do: it carries the
temporal extent, the parent identifier (collection), the exact bounding box and the distribution
links. Otherwise Dublin Core (`csw:Record`, queryables `dc:*`) is used, which has a date but no
collection, and whose bounding boxes some servers round (pycsw: 2 decimals).

Server-side filtering is kept to what every CSW evaluates the same way; what a server may compare
loosely is re-checked on the Items (see `item_matches`):

* datetime: CSW servers compare dates as strings of whatever form the records use ("2025-04-16",
  "2025-04-16T10:00:31Z", offsets...), so the filter asks for a period one day wider on each side
  and the exact overlap test is done on the Items;
* intersects: sent as its bounding box, the exact geometry test is done on the Items;
* ids: CSW 2.0.2 fetches them with GetRecordById and checks the other parameters on the Items;
  CSW 3.0 filters GetRecords on the identifier (OWSLib 0.28 cannot read CSW 3.0 GetRecordById
  responses, which are the bare record, and the operation takes one id);
* cloud_cover: no CSW queryable for it; ISO records carry it (MD_ImageDescription), the bounds
  are checked on the Items;
* a second alternative (<Or>) in the filter: pycsw 2.6 merges nested <Or>s into one, so only
  the first goes to the server, the others are checked on the Items.

Bounding boxes are sent as EPSG:4326 URN envelopes (latitude first); in CSW 3.0 with a GML 3.2
envelope, as FES 2.0 requires (pycsw 2.6.2 rejects any geometry in a CSW 3.0 filter:
geopython/pycsw#796, fixed in pycsw 3).

The module-level helpers (`parse_interval`, `item_matches`, `describe_response`, `new_item`...)
are shared with `eopde.catalogue.opensearch`; only `CSWCatalogue` is exported.
"""

from __future__ import annotations

import datetime as _dt
import mimetypes
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from eopde.catalogue.base import (
    CatalogueError,
    CatalogueUnreachableError,
    NotACatalogueError,
    SearchParameterError,
    SearchParams,
)
from eopde.catalogue.params import bbox_geometry, cloud_cover_matches

if TYPE_CHECKING:  # pragma: no cover
    import pystac

__all__ = ["CSWCatalogue"]

T = TypeVar("T")

GMD = "http://www.isotc211.org/2005/gmd"
CSW2 = "http://www.opengis.net/cat/csw/2.0.2"
CSW3 = "http://www.opengis.net/cat/csw/3.0"
GML32 = "http://www.opengis.net/gml/3.2"
ISO_MEDIA_TYPE = "application/vnd.iso.19139+xml"
#: EPSG:4326 as a URN: latitude first, which every CSW (and pycsw) honours in filter envelopes.
EPSG4326_URN = "urn:ogc:def:crs:EPSG::4326"

DEFAULT_TIMEOUT = 30.0
#: Records asked per GetRecords request when SearchParams.limit is not set (servers may cap it).
DEFAULT_PAGE_SIZE = 100
#: Identifiers per GetRecordById request.
IDS_PER_REQUEST = 50

#: STAC sort fields and their CSW queryables, (ISO profile, Dublin Core).
_SORT_FIELDS = {
    "datetime": ("apiso:TempExtent_begin", "dc:date"),
    "start_datetime": ("apiso:TempExtent_begin", "dc:date"),
    "end_datetime": ("apiso:TempExtent_end", "dc:date"),
    "id": ("apiso:Identifier", "dc:identifier"),
    "title": ("apiso:Title", "dc:title"),
    "updated": ("apiso:Modified", "dct:modified"),
}
#: Namespace prefixes of CSW queryables that sortby may name directly ("apiso:CreationDate").
_CSW_PREFIXES = ("apiso:", "dc:", "dct:", "csw:", "ows:")


class CSWCatalogue:
    """An OGC Catalogue Service for the Web, searched through OWSLib.

    url: the CSW endpoint (GetCapabilities is asked on first use, not here).
    name: short name for messages and federated results (default: the URL's host[:port]).
    version: "2.0.2" (default, the version EO catalogues commonly serve) or "3.0".
    timeout: seconds per HTTP request.
    headers: extra HTTP headers (e.g. ``{"Authorization": "Bearer ..."}``).
    schema: "iso" (ISO 19139 records, ISO profile queryables) or "dc" (Dublin Core csw:Record);
        default: "iso" when the catalogue offers it, else "dc".
    """

    def __init__(self, url: str, name: str | None = None, version: str = "2.0.2",
                 timeout: float = DEFAULT_TIMEOUT, headers: dict[str, str] | None = None,
                 schema: str | None = None) -> None:
        if version not in ("2.0.2", "3.0", "3.0.0"):
            raise ValueError(f"CSW version {version!r} is not supported: use '2.0.2' or '3.0'")
        if schema not in (None, "iso", "dc"):
            raise ValueError(f"schema {schema!r}: use 'iso', 'dc' or None (automatic)")
        self.url = url
        self.name = name or urlsplit(url).netloc or url
        self.version = "2.0.2" if version == "2.0.2" else "3.0.0"
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._schema = schema
        self._csw: Any = None
        self._lock = threading.Lock()  # an OWSLib client holds the last request's state

    def __repr__(self) -> str:
        return f"CSWCatalogue({self.url!r}, name={self.name!r}, version={self.version!r})"

    # ------------------------------------------------------------------ connection

    @property
    def _v3(self) -> bool:
        return self.version == "3.0.0"

    def _client(self) -> Any:
        """The OWSLib client, created (GetCapabilities) on first use."""
        if self._csw is None:
            if self._v3:
                from owslib.catalogue.csw3 import CatalogueServiceWeb
            else:
                from owslib.catalogue.csw2 import CatalogueServiceWeb
            csw = self._owslib(
                "GetCapabilities",
                lambda: CatalogueServiceWeb(self.url, version=self.version, timeout=self.timeout,
                                            headers=self.headers or None),
            )
            if self._schema is None:
                self._schema = "iso" if GMD in _output_schemas(csw) else "dc"
            self._csw = csw
        return self._csw

    @property
    def schema(self) -> str:
        """The record schema used, "iso" or "dc" (asks GetCapabilities when automatic)."""
        self._client()
        assert self._schema is not None
        return self._schema

    def _owslib(self, operation: str, call: Callable[[], T]) -> T:
        """Run an OWSLib call; translate its failures into catalogue errors."""
        import requests
        from lxml import etree
        from owslib.ows import ExceptionReport
        from owslib.util import ServiceException

        where = f"CSW catalogue {self.name!r} ({self.url})"
        try:
            with _quiet_owslib():
                return call()
        except ExceptionReport as exc:
            detail = f"{exc.code}" + (f" ({exc.locator})" if exc.locator else "")
            raise CatalogueError(
                f"{where} rejected the {operation} request: {detail}: {exc.msg}"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise CatalogueUnreachableError(
                f"{where} is unreachable ({short_error(exc)}). Check the URL and that the "
                "service is up and reachable from this machine."
            ) from None
        except requests.HTTPError as exc:  # 404, 5xx from OWSLib's GET
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500:
                raise CatalogueUnreachableError(
                    f"{where} failed with HTTP {status} on {operation}; try again later."
                ) from None
            raise self._diagnosis(operation) from None
        except ServiceException as exc:  # HTTP 400/401 from OWSLib's GET
            message = str(exc).strip()
            if not message.startswith("<"):
                raise self._diagnosis(operation) from None
            # an exception report sent with HTTP 400
            raise CatalogueError(
                f"{where} rejected the {operation} request: "
                f"{(_exception_text(message) or message)[:500]}"
            ) from None
        except (etree.XMLSyntaxError, RuntimeError, AttributeError, TypeError, ValueError):
            # not XML, XML that is not a CSW response ("Document is XML, but not CSW-ish"), or a
            # response without the parts of a CSW response (OWSLib does not check the HTTP
            # status of its POSTs)
            if self._csw is None:  # GetCapabilities already failed: not a CSW at all
                raise self._diagnosis(operation) from None
            body = getattr(self._csw, "response", b"") or b""
            raise CatalogueError(
                f"{where} answered {operation} with something else than a CSW response: "
                f"{describe_body(None, '', body if isinstance(body, bytes) else b'')}"
            ) from None

    def _diagnosis(self, operation: str) -> CatalogueError:
        """The error for a URL that does not answer as a CSW: asks GetCapabilities again, on
        its own, to say what the URL is (a login wall, an HTML page, a STAC API...)."""
        import requests

        params = {"service": "CSW", "version": self.version, "request": "GetCapabilities"}
        try:
            resp = requests.get(self.url, params=params, timeout=self.timeout,
                                headers=self.headers)
        except requests.RequestException as exc:
            return CatalogueUnreachableError(
                f"CSW catalogue {self.name!r} ({self.url}) failed on {operation} and then did "
                f"not answer ({short_error(exc)})."
            )
        if resp.status_code in (401, 403):
            return auth_error(f"CSW catalogue {self.name!r} ({self.url})", resp.status_code)
        looks = describe_response(resp)
        advice = "" if "use the" in looks else (
            " Give the CSW endpoint: the URL that answers ?service=CSW&request=GetCapabilities.")
        return NotACatalogueError(
            f"{self.url} does not answer as an OGC CSW {self.version} catalogue "
            f"(during {operation}): it returned {looks}.{advice}")

    # ------------------------------------------------------------------ search

    def search_items(self, params: SearchParams) -> Iterator[pystac.Item]:
        """Yield the records matching `params` as pystac Items, up to params.max_items."""
        check_supported(params, self.name, "CSW")
        if params.max_items is not None and params.max_items <= 0:
            return
        csw = self._client()  # connection errors surface before the first item
        if params.ids and not self._v3:
            yield from self._by_ids(csw, params)
        else:
            yield from self._records(csw, params)

    def matched(self, params: SearchParams) -> int | None:
        """The number of records matching `params` as the catalogue counts them (a GetRecords
        for hits); None when part of the search is done on the Items (see the module doc)."""
        check_supported(params, self.name, "CSW")
        csw = self._client()
        constraints, recheck = self._constraints(params)
        if any(recheck.values()) or params.cloud_cover is not None or (
                params.ids and not self._v3):
            return None
        iso = self._schema == "iso"
        typename = "gmd:MD_Metadata" if iso else ("csw30:Record" if self._v3 else "csw:Record")

        def call() -> int:
            if self._v3:  # OWSLib's CSW 3 client has no resultType: ask for no records
                csw.getrecords(constraints=constraints, typenames=typename, esn="brief",
                               maxrecords=0)
            else:
                csw.getrecords2(constraints=constraints, typenames=typename, esn="brief",
                                resulttype="hits", maxrecords=0)
            return int(csw.results["matches"])

        with self._lock:
            return self._owslib("GetRecords", call)

    def _by_ids(self, csw: Any, params: SearchParams) -> Iterator[pystac.Item]:
        """GetRecordById, in the order of params.ids; the other parameters checked on the Items."""
        assert params.ids is not None
        ids = list(dict.fromkeys(params.ids))
        limit = params.max_items
        q = text_param(params)
        found = 0
        for start in range(0, len(ids), IDS_PER_REQUEST):
            chunk = ids[start:start + IDS_PER_REQUEST]
            order = {rid: i for i, rid in enumerate(chunk)}
            items = [it for it in map(partial(self._item, csw), self._get_by_ids(csw, chunk))
                     if it is not None and it.id in order]
            for item in sorted(items, key=lambda it: order[it.id]):
                if not item_matches(item, params, ids=False, cloud_cover=True):
                    continue
                if q and not _text_matches(item, q):
                    continue
                yield item
                found += 1
                if limit is not None and found >= limit:
                    return

    def _get_by_ids(self, csw: Any, ids: list[str]) -> list[Any]:
        schema = GMD if self._schema == "iso" else CSW2

        def call() -> list[Any]:
            csw.getrecordbyid(ids, esn="full", outputschema=schema)
            return list(csw.records.values())

        with self._lock:
            return self._owslib("GetRecordById", call)

    def _records(self, csw: Any, params: SearchParams) -> Iterator[pystac.Item]:
        constraints, recheck = self._constraints(params)
        sortby = self._sortby(params.sortby)
        iso = self._schema == "iso"
        typename = "gmd:MD_Metadata" if iso else ("csw30:Record" if self._v3 else "csw:Record")
        schema = GMD if iso else (CSW3 if self._v3 else CSW2)
        page_size = params.limit or DEFAULT_PAGE_SIZE
        limit = params.max_items
        found = 0
        position = 1
        while True:
            want = page_size if limit is None else min(page_size, max(limit - found, 1))
            results, records = self._get_records(csw, constraints, sortby, typename, schema,
                                                 position, want)
            for rec in records:
                item = self._item(csw, rec)
                if item is None:
                    continue
                if (any(recheck.values()) or params.cloud_cover is not None) and not item_matches(
                        item, params, **recheck, cloud_cover=True):
                    continue
                yield item
                found += 1
                if limit is not None and found >= limit:
                    return
            returned = results.get("returned") or len(records)
            following = results.get("nextrecord")
            if following is None:  # optional in CSW: count ourselves
                following = position + returned
            if returned == 0 or following <= position or following > results.get("matches", 0):
                return
            position = following

    def _get_records(self, csw: Any, constraints: list[Any], sortby: Any, typename: str,
                     schema: str, position: int, count: int) -> tuple[dict, list[Any]]:
        def call() -> tuple[dict, list[Any]]:
            get = csw.getrecords if self._v3 else csw.getrecords2
            get(constraints=constraints, sortby=sortby, typenames=typename, esn="full",
                outputschema=schema, startposition=position, maxrecords=count)
            return dict(csw.results), list(csw.records.values())

        with self._lock:
            return self._owslib("GetRecords", call)

    # ------------------------------------------------------------------ request building

    def _constraints(self, params: SearchParams) -> tuple[list[Any], dict[str, bool]]:
        """The OGC filter (as OWSLib's constraint list) and which checks the Items still need."""
        if self._v3:
            from owslib import fes2 as fes
        else:
            from owslib import fes
        iso = self._schema == "iso"
        parts: list[Any] = []
        or_groups = 0
        recheck = {"spatial": False, "temporal": False, "collections": False, "ids": False}

        def any_of(options: list[Any]) -> Any | None:
            # pycsw 2.6 mis-parses a second nested <Or> in an <And> (it concatenates them): at
            # most one goes to the server, the Items are checked for the others
            nonlocal or_groups
            if len(options) == 1:
                return options[0]
            or_groups += 1
            return fes.Or(options) if or_groups == 1 else None

        if params.ids:
            # CSW 3.0 only (2.0.2 uses GetRecordById): OWSLib 0.28 cannot read CSW 3.0
            # GetRecordById responses (the bare record, as the standard has it) and the
            # operation takes a single id
            expr = any_of([fes.PropertyIsEqualTo("apiso:Identifier" if iso else "dc:identifier",
                                                 rid) for rid in dict.fromkeys(params.ids)])
            if expr is None:
                recheck["ids"] = True
            else:
                parts.append(expr)
        if params.bbox is not None or params.intersects is not None:
            boxes = query_boxes(params)
            expr = any_of([self._bbox(fes, box) for box in boxes])
            if expr is None or params.intersects is not None:
                recheck["spatial"] = True
            if expr is not None:
                parts.append(expr)
        if params.datetime:
            lo, hi = parse_interval(params.datetime)
            begin, end = ("apiso:TempExtent_begin", "apiso:TempExtent_end") if iso else (
                "dc:date", "dc:date")
            # one day wider on each side: servers compare dates as strings (see module doc)
            if hi is not None:
                parts.append(fes.PropertyIsLessThanOrEqualTo(
                    begin, (hi + _dt.timedelta(days=2)).date().isoformat()))
            if lo is not None:
                parts.append(fes.PropertyIsGreaterThanOrEqualTo(
                    end, (lo - _dt.timedelta(days=1)).date().isoformat()))
            recheck["temporal"] = True
        if params.collections:
            if not iso:
                raise SearchParameterError(
                    f"CSW catalogue {self.name!r} serves Dublin Core records only, which name no "
                    "collection (parent identifier): search it without collections=."
                )
            expr = any_of([fes.PropertyIsEqualTo("apiso:ParentIdentifier", c)
                           for c in params.collections])
            if expr is None:
                recheck["collections"] = True
            else:
                parts.append(expr)
        q = text_param(params)
        if q:
            parts.append(fes.PropertyIsLike("csw:AnyText", f"%{q}%", wildCard="%",
                                            singleChar="_", escapeChar="\\"))
        if not parts:
            return [], recheck
        return [parts[0] if len(parts) == 1 else fes.And(parts)], recheck

    def _bbox(self, fes: Any, box: tuple[float, float, float, float]) -> Any:
        west, south, east, north = box
        if self._v3:
            return _fes2_bbox((south, west, north, east), EPSG4326_URN)
        return fes.BBox([south, west, north, east], crs=EPSG4326_URN)  # lat/lon axis order

    def _sortby(self, sortby: tuple[str, ...] | None) -> Any:
        if not sortby:
            return None
        if self._v3:
            from owslib import fes2 as fes
        else:
            from owslib import fes
        props = []
        for field in sortby:
            order = "DESC" if field.startswith("-") else "ASC"
            key = field.lstrip("+-").removeprefix("properties.")
            if key in _SORT_FIELDS:
                prop = _SORT_FIELDS[key][0 if self._schema == "iso" else 1]
            elif key.startswith(_CSW_PREFIXES):
                prop = key  # a CSW queryable named directly
            else:
                raise SearchParameterError(
                    f"CSW catalogue {self.name!r} cannot sort by {key!r}: sort by one of "
                    f"{', '.join(sorted(_SORT_FIELDS))}, or name a CSW queryable "
                    "(e.g. 'apiso:CreationDate')."
                )
            props.append(fes.SortProperty(prop, order))
        return fes.SortBy(props)

    # ------------------------------------------------------------------ records -> Items

    def _item(self, csw: Any, record: Any) -> pystac.Item | None:
        try:
            if hasattr(record, "identification"):  # ISO MD_Metadata
                item = item_from_iso(record)
            else:
                item = item_from_dc(record)
        except (ValueError, TypeError, AttributeError) as exc:
            ident = getattr(record, "identifier", None) or "?"
            warnings.warn(f"CSW catalogue {self.name!r}: record {ident} skipped ({exc})",
                          stacklevel=3)
            return None
        if item is not None:
            item.add_link(self._record_link(csw, item.id))
        return item

    def _record_link(self, csw: Any, record_id: str) -> Any:
        """The record itself, an alternate representation of the Item."""
        import pystac

        iso = self._schema == "iso"
        query = urlencode({"service": "CSW", "version": self.version,
                           "request": "GetRecordById", "id": record_id,
                           "outputSchema": GMD if iso else (CSW3 if self._v3 else CSW2),
                           "elementSetName": "full"})
        return pystac.Link(
            "alternate", f"{csw.url}?{query}",
            media_type=ISO_MEDIA_TYPE if iso else "application/xml",
            title=f"{'ISO 19139' if iso else 'Dublin Core'} record in the CSW {self.name}")


# ---------------------------------------------------------------------- OWSLib details


_FES2_BBOX: type | None = None


def _fes2_bbox(bbox: Sequence[float], crs: str) -> Any:
    global _FES2_BBOX
    if _FES2_BBOX is None:
        _FES2_BBOX = _fes2_bbox_class()
    return _FES2_BBOX(bbox, crs)


def _fes2_bbox_class() -> type:
    from owslib import fes2

    class Fes2BBox(fes2.OgcExpression):
        """FES 2.0 BBOX with a GML 3.2 envelope, as CSW 3.0 requires (OWSLib 0.28's
        fes2.BBox writes a GML 3.1 envelope)."""

        def __init__(self, bbox: Sequence[float], crs: str) -> None:
            self.bbox = bbox
            self.crs = crs

        def toXML(self) -> Any:  # OWSLib's method name
            from lxml import etree

            fes_ns = fes2.namespaces["fes"]
            node = etree.Element(f"{{{fes_ns}}}BBOX")
            etree.SubElement(node, f"{{{fes_ns}}}ValueReference").text = "ows:BoundingBox"
            env = etree.SubElement(node, f"{{{GML32}}}Envelope", srsName=self.crs)
            etree.SubElement(env, f"{{{GML32}}}lowerCorner").text = f"{self.bbox[0]} {self.bbox[1]}"
            etree.SubElement(env, f"{{{GML32}}}upperCorner").text = f"{self.bbox[2]} {self.bbox[3]}"
            return node

    return Fes2BBox


def _output_schemas(csw: Any) -> set[str]:
    """outputSchema values GetRecords advertises (read from the XML: OWSLib's CSW 3 parser
    leaves OWS 2.0 allowed values out)."""
    root = csw._exml.getroot() if hasattr(csw._exml, "getroot") else csw._exml
    values = root.xpath(
        "//*[local-name()='Operation'][@name='GetRecords']"
        "/*[local-name()='Parameter'][translate(@name,'OUTPSCHEMA','outpschema')='outputschema']"
        "//*[local-name()='Value']/text()"
    )
    return {v.strip() for v in values}


@contextmanager
def _quiet_owslib() -> Iterator[None]:
    """OWSLib 0.28 emits FutureWarnings about its own future API on every ISO record parsed,
    and a UserWarning when a server leaves out the optional nextRecord."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"owslib\.")
        warnings.filterwarnings("ignore", message="CSW Server did not supply a nextRecord")
        yield


def auth_error(where: str, status: int) -> CatalogueError:
    from eopde.catalogue.base import CatalogueAuthError

    return CatalogueAuthError(
        f"{where} refused access (HTTP {status}): it needs credentials. Pass them as headers, "
        "e.g. headers={'Authorization': 'Bearer <token>'}, or check that the token is valid."
    )


def _exception_text(xml: str) -> str | None:
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode())
    except etree.XMLSyntaxError:
        return None
    texts = root.xpath("//*[local-name()='ExceptionText']/text()")
    return " ".join(t.strip() for t in texts) or None


def short_error(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "Temporary failure in name resolution", "No route to host"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__ + (f": {text[:160]}" if text else "")


def text_param(params: SearchParams) -> str | None:
    q = params.extra.get("q")
    if q is not None and not isinstance(q, str):
        raise SearchParameterError(
            f"extra['q'] must be a string (words matched anywhere in the record), not {q!r}"
        )
    return q or None


def check_supported(params: SearchParams, name: str, kind: str) -> None:
    if params.filter is not None:
        raise SearchParameterError(
            f"{kind} catalogue {name!r} cannot apply a CQL2 filter: search it without filter= "
            "(use bbox, datetime, collections, ids or extra={'q': 'words'})."
        )
    if params.query:
        raise SearchParameterError(
            f"{kind} catalogue {name!r} cannot apply a STAC query= on properties: search it "
            "without query= (cloud cover and other properties are only filterable in STAC APIs)."
        )


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
        add_asset(item, url, key="thumbnail", roles=["thumbnail"], title="Thumbnail")
    for res in online:
        if not res.url or res.url in overviews:
            continue
        protocol = res.protocol or ""
        if (res.function or "").lower() == "download" or "DOWNLOAD" in protocol.upper():
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
    if "DOWNLOAD" in protocol.upper():
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


def _text_matches(item: Any, q: str) -> bool:
    """A client-side stand-in for AnyText LIKE '%q%' (case-insensitive)."""
    props = item.properties
    text = " ".join(str(v) for v in (item.id, props.get("title"), props.get("description"),
                                     " ".join(props.get("keywords", []))) if v)
    return q.lower() in text.lower()


# ---------------------------------------------------------------------- diagnosing a URL


def describe_response(resp: Any) -> str:
    """What an HTTP response looks like, for 'this is not a catalogue' messages."""
    return describe_body(resp.status_code, resp.headers.get("Content-Type") or "", resp.content)


def describe_body(status_code: int | None, content_type: str, body: bytes) -> str:
    ctype = content_type.split(";")[0].strip().lower()
    body = body[:200_000]
    head = body.lstrip()[:1].decode("latin-1") if body.strip() else ""
    status = f"HTTP {status_code}" if status_code else "a response"
    if "json" in ctype or head in ("{", "["):
        import json

        try:
            doc = json.loads(body)
        except ValueError:
            return f"{status}, invalid JSON"
        if isinstance(doc, dict):
            conforms = " ".join(str(c) for c in doc.get("conformsTo", []) or [])
            if "stac_version" in doc or "api.stacspec.org" in conforms:
                kind = doc.get("type") or "document"
                return (f"{status}, a STAC {kind} (JSON, stac_version "
                        f"{doc.get('stac_version', '?')}): use the STAC backend for it")
            if "conformsTo" in doc or "links" in doc:
                return f"{status}, an OGC API landing page (JSON)"
            return f"{status}, a JSON object with keys {', '.join(list(doc)[:8])}"
        return f"{status}, a JSON array"
    if "html" in ctype or body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        import re

        match = re.search(rb"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
        title = match.group(1).decode("utf-8", "replace").strip()[:100] if match else ""
        return f"{status}, an HTML page" + (f" titled {title!r}" if title else "")
    if head == "<":
        from lxml import etree

        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return f"{status}, malformed XML"
        qname = etree.QName(root)
        namespace = qname.namespace or ""
        hint = {
            "OpenSearchDescription": " (an OpenSearch description: use the OpenSearch backend)",
            "Capabilities": " (OGC capabilities of another service type)",
            "WMS_Capabilities": " (a WMS)",
            "feed": " (an Atom feed)",
            "ExceptionReport": f" (an OGC exception: {_exception_text(body.decode('utf-8'))})",
        }.get(qname.localname, "")
        if namespace.startswith("http://www.opengis.net/cat/csw/"):
            hint = " (a CSW catalogue: use the CSW backend for it)"
        return (f"{status}, an XML document <{qname.localname}> in namespace "
                f"{namespace or '(none)'}{hint}")
    if not body.strip():
        return f"{status}, an empty body"
    return f"{status}, {ctype or 'content of unknown type'}: {body[:60]!r}"
