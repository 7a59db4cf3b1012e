"""The demo scenes' definitions (part of :mod:`eopde.services.demodata`): the collection's
constants, the two areas and their six acquisitions. Standard library only."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

COLLECTION_ID = "sentinel-2-l2a"

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


def asset_filename(key: str) -> str:
    """The file name of an asset in a scene's folder."""
    return "thumbnail.png" if key == "thumbnail" else f"{key}.tif"
