"""The demo scenes' pixels (part of :mod:`eopde.services.demodata`): a static landscape per
area, its reflectance on each date (crop phenology), clouds and their shadows cast along the
computed sun position, the L2A digital numbers and the scene classification (SCL).

numpy and rasterio are imported inside the functions that need them.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .demodata_scenes import OFFSET, SCALE, SCL_CLOUD_CODES, SIZE_10M, THUMBNAIL_SIZE, Area, Scene

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

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


def sun_position(when: _dt.datetime, lat: float, lon: float) -> tuple[float, float]:
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


def centre_lonlat(scene: Scene) -> tuple[float, float]:
    from rasterio.warp import transform

    x0, y0 = scene.area.origin
    half = SIZE_10M * 10 / 2
    xs, ys = transform(scene.area.crs, "EPSG:4326", [x0 + half], [y0 - half])
    return xs[0], ys[0]


def _sun(scene: Scene) -> tuple[float, float]:
    lon, lat = centre_lonlat(scene)
    return sun_position(scene.datetime, lat, lon)


# --------------------------------------------------------------------------- synthesis


@dataclass
class Landscape:
    """The static land cover of an area at 10 m (the same on every date)."""

    kind: np.ndarray  # uint8, one of the _*_K constants
    crop: np.ndarray  # uint8 index into _CROPS (meaningful for fields/wood)
    parcel: np.ndarray  # int32 parcel id (for per-date jitter)
    soil: np.ndarray  # float32 soil brightness factor
    texture: np.ndarray  # float32 in [-1, 1], within-field variability
    turbidity: np.ndarray  # float32 in [0, 1]
    roof: np.ndarray  # uint8 roof material (urban), 3 = garden


def landscape(area: Area) -> Landscape:
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

    return Landscape(kind, crop, parcel, soil.astype(np.float32), texture, turbidity, roof)


def _surface(land: Landscape, scene: Scene) -> np.ndarray:
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


def synthesize(scene: Scene, land: Landscape) -> tuple[np.ndarray, np.ndarray]:
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


def thumbnail(dn: np.ndarray) -> np.ndarray:
    """True-colour uint8 (3, 256, 256) from the B02/B03/B04 digital numbers (area average)."""
    import numpy as np

    rgb = dn[[2, 1, 0]].astype(np.float32) * SCALE + OFFSET
    n, t = rgb.shape[-1], THUMBNAIL_SIZE
    starts = (np.arange(t) * n) // t
    counts = np.diff(np.append(starts, n)).astype(np.float32)
    small = np.add.reduceat(np.add.reduceat(rgb, starts, axis=1), starts, axis=2)
    small /= counts[None, :, None] * counts[None, None, :]
    return (np.clip(small / 0.3, 0, 1) ** (1 / 1.8) * 255 + 0.5).astype(np.uint8)


def scl_cloud_cover(scl: np.ndarray) -> float:
    """Percent of valid SCL pixels that are cloud (8, 9, 10), like Sen2Cor's cloudy percentage."""
    import numpy as np

    valid = scl != 0
    if not valid.any():
        return 0.0
    cloudy = np.isin(scl, SCL_CLOUD_CODES) & valid
    return round(float(cloudy.sum()) * 100.0 / float(valid.sum()), 2)


def synthetic_cloud_cover(scene: Scene) -> float:
    """eo:cloud_cover of a scene without its files (the SCL cloud classes depend on clouds only)."""
    import numpy as np

    opacity, _ = _clouds(scene)
    cloud = _scl_cloud(_block_mean(opacity))
    return scl_cloud_cover(np.where(cloud > 0, cloud, 5))  # every other pixel is valid

