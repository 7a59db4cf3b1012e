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

Records become Items and are re-checked in `eopde.catalogue.records`; messages about failed
requests are built in `eopde.catalogue.diagnose` (both shared with `eopde.catalogue.opensearch`).
"""

from __future__ import annotations

import datetime as _dt
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
from eopde.catalogue.diagnose import (
    auth_error,
    check_supported,
    describe_body,
    describe_response,
    exception_text,
    short_error,
    text_param,
)
from eopde.catalogue.records import (
    item_from_dc,
    item_from_iso,
    item_matches,
    parse_interval,
    query_boxes,
    text_matches,
)

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
                f"{(exception_text(message) or message)[:500]}"
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
                if q and not text_matches(item, q):
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
