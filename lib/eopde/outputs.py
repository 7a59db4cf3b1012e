"""Inputs and results of a notebook that runs as an application package.

In the `parameters` cell, mark EO inputs with these annotations (they are plain `str` at run time:
the path of a local folder holding a staged STAC catalog, `catalog.json`):

    from eopde.outputs import StacItem, StacCollection

    scene: StacItem = "data/scene"            # the scene to process (one STAC item)
    scenes: list[StacItem] = []               # several scenes, one folder each
    archive: StacCollection = "data/archive"  # a staged collection

Read a staged input with `load_items(scene)`; write results with `save(...)`, which puts a
self-contained STAC catalog (`catalog.json` + items + assets) into the output folder (default: the
current working directory, which is the result `Directory` when the package runs under CWL):

    from eopde import outputs
    outputs.save("ndvi.tif", datetime=items[0].datetime, properties={"eopde:threshold": 0.3})

Heavy imports (pystac, rasterio) happen inside the functions.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping


class StacItem(str):
    """Parameter annotation: one STAC item, staged as a folder holding `catalog.json`."""


class StacItems(str):
    """Parameter annotation: several STAC items (same as `list[StacItem]`)."""


class StacCollection(str):
    """Parameter annotation: a STAC collection, staged as a folder holding `catalog.json`."""


class OutputsError(ValueError):
    """A staged input cannot be read or a result cannot be saved; the message says why."""


MEDIA_TYPES = {
    ".tif": "image/tiff; application=geotiff",
    ".tiff": "image/tiff; application=geotiff",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".nc": "application/x-netcdf",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".html": "text/html",
    ".ipynb": "application/x-ipynb+json",
    ".parquet": "application/vnd.apache.parquet",
    ".zarr": "application/vnd+zarr",
}
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


# --- inputs ---------------------------------------------------------------------------------

def load_items(folder: str | os.PathLike) -> list:
    """The STAC items of a staged input: `folder/catalog.json` (or a catalog/collection/item
    JSON file given directly), with every asset href made an absolute local path or URL."""
    import pystac

    path = Path(folder)
    if path.is_dir():
        path = path / "catalog.json"
        if not path.exists():
            found = sorted(Path(folder).glob("*.json"))
            hint = f" (it holds {', '.join(p.name for p in found)})" if found else ""
            raise OutputsError(f"{folder} holds no catalog.json{hint}; an EO input is a folder "
                               "with a STAC catalog named catalog.json")
    if not path.exists():
        raise OutputsError(f"{path} does not exist")
    obj = pystac.read_file(str(path.resolve()))
    if isinstance(obj, pystac.Item):
        items = [obj]
    elif isinstance(obj, pystac.Catalog):
        items = list(obj.get_items(recursive=True))
    else:
        raise OutputsError(f"{path} is a {type(obj).__name__}, not a STAC catalog or item")
    for item in items:
        item.make_asset_hrefs_absolute()
        for asset in item.assets.values():
            if asset.href.startswith("file://"):
                asset.href = asset.href[len("file://"):]
    return items


# --- results --------------------------------------------------------------------------------

def save(assets: str | os.PathLike | Mapping[str, Any] | Iterable,
         *,
         id: str | None = None,
         datetime: _dt.datetime | str | None = None,
         properties: Mapping[str, Any] | None = None,
         geometry: Mapping[str, Any] | None = None,
         bbox: list[float] | None = None,
         title: str | None = None,
         roles: list[str] | None = None,
         output_dir: str | os.PathLike | None = None,
         catalog_id: str = "results",
         catalog_description: str = "Results of the application") :
    """Add one STAC item holding `assets` to the result catalog in `output_dir` (default: the
    current directory) and write the catalog (`catalog.json`, self-contained, relative links).

    `assets`: a file path, a list of paths, or {asset key: path or dict(href=, type=, roles=,
    title=)}. Files outside the output folder are copied into `output_dir/<id>/`. Media types come
    from the file extension (GeoTIFF, COG, PNG, ...). `geometry`/`bbox` default to the footprint of
    the first raster asset, reprojected to WGS84. `datetime` defaults to now (UTC); a string is
    parsed as ISO 8601. Calling `save` again adds another item to the same catalog (an item with
    the same id is replaced). Returns the pystac Item.
    """
    import pystac

    out = Path(output_dir) if output_dir is not None else Path.cwd()
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    specs = _asset_specs(assets)
    if not specs:
        raise OutputsError("save() needs at least one asset (a file path)")
    first_path = next((Path(s["href"]) for s in specs.values()), None)
    item_id = id or (first_path.stem if first_path else "result")
    item_dir = out / item_id

    resolved: dict[str, dict] = {}
    for key, spec in specs.items():
        src = Path(spec["href"])
        if not src.exists():
            raise OutputsError(f"asset {key!r}: {src} does not exist; write the file first")
        src = src.resolve()
        if out not in src.parents:
            item_dir.mkdir(parents=True, exist_ok=True)
            dest = item_dir / src.name
            if src.is_dir():
                shutil.copytree(src, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dest)
            src = dest
        if src.is_file() and src.suffix.lower() in (".tif", ".tiff") and not spec.get("type"):
            make_cog(src)
        resolved[key] = {**spec, "href": str(src)}

    raster = next((Path(s["href"]) for s in resolved.values() if _is_raster(Path(s["href"]))),
                  None)
    proj: dict[str, Any] = {}
    if geometry is None:
        if raster is None:
            raise OutputsError("no geometry: give `geometry=` (GeoJSON, WGS84) and `bbox=`, or "
                               "include a georeferenced raster (GeoTIFF) among the assets")
        geometry, b, proj = _footprint(raster)
        bbox = bbox or b
    elif raster is not None:
        proj = _footprint(raster)[2]
    if bbox is None:
        bbox = _bbox_of(geometry)

    when = _parse_datetime(datetime)
    props = dict(properties or {})
    if title:
        props.setdefault("title", title)
    item = pystac.Item(item_id, geometry=dict(geometry), bbox=list(bbox), datetime=when,
                       properties=props)
    for key, spec in resolved.items():
        path = Path(spec["href"])
        media = spec.get("type") or _media_type(path)
        asset_roles = spec.get("roles") or roles or (
            ["overview"] if path.suffix.lower() in (".png", ".jpg", ".jpeg") else ["data"])
        extra = {}
        if raster is not None and path == raster and proj:
            extra = proj
        item.add_asset(key, pystac.Asset(href=str(path), media_type=media, roles=list(asset_roles),
                                         title=spec.get("title"), extra_fields=extra))
    if proj:
        item.stac_extensions.append(
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json")

    cat_path = out / "catalog.json"
    if cat_path.exists():
        catalog = pystac.Catalog.from_file(str(cat_path))
        if next(catalog.get_items(item_id), None) is not None:
            catalog.remove_item(item_id)
    else:
        catalog = pystac.Catalog(catalog_id, catalog_description)
    catalog.add_item(item)
    catalog.normalize_hrefs(str(out))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED, dest_href=str(out))
    return item


def _asset_specs(assets) -> dict[str, dict]:
    if isinstance(assets, (str, os.PathLike)):
        assets = [assets]
    if isinstance(assets, Mapping):
        specs = {}
        for key, value in assets.items():
            if isinstance(value, Mapping):
                specs[str(key)] = dict(value)
            else:
                specs[str(key)] = {"href": os.fspath(value)}
        return specs
    specs = {}
    for value in assets:
        path = Path(os.fspath(value))
        key = path.stem
        n = 2
        while key in specs:
            key, n = f"{path.stem}-{n}", n + 1
        specs[key] = {"href": str(path)}
    return specs


def _is_raster(path: Path) -> bool:
    return path.suffix.lower() in (".tif", ".tiff", ".nc", ".jp2", ".img", ".vrt")


def _media_type(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff") and _is_cog(path):
        return COG_MEDIA_TYPE
    return MEDIA_TYPES.get(suffix)


def make_cog(path: str | os.PathLike) -> bool:
    """Rewrite a GeoTIFF in place as a Cloud Optimized GeoTIFF (tiled, DEFLATE, overviews),
    so that tilers and map previews read it efficiently. False when it already was one (or is
    not a GeoTIFF that GDAL can read: left as it is)."""
    import rasterio
    import rasterio.shutil

    path = Path(path)
    try:
        with rasterio.open(path) as ds:
            if ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG":
                return False
    except rasterio.errors.RasterioError:
        return False
    tmp = path.with_name(f".{path.name}.cog.tmp")
    try:
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
            rasterio.shutil.copy(str(path), str(tmp), driver="COG", COMPRESS="DEFLATE",
                                 OVERVIEW_RESAMPLING="AVERAGE", BLOCKSIZE=512)
    except rasterio.errors.RasterioError:
        tmp.unlink(missing_ok=True)
        return False
    os.replace(tmp, path)
    return True


def _is_cog(path: Path) -> bool:
    try:
        import rasterio

        with rasterio.open(path) as ds:
            if ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG":
                return True
            if not ds.profile.get("tiled"):
                return False
            # a COG is tiled, and has overviews unless it is small
            return max(ds.width, ds.height) <= 512 or bool(ds.overviews(1))
    except Exception:
        return False


def _footprint(path: Path) -> tuple[dict, list[float], dict]:
    """(GeoJSON polygon in WGS84, bbox, projection extension fields) of a raster."""
    import rasterio
    from rasterio.warp import transform_bounds

    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise OutputsError(f"{path.name} has no CRS; write it with one (rasterio "
                                   "`crs=`), or give `geometry=` and `bbox=` to save()")
            west, south, east, north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds,
                                                        densify_pts=21)
            proj = {"proj:shape": [ds.height, ds.width],
                    "proj:transform": list(ds.transform)[:6]}
            epsg = ds.crs.to_epsg()
            if epsg:
                proj["proj:code"] = f"EPSG:{epsg}"
            else:
                proj["proj:wkt2"] = ds.crs.to_wkt()
    except rasterio.errors.RasterioIOError as err:
        raise OutputsError(f"cannot read {path} as a raster: {err}") from None
    bbox = [west, south, east, north]
    geometry = {"type": "Polygon", "coordinates": [[
        [west, south], [east, south], [east, north], [west, north], [west, south]]]}
    return geometry, bbox, proj


def _bbox_of(geometry: Mapping) -> list[float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(c):
        if c and isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for sub in c:
                walk(sub)

    walk(geometry["coordinates"])
    return [min(xs), min(ys), max(xs), max(ys)]


def _parse_datetime(value) -> _dt.datetime:
    if value is None:
        return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value
