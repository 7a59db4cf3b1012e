"""The tile server reads only the platform's public data, in bounded amounts (issue 8: items 2,
10, the tiles part of 13 and the tiler-cache part of 14).

The attacker (`mallory`) puts items into the catalogue whose asset hrefs point at local files,
the platform's secrets, internal ports, or a VRT wrapping a local file; then anyone asks the tile
server, through the hub's public port and without a login, to render them. Each must be refused
with a 4xx JSON answer that carries nothing of what the href points at.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tiles_helpers import raw_file_vrt

pytestmark = pytest.mark.platform

TILES = "/services/tiles"

@pytest.fixture(scope="module")
def demo_item(platform) -> dict:
    """One demo item (public data served by the platform's data server)."""
    resp = httpx.get(f"{platform.url('catalogue')}/collections/sentinel-2-l2a/items",
                     params={"limit": 1}, timeout=30)
    resp.raise_for_status()
    return resp.json()["features"][0]


@pytest.fixture(scope="module")
def collection(platform, mallory):
    """A collection of mallory's own, where her items go."""
    cid = f"mallory-tiles-{uuid.uuid4().hex[:8]}"
    body = {
        "type": "Collection", "stac_version": "1.0.0", "id": cid, "description": "attack",
        "license": "proprietary", "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [[None, None]]}},
    }
    with mallory.client() as client:
        resp = client.post(f"{platform.url('catalogue')}/collections", json=body)
    assert resp.status_code == 201, resp.text
    yield cid
    # Leave the catalogue as found: later tests count what a search over everything returns.
    with mallory.client() as client:
        gone = client.delete(f"{platform.url('catalogue')}/collections/{cid}")
    assert gone.status_code == 200, gone.text


def put_item(platform, mallory, collection: str, demo_item: dict, href: str,
             media_type: str = "image/tiff; application=geotiff; profile=cloud-optimized") -> str:
    """Mallory's item, shaped like a demo item, whose only asset `data` points at `href`."""
    iid = f"evil-{uuid.uuid4().hex[:8]}"
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": collection,
        "bbox": demo_item["bbox"], "geometry": demo_item["geometry"],
        "properties": {"datetime": demo_item["properties"]["datetime"]}, "links": [],
        "assets": {"data": {"href": href, "type": media_type, "roles": ["data"]}},
    }
    with mallory.client() as client:
        resp = client.post(f"{platform.url('catalogue')}/collections/{collection}/items",
                           json=item)
    assert resp.status_code == 201, resp.text
    return f"{platform.url('catalogue')}/collections/{collection}/items/{iid}"


def centre_tile(demo_item: dict, zoom: int = 12):
    import morecantile

    west, south, east, north = demo_item["bbox"]
    return morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2,
                                                       zoom)


def tile_beyond_the_grid(demo_item: dict) -> str:
    """z/x/y of the centre tile at zoom 25, one past WebMercatorQuad's last level (24): morecantile
    extrapolates it and warns, which says the tile is out of range, as the test means it."""
    with pytest.warns(UserWarning, match="TileMatrix not found for level: 25"):
        tile = centre_tile(demo_item, 25)
    return f"{tile.z}/{tile.x}/{tile.y}"


def assert_refused(resp: httpx.Response, status: int, *secrets: str) -> None:
    """A `status` JSON answer that carries no content of what was named."""
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    assert isinstance(resp.json()["detail"], str)
    for secret in ("root:x:0:0", *secrets):
        assert secret not in resp.text


def render_all(anonymous, item_url: str, demo_item: dict) -> list[httpx.Response]:
    """Every kind of read an anonymous visitor can ask for an item's `data` asset."""
    tile = centre_tile(demo_item)
    params = {"url": item_url, "assets": "data"}
    return [
        anonymous.get(f"{TILES}/stac/info", params=params),
        anonymous.get(f"{TILES}/stac/preview.npy", params=params),
        anonymous.get(f"{TILES}/stac/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png",
                      params=params),
        anonymous.get(f"{TILES}/stac/statistics", params=params),
    ]


def _hrefs(platform) -> dict[str, str]:
    settings = platform.settings()
    return {
        "etc-passwd": "file:///etc/passwd",
        "secrets-json": f"file://{settings.secrets_file}",
        "secrets-json-path": str(settings.secrets_file),
        "postgres-port": f"http://127.0.0.1:{settings.port('postgres')}/x.tif",
        "ades-port": f"http://127.0.0.1:{settings.port('ades')}/x.tif",
        "hub-api": f"{platform.hub_url}/hub/api/users/x.tif",
        "vsicurl": f"/vsicurl/http://127.0.0.1:{settings.port('ades')}/x.tif",
        "userinfo-trick": f"{settings.url('data')}@127.0.0.1:{settings.port('ades')}/x.tif",
    }


HREF_NAMES = ["etc-passwd", "secrets-json", "secrets-json-path", "postgres-port", "ades-port",
              "hub-api", "vsicurl", "userinfo-trick"]


@pytest.mark.parametrize("name", HREF_NAMES)
def test_asset_href_outside_the_platform_data_is_refused(platform, mallory, anonymous, canary,
                                                         collection, demo_item, name):
    href = _hrefs(platform)[name]
    item_url = put_item(platform, mallory, collection, demo_item, href)
    for resp in render_all(anonymous, item_url, demo_item):
        # A bare path is relative to the item's URL: it names a (missing) catalogue page.
        assert_refused(resp, 404 if name == "secrets-json-path" else 403, canary,
                       platform.secrets["s3_secret_key"])


def test_local_cog_by_path_is_not_read(platform, mallory, anonymous, collection, demo_item):
    """A real GeoTIFF on the server's disk (here a demo COG, standing for any user's file)."""
    local = next(Path(platform.settings().data_dir).rglob("*.tif"))
    item_url = put_item(platform, mallory, collection, demo_item, f"file://{local}")
    for resp in render_all(anonymous, item_url, demo_item):
        assert_refused(resp, 403)


def test_open_and_closed_ports_answer_alike(platform, mallory, anonymous, collection, demo_item):
    """No port-scan oracle: an open internal port and a closed one give the same answer."""
    settings = platform.settings()
    answers = []
    for port in (settings.port("ades"), 9):  # 9 (discard) is closed on loopback
        item_url = put_item(platform, mallory, collection, demo_item,
                            f"http://127.0.0.1:{port}/x.tif")
        resp = anonymous.get(f"{TILES}/stac/info", params={"url": item_url, "assets": "data"})
        answers.append((resp.status_code, resp.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 403


@contextmanager
def served_by_the_data_server(platform, name: str, content: str) -> Iterator[str]:
    """URL of a file `name` with `content` in a demo item folder, checked served by the data
    server (so a refusal is the tiler's, not a 404 of the data server); removed afterwards."""
    data = Path(platform.settings().data_dir)
    folder = next(p.parent for p in sorted(data.rglob("B04.tif")))
    path = folder / name
    path.write_text(content)
    try:
        href = f"{platform.settings().url('data')}/{folder.relative_to(data).as_posix()}/{name}"
        served = httpx.get(href, timeout=30)
        assert (served.status_code, served.text) == (200, content)
        yield href
    finally:
        path.unlink(missing_ok=True)


def vrt_simple_source(path: str) -> str:
    """A VRT whose band is band 1 of another raster `path` (a local file)."""
    return f"""<VRTDataset rasterXSize="600" rasterYSize="600">
  <SRS>EPSG:32633</SRS><GeoTransform>260000,10,0,4780000,0,-10</GeoTransform>
  <VRTRasterBand dataType="UInt16" band="1">
    <SimpleSource><SourceFilename relativeToVRT="0">{path}</SourceFilename>
      <SourceBand>1</SourceBand></SimpleSource>
  </VRTRasterBand>
</VRTDataset>
"""


@pytest.mark.parametrize("target", ["etc-passwd", "secrets-json", "local-cog"])
def test_vrt_on_the_data_server_wrapping_a_local_file_is_refused(
        platform, mallory, anonymous, canary, collection, demo_item, target):
    """A VRT served by the platform's own data server (an allowed host), named .tif so that the
    extension filter lets it through, whose band is a local file: raw bytes of /etc/passwd or
    of secrets.json, or a GeoTIFF on the server's disk (standing for a user's private file)."""
    settings = platform.settings()
    if target == "local-cog":
        local = next(Path(settings.data_dir).rglob("B04.tif"))
        content = vrt_simple_source(str(local))
    else:
        path = {"etc-passwd": "/etc/passwd", "secrets-json": str(settings.secrets_file)}[target]
        content = raw_file_vrt(path, "12.0,0.01,0,43.2,0,-0.01")  # over Trasimeno
    with served_by_the_data_server(platform, f"wrap-{uuid.uuid4().hex[:8]}.tif",
                                   content) as href:
        item_url = put_item(platform, mallory, collection, demo_item, href)
        for resp in render_all(anonymous, item_url, demo_item):
            # the data server serves the file; GDAL is told GeoTIFF only, and a VRT is not one
            assert_refused(resp, 404, canary, platform.secrets["s3_secret_key"])
        # and by url= on /cog as well
        for route in ("/cog/info", "/cog/preview.npy"):
            resp = anonymous.get(f"{TILES}{route}", params={"url": href})
            assert_refused(resp, 404, canary, platform.secrets["s3_secret_key"])


def test_item_url_itself_is_checked_exactly(platform, anonymous):
    """`url=` is compared by scheme, host and port, not by string prefix."""
    settings = platform.settings()
    data = settings.url("data")
    # a dot-dot path stays under the data root once normalised: a missing file there (404)
    for url, status in ((f"{data}@127.0.0.1:{settings.port('ades')}/x.tif", 403),  # userinfo
                        (f"{data}/../../../etc/passwd", 404),
                        (f"{data}/%2e%2e/%2e%2e/etc/passwd", 404),
                        ("file:///etc/passwd", 403), (f"/vsicurl/{data}/x.tif", 403),
                        (f"vrt://{data}/x.tif", 403)):
        resp = anonymous.get(f"{TILES}/cog/info", params={"url": url})
        assert_refused(resp, status, "root:x:0:0")


def test_deleted_item_stops_rendering_within_seconds(platform, mallory, anonymous, collection,
                                                     demo_item):
    """The tiler must not keep serving an item from a cache after it was deleted."""
    href = demo_item["assets"]["B04"]["href"]
    item_url = put_item(platform, mallory, collection, demo_item, href)
    tile = centre_tile(demo_item)
    path = f"{TILES}/stac/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png"
    params = {"url": item_url, "assets": "data", "rescale": "0,4000"}
    first = anonymous.get(path, params=params)
    assert first.status_code == 200, first.text
    with mallory.client() as client:
        assert client.delete(item_url).status_code == 200
    time.sleep(3)
    after = anonymous.get(path, params=params)
    assert after.status_code == 404, after.status_code
    assert after.headers["content-type"].startswith("application/json")


def test_huge_preview_is_refused_quickly(platform, anonymous, demo_item):
    href = demo_item["assets"]["B04"]["href"]
    started = time.monotonic()
    resp = anonymous.get(f"{TILES}/cog/preview/8192x8192.png", params={"url": href})
    elapsed = time.monotonic() - started
    assert_refused(resp, 400)
    assert elapsed < 1.0, elapsed


@pytest.mark.parametrize("path,params", [
    ("/cog/preview.png", {"max_size": "100000"}),
    ("/cog/preview.png", {"width": "4096", "height": "16"}),
    ("/cog/bbox/{bbox}/5000x5000.png", {}),
    ("/cog/tiles/WebMercatorQuad/{tile}.png", {"tilesize": "4096"}),
    ("/cog/tiles/WebMercatorQuad/-1/0/0.png", {}),
    ("/cog/tiles/WebMercatorQuad/99999/0/0.png", {}),
    ("/cog/tiles/WebMercatorQuad/{tile25}.png", {}),
    ("/cog/statistics", {"histogram_bins": "100000000"}),
    ("/cog/tiles/WebMercatorQuad/{tile}.png", {"expression": "+".join(["b1"] * 2000)}),
    ("/cog/tiles/WebMercatorQuad/{tile}.png", {"bidx": "7"}),
])
def test_oversized_or_out_of_range_parameters_are_4xx_json(platform, anonymous, demo_item, path,
                                                            params):
    href = demo_item["assets"]["B04"]["href"]
    t12 = centre_tile(demo_item)
    path = path.format(bbox=",".join(map(str, demo_item["bbox"])),
                       tile=f"{t12.z}/{t12.x}/{t12.y}",
                       tile25=tile_beyond_the_grid(demo_item) if "{tile25}" in path else "")
    resp = anonymous.get(f"{TILES}{path}", params={"url": href, **params})
    assert_refused(resp, 400)


def test_too_many_assets_is_400(platform, anonymous, demo_item):
    item_url = next(link["href"] for link in demo_item["links"] if link["rel"] == "self")
    resp = anonymous.get(f"{TILES}/stac/info",
                         params=[("url", item_url)] + [("assets", "B04")] * 50)
    assert_refused(resp, 400)


def test_basemap_reads_nothing_a_request_names(platform, anonymous, canary):
    """The offline basemap takes z/x/y only: parameters naming files change nothing, tiles
    outside the grid and other paths are 4xx JSON."""
    plain = anonymous.get(f"{TILES}/basemap/3/4/2.png")
    assert plain.status_code == 200 and plain.headers["content-type"] == "image/png"
    for params in ({"url": "file:///etc/passwd"}, {"path": "/etc/passwd"},
                   {"url": "/vsicurl/http://127.0.0.1:22/"}):
        resp = anonymous.get(f"{TILES}/basemap/3/4/2.png", params=params)
        assert resp.status_code == 200 and resp.content == plain.content
    for path, status in (("/basemap/19/0/0.png", 404), ("/basemap/3/9/0.png", 404),
                         ("/basemap/..%2f..%2fetc/passwd", 404),
                         ("/basemap/3/4/2.png%00.tif", 404), ("/basemap/a/b/c.png", 400)):
        assert_refused(anonymous.get(f"{TILES}{path}"), status, canary)
