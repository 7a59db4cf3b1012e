"""Where a collection has data: the union of its items' footprints (or, for a collection with
more items than are worth fetching, the boxes of its spatial extent), as one GeoJSON layer.

    >>> m = Map()
    >>> m.show_coverage("sentinel-2-l2a")   # the platform's catalogue; or catalogue=url

The union is simplified in the kernel, so the browser gets a few hundred points whatever the
number of items.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COVERAGE_STYLE", "coverage_geojson", "coverage_layer"]

COVERAGE_STYLE: dict[str, Any] = {
    "color": "#1b9e77", "weight": 2, "opacity": 0.9, "fillColor": "#1b9e77", "fillOpacity": 0.12,
}  # fmt: skip
#: Items fetched at most to draw a union (two pages); beyond that the collection's extent.
MAX_ITEMS = 500
PAGE_SIZE = 250
#: Simplification of the union, in degrees (~100 m): footprints are far larger.
TOLERANCE = 0.001
_WHOLE_WORLD = (-180.0, -90.0, 180.0, 90.0)


def _extent_boxes(catalogue: Any, collection: str) -> list[tuple[float, float, float, float]]:
    """The boxes of the collection's spatial extent (the parts when there are several, else the
    overall box). catalogue: a URL, a `Catalogue` or a backend with ``collections()``."""
    from eopde.catalogue import open_catalogue
    from eopde.catalogue.stac import platform_catalogue_url

    if catalogue is None or isinstance(catalogue, str):
        catalogue = open_catalogue(catalogue or platform_catalogue_url())
    if not hasattr(catalogue, "collections"):
        return []  # a CSW or OpenSearch backend: no collection extents
    found = {c.id: c for c in catalogue.collections()}
    if collection not in found:
        known = ", ".join(sorted(found)) or "none"
        raise LookupError(f"no collection {collection!r} in the catalogue (collections: {known})")
    boxes = []
    for box in found[collection].extent.spatial.bboxes or []:
        west, south, east, north = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
        boxes.append((float(west), float(south), float(east), float(north)))
    return boxes[1:] if len(boxes) > 1 else boxes


def coverage_geojson(collection: str, *, catalogue: Any = None,
                     max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """A FeatureCollection with one feature: where ``collection`` has data. Its properties say
    how it was found: ``source`` "items" (the union of the footprints of ``items`` items) or
    "extent" (the collection has more than ``max_items`` items)."""
    import shapely

    from eopde.catalogue import search

    from .footprints import bbox_polygon
    from .items import item_bbox, item_geometry

    found = list(search(url=catalogue, collections=[collection], max_items=max_items + 1,
                        limit=min(max_items + 1, PAGE_SIZE)))
    if len(found) <= max_items:
        shapes = []
        for item in found:
            geometry = item_geometry(item)
            if not geometry and (bbox := item_bbox(item)) is not None:
                geometry = bbox_polygon(bbox)
            if geometry:
                shapes.append(shapely.geometry.shape(geometry))
        union = shapely.unary_union(shapes).simplify(TOLERANCE) if shapes else None
        properties = {"collection": collection, "source": "items", "items": len(shapes)}
    else:
        boxes = [b for b in _extent_boxes(catalogue, collection) if b != _WHOLE_WORLD]
        union = shapely.unary_union([shapely.box(*b) for b in boxes]) if boxes else None
        properties = {"collection": collection, "source": "extent", "items": None}
    features = []
    if union is not None and not union.is_empty:
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(union),
                         "properties": properties})
    return {"type": "FeatureCollection", "features": features}


def coverage_layer(collection: str, *, catalogue: Any = None, max_items: int = MAX_ITEMS,
                   style: dict[str, Any] | None = None) -> Any:
    """An ipyleaflet GeoJSON layer "coverage: <collection>" of `coverage_geojson`."""
    import ipyleaflet

    data = coverage_geojson(collection, catalogue=catalogue, max_items=max_items)
    return ipyleaflet.GeoJSON(data=data, name=f"coverage: {collection}",
                              style=dict(COVERAGE_STYLE if style is None else style))
