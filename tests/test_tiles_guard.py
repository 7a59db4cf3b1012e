"""The tile server's href checks and limits (eopde.services.tiles_guard), without a platform."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from eopde.services import tiles_guard as guard
from eopde.services.tiles_guard import Allowlist, ForbiddenURL
from tiles_helpers import raw_file_vrt, tiles_client

DATA = "http://127.0.0.1:8715/"
CAT = "http://127.0.0.1:8712/"


@pytest.fixture
def allow() -> Allowlist:
    return Allowlist([CAT, DATA])


# --- hrefs --------------------------------------------------------------------------------


@pytest.mark.parametrize("href,expected", [
    ("http://127.0.0.1:8715/S2/B04.tif", "http://127.0.0.1:8715/S2/B04.tif"),
    ("HTTP://127.0.0.1:8715/S2/B04.tif", "http://127.0.0.1:8715/S2/B04.tif"),
    ("http://127.0.0.1:8712/collections/c/items/i", "http://127.0.0.1:8712/collections/c/items/i"),
    ("http://127.0.0.1:8712/search?ids=a", "http://127.0.0.1:8712/search?ids=a"),
    ("http://127.0.0.1:8715/a/../b.tif", "http://127.0.0.1:8715/b.tif"),
    ("http://127.0.0.1:8715/a%20b.tif", "http://127.0.0.1:8715/a%20b.tif"),
    ("http://127.0.0.1:8712/collections/vsi-x/items/y",
     "http://127.0.0.1:8712/collections/vsi-x/items/y"),
])
def test_allowed_hrefs_are_canonicalised(allow, href, expected):
    assert allow.check(href) == expected


@pytest.mark.parametrize("href", [
    "",
    "/etc/passwd",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "etc/passwd",
    "../secrets.json",
    "s3://alice/result.tif",
    "ftp://127.0.0.1:8715/x.tif",
    "/vsicurl/http://127.0.0.1:8715/x.tif",
    "/VSICURL/http://127.0.0.1:8715/x.tif",
    "/vsis3/alice/x.tif",
    "vrt:///etc/passwd",
    "vrt://http://127.0.0.1:8715/x.tif",
    "GTIFF_DIR:1:/etc/passwd",
    "http://127.0.0.1:871/x.tif",  # a prefix of the allowed port as a string
    "http://127.0.0.1:87150/x.tif",
    "http://127.0.0.1:8715.evil.org/x.tif",
    "http://127.0.0.1:8715@10.0.0.1:5432/x.tif",  # userinfo: the host is 10.0.0.1
    "http://user:pw@127.0.0.1:8715/x.tif",
    "http://localhost:8715/x.tif",  # same machine, other name: refused (exact hosts only)
    "http://127.0.0.1:5432/x.tif",
    "http://127.0.0.1/x.tif",
    "https://127.0.0.1:8715/x.tif",
    "http://127.0.0.1:8715/x.tif\n",
    "http://127.0.0.1:8715/x\x00.tif",
    "http://127.0.0.1:8715/a%5c..%5c..%5cx.tif",
    "http://127.0.0.1:notaport/x.tif",
])
def test_other_hrefs_are_refused(allow, href):
    with pytest.raises(ForbiddenURL):
        allow.check(href)


def test_path_prefix_is_compared_by_segment_after_decoding():
    allow = Allowlist(["http://127.0.0.1:8715/public/"])
    assert allow.check("http://127.0.0.1:8715/public/x.tif")
    for href in ("http://127.0.0.1:8715/public/../private/x.tif",
                 "http://127.0.0.1:8715/public/%2e%2e/private/x.tif",
                 "http://127.0.0.1:8715/publicity/x.tif",
                 "http://127.0.0.1:8715/private/x.tif"):
        with pytest.raises(ForbiddenURL):
            allow.check(href)


def test_local_folders_resolve_links_and_dots(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret.tif").write_bytes(b"x")
    (inside / "link.tif").symlink_to(outside / "secret.tif")
    allow = Allowlist([f"{inside}/"])
    assert allow.check(f"{inside}/a.tif") == str(inside / "a.tif")
    assert allow.check(f"file://{inside}/a.tif") == str(inside / "a.tif")
    for href in (f"{inside}/../out/secret.tif", f"{inside}/link.tif", f"{tmp_path}/in2/x.tif"):
        with pytest.raises(ForbiddenURL):
            allow.check(href)


def test_no_prefix_allows_nothing():
    with pytest.raises(ForbiddenURL, match="EOPDE_TILES_ALLOWED_URLS"):
        Allowlist([]).check(DATA + "x.tif")


def test_unsupported_prefix_is_a_configuration_error():
    with pytest.raises(ValueError):
        Allowlist(["s3://bucket/"])


# --- through the app ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from rasterio.transform import from_origin

    d = tmp_path_factory.mktemp("guard")
    profile = {"driver": "COG", "width": 512, "height": 512, "count": 1, "dtype": "uint16",
               "crs": "EPSG:32633", "transform": from_origin(500_000, 5_500_000, 10, 10)}
    with rasterio.open(d / "cog.tif", "w", **profile) as dst:
        dst.write(np.arange(512 * 512, dtype="uint16").reshape(512, 512), 1)
    secret = tmp_path_factory.mktemp("secret") / "secrets.json"
    secret.write_text("x" * 64 + '{"service_token": "CANARY-TOKEN"}' + "x" * 1024)
    # A VRT named .tif (the extension filter lets it through) wrapping a file outside `d`.
    (d / "wrap.tif").write_text(raw_file_vrt(str(secret), "0,0.1,0,1.6,0,-0.1"))
    (d / "wrap.vrt").write_text(raw_file_vrt(str(secret), "0,0.1,0,1.6,0,-0.1"))
    return d


def item(d: Path, name: str, href: str) -> str:
    body = {
        "type": "Feature", "stac_version": "1.0.0", "id": name,
        "bbox": [14.9, 49.5, 15.0, 49.6],
        "geometry": {"type": "Polygon", "coordinates": [[[14.9, 49.5], [15.0, 49.5],
                                                         [15.0, 49.6], [14.9, 49.6],
                                                         [14.9, 49.5]]]},
        "properties": {"datetime": "2024-06-01T10:00:00Z"}, "links": [],
        "assets": {"data": {"href": href, "roles": ["data"],
                            "type": "image/tiff; application=geotiff; profile=cloud-optimized"}},
    }
    path = d / f"{name}.json"
    path.write_text(json.dumps(body))
    return str(path)


@pytest.fixture(scope="module")
def client(data):
    with tiles_client(f"{data}/", DATA) as c:
        yield c


def refused(resp, status: int | None = None) -> str:
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:200])
    if status:
        assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert "CANARY" not in resp.text
    return resp.json()["detail"]


@pytest.mark.parametrize("name", ["wrap.tif", "wrap.vrt"])
def test_a_vrt_inside_the_allowed_folder_cannot_pull_in_another_file(client, data, name):
    for route in ("/cog/info", "/cog/preview.npy"):
        refused(client.get(route, params={"url": str(data / name)}), 404)


@pytest.mark.parametrize("href", ["/etc/passwd", "file:///etc/passwd", "vrt:///etc/passwd",
                                  "http://127.0.0.1:9/x.tif", "s3://alice/x.tif"])
def test_stac_asset_hrefs_are_checked(client, data, href):
    url = item(data, "evil", href)
    for route in ("/stac/info", "/stac/preview.npy", "/stac/statistics"):
        detail = refused(client.get(route, params={"url": url, "assets": "data"}), 403)
        assert "'data' points outside" in detail


def test_stac_asset_relative_href_cannot_climb_out(client, data):
    url = item(data, "climb", "../../../../etc/passwd")
    refused(client.get("/stac/info", params={"url": url, "assets": "data"}), 403)


def test_stac_item_with_an_allowed_asset_renders(client, data):
    url = item(data, "good", str(data / "cog.tif"))
    resp = client.get("/stac/preview.png", params={"url": url, "assets": "data"})
    assert resp.status_code == 200, resp.text


def test_deleted_item_is_forgotten_within_seconds(client, data):
    url = item(data, "gone", str(data / "cog.tif"))
    params = {"url": url, "assets": "data"}
    assert client.get("/stac/info", params=params).status_code == 200
    Path(url).unlink()
    time.sleep(guard.ITEM_CACHE_SECONDS + 0.2)
    refused(client.get("/stac/info", params=params), 404)


@pytest.mark.parametrize("path,params,status", [
    ("/cog/preview/8192x8192.png", {}, 400),
    ("/cog/preview.png", {"max_size": "4096"}, 400),
    ("/cog/preview.png", {"width": "3000", "height": "10"}, 400),
    ("/cog/bbox/14,49,16,50/4096x10.png", {}, 400),
    ("/cog/statistics", {"max_size": "100000"}, 400),
    ("/cog/statistics", {"histogram_bins": "100000000"}, 400),
    ("/cog/statistics", {"histogram_bins": ",".join(["1"] * 2000)}, 400),
    ("/cog/tiles/WebMercatorQuad/10/0/0.png", {"tilesize": "4096"}, 400),
    ("/cog/tiles/WebMercatorQuad/10/0/0.png", {"buffer": "1000"}, 400),
    ("/cog/tiles/WebMercatorQuad/-1/0/0.png", {}, 400),
    ("/cog/tiles/WebMercatorQuad/25/0/0.png", {}, 400),
    ("/cog/tiles/WebMercatorQuad/99999/0/0.png", {}, 400),
    ("/cog/tiles/WorldCRS84Quad/30/0/0.png", {}, 400),
    ("/cog/tiles/WebMercatorQuad/3/8/0.png", {}, 404),
    ("/cog/tiles/WebMercatorQuad/3/-1/0.png", {}, 404),
    ("/cog/WebMercatorQuad/tilejson.json", {"maxzoom": "99"}, 400),
    ("/cog/tiles/WebMercatorQuad/3/4/2.png", {"expression": "b1+" * 200 + "b1"}, 400),
    ("/cog/tiles/WebMercatorQuad/3/4/2.png", {"bidx": "2"}, 400),
    ("/cog/tiles/WebMercatorQuad/3/4/2.png", {"expression": "b9/b1"}, 400),
    ("/cog/point/0,0", {}, 404),
])
def test_limits_answer_4xx_json(client, data, path, params, status):
    refused(client.get(path, params={"url": str(data / "cog.tif"), **params}), status)


def test_huge_preview_is_refused_before_any_reading(client, data):
    started = time.monotonic()
    refused(client.get("/cog/preview/8192x8192.png", params={"url": str(data / "cog.tif")}), 400)
    assert time.monotonic() - started < 0.5


def test_bbox_without_a_size_is_read_at_most_max_image_size(data, monkeypatch):
    from eopde.services.tiles_guard import reader_classes

    cog_reader, _ = reader_classes(Allowlist([f"{data}/"]))
    monkeypatch.setattr(guard, "MAX_IMAGE_SIZE", 100)
    with cog_reader(str(data / "cog.tif")) as src:
        img = src.part(src.bounds, dst_crs=src.crs, bounds_crs=src.crs)
    assert max(img.width, img.height) == 100


def test_too_many_assets(client, data):
    url = item(data, "many", str(data / "cog.tif"))
    resp = client.get("/stac/info", params=[("url", url)] + [("assets", "data")] * 20)
    refused(resp, 400)


def test_large_request_bodies_are_413(client, data):
    resp = client.post("/cog/feature", params={"url": str(data / "cog.tif")},
                       content=b"{" + b" " * (guard.MAX_BODY_BYTES + 1) + b"}",
                       headers={"content-type": "application/json"})
    refused(resp, 413)


def test_items_with_too_many_assets_are_refused(client, data):
    url = item(data, "wide", str(data / "cog.tif"))
    body = json.loads(Path(url).read_text())
    asset = body["assets"]["data"]
    body["assets"] = {f"a{i}": dict(asset) for i in range(guard.MAX_ITEM_ASSETS + 1)}
    Path(url).write_text(json.dumps(body))
    refused(client.get("/stac/assets", params={"url": url}), 400)


# --------------------------------------------------------------------------- open datasets


def test_open_datasets_are_kept_per_thread_for_seconds(monkeypatch):
    import threading

    class Dataset:
        closed = False

        def close(self):
            self.closed = True

    opened: list[str] = []

    def opener(href):
        opened.append(href)
        return Dataset()

    now = [100.0]
    monkeypatch.setattr(guard.time, "monotonic", lambda: now[0])
    cache = guard._OpenDatasets()
    first = cache.get("/d/a.tif", opener)
    assert cache.get("/d/a.tif", opener) is first and opened == ["/d/a.tif"]
    now[0] += guard.DATASET_CACHE_SECONDS  # opened that long ago: opened again, old one closed
    second = cache.get("/d/a.tif", opener)
    assert second is not first and first.closed and opened == ["/d/a.tif"] * 2
    for n in range(guard.DATASETS_PER_THREAD):  # at most this many open: the oldest goes
        now[0] += 0.01
        cache.get(f"/d/{n}.tif", opener)
    assert second.closed and len(cache.entries) == guard.DATASETS_PER_THREAD
    other: list = []
    thread = threading.Thread(target=lambda: other.append(cache.get("/d/0.tif", opener)))
    thread.start()
    thread.join()
    assert other[0] is not cache.entries["/d/0.tif"][1]  # another thread: its own dataset


@pytest.fixture
def served(data, monkeypatch):
    """The tile server under uvicorn in this process (its worker threads live on, as in the
    platform; TestClient starts new threads per request), and a count of rasters opened."""
    import socket
    import threading

    import httpx
    import uvicorn

    from eopde.services import tiles

    monkeypatch.setenv(tiles.ALLOWED_URLS_ENV, f"{data}/")
    opened: list[str] = []
    real_open = rasterio.open
    monkeypatch.setattr(rasterio, "open", lambda href, *a, **k: opened.append(str(href))
                        or real_open(href, *a, **k))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(tiles.create_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client, opened
    server.should_exit = True
    thread.join(10)


def test_a_replaced_cog_is_rendered_anew_within_seconds(served, data):
    from rasterio.transform import from_origin

    client, opened = served
    path = data / "replaced.tif"
    profile = {"driver": "COG", "width": 256, "height": 256, "count": 1, "dtype": "uint16",
               "crs": "EPSG:32633", "transform": from_origin(500_000, 5_500_000, 10, 10)}

    def write(value):
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.full((256, 256), value, dtype="uint16"), 1)

    def point():
        resp = client.get("/cog/point/15.0035,49.6326", params={"url": str(path)})
        assert resp.status_code == 200, resp.text
        return resp.json()["values"]

    write(100)
    opened.clear()
    assert [point(), point(), point()] == [[100]] * 3
    assert opened == [str(path)]  # kept open for the next requests
    write(200)
    time.sleep(guard.DATASET_CACHE_SECONDS + 0.2)
    assert point() == [200]  # but not longer than DATASET_CACHE_SECONDS
    # A forbidden href is refused before any cache is looked at.
    assert client.get("/cog/point/15.0,49.6", params={"url": "/etc/passwd"}).status_code == 403
