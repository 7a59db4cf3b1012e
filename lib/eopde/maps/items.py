"""What the maps need from a STAC item, whatever form it comes in.

Items reach the maps as pystac Items, STAC Item dicts, the features of a GeoJSON
FeatureCollection, a pystac ItemCollection, or an `eopde.catalogue.SearchResults`. The helpers
here read the few things the maps use (id, geometry, bbox, date, self URL, assets) from any of
these without converting whole items, so thousands of items stay cheap. Standard library only.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ItemLike",
    "ItemsLike",
    "as_items",
    "asset_field",
    "asset_keys",
    "asset_raster_band",
    "find_asset",
    "item_bbox",
    "item_date",
    "item_datetime",
    "item_geometry",
    "item_id",
    "item_properties",
    "self_href",
]

#: A pystac Item or a STAC Item dict.
ItemLike = Any
#: Items in any form `as_items` accepts.
ItemsLike = Any

#: Sentinel-2 band names and their eo common names (for presets on catalogues that key assets
#: by common name, e.g. Earth Search's "red", "nir").
S2_COMMON_NAMES: dict[str, str] = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge",
    "B06": "rededge", "B07": "rededge", "B08": "nir", "B8A": "nir08", "B09": "nir09",
    "B11": "swir16", "B12": "swir22",
}  # fmt: skip


def _is_item_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("type") == "Feature"


def as_items(items: ItemsLike) -> list[ItemLike]:
    """A list of items from a pystac Item or ItemCollection, a STAC Item dict, a GeoJSON
    FeatureCollection dict, a list of Items or Item dicts, or any iterable of those (such as an
    `eopde.catalogue.SearchResults`). The items themselves are not copied."""
    if items is None:
        return []
    if isinstance(items, Mapping):
        kind = items.get("type")
        if kind == "FeatureCollection":
            return list(items.get("features") or [])
        if kind == "Feature":
            return [items]
        raise TypeError(
            f"a dict of type {kind!r} is not a STAC Item or a FeatureCollection of items"
        )
    if _is_pystac_item(items):
        return [items]
    if isinstance(items, (str, bytes)):
        raise TypeError("items must be STAC Items, not a string (load the JSON first)")
    try:
        out = list(items)
    except TypeError:
        raise TypeError(
            f"{type(items).__name__} is not an item or a collection of items; give pystac "
            "Items, an ItemCollection, search results, or GeoJSON Feature(Collection) dicts"
        ) from None
    for obj in out:
        if not (_is_pystac_item(obj) or _is_item_dict(obj)):
            raise TypeError(
                f"{type(obj).__name__} in items is neither a pystac Item nor a GeoJSON Feature"
            )
    return out


def _is_pystac_item(obj: Any) -> bool:
    # Duck-typed so that pystac need not be imported here.
    return hasattr(obj, "get_self_href") and hasattr(obj, "assets") and hasattr(obj, "geometry")


def item_id(item: ItemLike) -> str:
    return str(item["id"] if isinstance(item, Mapping) else item.id)


def item_geometry(item: ItemLike) -> dict[str, Any] | None:
    return item.get("geometry") if isinstance(item, Mapping) else item.geometry


def item_properties(item: ItemLike) -> Mapping[str, Any]:
    return (item.get("properties") or {}) if isinstance(item, Mapping) else item.properties


def item_bbox(item: ItemLike) -> tuple[float, float, float, float] | None:
    """(west, south, east, north): the item's bbox, or the extent of its geometry."""
    bbox = item.get("bbox") if isinstance(item, Mapping) else item.bbox
    if bbox and len(bbox) >= 4:
        if len(bbox) == 6:  # 3D: minx, miny, minz, maxx, maxy, maxz
            return (bbox[0], bbox[1], bbox[3], bbox[4])
        return (bbox[0], bbox[1], bbox[2], bbox[3])
    geometry = item_geometry(item)
    if not geometry:
        return None
    xs: list[float] = []
    ys: list[float] = []
    _collect(geometry.get("coordinates"), xs, ys)
    if geometry.get("type") == "GeometryCollection":
        for g in geometry.get("geometries", []):
            _collect(g.get("coordinates"), xs, ys)
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def _collect(coords: Any, xs: list[float], ys: list[float]) -> None:
    if not coords:
        return
    if isinstance(coords[0], (int, float)):
        xs.append(coords[0])
        ys.append(coords[1])
        return
    for c in coords:
        _collect(c, xs, ys)


def _parse_dt(value: Any) -> _dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value
    text = str(value).strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def item_datetime(item: ItemLike) -> _dt.datetime | None:
    """The item's datetime (or its start_datetime), timezone-aware in UTC when the item says so."""
    if not isinstance(item, Mapping) and getattr(item, "datetime", None) is not None:
        return item.datetime
    props = item_properties(item)
    return _parse_dt(props.get("datetime")) or _parse_dt(props.get("start_datetime"))


def item_date(item: ItemLike) -> _dt.date | None:
    """The UTC calendar date of the acquisition (what the time slider groups by)."""
    when = item_datetime(item)
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(_dt.UTC)
    return when.date()


def self_href(item: ItemLike) -> str | None:
    """The URL (or path) of the item's JSON: its ``self`` link."""
    if not isinstance(item, Mapping):
        return item.get_self_href()
    for link in item.get("links") or ():
        if link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def _assets(item: ItemLike) -> dict[str, dict[str, Any]]:
    if isinstance(item, Mapping):
        return dict(item.get("assets") or {})
    return {key: {"href": a.href, **(a.extra_fields or {}), "roles": a.roles or []}
            for key, a in item.assets.items()}


def asset_keys(item: ItemLike) -> list[str]:
    return list(_assets(item))


def asset_field(item: ItemLike, key: str, field: str) -> Any:
    """A field of an asset (e.g. "classification:classes"), None when absent."""
    return (_assets(item).get(key) or {}).get(field)


def _common_names(asset: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for band in asset.get("eo:bands") or ():  # STAC 1.0
        if band.get("common_name"):
            names.add(band["common_name"])
    for band in asset.get("bands") or ():  # STAC 1.1
        if band.get("eo:common_name"):
            names.add(band["eo:common_name"])
    return names


def find_asset(item: ItemLike, band: str) -> str | None:
    """The key of the asset holding ``band``: an asset named like it ("B04"), an asset named
    by its common name ("red" for "B04"), or an asset whose eo bands have that common name."""
    assets = _assets(item)
    if band in assets:
        return band
    lowered = {k.lower(): k for k in assets}
    if band.lower() in lowered:
        return lowered[band.lower()]
    common = S2_COMMON_NAMES.get(band.upper(), band.lower())
    if common in assets:
        return common
    for key, asset in assets.items():
        if common in _common_names(asset):
            return key
    return None


def asset_raster_band(item: ItemLike, key: str) -> dict[str, Any]:
    """The first ``raster:bands`` entry of an asset (STAC 1.0), or the raster fields of its first
    ``bands`` entry (STAC 1.1); {} when the item says nothing."""
    asset = _assets(item).get(key) or {}
    bands = asset.get("raster:bands")
    if bands:
        return dict(bands[0])
    bands = asset.get("bands")
    if bands:
        first = bands[0]
        out = {k.removeprefix("raster:"): v for k, v in first.items() if k.startswith("raster:")}
        for k in ("nodata", "data_type", "scale", "offset"):
            if k in first:
                out[k] = first[k]
        for k in ("scale", "offset", "nodata", "data_type"):
            if k in asset and k not in out:
                out[k] = asset[k]
        return out
    return {k: asset[k] for k in ("scale", "offset", "nodata", "data_type") if k in asset}
