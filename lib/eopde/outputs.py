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

A notebook that does not call `save` can still be packaged: the package then runs
`python -m eopde.outputs` after papermill, and `catalog_from_folder` makes the result catalog from
the files the notebook wrote into the output folder.

Heavy imports (pystac, rasterio) happen inside the functions.
"""

from __future__ import annotations

import datetime as _dt
import json
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
#: The STAC extension of the proj: fields that located raster assets carry.
PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"


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
        asset_roles = spec.get("roles") or roles or _default_roles(path)
        extra = {}
        if raster is not None and path == raster and proj:
            extra = proj
        item.add_asset(key, pystac.Asset(href=str(path), media_type=media, roles=list(asset_roles),
                                         title=spec.get("title"), extra_fields=extra))

    cat_path = out / "catalog.json"
    if cat_path.exists():
        catalog = pystac.Catalog.from_file(str(cat_path))
        if next(catalog.get_items(item_id), None) is not None:
            catalog.remove_item(item_id)
    else:
        catalog = pystac.Catalog(catalog_id, catalog_description)
    _write_catalog(catalog, item, out, projection=bool(proj))
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


def _default_roles(path: Path) -> list[str]:
    """An image is an overview; anything else is data."""
    return ["overview"] if path.suffix.lower() in (".png", ".jpg", ".jpeg") else ["data"]


def _box_polygon(bbox: list[float]) -> dict[str, Any]:
    """The GeoJSON polygon of a (west, south, east, north) box."""
    west, south, east, north = bbox
    return {"type": "Polygon", "coordinates": [[
        [west, south], [east, south], [east, north], [west, north], [west, south]]]}


def _write_catalog(catalog, item, out: Path, *, projection: bool) -> None:
    """Add `item` to `catalog` and write it self-contained into `out`, with relative links;
    `projection`: its raster assets carry proj: fields (the projection extension)."""
    import pystac

    if projection:
        item.stac_extensions.append(PROJECTION_EXTENSION)
    catalog.add_item(item)
    catalog.normalize_hrefs(str(out))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED, dest_href=str(out))


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
            proj: dict[str, Any] = {"proj:shape": [ds.height, ds.width],
                    "proj:transform": list(ds.transform)[:6]}
            epsg = ds.crs.to_epsg()
            if epsg:
                proj["proj:code"] = f"EPSG:{epsg}"
            else:
                proj["proj:wkt2"] = ds.crs.to_wkt()
    except rasterio.errors.RasterioIOError as err:
        raise OutputsError(f"cannot read {path} as a raster: {err}") from None
    bbox = [west, south, east, north]
    return _box_polygon(bbox), bbox, proj


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


# --- a result catalog from the files a notebook wrote ----------------------------------------

#: Files and folders of a result folder that are not results.
NOT_RESULTS = {"catalog.json", "parameters.yaml", "__pycache__", ".ipynb_checkpoints"}
#: Where an item with no located raster and no located input is placed: the whole Earth.
WORLD_BBOX = [-180.0, -90.0, 180.0, 90.0]


def catalog_from_folder(folder: str | os.PathLike = ".", *,
                        notebook: str | os.PathLike | None = None,
                        parameters: str | os.PathLike | None = None,
                        item_id: str | None = None,
                        catalog_id: str = "results",
                        catalog_description: str = "Results of the application") -> Path:
    """Write `folder/catalog.json`: a STAC catalog of one item whose assets are the files a
    notebook wrote into `folder` (returns its path). A folder that already holds a catalog.json
    (the notebook called `save`) is left as it is.

    - one asset per file (subfolders included; a `*.zarr` folder is one asset), keyed by the file
      name without extension; media types from the extension; hidden files, symbolic links,
      `parameters.yaml` and `__pycache__` are left out;
    - `notebook` (the executed notebook, in `folder`) is added as the asset `notebook` with the
      role `metadata`;
    - geometry and bbox: the union of the footprints of the georeferenced rasters (GeoTIFF,
      NetCDF, JPEG 2000...), which also get `proj:` fields; datetime: their TIFFTAG_DATETIME or
      `time_coverage_start`/`_end` metadata (several dates make a start/end range);
    - fallback, where the rasters say nothing: the EO inputs of the run (staged STAC catalogs
      named in the papermill `parameters` file) give the geometry and datetime; without those the
      item covers the whole Earth (bbox -180,-90,180,90) and its datetime is the time of the run.
    """
    import pystac

    out = Path(folder).resolve()
    cat_path = out / "catalog.json"
    if cat_path.exists():
        return cat_path
    nb_path = (out / notebook).resolve() if notebook else None
    files = _result_files(out, skip={nb_path} if nb_path else set())

    footprints: list[tuple[list[float], dict]] = []
    proj_of: dict[Path, dict] = {}
    dates: list[_dt.datetime] = []
    for path in files:
        if path.is_file() and _is_raster(path):
            located = _raster_place_and_time(path)
            if located is None:
                continue
            bbox, proj, seen = located
            if bbox is not None:
                footprints.append((bbox, proj))
                proj_of[path] = proj
            dates.extend(seen)
    if footprints:
        bbox = _union([b for b, _ in footprints])
    else:
        bbox = None
    if bbox is None or not dates:
        in_bbox, in_dates = _inputs_place_and_time(out, parameters)
        bbox = bbox or in_bbox
        dates = dates or in_dates
    bbox = bbox or list(WORLD_BBOX)
    props: dict[str, Any] = {}
    when: _dt.datetime | None
    if not dates:
        when = _parse_datetime(None)
    elif min(dates) == max(dates):
        when = min(dates)
    else:
        when = None
        props["start_datetime"] = min(dates).isoformat()
        props["end_datetime"] = max(dates).isoformat()
    geometry = _box_polygon(bbox)
    name = item_id or (Path(notebook).stem if notebook else "result")
    while (out / name).exists():  # the item's JSON goes to name/name.json: keep results intact
        name += "-result"
    item = pystac.Item(name, geometry=geometry, bbox=list(bbox), datetime=when, properties=props)
    keys: set[str] = set()
    for path in files:
        key = _asset_key(path, out, keys)
        media = _media_type(path)  # a Zarr folder by its .zarr suffix
        item.add_asset(key, pystac.Asset(href=str(path), media_type=media,
                                         roles=_default_roles(path),
                                         extra_fields=proj_of.get(path, {})))
    if nb_path is not None and nb_path.is_file():
        item.add_asset("notebook" if "notebook" not in keys else "executed-notebook",
                       pystac.Asset(href=str(nb_path), media_type=MEDIA_TYPES[".ipynb"],
                                    roles=["metadata"], title="The executed notebook"))
    _write_catalog(pystac.Catalog(catalog_id, catalog_description), item, out,
                   projection=bool(proj_of))
    return cat_path


def _result_files(out: Path, skip: set[Path]) -> list[Path]:
    """Files (and `*.zarr` folders) under `out`, sorted, without hidden or generated ones."""
    found: list[Path] = []

    def walk(folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.name in NOT_RESULTS or path.is_symlink():
                continue
            if path.resolve() in skip:
                continue
            if path.is_dir():
                if path.suffix.lower() == ".zarr":
                    found.append(path)
                else:
                    walk(path)
            elif path.is_file():
                found.append(path)

    walk(out)
    return found


def _asset_key(path: Path, out: Path, taken: set[str]) -> str:
    rel = path.relative_to(out)
    key = path.stem
    if key in taken or key == "notebook":
        key = rel.as_posix()
    n = 2
    base = key
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def _raster_place_and_time(path: Path):
    """(bbox in WGS84 or None, proj fields, [datetimes]) of a raster; None if unreadable."""
    try:
        import rasterio
    except ImportError:
        return None
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning: the fallback covers it
            with rasterio.open(path) as ds:
                tags = ds.tags()
                located = ds.crs is not None and not ds.transform.is_identity
    except Exception:  # not a raster GDAL reads (e.g. NetCDF without geo-referencing)
        return None
    bbox, proj = None, dict[str, Any]()
    if located:
        try:
            _, bbox, proj = _footprint(path)
        except Exception:
            bbox, proj = None, {}
    return bbox, proj, _tag_datetimes(tags)


def _tag_datetimes(tags: Mapping[str, str]) -> list[_dt.datetime]:
    found = []
    for key, value in tags.items():
        name = key.rsplit("#", 1)[-1]
        try:
            if name == "TIFFTAG_DATETIME":
                found.append(_dt.datetime.strptime(value.strip(), "%Y:%m:%d %H:%M:%S")
                             .replace(tzinfo=_dt.timezone.utc))
            elif name in ("time_coverage_start", "time_coverage_end"):
                found.append(_parse_datetime(value.strip()))
        except (ValueError, TypeError):
            continue
    return found


def _inputs_place_and_time(out: Path, parameters) -> tuple[list[float] | None,
                                                           list[_dt.datetime]]:
    """Union bbox and datetimes of the items of the staged EO inputs named in the parameters
    file (papermill's `-f` YAML, which the package writes as JSON)."""
    if not parameters:
        return None, []
    path = (out / parameters) if not Path(parameters).is_absolute() else Path(parameters)
    try:
        text = path.read_text()
    except OSError:
        return None, []
    try:
        values = json.loads(text)
    except ValueError:
        try:
            import yaml

            values = yaml.safe_load(text)
        except Exception:
            return None, []
    if not isinstance(values, dict):
        return None, []
    boxes: list[list[float]] = []
    dates: list[_dt.datetime] = []
    for value in values.values():
        for ref in value if isinstance(value, list) else [value]:
            if not isinstance(ref, str) or not ref or not (Path(ref) / "catalog.json").is_file():
                continue
            try:
                items = load_items(ref)
            except Exception:
                continue
            for item in items:
                b = list(item.bbox or [])
                if len(b) in (4, 6):  # 3D boxes: min x, y, z then max x, y, z
                    boxes.append([b[0], b[1], b[-3], b[-2]] if len(b) == 6 else b)
                if item.datetime:
                    dates.append(item.datetime)
    return (_union(boxes) if boxes else None), dates


def _union(boxes: list[list[float]]) -> list[float]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]


def main(argv: list[str] | None = None) -> int:
    """`python -m eopde.outputs [--notebook NB] [--parameters FILE] [FOLDER]`: write the result
    catalog of FOLDER (the generated application packages run this after papermill)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m eopde.outputs",
                                     description=main.__doc__)
    parser.add_argument("folder", nargs="?", default=".")
    parser.add_argument("--notebook", help="the executed notebook, added as an asset")
    parser.add_argument("--parameters", help="papermill's parameters file (EO inputs)")
    args = parser.parse_args(argv)
    path = catalog_from_folder(args.folder, notebook=args.notebook, parameters=args.parameters)
    print(f"eopde.outputs: result catalog {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
