"""What the tile server may read and how much work one request may ask for.

- :class:`Allowlist` decides whether an href (the ``url=`` of a request, an asset href inside a
  STAC item, the item URL itself) may be opened: an ``http(s)`` URL whose scheme, host and port
  equal those of an allowed prefix and whose normalised path lies under the prefix's path, or a
  local path under an allowed local folder (tests, stand-alone use). Everything else (``file:``,
  ``s3:``, ``/vsi*`` and other GDAL prefixes, ``vrt://``, user info, other ports) is refused.
- :class:`GuardedReader` (COGs) and :class:`GuardedSTACReader` (items) are rio-tiler readers that
  check every href before anything is opened, open rasters with the GeoTIFF driver only (a VRT,
  whatever its name, cannot pull in another file) and cap the size of what is read.
- :func:`check_request` refuses oversized or out-of-range parameters before any reading.
- :func:`fetch_item` reads item JSON itself (no redirects, size cap) with a cache of a few
  seconds: rio-tiler's own ``fetch`` keeps items forever, so deleted items stayed visible.

Import cost: standard library only at import; rasterio, rio-tiler and httpx on first use (the
reader classes are built by :func:`reader_classes`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from eopde.catalogue.base import Reused

#: Largest width or height of any image read or returned (previews, bbox, feature, statistics).
MAX_IMAGE_SIZE = 2048
#: Largest tile edge in pixels (``tilesize=``) and largest tile ``buffer``/``padding``.
MAX_TILE_SIZE = 1024
MAX_TILE_MARGIN = 64
#: Longest band-math expression (``expression=`` or ``assets=name|expression=``), in characters.
MAX_EXPRESSION = 512
#: Most assets one STAC request may combine, and most raster assets an item may list.
MAX_ASSETS = 8
MAX_ITEM_ASSETS = 64
#: Most histogram bins (``histogram_bins=N`` or N edges).
MAX_HISTOGRAM_BINS = 1024
#: Largest item JSON fetched, request body accepted, and item cache lifetime (seconds).
MAX_ITEM_BYTES = 2 * 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024
ITEM_CACHE_SECONDS = 2.0
#: How long a worker thread keeps a raster open for the next tiles, and how many at most.
DATASET_CACHE_SECONDS = 2.0
DATASETS_PER_THREAD = 8
ITEM_TIMEOUT_SECONDS = 10.0

#: Only GeoTIFF (COGs are GeoTIFFs): no VRT or other driver that opens files named inside a file.
RASTER_DRIVER = "GTiff"
#: Asset media types the STAC reader lists (TIFFs only, matching RASTER_DRIVERS).
TIFF_MEDIA_TYPES = {
    "image/tiff; application=geotiff",
    "image/tiff; application=geotiff; profile=cloud-optimized",
    "image/tiff; profile=cloud-optimized; application=geotiff",
    "image/vnd.stac.geotiff; cloud-optimized=true",
    "image/tiff",
    "image/x.geotiff",
}


class GuardError(Exception):
    """A request the tile server refuses; ``status`` is the HTTP status of the JSON answer."""

    status = 400


class ForbiddenURL(GuardError):
    status = 403


class TooLarge(GuardError):
    pass


class BadBand(GuardError):
    pass


class NoSuchTile(GuardError):
    status = 404


class UnreadableDataset(GuardError):
    status = 404


class ItemNotFound(GuardError):
    status = 404


class DataUnavailable(GuardError):
    """The dataset's server failed or could not be reached: worth asking again (a 404 would
    tell the browser the tile does not exist, and Leaflet never asks for it again)."""

    status = 503


class CatalogueUnavailable(GuardError):
    status = 503


# --- hrefs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int
    path: str  # normalised, ends with "/"


def _port(parts) -> int:
    port = parts.port  # ValueError on garbage
    return port if port is not None else {"http": 80, "https": 443}[parts.scheme.lower()]


def _norm_path(raw: str) -> str:
    """Percent-decode once and resolve ``.``/``..``; ``ValueError`` on NUL or backslash."""
    path = unquote(raw or "/")
    if "\x00" in path or "\\" in path:
        raise ValueError("bad path")
    norm = "/" + posixpath.normpath("/" + path).lstrip("/")
    return norm


def _under(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix.rstrip("/") or path.startswith(prefix)


class Allowlist:
    """The prefixes the tiler may read: ``http(s)://host:port/path/`` or local folders."""

    def __init__(self, prefixes: list[str]) -> None:
        self.prefixes = [p for p in prefixes if p]
        self.origins: list[_Origin] = []
        self.folders: list[str] = []
        for prefix in self.prefixes:
            parts = urlsplit(prefix)
            if parts.scheme.lower() in ("http", "https"):
                path = _norm_path(parts.path)
                self.origins.append(_Origin(parts.scheme.lower(), (parts.hostname or "").lower(),
                                            _port(parts), path.rstrip("/") + "/"))
            elif parts.scheme.lower() == "file" or prefix.startswith("/"):
                folder = parts.path if parts.scheme else prefix
                self.folders.append(os.path.realpath(folder).rstrip("/") + "/")
            else:
                raise ValueError(f"tile server allowlist: unsupported prefix {prefix!r}")

    def describe(self) -> str:
        return ", ".join(self.prefixes) or "(nothing: EOPDE_TILES_ALLOWED_URLS is not set)"

    def check(self, href: str | None) -> str:
        """The canonical URL or path to open for `href`, or :class:`ForbiddenURL`."""
        try:
            found = self._resolve(href or "")
        except (ValueError, KeyError):
            found = None
        if found is None:
            raise ForbiddenURL(f"this tile server only reads data under {self.describe()}")
        return found

    def _resolve(self, href: str) -> str | None:
        if any(ord(c) < 0x20 or c == "\x7f" for c in href) or href != href.strip():
            return None
        lowered = href.lower()
        # GDAL's virtual file systems and connection strings open other files or hosts (GDAL
        # reads /vsi only at the start; other prefixes such as vrt:// fail the scheme check).
        if lowered.startswith("/vsi") or "vrt://" in lowered:
            return None
        parts = urlsplit(href)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            return self._resolve_http(parts)
        if scheme == "file" and not parts.netloc:
            return self._resolve_local(unquote(parts.path))
        if not scheme and href.startswith("/"):
            return self._resolve_local(href)
        return None

    def _resolve_http(self, parts) -> str | None:
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            return None
        host = (parts.hostname or "").lower()
        scheme = parts.scheme.lower()
        port = _port(parts)
        path = _norm_path(parts.path)
        for origin in self.origins:
            if (origin.scheme, origin.host, origin.port) == (scheme, host, port) \
                    and _under(path, origin.path):
                netloc = f"[{host}]" if ":" in host else host
                url = f"{scheme}://{netloc}:{port}{quote(path, safe='/')}"
                return f"{url}?{parts.query}" if parts.query else url
        return None

    def _resolve_local(self, path: str) -> str | None:
        if not path.startswith("/"):
            return None
        real = os.path.realpath(path)  # follows symlinks and ".."
        for folder in self.folders:
            if real.startswith(folder):
                return real
        return None


# --- item JSON ----------------------------------------------------------------------------

@functools.cache
def _items() -> Reused[dict]:
    """Item JSON by URL, kept :data:`ITEM_CACHE_SECONDS` from when its reading began."""
    from eopde.catalogue.base import Reused  # at first use: this module imports stdlib only

    return Reused(ITEM_CACHE_SECONDS, most=256)


def fetch_item(url: str, allowlist: Allowlist) -> dict:
    """The JSON of the item at `url` (checked), cached for :data:`ITEM_CACHE_SECONDS`."""
    url = allowlist.check(url)
    return _items().get(url, lambda: _read_item(url))


def _read_item(url: str) -> dict:
    import json

    if not url.startswith(("http://", "https://")):
        try:
            with open(url, "rb") as f:
                body = f.read(MAX_ITEM_BYTES + 1)
        except OSError:
            raise ItemNotFound("no STAC item at this url") from None
    else:
        body = _get(url)
    if len(body) > MAX_ITEM_BYTES:
        raise TooLarge(f"the STAC item is larger than {MAX_ITEM_BYTES} bytes")
    try:
        item = json.loads(body)
    except ValueError:
        raise UnreadableDataset("the url does not hold a STAC item (not JSON)") from None
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise UnreadableDataset("the url does not hold a STAC item (not a GeoJSON Feature)")
    return item


def _get(url: str) -> bytes:
    import httpx

    from eopde.readcap import ResponseTooLarge, read_capped

    try:
        # No redirects: a redirect could lead anywhere; the allowed servers do not redirect.
        with httpx.stream("GET", url, timeout=ITEM_TIMEOUT_SECONDS,
                          follow_redirects=False) as resp:
            if resp.status_code in (404, 410):
                raise ItemNotFound("no STAC item at this url (deleted or never created)")
            if resp.status_code != 200:
                raise UnreadableDataset(f"the item url answered HTTP {resp.status_code}")
            try:
                return read_capped(resp, MAX_ITEM_BYTES)
            except ResponseTooLarge:
                raise TooLarge(f"the STAC item is larger than {MAX_ITEM_BYTES} bytes") from None
    except httpx.HTTPError:
        raise CatalogueUnavailable("the catalogue could not be reached; try again") from None


# --- request parameters ---------------------------------------------------------------------


def _ints(values: list[str]) -> list[int]:
    out = []
    for v in values:
        try:
            out.append(int(v))
        except ValueError:
            pass  # FastAPI's own validation answers 422
    return out


def _floats(values: list[str]) -> list[float]:
    out = []
    for v in values:
        try:
            out.append(float(v))
        except ValueError:
            pass
    return out


def check_request(request: Any) -> None:
    """FastAPI dependency: refuse parameters that would make a request too large (400)."""
    q, p = request.query_params, request.path_params
    sizes = _ints(q.getlist("width") + q.getlist("height") + q.getlist("max_size")
                  + [str(p[k]) for k in ("width", "height") if k in p])
    if any(s > MAX_IMAGE_SIZE for s in sizes) or any(s < 0 for s in sizes):
        raise TooLarge(f"width, height and max_size must be between 1 and {MAX_IMAGE_SIZE}")
    if any(s > MAX_TILE_SIZE for s in _ints(q.getlist("tilesize"))):
        raise TooLarge(f"tilesize must be at most {MAX_TILE_SIZE}")
    if any(abs(m) > MAX_TILE_MARGIN for m in _floats(q.getlist("buffer") + q.getlist("padding"))):
        raise TooLarge(f"buffer and padding must be at most {MAX_TILE_MARGIN}")
    if any(len(e) > MAX_EXPRESSION for e in q.getlist("expression") + q.getlist("assets")):
        raise TooLarge(f"expressions and asset options are limited to {MAX_EXPRESSION} characters")
    if len(q.getlist("assets")) > MAX_ASSETS:
        raise TooLarge(f"at most {MAX_ASSETS} assets per request")
    for bins in q.getlist("histogram_bins"):
        counts = _ints(bins.split(","))
        too_many = len(counts) == 1 and counts[0] > MAX_HISTOGRAM_BINS
        if too_many or len(counts) > MAX_HISTOGRAM_BINS:
            raise TooLarge(f"histogram_bins must be at most {MAX_HISTOGRAM_BINS}")
    _check_zoom(request)


def request_dependency():
    """:func:`check_request` typed for FastAPI (this module's annotations are strings)."""
    from starlette.requests import Request

    # async: FastAPI runs a plain function in the thread pool, a hand-over per request for a
    # check that does no I/O.
    async def check(request):
        check_request(request)

    check.__annotations__ = {"request": Request, "return": None}
    return check


def shared_tms() -> Any:
    """morecantile's TileMatrixSets whose ``get`` hands out one object per id instead of a deep
    copy each call (two copies per tile request cost ~2.5 ms; nothing here changes a TMS).
    Built once: the guard calls this for every tile, and making the attrs class each time cost
    ~2 ms a request."""
    global _SHARED_TMS
    if _SHARED_TMS is not None:
        return _SHARED_TMS
    import attr
    import morecantile
    from morecantile.defaults import TileMatrixSets

    @attr.s(frozen=True)
    class SharedTileMatrixSets(TileMatrixSets):
        _shared: dict = attr.ib(factory=dict)

        def get(self, identifier: str) -> Any:
            found = self._shared.get(identifier)
            if found is None:
                found = self._shared[identifier] = super().get(identifier)
            return found

    _SHARED_TMS = SharedTileMatrixSets(dict(morecantile.tms.tilematrixsets))
    return _SHARED_TMS


_SHARED_TMS: Any = None


def _check_zoom(request: Any) -> None:
    q, p = request.query_params, request.path_params
    name = p.get("tileMatrixSetId") or "WebMercatorQuad"
    try:
        tms = shared_tms().get(str(name))
    except Exception:  # noqa: BLE001 - an unknown id is FastAPI's 422 to answer
        return
    zooms = _ints([str(p["z"])] if "z" in p else []) + _ints(q.getlist("minzoom")
                                                             + q.getlist("maxzoom"))
    for z in zooms:
        if not tms.minzoom <= z <= tms.maxzoom:
            raise TooLarge(f"zoom must be between {tms.minzoom} and {tms.maxzoom} for {name}")
    if "z" in p and zooms:
        matrix = tms.matrix(zooms[0])
        xy = _ints([str(p.get("x", 0)), str(p.get("y", 0))])
        if len(xy) == 2 and not (0 <= xy[0] < matrix.matrixWidth
                                 and 0 <= xy[1] < matrix.matrixHeight):
            raise NoSuchTile(f"tile {xy[0]}/{xy[1]} does not exist at zoom {zooms[0]} of {name}")


# --- readers ----------------------------------------------------------------------------------


def _check_bands(count: int, indexes: Any, expression: str | None) -> None:
    from rio_tiler.expression import parse_expression

    wanted: list[int] = []
    if expression:
        wanted += list(parse_expression(expression))
    elif indexes is not None:
        wanted += [indexes] if isinstance(indexes, int) else list(indexes)
    bad = [i for i in wanted if not 1 <= int(i) <= count]
    if bad:
        raise BadBand(f"band {bad[0]} does not exist: the dataset has bands 1 to {count}")


# GDAL's words for a failure of the dataset's server (curl errors, timeouts, 5xx, 429) rather
# than of the dataset: a missing file is "HTTP response code: 404" or "No such file".
_TRANSIENT = re.compile(r"CURL error|timed out|HTTP response code: (5\d\d|429)", re.IGNORECASE)


def dataset_error(err: Exception, href: str, *, opened: bool = False) -> GuardError:
    """The answer for GDAL's `err` while opening `href` or reading it once `opened`; never
    its text, which names the internal server or path. A block read of an HTTP file failing
    after its header was read is the server failing: GDAL's words for it ("got 0 bytes") do
    not say so, its HTTP error went to the log."""
    if (opened and _remote(href)) or any(_TRANSIENT.search(str(e)) for e in _chain(err)):
        _forget_failure(href)
        return DataUnavailable("the dataset's server could not be reached or failed; try again")
    return UnreadableDataset("the dataset could not be read: missing, or not a GeoTIFF")


def _remote(href: str) -> bool:
    return href.startswith(("http://", "https://", "/vsicurl/"))


def _chain(err: BaseException | None) -> Iterator[BaseException]:
    """`err` and its causes (rasterio's "Read failed. See previous exception" carries GDAL's
    words in its cause)."""
    seen = 0
    while err is not None and seen < 8:
        yield err
        err, seen = err.__cause__ or err.__context__, seen + 1


@functools.lru_cache(maxsize=1)
def _gdal() -> Any:
    """The GDAL library rasterio has loaded (ctypes), or None where it cannot be found."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libgdal" in line}
    except OSError:
        return None
    if len(paths) != 1:
        return None
    lib = ctypes.CDLL(paths.pop(), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    lib.VSICurlPartialClearCache.argtypes = [ctypes.c_char_p]
    return lib


def _forget_failure(href: str) -> None:
    """GDAL keeps a failed answer about an HTTP file for the life of the process (the file
    then fails without being asked for again, measured with GDAL 3.10): forget it, so that the
    next request asks the server again. rasterio does not expose the call."""
    if _remote(href) and (lib := _gdal()) is not None:
        lib.VSICurlPartialClearCache(
            (href if href.startswith("/vsicurl/") else f"/vsicurl/{href}").encode())


def _capped(kwargs: dict) -> dict:
    """`kwargs` of a read with no size given read at most MAX_IMAGE_SIZE pixels a side."""
    width, height, max_size = (kwargs.get(k) for k in ("width", "height", "max_size"))
    if any(s is not None and s > MAX_IMAGE_SIZE for s in (width, height, max_size)):
        raise TooLarge(f"width, height and max_size must be at most {MAX_IMAGE_SIZE}")
    if not width and not height and not max_size:
        kwargs["max_size"] = MAX_IMAGE_SIZE
    return kwargs


class _OpenDatasets(threading.local):
    """Datasets kept open for a few seconds by each worker thread, by checked href.

    A browser asks for a burst of neighbouring tiles: opening the COG for each one threw away
    GDAL's cache of the blocks just decoded (it lives with the open dataset), which made tiles
    at low zooms take twice as long as rio-tiler with one open Reader. Per thread, because a
    dataset must not be used by two threads at once; opened at most DATASET_CACHE_SECONDS ago,
    so a replaced or deleted file is seen within that time."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, Any]] = {}

    def get(self, href: str, opener: Any) -> Any:
        now = time.monotonic()
        hit = self.entries.get(href)
        if hit is not None and now - hit[0] < DATASET_CACHE_SECONDS and not hit[1].closed:
            return hit[1]
        for key, (opened, dataset) in list(self.entries.items()):
            if key == href or now - opened >= DATASET_CACHE_SECONDS:
                del self.entries[key]
                dataset.close()
        while len(self.entries) >= DATASETS_PER_THREAD:
            oldest = min(self.entries, key=lambda k: self.entries[k][0])
            self.entries.pop(oldest)[1].close()
        dataset = opener(href)
        self.entries[href] = (now, dataset)
        return dataset


_open_datasets = _OpenDatasets()


@contextlib.contextmanager
def _reading(href: str) -> Iterator[None]:
    """Blocks read after the open fail as GDAL errors (titiler's answer: a 500 with GDAL's text,
    internal URL included): the same answers as a failed open."""
    from rasterio.errors import RasterioIOError

    try:
        yield
    except RasterioIOError as err:
        raise dataset_error(err, href, opened=True) from None


def reader_classes(allowlist: Allowlist) -> tuple[type, type]:
    """The (COG reader, STAC reader) classes for titiler's factories, bound to `allowlist`."""
    import attr
    import pystac
    import rasterio
    from rasterio.errors import RasterioIOError
    from rio_tiler.io import Reader, STACReader

    @attr.s
    class GuardedReader(Reader):
        """rio-tiler's Reader: checked href, GeoTIFF driver only, size and band checks."""

        def __attrs_post_init__(self):
            if self.dataset is None:
                href = allowlist.check(self.input)  # every request, cached dataset or not
                try:
                    self.dataset = _open_datasets.get(
                        href, lambda h: rasterio.open(h, driver=RASTER_DRIVER, sharing=False))
                except RasterioIOError as err:
                    raise dataset_error(err, href) from None
            try:
                super().__attrs_post_init__()
            except BaseException:
                self.close()
                raise

        def read(self, indexes=None, expression=None, **kwargs):
            _check_bands(self.dataset.count, indexes, expression)
            with _reading(self.dataset.name):
                return super().read(indexes=indexes, expression=expression, **_capped(kwargs))

        def part(self, bbox, *args, indexes=None, expression=None, **kwargs):
            _check_bands(self.dataset.count, indexes, expression)
            with _reading(self.dataset.name):
                return super().part(bbox, *args, indexes=indexes, expression=expression,
                                    **_capped(kwargs))

        def point(self, lon, lat, *args, indexes=None, expression=None, **kwargs):
            _check_bands(self.dataset.count, indexes, expression)
            with _reading(self.dataset.name):
                return super().point(lon, lat, *args, indexes=indexes, expression=expression,
                                     **kwargs)

    @attr.s
    class GuardedSTACReader(STACReader):
        """rio-tiler's STACReader: item fetched by :func:`fetch_item`, every asset href checked."""

        include_asset_types: set[str] = attr.ib(default=TIFF_MEDIA_TYPES)
        reader: type = attr.ib(default=GuardedReader)

        def __attrs_post_init__(self):
            if self.item is None:
                url = allowlist.check(self.input)
                data = fetch_item(url, allowlist)
                try:
                    self.item = pystac.Item.from_dict(data, href=url, preserve_dict=True)
                except Exception:  # noqa: BLE001 - any malformed item is the sender's fault
                    raise UnreadableDataset("the url does not hold a valid STAC item") from None
            super().__attrs_post_init__()
            if len(self.assets) > MAX_ITEM_ASSETS:
                raise TooLarge(f"the item lists more than {MAX_ITEM_ASSETS} raster assets")

        def _get_asset_info(self, asset):
            info = super()._get_asset_info(asset)
            try:
                info["url"] = allowlist.check(info["url"])
            except ForbiddenURL:
                raise ForbiddenURL(
                    f"asset {info['name']!r} points outside the data this tile server reads "
                    f"({allowlist.describe()})") from None
            info["env"] = {}  # no GDAL options taken from the item (file:header_size)
            return info

    return GuardedReader, GuardedSTACReader


def status_codes() -> dict[type[Exception], int]:
    """Exceptions -> HTTP status, on top of titiler's defaults: the client's faults are 4xx."""
    from rio_tiler import errors as rte

    # every GuardError kind answers its own status: a new one cannot be forgotten here
    kinds: list[type[GuardError]] = [GuardError, *GuardError.__subclasses__()]
    codes: dict[type[Exception], int] = {cls: cls.status for cls in kinds}
    codes.update({
        rte.PointOutsideBounds: 404, rte.InvalidBufferSize: 400, rte.InvalidBounds: 400,
        rte.InvalidColorMapName: 400, rte.AssetAsBandError: 400, rte.MaxArraySizeError: 400,
        rte.InvalidPointDataError: 400, rte.InvalidGeographicBounds: 400,
        rte.EmptyMosaicError: 404, rte.NoAssetFoundError: 404, rte.MissingCRS: 400,
    })
    return codes
