"""The local tile server (eopde.services.tiles): titiler.core over local COGs and STAC items.

Everything is local: COGs are written into tmp_path with rasterio, STAC items point at them by
absolute path (the tmp folder is the app's allowed prefix), and requests go through FastAPI's
TestClient. The href checks and limits themselves: tests/test_tiles_guard.py.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from morecantile import tms as tms_registry
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_bounds

from eopde.services import tiles
from import_checks import heavy_after
from tiles_helpers import tiles_client

SIZE = 512
RES = 10.0
ORIGIN_X, ORIGIN_Y = 500_000.0, 5_500_000.0  # UTM 33N, ~15 E 49.6 N
CRS = "EPSG:32633"
TRANSFORM = from_origin(ORIGIN_X, ORIGIN_Y, RES, RES)
ZOOM = 14
WMQ = tms_registry.get("WebMercatorQuad")


def gradient(kind: str) -> np.ndarray:
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    if kind == "x":
        data = 100 + cols * 10
    elif kind == "y":
        data = 100 + rows * 10
    elif kind == "xy":
        data = 100 + cols * 5 + rows * 3
    elif kind == "const":
        data = np.full((SIZE, SIZE), 1000)
    else:
        raise ValueError(kind)
    return data.astype("uint16")


def write_cog(path: Path, data: np.ndarray) -> Path:
    profile = {
        "driver": "COG",
        "width": SIZE,
        "height": SIZE,
        "count": 1,
        "dtype": "uint16",
        "crs": CRS,
        "transform": TRANSFORM,
        "blocksize": 256,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def lonlat_of_pixel(row: int, col: int) -> tuple[float, float]:
    x, y = TRANSFORM @ (col + 0.5, row + 0.5)
    lons, lats = warp_transform(CRS, "EPSG:4326", [x], [y])
    return lons[0], lats[0]


def wgs84_bounds() -> tuple[float, float, float, float]:
    return transform_bounds(
        CRS, "EPSG:4326", ORIGIN_X, ORIGIN_Y - SIZE * RES, ORIGIN_X + SIZE * RES, ORIGIN_Y
    )


def centre_tile():
    lon, lat = lonlat_of_pixel(SIZE // 2, SIZE // 2)
    return WMQ.tile(lon, lat, ZOOM)


def decode(content: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG tile has no geotransform
        with MemoryFile(content) as mem, mem.open() as ds:
            return ds.read()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tiles")
    write_cog(d / "gradient.tif", gradient("xy"))
    write_cog(d / "B04.tif", gradient("x"))
    write_cog(d / "B03.tif", gradient("y"))
    write_cog(d / "B02.tif", gradient("const"))
    return d


@pytest.fixture(scope="module")
def cog(data_dir) -> str:
    return str(data_dir / "gradient.tif")


@pytest.fixture(scope="module")
def stac_item(data_dir) -> str:
    west, south, east, north = wgs84_bounds()
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S2_TEST_ITEM",
        "bbox": [west, south, east, north],
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [east, south], [east, north], [west, north], [west, south]]
            ],
        },
        "properties": {"datetime": "2024-06-01T10:00:00Z"},
        "links": [],
        "assets": {
            band: {
                "href": str(data_dir / f"{band}.tif"),
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
            }
            for band in ("B04", "B03", "B02")
        }
        | {"thumbnail": {"href": str(data_dir / "thumb.png"), "type": "image/png"}},
    }
    path = data_dir / "item.json"
    path.write_text(json.dumps(item))
    return str(path)


@pytest.fixture(scope="module")
def client(data_dir):
    with tiles_client(f"{data_dir}/") as c:
        yield c


def assert_json_error(resp, status: int | None = None) -> str:
    if status is not None:
        assert resp.status_code == status, resp.text
    else:
        assert 400 <= resp.status_code < 600, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


# --- app basics --------------------------------------------------------------------------


def test_import_is_light():
    assert heavy_after("import eopde, eopde.services.tiles",
                       ("titiler", "titiler.core", "rasterio", "rio_tiler", "fastapi")) == []


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_gdal_env_defaults_are_set_but_not_overridden(monkeypatch):
    for key in tiles.GDAL_ENV_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VSI_CACHE", "FALSE")
    tiles.create_app()
    assert os.environ["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
    assert os.environ["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"] == ".tif,.tiff,.TIF"
    assert os.environ["GDAL_HTTP_MERGE_CONSECUTIVE_RANGES"] == "YES"
    assert os.environ["VSI_CACHE"] == "FALSE"


def test_cors_allows_get_from_any_origin(client, cog):
    resp = client.get("/healthz", headers={"Origin": "http://127.0.0.1:8888"})
    assert resp.headers.get("access-control-allow-origin") == "*"
    pre = client.options(
        "/cog/info",
        headers={"Origin": "http://lab.example", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 200
    assert "GET" in pre.headers["access-control-allow-methods"]


def test_openapi_document_is_valid(client):
    """/openapi.json is an OpenAPI 3.1 document that validates against the specification's own
    schema (schemathesis carries it), with every router's routes; the basemap route's return
    annotation once made the whole document fail with a 500."""
    import schemathesis

    resp = client.get("/openapi.json")
    assert resp.status_code == 200, resp.text[:500]
    doc = resp.json()
    assert doc["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(doc).validate()  # raises on an invalid document
    paths = set(doc["paths"])
    for path in ("/healthz", "/basemap/{z}/{x}/{y}.png", "/cog/info", "/stac/assets",
                 "/tileMatrixSets", "/algorithms", "/colorMaps"):
        assert path in paths, sorted(paths)
    basemap = doc["paths"]["/basemap/{z}/{x}/{y}.png"]["get"]["responses"]["200"]
    assert list(basemap["content"]) == ["image/png"]
    assert client.get("/docs").status_code == 200


def test_helper_routes(client):
    assert "WebMercatorQuad" in client.get("/tileMatrixSets").text
    algos = client.get("/algorithms").json()
    assert "normalizedIndex" in json.dumps(algos)
    cmaps = client.get("/colorMaps").json()
    assert "viridis" in {c["id"] for c in cmaps["colormaps"]}


# --- /cog --------------------------------------------------------------------------------


def test_cog_info(client, cog):
    resp = client.get("/cog/info", params={"url": cog})
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert info["width"] == SIZE and info["height"] == SIZE
    assert info["dtype"] == "uint16"
    assert info["count"] == 1
    assert "32633" in json.dumps(info["crs"])
    assert info["bounds"] == pytest.approx(
        [ORIGIN_X, ORIGIN_Y - SIZE * RES, ORIGIN_X + SIZE * RES, ORIGIN_Y]
    )


def test_cog_point_returns_the_pixel_value(client, cog):
    row, col = 100, 300
    lon, lat = lonlat_of_pixel(row, col)
    resp = client.get(f"/cog/point/{lon},{lat}", params={"url": cog})
    assert resp.status_code == 200, resp.text
    assert resp.json()["values"] == [100 + col * 5 + row * 3]


def test_cog_tilejson(client, cog):
    resp = client.get(
        "/cog/WebMercatorQuad/tilejson.json", params={"url": cog, "rescale": "0,5000"}
    )
    assert resp.status_code == 200, resp.text
    tj = resp.json()
    assert tj["bounds"] == pytest.approx(list(wgs84_bounds()), abs=1e-6)
    (url,) = tj["tiles"]
    assert "/cog/tiles/WebMercatorQuad/{z}/{x}/{y}?" in url
    assert "rescale=0%2C5000" in url
    # 10 m pixels: native zoom 13 (tiles at ZOOM=14 are over-zoomed, which is fine)
    assert tj["minzoom"] < tj["maxzoom"] == 13


def test_cog_tile_png_is_not_blank(client, cog):
    t = centre_tile()
    resp = client.get(f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png", params={"url": cog})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    assert resp.content[:8] == b"\x89PNG\r\n\x1a\n"
    arr = decode(resp.content)
    assert arr.shape == (2, 256, 256)  # value + alpha
    value, alpha = arr[0], arr[1]
    assert (alpha > 0).all()  # fully inside the raster
    assert value.min() != value.max()  # a gradient, not a flat tile
    # raw uint16 values (PNG keeps 16 bits) within the data's range
    assert value.min() >= 100 and value.max() <= 100 + (SIZE - 1) * 8


def test_cog_tile_rescale_and_colormap(client, cog):
    from rio_tiler.colormap import cmap

    t = centre_tile()
    resp = client.get(
        f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
        params={"url": cog, "rescale": "100,4000", "colormap_name": "viridis"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    arr = decode(resp.content)
    assert arr.dtype == np.uint8 and arr.shape == (4, 256, 256)  # RGBA
    rgb = arr[:3].reshape(3, -1).T
    viridis = {tuple(v[:3]) for v in cmap.get("viridis").values()}
    assert {tuple(p) for p in np.unique(rgb, axis=0)} <= viridis
    assert len(np.unique(rgb, axis=0)) > 5  # many colours along the gradient
    assert not (arr[0] == arr[1]).all()  # coloured, not grey


def test_cog_tile_without_extension_picks_jpeg_when_nothing_is_masked(client, cog):
    # titiler quirk worth knowing when building URLs: no extension -> JPEG unless masked pixels.
    t = centre_tile()
    resp = client.get(
        f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}", params={"url": cog, "rescale": "100,4000"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/jpeg"


def test_cog_tile_outside_bounds_is_404_json(client, cog):
    t = centre_tile()
    resp = client.get(
        f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x + 50}/{t.y}.png", params={"url": cog}
    )
    detail = assert_json_error(resp, 404)
    assert "outside bounds" in detail


def test_cog_missing_file_is_404_json(client, data_dir):
    missing = data_dir / "nope.tif"
    resp = client.get("/cog/info", params={"url": str(missing)})
    detail = assert_json_error(resp, 404)
    assert "could not be read" in detail
    assert str(data_dir) not in detail  # no server paths in errors
    assert "<html" not in resp.text.lower()


def test_cog_bad_expression_is_400_json(client, cog):
    t = centre_tile()
    resp = client.get(
        f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
        params={"url": cog, "expression": "b1+"},
    )
    detail = assert_json_error(resp, 400)
    assert "expression" in detail.lower()


# --- /stac -------------------------------------------------------------------------------


def test_stac_assets_lists_only_rasters(client, stac_item):
    resp = client.get("/stac/assets", params={"url": stac_item})
    assert resp.status_code == 200, resp.text
    assert sorted(resp.json()) == ["B02", "B03", "B04"]


def test_stac_true_colour_tile(client, stac_item):
    t = centre_tile()
    resp = client.get(
        f"/stac/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
        params=[
            ("url", stac_item),
            ("assets", "B04"),
            ("assets", "B03"),
            ("assets", "B02"),
            ("rescale", "0,6000"),
        ],
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    arr = decode(resp.content)
    assert arr.dtype == np.uint8 and arr.shape == (4, 256, 256)  # R, G, B, alpha
    red, green, blue, alpha = arr
    assert (alpha == 255).all()
    # B04 grows to the east (columns), B03 to the south (rows), B02 is constant
    assert red.min() != red.max() and green.min() != green.max()
    assert np.unique(blue).tolist() == [round(1000 / 6000 * 255)]
    assert (np.diff(red.astype(int), axis=1) >= 0).all()
    assert (np.diff(green.astype(int), axis=0) >= 0).all()


def test_stac_expression_over_assets(client, stac_item):
    row, col = 40, 70
    lon, lat = lonlat_of_pixel(row, col)
    resp = client.get(
        f"/stac/point/{lon},{lat}",
        params=[("url", stac_item), ("assets", "B04"), ("assets", "B03"), ("expression", "b1-b2")],
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["values"] == [(100 + col * 10) - (100 + row * 10)]


def test_stac_unknown_asset_is_404_json(client, stac_item):
    t = centre_tile()
    resp = client.get(
        f"/stac/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
        params=[("url", stac_item), ("assets", "B99")],
    )
    detail = assert_json_error(resp, 404)
    assert "B99" in detail


# --- proxy prefix ------------------------------------------------------------------------


def test_root_path_prefix(monkeypatch, cog, data_dir):
    monkeypatch.setenv(tiles.ROOT_PATH_ENV, "/services/tiles")
    monkeypatch.setenv(tiles.ALLOWED_URLS_ENV, f"{data_dir}/")
    with TestClient(tiles.create_app()) as c:
        # a proxy that strips the prefix
        tj = c.get("/cog/WebMercatorQuad/tilejson.json", params={"url": cog}).json()
        assert tj["tiles"][0].startswith(
            "http://testserver/services/tiles/cog/tiles/WebMercatorQuad/{z}/{x}/{y}?"
        )
        # a proxy that keeps it (configurable-http-proxy's default)
        assert c.get("/services/tiles/healthz").json() == {"status": "ok"}


def test_allowed_urls_limit_what_the_tiler_reads(monkeypatch, tmp_path):
    monkeypatch.setenv(tiles.ALLOWED_URLS_ENV, f"{tmp_path}/,http://127.0.0.1:9/")
    client = TestClient(tiles.create_app())
    refused = client.get("/cog/info", params={"url": "/etc/passwd"})
    assert refused.status_code == 403 and "only reads data under" in refused.json()["detail"]
    allowed = client.get("/cog/info", params={"url": f"{tmp_path}/missing.tif"})
    assert allowed.status_code == 404
    assert client.get("/healthz").status_code == 200


def test_nothing_is_read_when_no_prefix_is_allowed(monkeypatch, cog):
    monkeypatch.delenv(tiles.ALLOWED_URLS_ENV, raising=False)
    client = TestClient(tiles.create_app())
    assert client.get("/cog/info", params={"url": cog}).status_code == 403


# --- per-request work (bench/tiles.py measures the time) -----------------------------------


def test_a_tile_request_hands_only_the_rendering_to_the_thread_pool(client, cog, monkeypatch):
    """Parameter parsing and the guard's check run on the event loop: one thread-pool hand-over
    per tile (there were eleven, each a wake-up of a thread and of the loop)."""
    import anyio.to_thread

    ran: list[str] = []
    original = anyio.to_thread.run_sync

    async def counting(func, *args, **kwargs):
        inner = getattr(func, "func", func)  # FastAPI hands over functools.partials
        ran.append(getattr(inner, "__name__", repr(inner)))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    t = centre_tile()
    resp = client.get(f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
                      params={"url": cog, "rescale": "100,4000", "colormap_name": "viridis"})
    assert resp.status_code == 200, resp.text
    assert ran == ["_run_sync_endpoint"]
    # the guard still answers before anything is read
    resp = client.get(f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
                      params={"url": "/etc/hostname"})
    assert_json_error(resp, 403)
    resp = client.get(f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
                      params={"url": cog, "tilesize": "4096"})
    assert_json_error(resp, 400)


def test_the_guards_tile_matrix_sets_are_built_once(monkeypatch):
    import attr

    from eopde.services import tiles_guard

    first = tiles_guard.shared_tms()
    made: list[object] = []
    original = attr.s

    def counting(*args, **kwargs):
        made.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(attr, "s", counting)
    assert tiles_guard.shared_tms() is first
    assert made == []  # no class made per call (that cost ~2 ms per tile)
