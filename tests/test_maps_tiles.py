"""eopde.maps.tiles: browser-facing tile URLs in and out of JupyterHub, their encoding, the
presets, and that the URLs render on the real tile app (titiler) over the demo data."""

from __future__ import annotations

import json
import re
import warnings
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from eopde.config import ConfigError
from eopde.maps import tiles
from eopde.maps.items import find_asset
from import_checks import heavy_after
from tiles_helpers import tiles_client

# rio-tiler warns about every asset whose raster:bands carry no statistics (real data too).
pytestmark = pytest.mark.filterwarnings("ignore:Some statistics data in STAC:UserWarning")

ITEM_URL = "http://127.0.0.1:8701/collections/sentinel-2-l2a/items/S2A_X?token=a b&x=1/2"
ENV_VARS = ("EOPDE_TILES_URL", "EOPDE_TILES_PUBLIC_PATH", "JUPYTERHUB_BASE_URL",
            "JUPYTERHUB_SERVICE_PREFIX", "EOPDE_PLATFORM")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No tile configuration from the developer's environment, files or a running platform."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path / "no-platform"))
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "no-platforms.toml"))
    monkeypatch.setattr(tiles, "_server_proxy_installed", lambda: False)


def hub(monkeypatch, base="/", prefix="/user/demo/", public="/services/tiles",
        url="http://127.0.0.1:8711"):
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", base)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", prefix)
    if public is not None:
        monkeypatch.setenv("EOPDE_TILES_PUBLIC_PATH", public)
    if url is not None:
        monkeypatch.setenv("EOPDE_TILES_URL", url)


def l2a_item(offset: float | None = -0.1, keys=("B02", "B03", "B04", "B08"), self_href=ITEM_URL,
             common: bool = True) -> dict:
    """A minimal Sentinel-2 L2A item dict (baseline 04.00 offset unless offset=None)."""
    names = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir"}
    assets = {}
    for band, key in zip(("B02", "B03", "B04", "B08"), keys, strict=True):
        raster = {"nodata": 0, "data_type": "uint16", "scale": 0.0001}
        if offset is not None:
            raster["offset"] = offset
        asset = {"href": f"/data/{band}.tif", "raster:bands": [raster]}
        if common:
            asset["eo:bands"] = [{"name": band, "common_name": names[band]}]
        assets[key] = asset
    assets["SCL"] = {
        "href": "/data/SCL.tif",
        "raster:bands": [{"nodata": 0, "data_type": "uint8"}],
        "classification:classes": [
            {"value": 0, "name": "no_data", "color_hint": "000000", "nodata": True},
            {"value": 4, "name": "vegetation", "color_hint": "00A000"},
            {"value": 6, "name": "water", "color_hint": "0000FF"},
        ],
    }
    links = [{"rel": "self", "href": self_href}] if self_href else []
    return {"type": "Feature", "stac_version": "1.0.0", "id": "S2A_X", "bbox": [12, 43, 12.1, 43.1],
            "geometry": None, "properties": {"datetime": "2025-07-15T10:00:31Z"}, "links": links,
            "assets": assets}


def split(url: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


# --------------------------------------------------------------------------- where the server is


def test_inside_hub_root_base_url_is_a_path_through_the_hub(monkeypatch):
    hub(monkeypatch, base="/")
    assert tiles.tiles_base() == "/services/tiles"
    assert tiles.tiles_base(browser=False) == "http://127.0.0.1:8711"
    url = tiles.stac_tile_url(l2a_item(), ["B04"])
    assert url.startswith("/services/tiles/stac/tiles/WebMercatorQuad/{z}/{x}/{y}.png?")


def test_inside_hub_with_a_non_root_base_url(monkeypatch):
    hub(monkeypatch, base="/jhub/", prefix="/jhub/user/demo/", public="services/tiles/")
    assert tiles.tiles_base() == "/jhub/services/tiles"
    assert tiles.cog_tile_url("/data/B04.tif").startswith(
        "/jhub/services/tiles/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url=%2Fdata%2FB04.tif")


def test_inside_hub_known_only_by_the_service_prefix(monkeypatch):
    hub(monkeypatch, base="/", prefix="/user/demo/")
    monkeypatch.delenv("JUPYTERHUB_BASE_URL")
    assert tiles.in_hub()
    assert tiles.tiles_base() == "/services/tiles"


def test_outside_hub_the_browser_uses_the_tiles_url(monkeypatch):
    monkeypatch.setenv("EOPDE_TILES_URL", "http://127.0.0.1:8711/")
    monkeypatch.setenv("EOPDE_TILES_PUBLIC_PATH", "/services/tiles")  # no hub: not applicable
    assert not tiles.in_hub()
    assert tiles.tiles_base() == "http://127.0.0.1:8711"
    assert tiles.tiles_base(browser=False) == "http://127.0.0.1:8711"


def test_outside_hub_the_configured_platform_is_used(monkeypatch, tmp_path):
    cfg = tmp_path / "platforms.toml"
    cfg.write_text('default = "eo"\n[platforms.eo]\ntiles_url = "https://tiles.example.org/raster"\n')
    monkeypatch.setenv("EOPDE_CONFIG", str(cfg))
    assert tiles.tiles_base() == "https://tiles.example.org/raster"


def test_nothing_configured_is_a_clear_error():
    with pytest.raises(tiles.TilesConfigError) as err:
        tiles.tiles_base()
    message = str(err.value)
    assert "EOPDE_TILES_URL" in message and "eopde up" in message
    assert isinstance(err.value, ConfigError)
    with pytest.raises(tiles.TilesConfigError):
        tiles.true_color(l2a_item())


def test_hub_without_route_to_a_loopback_tiler_warns(monkeypatch):
    hub(monkeypatch, public=None, url="http://127.0.0.1:8711")
    with pytest.warns(tiles.TilesWarning, match="EOPDE_TILES_PUBLIC_PATH"):
        assert tiles.tiles_base() == "http://127.0.0.1:8711"


def test_hub_without_route_uses_jupyter_server_proxy_when_installed(monkeypatch):
    hub(monkeypatch, prefix="/user/demo/", public=None, url="http://localhost:8711")
    monkeypatch.setattr(tiles, "_server_proxy_installed", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tiles.tiles_base() == "/user/demo/proxy/8711"


def test_hub_with_a_public_tiler_uses_it_as_is(monkeypatch):
    hub(monkeypatch, public=None, url="https://tiles.example.org")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tiles.tiles_base() == "https://tiles.example.org"


def test_public_path_may_be_a_full_url(monkeypatch):
    hub(monkeypatch, public="https://eo.example.org/tiles/")
    assert tiles.tiles_base() == "https://eo.example.org/tiles"


# --------------------------------------------------------------------------- URL encoding


def test_query_parameters_are_encoded(monkeypatch):
    hub(monkeypatch)
    url = tiles.stac_tile_url(l2a_item(), ["B08", "B04"], expression="(b1-b2)/(b1+b2)",
                              rescale=(-1, 1), colormap_name="rdylgn")
    path, query = split(url)
    assert path == "/services/tiles/stac/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
    assert query == [("url", ITEM_URL), ("assets", "B08"), ("assets", "B04"),
                     ("expression", "(b1-b2)/(b1+b2)"), ("rescale", "-1,1"),
                     ("colormap_name", "rdylgn")]
    raw = urlsplit(url).query
    assert "%2B" in raw and "+" not in raw  # a bare "+" would reach titiler as a space
    assert "url=http%3A%2F%2F127.0.0.1%3A8701%2F" in raw
    assert "%26x%3D1%2F2" in raw  # the item URL's own query stays inside url=
    # Leaflet fills {placeholders}: only z, x, y may appear
    assert re.findall(r"\{[^}]*\}", url) == ["{z}", "{x}", "{y}"]


def test_rescale_forms(monkeypatch):
    hub(monkeypatch)
    item = l2a_item()
    q = dict(split(tiles.stac_tile_url(item, "B04", rescale="0,3000"))[1])
    assert q["rescale"] == "0,3000"
    _, query = split(tiles.stac_tile_url(item, ["B04", "B03"], rescale=[(0, 1), (2.5, 3)]))
    assert [v for k, v in query if k == "rescale"] == ["0,1", "2.5,3"]


def test_cog_url_bands_and_other_options(monkeypatch):
    hub(monkeypatch)
    url = tiles.cog_tile_url("http://127.0.0.1:8702/a b.tif", bidx=[3, 2, 1], rescale=(0, 255),
                             nodata=0, resampling="bilinear", tms="WorldCRS84Quad")
    path, query = split(url)
    assert path == "/services/tiles/cog/tiles/WorldCRS84Quad/{z}/{x}/{y}.png"
    assert query == [("url", "http://127.0.0.1:8702/a b.tif"), ("bidx", "3"), ("bidx", "2"),
                     ("bidx", "1"), ("rescale", "0,255"), ("nodata", "0"),
                     ("resampling", "bilinear")]


def test_item_without_self_link(monkeypatch):
    hub(monkeypatch)
    with pytest.raises(tiles.TilesConfigError, match="no self link"):
        tiles.true_color(l2a_item(self_href=None))
    url = tiles.true_color(l2a_item(self_href=None), item_url="http://x/item.json")
    assert dict(split(url)[1])["url"] == "http://x/item.json"


def test_pystac_item_uses_its_self_href(monkeypatch):
    import pystac

    hub(monkeypatch)
    data = l2a_item(self_href=None)
    data["geometry"] = {"type": "Polygon", "coordinates": [[[12, 43], [12.1, 43], [12.1, 43.1],
                                                            [12, 43]]]}
    item = pystac.Item.from_dict(data)
    item.set_self_href("http://127.0.0.1:8701/collections/c/items/S2A_X")
    query = dict(split(tiles.ndvi(item))[1])
    assert query["url"] == "http://127.0.0.1:8701/collections/c/items/S2A_X"
    assert query["expression"] == "((b1-1000)-(b2-1000))/((b1-1000)+(b2-1000))"


# --------------------------------------------------------------------------- presets


def test_true_color_preset(monkeypatch):
    hub(monkeypatch)
    path, query = split(tiles.true_color(l2a_item()))
    assert path.endswith(".png")
    assert [v for k, v in query if k == "assets"] == ["B04", "B03", "B02"]
    assert dict(query)["rescale"] == "1000,3500"  # reflectance 0..0.25 with the -0.1 offset
    # no BOA offset (older baselines): DN = reflectance * 10000
    assert dict(split(tiles.true_color(l2a_item(offset=None)))[1])["rescale"] == "0,2500"


def test_ndvi_preset_removes_the_offset(monkeypatch):
    hub(monkeypatch)
    query = split(tiles.ndvi(l2a_item()))[1]
    assert [v for k, v in query if k == "assets"] == ["B08", "B04"]
    q = dict(query)
    assert q["expression"] == "((b1-1000)-(b2-1000))/((b1-1000)+(b2-1000))"
    assert q["rescale"] == "-1,1" and q["colormap_name"] == "rdylgn"
    assert dict(split(tiles.ndvi(l2a_item(offset=None)))[1])["expression"] == "(b1-b2)/(b1+b2)"


def test_presets_find_assets_keyed_by_common_name(monkeypatch):
    hub(monkeypatch)
    item = l2a_item(keys=("blue", "green", "red", "nir"))
    assert [v for k, v in split(tiles.true_color(item))[1] if k == "assets"] == \
        ["red", "green", "blue"]
    # or only described by eo:bands common names
    item = l2a_item(keys=("b2", "b3", "b4", "b8x"))
    assert find_asset(item, "B08") == "b8x"
    assert [v for k, v in split(tiles.ndvi(item))[1] if k == "assets"] == ["b8x", "b4"]


def test_single_band_and_classes(monkeypatch):
    hub(monkeypatch)
    q = dict(split(tiles.single_band(l2a_item(), "B08", "viridis"))[1])
    assert q["assets"] == "B08" and q["colormap_name"] == "viridis"
    assert q["rescale"] == "1000,6000"  # reflectance 0..0.5
    q = dict(split(tiles.preset_url(l2a_item(), "SCL"))[1])
    assert "rescale" not in q and "colormap_name" not in q
    assert json.loads(q["colormap"]) == {"0": [0, 0, 0, 0], "4": [0, 160, 0, 255],
                                         "6": [0, 0, 255, 255]}
    with pytest.raises(tiles.TilesConfigError, match=r"no asset for band 'B11'.*B02, B03"):
        tiles.preset_url(l2a_item(), "B11")


def test_import_is_light():
    assert heavy_after("import eopde.maps, eopde.maps.tiles, eopde.maps.footprints",
                       ("ipyleaflet", "ipywidgets", "shapely", "pystac", "numpy")) == []


# --------------------------------------------------------------------------- rendering


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """Demo scenes, with item JSON files (absolute asset paths, a self link) the tiler reads."""
    from eopde.services import demodata

    dest = tmp_path_factory.mktemp("demodata")
    demodata.generate(dest)
    items = {}
    for item in demodata.items(dest, str(dest)):  # asset hrefs: absolute paths
        path = dest / f"{item['id']}.json"
        item["links"].append({"rel": "self", "href": str(path), "type": "application/geo+json"})
        path.write_text(json.dumps(item))
        items[item["id"]] = item
    return {"dest": dest, "items": items}


@pytest.fixture(scope="module")
def app_client(demo):
    """The tile app as the hub runs it: under /services/tiles (the proxy keeps the prefix),
    allowed to read the demo folder."""
    with tiles_client(f"{demo['dest']}/", root_path="/services/tiles") as client:
        yield client


@pytest.fixture
def in_hub(monkeypatch):
    hub(monkeypatch)


SUMMER = "S2A_33TTH_20250715_0_L2A"  # Trasimeno, almost cloud free: lake, fields, town


def centre_tile(item: dict, zoom: int = 12):
    import morecantile

    c = item["properties"]["proj:centroid"]
    return morecantile.tms.get("WebMercatorQuad").tile(c["lon"], c["lat"], zoom)


def fetch_tile(client, template: str, tile) -> np.ndarray:
    from rasterio.io import MemoryFile

    url = template.replace("{z}", str(tile.z)).replace("{x}", str(tile.x)) \
        .replace("{y}", str(tile.y))
    assert url.startswith("/services/tiles/")
    resp = client.get(url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    assert resp.content[:8] == b"\x89PNG\r\n\x1a\n"
    with MemoryFile(resp.content) as mem, mem.open() as ds:
        return ds.read()


@pytest.mark.parametrize("zoom", [12, 14])
def test_true_color_tile_renders(demo, app_client, in_hub, zoom):
    item = demo["items"][SUMMER]
    arr = fetch_tile(app_client, tiles.true_color(item), centre_tile(item, zoom))
    assert arr.shape == (4, 256, 256) and arr.dtype == np.uint8
    rgb, alpha = arr[:3], arr[3]
    inside = alpha == 255
    assert inside.mean() > 0.3  # the 6 km scene covers much of the tile
    pixels = rgb[:, inside].T
    assert len(np.unique(pixels, axis=0)) > 100  # an image, not a flat tile
    mean = pixels.mean()
    assert 25 < mean < 200, mean  # neither black nor washed out with the 1000..3500 rescale


def test_ndvi_tile_renders_with_the_colormap(demo, app_client, in_hub):
    from rio_tiler.colormap import cmap

    item = demo["items"][SUMMER]
    arr = fetch_tile(app_client, tiles.ndvi(item), centre_tile(item, 13))
    assert arr.shape == (4, 256, 256)
    inside = arr[3] == 255
    assert inside.mean() > 0.3
    colours = {tuple(p) for p in np.unique(arr[:3, inside].T, axis=0)}
    rdylgn = {tuple(v[:3]) for v in cmap.get("rdylgn").values()}
    assert colours <= rdylgn
    assert len(colours) > 30


def test_scl_tile_uses_the_class_colours(demo, app_client, in_hub):
    item = demo["items"][SUMMER]
    arr = fetch_tile(app_client, tiles.preset_url(item, "SCL"), centre_tile(item, 12))
    inside = arr[3] == 255
    colours = {tuple(int(v) for v in p) for p in np.unique(arr[:3, inside].T, axis=0)}
    expected = {tuple(int(c["color_hint"][i:i + 2], 16) for i in (0, 2, 4))
                for c in item["assets"]["SCL"]["classification:classes"]}
    assert colours <= expected
    assert (0, 0, 255) in colours and (0, 160, 0) in colours  # water and vegetation


def _pixel_of_class(item: dict, code: int) -> tuple[float, float, float]:
    import rasterio
    from rasterio.warp import transform as warp_transform

    with rasterio.open(item["assets"]["SCL"]["href"]) as scl_ds:
        scl = scl_ds.read(1)
    # a 20 m pixel whose 5 x 5 neighbourhood is all of the class (no mixed pixels at edges)
    ok = scl == code
    core = ok.copy()
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            core &= np.roll(np.roll(ok, dy, axis=0), dx, axis=1)
    rows, cols = np.nonzero(core[3:-3, 3:-3])
    assert len(rows), f"no clean pixel of class {code}"
    r20, c20 = rows[len(rows) // 2] + 3, cols[len(cols) // 2] + 3
    r10, c10 = r20 * 2, c20 * 2  # the upper-left 10 m pixel of the 20 m one
    values = {}
    for band in ("B04", "B08"):
        with rasterio.open(item["assets"][band]["href"]) as ds:
            values[band] = float(ds.read(1)[r10, c10]) * 0.0001 - 0.1
            x, y = ds.transform * (c10 + 0.5, r10 + 0.5)
            crs = ds.crs
    lon, lat = (v[0] for v in warp_transform(crs, "EPSG:4326", [x], [y]))
    ndvi = (values["B08"] - values["B04"]) / (values["B08"] + values["B04"])
    return lon, lat, ndvi


def test_ndvi_expression_is_the_reflectance_ndvi(demo, app_client, monkeypatch):
    """Water is negative and vegetation high, and the values equal the NDVI of the
    reflectances (DN * 0.0001 - 0.1): the offset is handled, not ignored."""
    monkeypatch.setenv("EOPDE_TILES_URL", "http://127.0.0.1:8711")  # the kernel's URL
    item = demo["items"][SUMMER]
    assets, expression = tiles.normalized_difference(item, "B08", "B04")
    found = {}
    for name, code in (("water", 6), ("vegetation", 4)):
        lon, lat, expected = _pixel_of_class(item, code)
        url = tiles.stac_point_url(item, lon, lat, assets, expression=expression)
        assert url.startswith("http://127.0.0.1:8711/stac/point/")
        resp = app_client.get(url)
        assert resp.status_code == 200, resp.text
        (value,) = resp.json()["values"]
        assert value == pytest.approx(expected, abs=1e-6), name
        found[name] = value
    assert found["water"] < 0 < 0.5 < found["vegetation"]
    # the naive expression on digital numbers would be wrong (water would look like land)
    lon, lat, _ = _pixel_of_class(item, 6)
    naive = app_client.get(tiles.stac_point_url(item, lon, lat, assets,
                                                expression="(b1-b2)/(b1+b2)")).json()["values"][0]
    assert naive > -0.1 > found["water"]


def test_tile_url_through_a_real_server(demo, in_hub, monkeypatch):
    """The same URL over HTTP through a prefix-keeping proxy path, as a browser would ask."""
    import socket
    import threading
    import time
    import urllib.request

    import uvicorn

    from eopde.services import tiles as service

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(service.ROOT_PATH_ENV, "/services/tiles")
    monkeypatch.setenv(service.ALLOWED_URLS_ENV, f"{demo['dest']}/")
    server = uvicorn.Server(uvicorn.Config(service.create_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        item = demo["items"][SUMMER]
        tile = centre_tile(item, 13)
        path = tiles.true_color(item).replace("{z}", str(tile.z)).replace("{x}", str(tile.x)) \
            .replace("{y}", str(tile.y))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as resp:
            assert resp.status == 200
            assert resp.headers["content-type"] == "image/png"
            assert len(resp.read()) > 10_000
    finally:
        server.should_exit = True
        thread.join(timeout=10)
