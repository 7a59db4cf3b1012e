"""Footprints of many items as one light GeoJSON FeatureCollection, and grouping by date.

A map stays responsive with thousands of footprints when they are one GeoJSON layer (drawn on a
canvas) of simplified geometries with only the few properties shown on hover. This module builds
that FeatureCollection with shapely's vectorised functions: each footprint is simplified with a
tolerance relative to its own size (invisible at the zoom where it is seen whole), coordinates
are rounded (5 decimals, about 1 m), and items without a geometry fall back to their bbox.

No ipyleaflet here; shapely and numpy are imported when first used.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from .items import (
    ItemLike,
    ItemsLike,
    as_items,
    item_bbox,
    item_date,
    item_geometry,
    item_id,
    item_properties,
)

__all__ = [
    "DEFAULT_PROPERTIES",
    "INDEX_PROPERTY",
    "Bounds",
    "bbox_polygon",
    "dates",
    "feature_collection",
    "group_by_date",
    "items_bounds",
]

#: Item properties copied into each footprint (shown on hover); the rest is left out.
DEFAULT_PROPERTIES: tuple[str, ...] = (
    "datetime", "start_datetime", "eo:cloud_cover", "platform", "title", "eopde:catalogue",
)  # fmt: skip
#: Footprint property holding the item's position in the list the map was given.
INDEX_PROPERTY = "i"
#: Simplification tolerance as a fraction of each footprint's larger side.
RELATIVE_TOLERANCE = 0.005

#: (west, south, east, north) in degrees.
Bounds = tuple[float, float, float, float]


def bbox_polygon(bbox: Bounds) -> dict[str, Any]:
    """GeoJSON Polygon of a (west, south, east, north) box."""
    w, s, e, n = bbox
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def feature_collection(
    items: ItemsLike,
    *,
    properties: Sequence[str] = DEFAULT_PROPERTIES,
    tolerance: float | None = None,
    precision: int = 5,
) -> dict[str, Any]:
    """One GeoJSON FeatureCollection of the items' footprints.

    Every feature has ``id`` = the item id and properties ``id``, ``collection``, ``i`` (index of
    the item in ``items``), ``date`` (UTC, ISO) and those of ``properties`` that the item has.
    tolerance: simplification in degrees for all footprints (None: relative to each one's size;
    0: none). precision: decimals kept in the coordinates.
    """
    import numpy as np
    import shapely

    seq = as_items(items)
    geojsons: list[dict[str, Any]] = []
    keep: list[int] = []
    for i, item in enumerate(seq):
        geometry = item_geometry(item)
        if not geometry:
            bbox = item_bbox(item)
            if bbox is None:
                continue
            geometry = bbox_polygon(bbox)
        geojsons.append(geometry)
        keep.append(i)

    geoms = np.array([shapely.geometry.shape(g) for g in geojsons], dtype=object)
    if len(geoms):
        if tolerance is None:
            xmin, ymin, xmax, ymax = shapely.bounds(geoms).T
            tol = np.maximum(xmax - xmin, ymax - ymin) * RELATIVE_TOLERANCE
        else:
            tol = np.full(len(geoms), float(tolerance))
        simplified = shapely.simplify(geoms, tol, preserve_topology=True)
        # simplification must never lose a footprint
        empty = shapely.is_empty(simplified)
        simplified[empty] = geoms[empty]
        geoms = shapely.transform(simplified, lambda xy: np.round(xy, precision))

    features = []
    for geom, i in zip(geoms, keep, strict=True):
        item = seq[i]
        props = item_properties(item)
        out: dict[str, Any] = {"id": item_id(item), INDEX_PROPERTY: i}
        collection = _collection(item)
        if collection:
            out["collection"] = collection
        date = item_date(item)
        if date is not None:
            out["date"] = date.isoformat()
        for key in properties:
            value = props.get(key)
            if value is not None:
                out[key] = value if not isinstance(value, _dt.datetime) else value.isoformat()
        features.append({
            "type": "Feature",
            "id": out["id"],
            "geometry": shapely.geometry.mapping(geom),
            "properties": out,
        })
    return {"type": "FeatureCollection", "features": features}


def _collection(item: ItemLike) -> str | None:
    if isinstance(item, dict):
        return item.get("collection")
    return getattr(item, "collection_id", None)


def items_bounds(items: ItemsLike) -> Bounds | None:
    """(west, south, east, north) of all the items' bboxes; None when none has one."""
    boxes = [b for b in (item_bbox(i) for i in as_items(items)) if b is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def group_by_date(items: ItemsLike) -> dict[_dt.date, list[ItemLike]]:
    """Items by UTC acquisition date, dates in ascending order (items without a date left out)."""
    groups: dict[_dt.date, list[ItemLike]] = {}
    for item in as_items(items):
        date = item_date(item)
        if date is not None:
            groups.setdefault(date, []).append(item)
    return dict(sorted(groups.items()))


def dates(items: ItemsLike) -> list[_dt.date]:
    """The distinct UTC acquisition dates of the items, in order."""
    return list(group_by_date(items))
