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

The module is the public face of four: :mod:`~eopde.services.demodata_scenes` (the definitions),
:mod:`~eopde.services.demodata_synth` (the pixels), :mod:`~eopde.services.demodata_stac` (the
STAC metadata) and this one (writing the files, and the items and collection as dicts).

Heavy modules (numpy, rasterio, pystac) are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .demodata_scenes import (
    ASSET_KEYS,
    BANDS,
    COG_MEDIA_TYPE,
    COLLECTION_ID,
    NODATA,
    OFFSET,
    PNG_MEDIA_TYPE,
    SCALE,
    SCL_CLASSES,
    SCL_CLOUD_CODES,
    SCL_COLORS,
    SIZE_10M,
    SIZE_20M,
    THUMBNAIL_SIZE,
    Area,
    Scene,
    areas,
    asset_filename,
    scenes,
)
from .demodata_stac import build_collection, build_item
from .demodata_synth import Landscape, landscape, synthesize, synthetic_cloud_cover, thumbnail

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "ASSET_KEYS",
    "BANDS",
    "COG_MEDIA_TYPE",
    "COLLECTION_ID",
    "GENERATOR_VERSION",
    "MARKER_NAME",
    "NODATA",
    "OFFSET",
    "PNG_MEDIA_TYPE",
    "SCALE",
    "SCL_CLASSES",
    "SCL_CLOUD_CODES",
    "SCL_COLORS",
    "SIZE_10M",
    "SIZE_20M",
    "THUMBNAIL_SIZE",
    "Area",
    "Scene",
    "areas",
    "scenes",
    "generate",
    "collection",
    "items",
    "source_files",
]

#: Bump whenever the generated pixels or file layout change (invalidates existing output).
GENERATOR_VERSION = "1"
MARKER_NAME = ".eopde-demodata.json"


def source_files() -> list[Path]:
    """The code the data and its item JSON come from (a change there: load them again)."""
    here = Path(__file__)
    return [here.with_name(f"{here.stem}{part}.py") for part in ("_scenes", "_synth", "_stac", "")]


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


def _relative_files() -> list[str]:
    """Every file generate() writes, relative to ``dest`` (assets, then the static STAC JSON)."""
    out = [
        f"{COLLECTION_ID}/{scene.item_id}/{asset_filename(key)}"
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
    landscapes: dict[str, Landscape] = {}
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        for scene in scenes():
            land = landscapes.get(scene.area.key)
            if land is None:
                land = landscapes[scene.area.key] = landscape(scene.area)
            dn, scl = synthesize(scene, land)
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
            _write_png(folder / "thumbnail.png", thumbnail(dn))

    # static, self-contained STAC collection next to the data (relative hrefs)
    all_scenes = scenes()
    stac_items = [build_item(s, coll_dir / s.item_id, None) for s in all_scenes]
    covers = [float(i.properties["eo:cloud_cover"]) for i in stac_items]
    coll = build_collection(all_scenes, covers, thumbnail_base=".")
    coll.add_items(stac_items)
    coll.normalize_hrefs(str(coll_dir.resolve()))
    coll.make_all_asset_hrefs_relative()
    coll.save(pystac.CatalogType.SELF_CONTAINED)

    marker.write_text(
        json.dumps({"generator": __name__, "version": GENERATOR_VERSION, "files": rel}, indent=1)
        + "\n"
    )
    return paths


# --------------------------------------------------------------------------- STAC as dicts


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
        item = build_item(s, root / s.item_id, f"{base}/{COLLECTION_ID}/{s.item_id}")
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
        covers = [synthetic_cloud_cover(s) for s in scenes()]
    coll = build_collection(scenes(), covers, thumbnail_base=f"{base}/{COLLECTION_ID}")
    coll.add_link(
        pystac.Link(
            "alternate",
            f"{base}/{COLLECTION_ID}/collection.json",
            media_type=pystac.MediaType.JSON,
            title="Static STAC collection (relative hrefs)",
        )  # fmt: skip
    )
    return coll.to_dict(include_self_link=False, transform_hrefs=False)
