"""Deterministic, synthetic Sentinel-2 L2A-like demo scenes for the offline local platform.

Two 6 km x 6 km windows in their real UTM projections and MGRS tiles, three dates each in 2025:

* Lake Trasimeno, Umbria, Italy (EPSG:32633, MGRS 33TTH): lake shore, small fields, a town,
  wooded hills;
* Flevoland / Markermeer, Netherlands (EPSG:32631, MGRS 31UFU): dyked lake, large polder parcels,
  a canal, a town.

Every scene has Cloud Optimized GeoTIFFs for B02, B03, B04, B08 (10 m, uint16) and SCL (20 m,
uint8), plus a true-colour PNG thumbnail. Pixel values follow the L2A processing baseline >= 04.00
convention (``reflectance = DN * 0.0001 - 0.1``, nodata 0) and the SCL uses ESA's class codes,
derived from the simulated reflectances, so NDVI, cloud masking and cloud-cover search behave like
on real data.
The land cover is the same for all dates of an area; crop phenology, clouds and cloud shadows (cast
along the computed sun azimuth/elevation) change per date.

Everything is derived from fixed seeds: two runs write byte-identical files.

Layout on disk (``dest`` is what an HTTP server serves at ``base_url``)::

    dest/sentinel-2-l2a/<item_id>/{B02,B03,B04,B08,SCL}.tif
    dest/sentinel-2-l2a/<item_id>/thumbnail.png
    dest/sentinel-2-l2a/<item_id>/<item_id>.json  (static STAC item, relative hrefs)
    dest/sentinel-2-l2a/collection.json           (static STAC collection)
    dest/sentinel-2-l2a/.eopde-demodata.json      (marker: generator version + file list)

Heavy modules (numpy, rasterio, pystac) are imported inside the functions that need them.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pystac

__all__ = [
    "COLLECTION_ID",
    "GENERATOR_VERSION",
    "Area",
    "Scene",
    "areas",
    "scenes",
    "generate",
    "collection",
    "items",
]

COLLECTION_ID = "sentinel-2-l2a"
#: Bump whenever the generated pixels or file layout change (invalidates existing output).
GENERATOR_VERSION = "1"
MARKER_NAME = ".eopde-demodata.json"

#: Size of the 10 m rasters (pixels per side); SCL at 20 m is half of it.
SIZE_10M = 600
SIZE_20M = SIZE_10M // 2
THUMBNAIL_SIZE = 256

#: L2A processing baseline >= 04.00: reflectance = DN * SCALE + OFFSET (BOA_ADD_OFFSET = -1000).
SCALE = 0.0001
OFFSET = -0.1
NODATA = 0

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
PNG_MEDIA_TYPE = "image/png"

#: band -> (common name, centre wavelength um, full width half max um, title)
BANDS: dict[str, tuple[str, float, float, str]] = {
    "B02": ("blue", 0.490, 0.098, "Blue (band 2) - 10m"),
    "B03": ("green", 0.560, 0.045, "Green (band 3) - 10m"),
    "B04": ("red", 0.665, 0.038, "Red (band 4) - 10m"),
    "B08": ("nir", 0.842, 0.145, "NIR 1 (band 8) - 10m"),
}

#: ESA Sen2Cor scene classification codes.
SCL_CLASSES: dict[int, str] = {
    0: "no_data",
    1: "saturated_or_defective",
    2: "dark_area_pixels",
    3: "cloud_shadows",
    4: "vegetation",
    5: "not_vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud_medium_probability",
    9: "cloud_high_probability",
    10: "thin_cirrus",
    11: "snow",
}
SCL_COLORS: dict[int, str] = {
    0: "000000", 1: "ff0000", 2: "2f2f2f", 3: "643200", 4: "00a000", 5: "ffe65a",
    6: "0000ff", 7: "808080", 8: "c0c0c0", 9: "ffffff", 10: "64c8ff", 11: "ff96ff",
}  # fmt: skip
SCL_CLOUD_CODES = (8, 9, 10)

ASSET_KEYS = ("B02", "B03", "B04", "B08", "SCL", "thumbnail")


# --------------------------------------------------------------------------- scene definitions


@dataclass(frozen=True)
class Area:
    """A 6 km demo window: where it is and how its synthetic landscape is laid out."""

    key: str
    title: str
    epsg: int
    mgrs_tile: str  #: e.g. "33TTH" (UTM zone, latitude band, 100 km square)
    origin: tuple[
        float, float
    ]  #: upper-left corner (x, y) in the UTM CRS, metres, on the 60 m grid
    acquisition_time: str  #: typical Sentinel-2 overpass time (UTC) over this tile, "HH:MM:SS"
    seed: int
    water_toward: tuple[float, float]  #: unit vector (east, north) pointing into the lake
    water_fraction: float
    shore_warp_m: float  #: amplitude of the shoreline meander (0 = straight dyke)
    canal: bool  #: a straight canal along the parcel grid
    town: tuple[float, float, float]  #: centre (col, row as fractions of the window), radius in m
    parcel_angle_deg: float
    parcel_size_m: tuple[float, float]  #: width, length
    parcel_warp_m: float  #: irregularity of parcel borders
    wood_fraction: float
    crop_weights: tuple[tuple[str, float], ...]

    @property
    def utm_zone(self) -> int:
        return int(self.mgrs_tile[:2])

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"


@dataclass(frozen=True)
class Scene:
    """One acquisition of an :class:`Area`."""

    area: Area
    date: _dt.date
    platform: str  #: "sentinel-2a" or "sentinel-2b"
    season: int  #: 0 spring, 1 summer, 2 autumn (selects the crop phenology)
    cloud_fraction: (
        float  #: target fraction of cloudy pixels (the measured one is in eo:cloud_cover)
    )
    cloud_height_m: float
    seed: int

    @property
    def item_id(self) -> str:
        """Element 84 / Earth Search naming: ``S2B_33TTH_20250715_0_L2A``."""
        sat = "S2" + self.platform[-1].upper()
        return f"{sat}_{self.area.mgrs_tile}_{self.date:%Y%m%d}_0_L2A"

    @property
    def datetime(self) -> _dt.datetime:
        hh, mm, ss = (int(v) for v in self.area.acquisition_time.split(":"))
        return _dt.datetime(
            self.date.year, self.date.month, self.date.day, hh, mm, ss, tzinfo=_dt.UTC
        )

    @property
    def transform_10m(self) -> tuple[float, float, float, float, float, float]:
        x0, y0 = self.area.origin
        return (10.0, 0.0, x0, 0.0, -10.0, y0)

    @property
    def transform_20m(self) -> tuple[float, float, float, float, float, float]:
        x0, y0 = self.area.origin
        return (20.0, 0.0, x0, 0.0, -20.0, y0)


_TRASIMENO = Area(
    key="trasimeno",
    title="Lake Trasimeno, Umbria, Italy",
    epsg=32633,
    mgrs_tile="33TTH",
    origin=(267660.0, 4783200.0),
    acquisition_time="10:00:31",
    seed=3301,
    water_toward=(-1.0, 0.15),
    water_fraction=0.27,
    shore_warp_m=450.0,
    canal=False,
    town=(0.72, 0.22, 650.0),
    parcel_angle_deg=12.0,
    parcel_size_m=(170.0, 330.0),
    parcel_warp_m=35.0,
    wood_fraction=0.14,
    crop_weights=(
        ("grass", 0.18), ("maize", 0.14), ("winter_cereal", 0.30), ("sunflower", 0.12),
        ("olive", 0.14), ("fallow", 0.12),
    ),
)  # fmt: skip

_FLEVOLAND = Area(
    key="flevoland",
    title="Flevoland / Markermeer, Netherlands",
    epsg=32631,
    mgrs_tile="31UFU",
    origin=(666540.0, 5827020.0),
    acquisition_time="10:46:21",
    seed=3101,
    water_toward=(-0.707, 0.707),
    water_fraction=0.22,
    shore_warp_m=40.0,
    canal=True,
    town=(0.62, 0.80, 1000.0),
    parcel_angle_deg=-28.0,
    parcel_size_m=(300.0, 900.0),
    parcel_warp_m=0.0,
    wood_fraction=0.05,
    crop_weights=(
        ("grass", 0.28), ("maize", 0.12), ("winter_cereal", 0.22), ("potato", 0.26),
        ("fallow", 0.12),
    ),
)  # fmt: skip


def areas() -> tuple[Area, ...]:
    """The static demo areas."""
    return (_TRASIMENO, _FLEVOLAND)


def scenes() -> tuple[Scene, ...]:
    """The static scene definitions: two areas x three dates (spring, summer, autumn 2025)."""
    d = _dt.date
    return (
        Scene(_TRASIMENO, d(2025, 4, 16), "sentinel-2b", 0, 0.30, 1800.0, 41),
        Scene(_TRASIMENO, d(2025, 7, 15), "sentinel-2a", 1, 0.008, 1500.0, 42),
        Scene(_TRASIMENO, d(2025, 10, 13), "sentinel-2b", 2, 0.12, 1600.0, 43),
        Scene(_FLEVOLAND, d(2025, 4, 22), "sentinel-2a", 0, 0.02, 1400.0, 51),
        Scene(_FLEVOLAND, d(2025, 7, 21), "sentinel-2b", 1, 0.22, 1500.0, 52),
        Scene(_FLEVOLAND, d(2025, 9, 29), "sentinel-2a", 2, 0.36, 1200.0, 53),
    )


# --------------------------------------------------------------------------- spectra and phenology

# Bottom-of-atmosphere reflectance (B02, B03, B04, B08) of the end members.
_VEG = (0.025, 0.065, 0.028, 0.44)  # full green canopy, NDVI ~ 0.88
_WOOD = (0.020, 0.045, 0.022, 0.30)  # darker forest canopy, NDVI ~ 0.86
_SOIL = (0.075, 0.105, 0.140, 0.210)  # dry bare soil, NDVI ~ 0.2
_WATER = (0.034, 0.040, 0.022, 0.010)  # clear lake water, NDVI ~ -0.4
_TURBID = (0.008, 0.014, 0.012, 0.005)  # added by suspended sediment
_ASPHALT = (0.070, 0.080, 0.090, 0.120)
_ROOFS = (
    (0.080, 0.090, 0.150, 0.210),  # terracotta tiles
    (0.090, 0.100, 0.110, 0.150),  # grey roofs / concrete
    (0.160, 0.170, 0.180, 0.220),  # bright roofs
)
_CLOUD = (0.62, 0.60, 0.58, 0.60)

# Target NDVI per crop for (spring, summer, autumn).
_PHENOLOGY: dict[str, tuple[float, float, float]] = {
    "grass": (0.68, 0.79, 0.70),
    "maize": (0.15, 0.84, 0.30),  # sown in May, harvested in September
    "sunflower": (0.16, 0.80, 0.18),
    "potato": (0.16, 0.82, 0.20),
    "winter_cereal": (0.74, 0.22, 0.15),  # harvested in July, ploughed in autumn
    "olive": (0.60, 0.66, 0.62),
    "fallow": (0.17, 0.20, 0.16),
    "wood": (0.66, 0.80, 0.70),
}
_CROPS = tuple(_PHENOLOGY)

_WATER_K, _FIELD_K, _URBAN_K, _ROAD_K, _WOOD_K = range(5)

# SCL decision thresholds (applied to 20 m block means)
_CLOUD_HIGH = 0.6
_CLOUD_MEDIUM = 0.15
_SHADOW_MIN = 0.3
_VEG_NDVI = 0.4
_WATER_NIR_MAX = 0.15


# --------------------------------------------------------------------------- numpy helpers


def _value_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Smooth value noise in [0, 1]: random lattice values every ``cell`` px, smoothstep-blended."""
    import numpy as np

    h, w = shape
    grid = rng.random((int(h // cell) + 3, int(w // cell) + 3), dtype=np.float32)
    oy, ox = rng.random(2) * cell
    y = (np.arange(h) + oy) / cell
    x = (np.arange(w) + ox) / cell
    iy = y.astype(np.intp)
    ix = x.astype(np.intp)
    ty = (y - iy).astype(np.float32)
    tx = (x - ix).astype(np.float32)
    sy = (ty * ty * (3 - 2 * ty))[:, None]
    sx = (tx * tx * (3 - 2 * tx))[None, :]
    rows0, rows1 = grid[iy], grid[iy + 1]
    top = rows0[:, ix] * (1 - sx) + rows0[:, ix + 1] * sx
    bottom = rows1[:, ix] * (1 - sx) + rows1[:, ix + 1] * sx
    return top * (1 - sy) + bottom * sy


def _fractal(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cells: tuple[float, ...],
    persistence: float = 0.5,
) -> np.ndarray:
    """Sum of value-noise octaves (largest cell first), normalised to [0, 1]."""
    amp, total = 1.0, 0.0
    out = None
    for cell in cells:
        layer = _value_noise(rng, shape, cell) * amp
        out = layer if out is None else out + layer
        total += amp
        amp *= persistence
    assert out is not None
    return out / total


def _block_mean(a: np.ndarray, factor: int = 2) -> np.ndarray:
    h, w = a.shape[-2:]
    return a.reshape(*a.shape[:-2], h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def _spectrum(values: tuple[float, ...]) -> np.ndarray:
    import numpy as np

    return np.asarray(values, dtype=np.float32)[:, None, None]


def _ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    import numpy as np

    den = nir + red
    return np.where(den > 0, (nir - red) / np.where(den > 0, den, 1), 0).astype(np.float32)


def _sun_position(when: _dt.datetime, lat: float, lon: float) -> tuple[float, float]:
    """Solar azimuth (deg from north, clockwise) and elevation (deg); NOAA low-accuracy formulae."""
    doy = when.timetuple().tm_yday
    hour = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (doy - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (
        0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g)
    )  # fmt: skip
    decl = (
        0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g)
    )  # fmt: skip
    true_solar_min = hour * 60 + eqtime + 4 * lon
    ha = math.radians(true_solar_min / 4 - 180)
    phi = math.radians(lat)
    cos_zen = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    elevation = 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zen))))
    azimuth = math.degrees(
        math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi))
    )
    return (azimuth + 180) % 360, elevation


def _centre_lonlat(scene: Scene) -> tuple[float, float]:
    from rasterio.warp import transform

    x0, y0 = scene.area.origin
    half = SIZE_10M * 10 / 2
    xs, ys = transform(scene.area.crs, "EPSG:4326", [x0 + half], [y0 - half])
    return xs[0], ys[0]


def _sun(scene: Scene) -> tuple[float, float]:
    lon, lat = _centre_lonlat(scene)
    return _sun_position(scene.datetime, lat, lon)


# --------------------------------------------------------------------------- synthesis


@dataclass
class _Landscape:
    kind: np.ndarray  # uint8, one of the _*_K constants
    crop: np.ndarray  # uint8 index into _CROPS (meaningful for fields/wood)
    parcel: np.ndarray  # int32 parcel id (for per-date jitter)
    soil: np.ndarray  # float32 soil brightness factor
    texture: np.ndarray  # float32 in [-1, 1], within-field variability
    turbidity: np.ndarray  # float32 in [0, 1]
    roof: np.ndarray  # uint8 roof material (urban), 3 = garden


def _landscape(area: Area) -> _Landscape:
    """The static land cover of an area at 10 m (identical for every date)."""
    import numpy as np

    n = SIZE_10M
    rng = np.random.default_rng(area.seed)
    shape = (n, n)
    east = ((np.arange(n, dtype=np.float32) + 0.5) * 10)[None, :]  # metres from the west edge
    north = ((n - np.arange(n, dtype=np.float32) - 0.5) * 10)[:, None]  # metres from the south edge

    # parcels on a rotated, staggered grid (optionally with wobbly borders)
    a = math.radians(area.parcel_angle_deg)
    u = east * math.cos(a) + north * math.sin(a)
    v = -east * math.sin(a) + north * math.cos(a)
    if area.parcel_warp_m:
        u = u + (_fractal(rng, shape, (40, 20)) - 0.5) * 2 * area.parcel_warp_m
        v = v + (_fractal(rng, shape, (40, 20)) - 0.5) * 2 * area.parcel_warp_m
    width, length = area.parcel_size_m
    col = np.floor(u / width).astype(np.int32) + 64
    stagger = rng.random(256) * length
    row = np.floor((v + stagger[col % 256]) / length).astype(np.int32) + 64
    parcel = (col % 256) * 256 + (row % 256)
    names = [c for c, _ in area.crop_weights]
    weights = np.array([w for _, w in area.crop_weights])
    parcel_crop = np.array([_CROPS.index(c) for c in names], dtype=np.uint8)[
        rng.choice(len(names), size=256 * 256, p=weights / weights.sum())
    ]
    parcel_soil = (0.8 + 0.4 * rng.random(256 * 256)).astype(np.float32)
    crop = parcel_crop[parcel]
    soil = parcel_soil[parcel] * (0.95 + 0.1 * _value_noise(rng, shape, 8))
    texture = (_fractal(rng, shape, (12, 6, 3), 0.6) - 0.5) * 2

    kind = np.full(shape, _FIELD_K, dtype=np.uint8)

    # woods on the "hills" (large-scale noise)
    hills = _fractal(rng, shape, (160, 80, 40), 0.5)
    if area.wood_fraction > 0:
        kind[hills >= np.quantile(hills, 1 - area.wood_fraction)] = _WOOD_K
        crop[kind == _WOOD_K] = _CROPS.index("wood")

    # roads along two parcel boundaries
    u_road = width * round(float(np.median(u)) / width)
    v_road = length * round(float(np.median(v)) / length)
    kind[(np.abs(u - u_road) < 7) | (np.abs(v - v_road) < 7)] = _ROAD_K

    # town: a noisy disc of roofs and gardens
    cx, cy, radius = area.town
    dist = np.hypot(east - cx * n * 10, north - (1 - cy) * n * 10)
    edge = radius * (0.75 + 0.5 * _fractal(rng, shape, (40, 20), 0.5))
    town = dist < edge
    kind[town] = _URBAN_K
    blocks = rng.choice(4, size=(n // 3 + 1, n // 3 + 1), p=[0.3, 0.3, 0.12, 0.28])
    roof = np.repeat(np.repeat(blocks, 3, axis=0), 3, axis=1)[:n, :n].astype(np.uint8)

    # the lake
    ex, ny = area.water_toward
    s = east * ex + north * ny
    if area.shore_warp_m:
        s = s + (_fractal(rng, shape, (90, 45, 20), 0.5) - 0.5) * 2 * area.shore_warp_m
    water = s >= np.quantile(s, 1 - area.water_fraction)
    if area.canal:
        v_canal = v_road + 2 * length
        water |= np.abs(v - v_canal) < 15
    kind[water] = _WATER_K
    turbidity = _fractal(rng, shape, (60, 30, 15), 0.5)

    return _Landscape(kind, crop, parcel, soil.astype(np.float32), texture, turbidity, roof)


def _surface(land: _Landscape, scene: Scene) -> np.ndarray:
    """Cloud-free BOA reflectance (4, n, n) float32 of the landscape on the scene's date."""
    import numpy as np

    rng = np.random.default_rng([scene.seed, 0])
    n = SIZE_10M
    veg, wood, soil_base = _spectrum(_VEG), _spectrum(_WOOD), _spectrum(_SOIL)

    # target NDVI per pixel: crop phenology + per-parcel, per-date jitter + texture
    pheno = np.array([_PHENOLOGY[c][scene.season] for c in _CROPS], dtype=np.float32)
    jitter = ((rng.random(256 * 256) - 0.5) * 0.08).astype(np.float32)
    target = pheno[land.crop] + jitter[land.parcel] + 0.03 * land.texture

    # fractional vegetation cover that gives the target NDVI when mixed linearly with the soil
    soil = soil_base * land.soil
    is_wood = land.kind == _WOOD_K
    canopy = np.where(is_wood, wood, veg)
    r_s, n_s, r_v, n_v = soil[2], soil[3], canopy[2], canopy[3]
    a_, b_ = n_s + r_s, (n_v + r_v) - (n_s + r_s)
    c_, d_ = n_s - r_s, (n_v - r_v) - (n_s - r_s)
    cover = np.clip((c_ - target * a_) / (target * b_ - d_), 0, 1)
    refl = cover * canopy + (1 - cover) * soil

    # town: roofs and gardens
    urban = land.kind == _URBAN_K
    roofs = np.stack([_spectrum(r)[:, 0, 0] for r in _ROOFS] + [np.zeros(4, np.float32)], 1)
    garden = 0.55 * veg + 0.45 * soil_base
    town = np.where(land.roof == 3, garden, roofs[:, np.minimum(land.roof, 2)])
    refl = np.where(urban, town * (0.9 + 0.2 * (land.texture + 1) / 2), refl)

    refl = np.where(land.kind == _ROAD_K, _spectrum(_ASPHALT), refl)

    water = land.kind == _WATER_K
    algae = np.array([0, 0.008, 0, 0.002], np.float32)[:, None, None] * (scene.season == 1)
    lake = _spectrum(_WATER) + _spectrum(_TURBID) * land.turbidity + algae
    refl = np.where(water, lake, refl)

    # sensor noise
    refl = refl + ((rng.random((4, n, n), dtype=np.float32) - 0.5) * 0.004)
    return refl.astype(np.float32)


def _clouds(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Cloud opacity and cloud-shadow strength (both (n, n) float32 in [0, 1]) for a scene.

    Shadows are the cloud field displaced by ``height / tan(sun elevation)`` away from the sun; the
    cloud field is generated on a padded domain so clouds just outside the window cast shadows too.
    """
    import numpy as np

    n = SIZE_10M
    if scene.cloud_fraction <= 0:
        zero = np.zeros((n, n), np.float32)
        return zero, zero.copy()
    azimuth, elevation = _sun(scene)
    length_px = scene.cloud_height_m / math.tan(math.radians(elevation)) / 10
    d_col = int(round(-length_px * math.sin(math.radians(azimuth))))
    d_row = int(round(length_px * math.cos(math.radians(azimuth))))
    pad = max(abs(d_col), abs(d_row)) + 1
    rng = np.random.default_rng([scene.seed, 1])
    field = _fractal(rng, (n + 2 * pad, n + 2 * pad), (150, 75, 36, 18, 8, 4), 0.55)
    inner = field[pad : pad + n, pad : pad + n]
    threshold = np.quantile(inner, 1 - scene.cloud_fraction)
    opacity_full = np.clip((field - threshold) / 0.06, 0, 1) ** 0.7
    opacity = opacity_full[pad : pad + n, pad : pad + n]
    shadow = opacity_full[pad - d_row : pad - d_row + n, pad - d_col : pad - d_col + n]
    return opacity.astype(np.float32), shadow.astype(np.float32)


def _scl_cloud(opacity_20m: np.ndarray) -> np.ndarray:
    """SCL codes 8/9 (0 elsewhere) from the 20 m mean cloud opacity."""
    import numpy as np

    out = np.zeros(opacity_20m.shape, np.uint8)
    out[opacity_20m >= _CLOUD_MEDIUM] = 8
    out[opacity_20m >= _CLOUD_HIGH] = 9
    return out


def _synthesize(scene: Scene, land: _Landscape) -> tuple[np.ndarray, np.ndarray]:
    """(DN uint16 (4, n, n) for B02/B03/B04/B08, SCL uint8 (n/2, n/2))."""
    import numpy as np

    surface = _surface(land, scene)
    opacity, shadow = _clouds(scene)
    rng = np.random.default_rng([scene.seed, 2])
    brightness = 0.92 + 0.16 * _value_noise(rng, opacity.shape, 25)
    shaded = surface * (1 - 0.72 * shadow)
    refl = shaded * (1 - opacity) + _spectrum(_CLOUD) * brightness * opacity
    dn = np.clip(np.rint((refl - OFFSET) / SCALE), 1, 65535).astype(np.uint16)

    # scene classification at 20 m from the (quantised) reflectances, as Sen2Cor would see them
    r20 = _block_mean(dn.astype(np.float32) * SCALE + OFFSET)
    ndvi = _ndvi(r20[2], r20[3])
    scl = np.full(r20.shape[1:], 5, np.uint8)
    scl[ndvi >= _VEG_NDVI] = 4
    scl[(ndvi < 0) & (r20[3] < _WATER_NIR_MAX)] = 6
    scl[_block_mean(shadow) >= _SHADOW_MIN] = 3
    cloud = _scl_cloud(_block_mean(opacity))
    scl = np.where(cloud > 0, cloud, scl).astype(np.uint8)
    return dn, scl


def _thumbnail(dn: np.ndarray) -> np.ndarray:
    """True-colour uint8 (3, 256, 256) from the B02/B03/B04 digital numbers (area average)."""
    import numpy as np

    rgb = dn[[2, 1, 0]].astype(np.float32) * SCALE + OFFSET
    n, t = rgb.shape[-1], THUMBNAIL_SIZE
    starts = (np.arange(t) * n) // t
    counts = np.diff(np.append(starts, n)).astype(np.float32)
    small = np.add.reduceat(np.add.reduceat(rgb, starts, axis=1), starts, axis=2)
    small /= counts[None, :, None] * counts[None, None, :]
    return (np.clip(small / 0.3, 0, 1) ** (1 / 1.8) * 255 + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------- writing


def _write_cog(
    path: Path,
    array: np.ndarray,
    *,
    scene: Scene,
    resolution: int,
    description: str,
    reflectance: bool,
) -> None:
    import rasterio
    from affine import Affine
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy as rio_copy

    transform = Affine(*(scene.transform_10m if resolution == 10 else scene.transform_20m))
    profile = {
        "driver": "GTiff",
        "width": array.shape[1],
        "height": array.shape[0],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": rasterio.crs.CRS.from_epsg(scene.area.epsg),
        "transform": transform,
        "nodata": NODATA,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")  # unique per writer
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(array, 1)
            ds.set_band_description(1, description)
            if reflectance:
                ds.scales = (SCALE,)
                ds.offsets = (OFFSET,)
        with mem.open() as src:
            rio_copy(
                src,
                str(tmp),
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="2",
                LEVEL="6",
                BLOCKSIZE="256",
                OVERVIEW_RESAMPLING="AVERAGE" if reflectance else "NEAREST",
                OVERVIEW_COUNT="2",
            )
    os.replace(tmp, path)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy as rio_copy

    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")  # unique per writer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as mem:
            with mem.open(
                driver="GTiff", width=rgb.shape[2], height=rgb.shape[1], count=3, dtype="uint8"
            ) as ds:
                ds.write(rgb)
            with mem.open() as src:
                rio_copy(src, str(tmp), driver="PNG", ZLEVEL="9")
    os.replace(tmp, path)


def _filename(key: str) -> str:
    return "thumbnail.png" if key == "thumbnail" else f"{key}.tif"


def _relative_files() -> list[str]:
    """Every file generate() writes, relative to ``dest`` (assets, then the static STAC JSON)."""
    out = [
        f"{COLLECTION_ID}/{scene.item_id}/{_filename(key)}"
        for scene in scenes()
        for key in ASSET_KEYS
    ]
    out += [f"{COLLECTION_ID}/{s.item_id}/{s.item_id}.json" for s in scenes()]
    out.append(f"{COLLECTION_ID}/collection.json")
    return out


def generate(dest: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
    """Write the demo scenes under ``dest/<collection>/<item_id>/``.

    Per scene: ``B02.tif``, ``B03.tif``, ``B04.tif``, ``B08.tif`` (10 m), ``SCL.tif`` (20 m) as
    Cloud Optimized GeoTIFFs, ``thumbnail.png``, and ``<item_id>.json``; plus
    ``dest/<collection>/collection.json``. The JSON files form a self-contained static STAC
    collection with relative hrefs (readable offline with pystac, or over HTTP); :func:`items`
    gives the same items with absolute hrefs for a STAC API.

    Idempotent: when the marker file ``dest/<collection>/.eopde-demodata.json`` records the same
    generator version and all files exist, nothing is written (unless ``force``). Rasters are
    written to a temporary name and renamed, and the marker is written last, so an interrupted run
    is simply redone.

    Returns the paths of all files (written or found), in a stable order: the assets of every
    scene, then the item JSON files, then ``collection.json``.
    """
    import pystac
    import rasterio

    root = Path(dest)
    rel = _relative_files()
    paths = [root / r for r in rel]
    coll_dir = root / COLLECTION_ID
    marker = coll_dir / MARKER_NAME
    if not force and marker.is_file() and all(p.is_file() for p in paths):
        try:
            meta = json.loads(marker.read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("version") == GENERATOR_VERSION and meta.get("files") == rel:
            return paths

    marker.unlink(missing_ok=True)
    landscapes: dict[str, _Landscape] = {}
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        for scene in scenes():
            land = landscapes.get(scene.area.key)
            if land is None:
                land = landscapes[scene.area.key] = _landscape(scene.area)
            dn, scl = _synthesize(scene, land)
            folder = coll_dir / scene.item_id
            folder.mkdir(parents=True, exist_ok=True)
            for i, band in enumerate(BANDS):
                _write_cog(
                    folder / f"{band}.tif", dn[i], scene=scene, resolution=10,
                    description=band, reflectance=True,
                )  # fmt: skip
            _write_cog(
                folder / "SCL.tif", scl, scene=scene, resolution=20,
                description="SCL", reflectance=False,
            )  # fmt: skip
            _write_png(folder / "thumbnail.png", _thumbnail(dn))

    # static, self-contained STAC collection next to the data (relative hrefs)
    stac_items = [_build_item(s, coll_dir / s.item_id, None) for s in scenes()]
    covers = [float(i.properties["eo:cloud_cover"]) for i in stac_items]
    coll = _build_collection(covers, thumbnail_base=".")
    coll.add_items(stac_items)
    coll.normalize_hrefs(str(coll_dir.resolve()))
    coll.make_all_asset_hrefs_relative()
    coll.save(pystac.CatalogType.SELF_CONTAINED)

    marker.write_text(
        json.dumps({"generator": __name__, "version": GENERATOR_VERSION, "files": rel}, indent=1)
        + "\n"
    )
    return paths


# --------------------------------------------------------------------------- STAC


def _round_coords(obj: Any, nd: int = 7) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_round_coords(o, nd) for o in obj]
    if isinstance(obj, float):
        return round(obj, nd)
    return obj


def _footprint(scene: Scene) -> tuple[dict[str, Any], list[float]]:
    """(GeoJSON polygon, bbox) in WGS84 of the scene's 10 m UTM window."""
    from rasterio.warp import transform_bounds, transform_geom

    x0, y0 = scene.area.origin
    x1, y1 = x0 + SIZE_10M * 10, y0 - SIZE_10M * 10
    ring = [[x0, y1], [x1, y1], [x1, y0], [x0, y0], [x0, y1]]  # counter-clockwise
    geom = transform_geom(scene.area.crs, "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})
    geometry = {"type": "Polygon", "coordinates": _round_coords(geom["coordinates"])}
    w, s, e, n = transform_bounds(scene.area.crs, "EPSG:4326", x0, y1, x1, y0, densify_pts=21)
    k = 1e7
    bbox = [
        math.floor(w * k) / k,
        math.floor(s * k) / k,
        math.ceil(e * k) / k,
        math.ceil(n * k) / k,
    ]
    return geometry, bbox


def _cloud_cover(scl: np.ndarray) -> float:
    """Percent of valid SCL pixels that are cloud (8, 9, 10), like Sen2Cor's cloudy percentage."""
    import numpy as np

    valid = scl != 0
    if not valid.any():
        return 0.0
    cloudy = np.isin(scl, SCL_CLOUD_CODES) & valid
    return round(float(cloudy.sum()) * 100.0 / float(valid.sum()), 2)


def _asset_extras(key: str) -> tuple[list[Any], list[Any], list[Any]]:
    """(eo bands, raster bands, classification classes) for an asset key."""
    from pystac.extensions.classification import Classification
    from pystac.extensions.eo import Band
    from pystac.extensions.raster import DataType, RasterBand

    if key == "SCL":
        raster = [RasterBand.create(nodata=NODATA, data_type=DataType.UINT8, spatial_resolution=20)]
        classes = [
            Classification.create(
                value=v,
                name=name,
                description=name.replace("_", " "),
                color_hint=SCL_COLORS[v].upper(),
                nodata=True if v == 0 else None,
            )  # fmt: skip
            for v, name in SCL_CLASSES.items()
        ]
        return [], raster, classes
    common, centre, fwhm, _ = BANDS[key]
    eo = [
        Band.create(
            name=key, common_name=common, center_wavelength=centre, full_width_half_max=fwhm
        )
    ]
    raster = [
        RasterBand.create(
            nodata=NODATA,
            data_type=DataType.UINT16,
            spatial_resolution=10,
            scale=SCALE,
            offset=OFFSET,
        )  # fmt: skip
    ]
    return eo, raster, []


def _asset_title(key: str) -> str:
    if key == "SCL":
        return "Scene classification map (SCL) - 20m"
    if key == "thumbnail":
        return "Thumbnail (true colour)"
    return BANDS[key][3]


def _build_item(scene: Scene, folder: Path, url: str | None) -> pystac.Item:
    """The pystac Item of a generated scene; asset hrefs under ``url`` (or local paths if None)."""
    import pystac
    import rasterio
    from pystac.extensions.classification import ClassificationExtension
    from pystac.extensions.eo import EOExtension
    from pystac.extensions.grid import GridExtension
    from pystac.extensions.mgrs import MgrsExtension
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterExtension
    from pystac.extensions.view import ViewExtension

    geometry, bbox = _footprint(scene)
    area = scene.area
    item = pystac.Item(
        id=scene.item_id,
        geometry=geometry,
        bbox=bbox,
        datetime=scene.datetime,
        properties={
            "title": f"{scene.item_id} (synthetic)",
            "description": (
                f"Synthetic Sentinel-2 L2A-like demo scene: {area.title}, {scene.date:%Y-%m-%d}, "
                f"a 6 km window of MGRS tile {area.mgrs_tile}. Generated by eopde, not real data."
            ),
        },
        collection=COLLECTION_ID,
    )
    common = item.common_metadata
    common.platform = scene.platform
    common.constellation = "sentinel-2"
    common.instruments = ["msi"]
    common.gsd = 10

    lon, lat = _centre_lonlat(scene)
    ProjectionExtension.ext(item, add_if_missing=True).apply(
        code=area.crs, centroid={"lat": round(lat, 7), "lon": round(lon, 7)}
    )
    GridExtension.ext(item, add_if_missing=True).apply(code=f"MGRS-{area.mgrs_tile}")
    MgrsExtension.ext(item, add_if_missing=True).apply(
        latitude_band=area.mgrs_tile[2], grid_square=area.mgrs_tile[3:], utm_zone=area.utm_zone
    )
    azimuth, elevation = _sun_position(scene.datetime, lat, lon)
    ViewExtension.ext(item, add_if_missing=True).apply(
        sun_azimuth=round(azimuth, 2), sun_elevation=round(elevation, 2)
    )
    EOExtension.add_to(item)
    RasterExtension.add_to(item)
    ClassificationExtension.add_to(item)

    cloud_cover = None
    for key in ASSET_KEYS:
        path = folder / _filename(key)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: run eopde.services.demodata.generate() first"
            )
        href = f"{url}/{_filename(key)}" if url is not None else str(path.resolve())
        if key == "thumbnail":
            item.add_asset(
                key,
                pystac.Asset(
                    href, title=_asset_title(key), media_type=PNG_MEDIA_TYPE, roles=["thumbnail"]
                ),
            )
            continue
        with rasterio.open(path) as ds:
            if ds.crs is None or ds.crs.to_epsg() != area.epsg:
                raise ValueError(f"{path}: CRS {ds.crs} is not {area.crs}")
            shape = [ds.height, ds.width]
            transform = [float(v) for v in list(ds.transform)[:6]]
            b = ds.bounds
            proj_bbox = [float(b.left), float(b.bottom), float(b.right), float(b.top)]
            gsd = int(round(ds.res[0]))
            if key == "SCL":
                cloud_cover = _cloud_cover(ds.read(1))
        asset = pystac.Asset(
            href, title=_asset_title(key), media_type=COG_MEDIA_TYPE, roles=["data"],
            extra_fields={"gsd": gsd},
        )  # fmt: skip
        item.add_asset(key, asset)
        # property setters, not apply(): apply() would also write "proj:code": null on the asset,
        # which overrides the item's proj:code with "no CRS"
        asset_proj = ProjectionExtension.ext(asset)
        asset_proj.shape = shape
        asset_proj.transform = transform
        asset_proj.bbox = proj_bbox
        eo_bands, raster_bands, classes = _asset_extras(key)
        if eo_bands:
            EOExtension.ext(asset).bands = eo_bands
        RasterExtension.ext(asset).apply(raster_bands)
        if classes:
            ClassificationExtension.ext(asset).classes = classes
    EOExtension.ext(item).cloud_cover = cloud_cover
    return item


def items(dest: str | os.PathLike[str], base_url: str) -> list[dict[str, Any]]:
    """STAC Item dicts (pystac, STAC 1.1) for the generated scenes, in :func:`scenes` order.

    Asset hrefs are ``f"{base_url}/{COLLECTION_ID}/{item_id}/{asset}.tif"`` (``thumbnail.png``
    for the thumbnail), where ``base_url`` is the HTTP server that serves ``dest``; the
    ``collection`` link points to the static ``collection.json`` written by :func:`generate`.
    Shapes, transforms, CRS and ``eo:cloud_cover`` are read from the files; raises
    FileNotFoundError when they were not generated.
    """
    import pystac

    base = base_url.rstrip("/")
    root = Path(dest) / COLLECTION_ID
    out = []
    for s in scenes():
        item = _build_item(s, root / s.item_id, f"{base}/{COLLECTION_ID}/{s.item_id}")
        item.add_link(
            pystac.Link(
                pystac.RelType.COLLECTION,
                f"{base}/{COLLECTION_ID}/collection.json",
                media_type=pystac.MediaType.JSON,
                title=COLLECTION_ID,
            )  # fmt: skip
        )
        out.append(item.to_dict(include_self_link=False, transform_hrefs=False))
    return out


def _synthetic_cloud_cover(scene: Scene) -> float:
    """eo:cloud_cover of a scene without its files (the SCL cloud classes depend on clouds only)."""
    import numpy as np

    opacity, _ = _clouds(scene)
    cloud = _scl_cloud(_block_mean(opacity))
    return _cloud_cover(np.where(cloud > 0, cloud, 5))  # every other pixel is valid


def _build_collection(covers: list[float], *, thumbnail_base: str) -> pystac.Collection:
    """The pystac Collection; ``thumbnail_base``: URL or relative path of the collection folder."""
    import pystac
    from pystac.extensions.classification import ClassificationExtension
    from pystac.extensions.eo import Band, EOExtension
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterExtension
    from pystac.summaries import RangeSummary

    all_scenes = scenes()
    boxes: dict[str, list[float]] = {}
    for s in all_scenes:
        boxes.setdefault(s.area.key, _footprint(s)[1])
    per_area = list(boxes.values())
    union = [
        min(b[0] for b in per_area), min(b[1] for b in per_area),
        max(b[2] for b in per_area), max(b[3] for b in per_area),
    ]  # fmt: skip
    times = sorted(s.datetime for s in all_scenes)

    places = "; ".join(f"{a.title} (MGRS {a.mgrs_tile}, {a.crs})" for a in areas())
    coll = pystac.Collection(
        id=COLLECTION_ID,
        title="Sentinel-2 L2A (synthetic demo data)",
        description=(
            "Synthetic, deterministic Sentinel-2 Level-2A-like scenes generated by eopde for "
            f"offline demos: 6 km windows in {places}, three dates each in 2025. NOT Copernicus "
            "data: the pixels are simulated land cover (fields with crop phenology, water, towns, "
            "roads, clouds and cloud shadows) following the L2A processing baseline 04.00 "
            "conventions (reflectance = DN * 0.0001 - 0.1, nodata 0) and ESA's scene "
            "classification (SCL) codes."
        ),
        extent=pystac.Extent(
            pystac.SpatialExtent([union, *per_area]),
            pystac.TemporalExtent([[times[0], times[-1]]]),
        ),
        license="other",
        keywords=["sentinel-2", "l2a", "synthetic", "demo", "eopde"],
        providers=[
            pystac.Provider(
                name="eopde (synthetic data generator)",
                roles=[
                    pystac.ProviderRole.PRODUCER,
                    pystac.ProviderRole.PROCESSOR,
                    pystac.ProviderRole.HOST,
                ],
                description="Generated by eopde.services.demodata; contains no real observations.",
            )  # fmt: skip
        ],
    )
    coll.summaries.add("platform", sorted({s.platform for s in all_scenes}))
    coll.summaries.add("constellation", ["sentinel-2"])
    coll.summaries.add("instruments", ["msi"])
    coll.summaries.add("gsd", [10, 20])
    eo = EOExtension.summaries(coll, add_if_missing=True)
    eo.cloud_cover = RangeSummary(min(covers), max(covers))
    eo.bands = [
        Band.create(name=k, common_name=c, center_wavelength=w, full_width_half_max=f)
        for k, (c, w, f, _) in BANDS.items()
    ]
    ProjectionExtension.summaries(coll, add_if_missing=True).code = sorted({a.crs for a in areas()})
    RasterExtension.add_to(coll)
    ClassificationExtension.add_to(coll)

    item_assets: dict[str, Any] = {}
    for key in ASSET_KEYS:
        if key == "thumbnail":
            item_assets[key] = {
                "title": _asset_title(key), "type": PNG_MEDIA_TYPE, "roles": ["thumbnail"],
            }  # fmt: skip
            continue
        eo_bands, raster_bands, classes = _asset_extras(key)
        d: dict[str, Any] = {
            "title": _asset_title(key), "type": COG_MEDIA_TYPE, "roles": ["data"],
            "gsd": 20 if key == "SCL" else 10,
            "raster:bands": [b.to_dict() for b in raster_bands],
        }  # fmt: skip
        if eo_bands:
            d["eo:bands"] = [b.to_dict() for b in eo_bands]
        if classes:
            d["classification:classes"] = [c.to_dict() for c in classes]
        item_assets[key] = d
    coll.item_assets = item_assets

    clearest = all_scenes[min(range(len(covers)), key=lambda i: (covers[i], i))]
    coll.add_asset(
        "thumbnail",
        pystac.Asset(
            f"{thumbnail_base}/{clearest.item_id}/thumbnail.png",
            title=f"Thumbnail of the clearest scene ({clearest.item_id})",
            media_type=PNG_MEDIA_TYPE,
            roles=["thumbnail"],
        ),  # fmt: skip
    )
    return coll


def collection(base_url: str, dest: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The STAC Collection ``sentinel-2-l2a`` as a dict (pystac, STAC 1.1), for a STAC API.

    ``base_url`` serves ``dest``: the collection's thumbnail asset and its ``alternate`` link (the
    static ``collection.json`` written by :func:`generate`) point there; there is no ``self`` link,
    the catalogue adds its own. With ``dest``, the ``eo:cloud_cover`` summary is read from the
    generated SCL files; without it, it is recomputed in memory (same numbers).
    """
    import pystac

    base = base_url.rstrip("/")
    if dest is not None:
        covers = [float(i["properties"]["eo:cloud_cover"]) for i in items(dest, base)]
    else:
        covers = [_synthetic_cloud_cover(s) for s in scenes()]
    coll = _build_collection(covers, thumbnail_base=f"{base}/{COLLECTION_ID}")
    coll.add_link(
        pystac.Link(
            "alternate",
            f"{base}/{COLLECTION_ID}/collection.json",
            media_type=pystac.MediaType.JSON,
            title="Static STAC collection (relative hrefs)",
        )  # fmt: skip
    )
    return coll.to_dict(include_self_link=False, transform_hrefs=False)
