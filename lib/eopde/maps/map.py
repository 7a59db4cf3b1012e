"""`Map`: an ipyleaflet map for EO search results, and `show_items`.

    >>> m = Map()                      # draw an area of interest with the polygon/rectangle tool
    >>> found = search(intersects=m, datetime="2025")
    >>> m.show(found, preview="true_color")   # footprints, a date slider with previews
    >>> m.add_preview(found.least_cloudy(), "ndvi")
    >>> m.compare("2025-04-16", "2025-07-15")  # split view of two dates

What is on it: the basemap, a Geoman draw control (its last shape is the AOI, `m.aoi`, and
`m.__geo_interface__`, so `search(intersects=m)` works), all footprints in one GeoJSON layer
(hover for details, click to select), a layers control, a time slider over the dates of the
items, raster previews through the platform's tile server (URLs from `eopde.maps.tiles`) and a
split view of two dates.
"""

from __future__ import annotations

import datetime as _dt
import html
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipyleaflet
import ipywidgets

from .footprints import INDEX_PROPERTY, bbox_polygon, group_by_date, items_bounds
from .items import ItemLike, ItemsLike, as_items, item_bbox, item_date, item_id
from .layers import SELECTED_STYLE, FootprintsLayer, basemap_layer, preview_layer
from .legend import legend_of_url
from .timeslider import MAX_PREVIEWS, TimeSlider
from .view import DEFAULT_SIZE, fit_view

__all__ = ["Map", "show_items"]

#: Properties shown in the details box, in this order (others are left out).
DETAIL_FIELDS = ("id", "collection", "datetime", "eo:cloud_cover", "platform", "eopde:catalogue")
AOI_STYLE = {"color": "#6a3d9a", "weight": 2, "fillOpacity": 0.05, "dashArray": "4 4"}
DRAW_PATH = {"pathOptions": {"color": "#6a3d9a", "weight": 2, "fillOpacity": 0.08}}

Geometry = dict[str, Any]
#: The maps of this kernel, and the one whose AOI changed last (`latest_aoi`).
_MAPS: weakref.WeakSet[Map] = weakref.WeakSet()
_latest: weakref.ref[Map] | None = None
AOILike = Any  # GeoJSON geometry/Feature dict, (w, s, e, n), __geo_interface__ object, or None


def _geometry(value: AOILike) -> Geometry | None:
    """A GeoJSON geometry dict from a geometry, a Feature, a FeatureCollection (its last
    feature), a (west, south, east, north) tuple, or an object with __geo_interface__."""
    if value is None:
        return None
    if hasattr(value, "__geo_interface__") and not isinstance(value, Mapping):
        value = value.__geo_interface__
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 4 \
            and all(isinstance(v, (int, float)) for v in value):
        west, south, east, north = (float(v) for v in value)
        return bbox_polygon((west, south, east, north))
    if not isinstance(value, Mapping):
        raise TypeError(
            f"aoi must be a GeoJSON geometry or Feature, a (west, south, east, north) tuple or an "
            f"object with __geo_interface__, not {type(value).__name__}")
    kind = value.get("type")
    if kind == "Feature":
        return _geometry(value.get("geometry"))
    if kind == "FeatureCollection":
        features = value.get("features") or []
        return _geometry(features[-1]) if features else None
    if "coordinates" not in value and kind != "GeometryCollection":
        raise TypeError(f"aoi: {kind!r} is not a GeoJSON geometry")
    return dict(value)


class Map(ipyleaflet.Map):
    """An ipyleaflet Map for searching and previewing EO items.

    items: items to show at once (see `show`); preview: preset of the raster previews shown per
    date ("true_color", "ndvi", a band such as "B08", or None for footprints only).
    draw: add the Geoman draw control (polygon, rectangle) whose last shape is the AOI.
    time_slider: None = when the items have more than one date (or a preview is asked for).
    basemap: None for the platform's offline basemap (coastlines, borders, places, from the tile
    server; OpenStreetMap when no tile server is configured), an ipyleaflet basemap/TileLayer,
    or False for none.
    coverage: a collection id (or ids) whose coverage is shown at once (see `show_coverage`).
    Other keyword arguments go to ipyleaflet.Map (center, zoom, layout...).
    """

    def __init__(
        self,
        items: ItemsLike | None = None,
        *,
        preview: str | None = None,
        draw: bool = True,
        layers_control: bool = True,
        details: bool = True,
        time_slider: bool | None = None,
        max_previews: int = MAX_PREVIEWS,
        basemap: Any = None,
        coverage: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("scroll_wheel_zoom", True)
        kwargs.setdefault("prefer_canvas", True)  # thousands of footprints draw fast on a canvas
        kwargs.setdefault("center", (45.0, 10.0))
        kwargs.setdefault("zoom", 4)
        if basemap is None:
            basemap = basemap_layer()
        if basemap is False:
            kwargs["layers"] = ()
        elif basemap is not None:
            kwargs["basemap"] = basemap
        super().__init__(**kwargs)
        #: The items shown (in the order given); footprint property "i" indexes this list.
        self.items: list[ItemLike] = []
        #: The footprints layer (None before `show`).
        self.footprints: FootprintsLayer | None = None
        #: Preview tile layers added by `add_preview`.
        self.previews: list[ipyleaflet.TileLayer] = []
        self.time_slider: TimeSlider | None = None
        self.split_control: ipyleaflet.SplitMapControl | None = None
        #: The item last clicked on the map (None if none).
        self.selected: ItemLike | None = None
        self.max_previews = max_previews
        self.preview = preview
        self._aoi: Geometry | None = None
        self._aoi_layer: ipyleaflet.GeoJSON | None = None
        self._selected_layer: ipyleaflet.GeoJSON | None = None
        self._aoi_callbacks: list[Callable[[Geometry | None], Any]] = []
        _MAPS.add(self)
        self._select_callbacks: list[Callable[[ItemLike], Any]] = []
        self._pinned = False
        self._tree: Any = None  # shapely STRtree of the footprints, built at the first hover
        self._last_hover: dict[str, Any] | None = None  # the last hover event (coordinates)
        #: Legends of colormapped layers (`add_legend`), by title, in one control.
        self.legends: dict[str, ipywidgets.HTML] = {}
        self.legend_control: ipyleaflet.WidgetControl | None = None
        #: Coverage layers added by `show_coverage`, by collection id.
        self.coverage: dict[str, ipyleaflet.GeoJSON] = {}

        self.draw_control: ipyleaflet.GeomanDrawControl | None = None
        if draw:
            self.draw_control = ipyleaflet.GeomanDrawControl(
                polygon=DRAW_PATH, rectangle=DRAW_PATH, polyline={}, circlemarker={},
                circle={}, marker={}, cut=False, rotate=False, position="topleft",
            )
            self.draw_control.observe(self._on_draw_data, names="data")
            self.draw_control.on_draw(self._on_draw)
            self.add(self.draw_control)
        self.layers_control: ipyleaflet.LayersControl | None = None
        if layers_control:
            self.layers_control = ipyleaflet.LayersControl(position="topright", collapsed=True)
            self.add(self.layers_control)
        self.details: ipywidgets.HTML | None = None
        self.details_control: ipyleaflet.WidgetControl | None = None
        if details:
            self.details = ipywidgets.HTML(
                "<small>hover over a footprint for details; click to select</small>",
                layout=ipywidgets.Layout(max_width="320px"))
            self.details_control = ipyleaflet.WidgetControl(widget=self.details,
                                                            position="bottomleft")
            self.add(self.details_control)
        if items is not None:
            self.show(items, preview=preview, time_slider=time_slider)
        for collection in [coverage] if isinstance(coverage, str) else coverage or []:
            self.show_coverage(collection)

    # ------------------------------------------------------------------ area of interest

    @property
    def aoi(self) -> Geometry | None:
        """The area of interest: the last shape drawn (or set), a GeoJSON geometry dict; None
        when nothing is drawn. Set it to a geometry, a Feature, a (west, south, east, north)
        tuple or a shapely geometry to show it on the map; None clears it."""
        return self._aoi

    @aoi.setter
    def aoi(self, value: AOILike) -> None:
        geometry = _geometry(value)
        if self._aoi_layer is not None:
            self.remove(self._aoi_layer)
            self._aoi_layer = None
        if geometry is not None:
            self._aoi_layer = ipyleaflet.GeoJSON(
                data={"type": "Feature", "geometry": geometry, "properties": {}},
                style=AOI_STYLE, name="area of interest")
            self.add(self._aoi_layer)
        self._set_aoi(geometry)

    @property
    def aoi_bbox(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) of the AOI, None when nothing is drawn."""
        if self._aoi is None:
            return None
        return item_bbox({"type": "Feature", "geometry": self._aoi})

    @property
    def __geo_interface__(self) -> Geometry | None:
        """The AOI as a GeoJSON geometry (None when nothing is drawn): `search(intersects=m)`."""
        return self._aoi

    def on_aoi(self, callback: Callable[[Geometry | None], Any], remove: bool = False) -> None:
        """Call ``callback(aoi)`` whenever the AOI changes (drawn, edited, removed, set)."""
        if remove:
            self._aoi_callbacks.remove(callback)
        else:
            self._aoi_callbacks.append(callback)

    def _set_aoi(self, geometry: Geometry | None) -> None:
        if geometry == self._aoi:
            return
        global _latest
        self._aoi = geometry
        _latest = weakref.ref(self)
        for callback in list(self._aoi_callbacks):
            callback(geometry)

    def _on_draw_data(self, change: dict[str, Any]) -> None:
        # The browser sends all drawn shapes after every creation, edit, drag or removal.
        shapes = [f for f in change["new"] or [] if isinstance(f, Mapping) and f.get("geometry")]
        if shapes and self._aoi_layer is not None:  # a drawing replaces an AOI set in code
            self.remove(self._aoi_layer)
            self._aoi_layer = None
        if shapes or self._aoi_layer is None:
            self._set_aoi(_geometry(shapes[-1]) if shapes else None)

    def _on_draw(self, control: Any, action: str, geo_json: Any) -> None:
        # pm:create reports the new shape at once (the data sync follows).
        if action == "create" and geo_json:
            shape = geo_json[-1] if isinstance(geo_json, list) else geo_json
            if isinstance(shape, Mapping) and shape.get("geometry"):
                if self._aoi_layer is not None:
                    self.remove(self._aoi_layer)
                    self._aoi_layer = None
                self._set_aoi(_geometry(shape))

    # ------------------------------------------------------------------ coverage

    def show_coverage(self, collection: str, *, catalogue: Any = None,
                      zoom: bool = False) -> ipyleaflet.GeoJSON:
        """Outline where ``collection`` has data (the union of its items' footprints, or its
        extent when it has too many items; see `eopde.maps.coverage`) so you know where to
        draw an AOI. catalogue: a URL or `Catalogue` (default: the platform's)."""
        from .coverage import coverage_layer

        layer = coverage_layer(collection, catalogue=catalogue)
        if collection in self.coverage:
            self.substitute(self.coverage[collection], layer)
        else:
            self.add(layer)
        self.coverage[collection] = layer
        if zoom:
            from .footprints import items_bounds

            bounds = items_bounds(layer.data)
            if bounds is not None:
                self.zoom_to(bounds)
        return layer

    # ------------------------------------------------------------------ items

    def show(
        self,
        items: ItemsLike,
        *,
        preview: str | None = None,
        time_slider: bool | None = None,
        zoom: bool = True,
        tolerance: float | None = None,
    ) -> Map:
        """Show the items' footprints (one layer, replacing earlier ones), a time slider over
        their dates and, with ``preview``, the chosen date's raster previews; zoom to them."""
        self.items = as_items(items)
        if preview is not None:
            self.preview = preview
        layer = FootprintsLayer.from_items(self.items, tolerance=tolerance)
        self.attach_feature_events(layer)
        if self.footprints is not None and self.footprints.model_id in self._layer_ids:
            self.substitute(self.footprints, layer)
        else:
            self.add(layer)
        self.footprints = layer
        self._tree = None
        self._select(None)
        if self.time_slider is not None:
            self.time_slider.close()
            self.time_slider = None
        groups = group_by_date(self.items)
        if time_slider is None:
            time_slider = len(groups) > 1 or (self.preview is not None and bool(groups))
        if time_slider and groups:
            self.time_slider = TimeSlider(self, self.items, preview=self.preview,
                                          max_previews=self.max_previews)
        if zoom and self.items:
            self.zoom_to()
        return self

    def footprint_features(self, date: _dt.date | None = None) -> list[dict[str, Any]]:
        """The footprint features on the map (those of one UTC date when ``date`` is given)."""
        if self.footprints is None:
            return []
        features = self.footprints.data.get("features", [])
        if date is None:
            return list(features)
        day = date.isoformat()
        return [f for f in features if f["properties"].get("date") == day]

    def attach_feature_events(self, layer: ipyleaflet.GeoJSON) -> None:
        """Hover shows a footprint's details, click selects its item."""
        layer.on_hover(self._on_hover)
        layer.on_click(self._on_click)

    def _item_of(self, properties: Mapping[str, Any] | None) -> ItemLike | None:
        index = (properties or {}).get(INDEX_PROPERTY)
        if isinstance(index, int) and 0 <= index < len(self.items):
            return self.items[index]
        return None

    def features_at(self, lat: float, lon: float) -> list[dict[str, Any]]:
        """The footprint features containing the point (footprints of a result often overlap:
        the same tile on several dates)."""
        features = self.footprint_features()
        if not features:
            return []
        import shapely

        if self._tree is None:
            self._tree = shapely.STRtree([shapely.geometry.shape(f["geometry"])
                                          for f in features])
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return [features[i] for i in sorted(int(h) for h in hits)]

    def _pick(self, feature: Mapping[str, Any] | None, event: Mapping[str, Any],
              ) -> tuple[Mapping[str, Any] | None, int]:
        """The feature an event is about, and how many footprints are under the pointer. Of
        overlapping footprints, the one of the time slider's date wins over the topmost."""
        coordinates = event.get("coordinates")
        if not (isinstance(coordinates, Sequence) and len(coordinates) == 2):
            return feature, 1 if feature else 0
        under = self.features_at(float(coordinates[0]), float(coordinates[1]))
        if self.time_slider is not None:
            day = self.time_slider.value.isoformat()
            for f in under:
                if f["properties"].get("date") == day:
                    return f, len(under)
        return feature or (under[-1] if under else None), max(len(under), 1 if feature else 0)

    def _on_hover(self, feature: Mapping[str, Any] | None = None, **event: Any) -> None:
        if self.details is None or self._pinned:
            return
        self._last_hover = dict(event)
        picked, count = self._pick(feature, event)
        if picked:
            self.details.value = details_html(picked.get("properties") or {}, overlapping=count)

    def refresh_details(self) -> None:
        """Show again the details of what is under the pointer's last position: after the time
        slider moves, the footprint of the new date (the card was left on the old one)."""
        if self.details is None or self._pinned or self._last_hover is None:
            return
        picked, count = self._pick(None, self._last_hover)
        if picked:
            self.details.value = details_html(picked.get("properties") or {}, overlapping=count)

    def _on_click(self, feature: Mapping[str, Any] | None = None, **event: Any) -> None:
        picked, _ = self._pick(feature, event)
        item = self._item_of((picked or {}).get("properties"))
        if item is not None:
            self._select(item)

    def select(self, item: ItemLike | int | str | None) -> None:
        """Select an item (an item, its index in `items`, or its id): outline it, pin its
        details and call the `on_select` callbacks. None clears the selection."""
        self._select(self._resolve(item) if item is not None else None)

    def _select(self, item: ItemLike | None) -> None:
        self.selected = item
        if self._selected_layer is not None:
            self.remove(self._selected_layer)
            self._selected_layer = None
        self._pinned = item is not None
        if item is None:
            return
        index = next((i for i, it in enumerate(self.items) if it is item), None)
        feature = next((f for f in self.footprint_features()
                        if f["properties"].get(INDEX_PROPERTY) == index), None)
        if feature is not None:
            self._selected_layer = ipyleaflet.GeoJSON(
                data=feature, style=SELECTED_STYLE, name=f"selected: {item_id(item)}")
            self.add(self._selected_layer)
            if self.details is not None:
                self.details.value = details_html(feature["properties"], pinned=True)
        for callback in list(self._select_callbacks):
            callback(item)

    def on_select(self, callback: Callable[[ItemLike], Any], remove: bool = False) -> None:
        """Call ``callback(item)`` when an item is selected (clicked)."""
        if remove:
            self._select_callbacks.remove(callback)
        else:
            self._select_callbacks.append(callback)

    def _resolve(self, item: ItemLike | int | str) -> ItemLike:
        if isinstance(item, bool):
            raise TypeError("item must be an item, an index or an id")
        if isinstance(item, int):
            return self.items[item]
        if isinstance(item, str):
            for it in self.items:
                if item_id(it) == item:
                    return it
            raise KeyError(f"no item {item!r} on this map")
        return item

    # ------------------------------------------------------------------ previews

    def add_raster(self, href: str, *, zoom: bool = True, **options: Any) -> Any:
        """Show one band of a raster the tile server must not read (a job's result in your S3
        bucket, a local file) as a PNG overlay rendered in the kernel; see `maps.overlay`."""
        from .overlay import raster_overlay

        layer = raster_overlay(href, **options)
        self.add(layer)
        colormap_name = options.get("colormap_name", "viridis")
        if colormap_name:
            self.add_legend(layer.name, colormap_name, layer.value_range)
        if zoom:
            (south, west), (north, east) = layer.bounds
            self.zoom_to((west, south, east, north))
        return layer

    def add_preview(
        self,
        item: ItemLike | int | str,
        preset: str = "true_color",
        *,
        name: str | None = None,
        opacity: float = 1.0,
        **params: Any,
    ) -> ipyleaflet.TileLayer:
        """Add a raster preview of ``item`` (an item, or the index or id of one on the map)
        through the tile server: ``preset`` "true_color", "ndvi", or a band/asset ("B08", "SCL")
        with ``colormap_name=``; other ``params`` (rescale=, expression=...) go to the URL."""
        resolved = self._resolve(item)
        layer = preview_layer(resolved, preset, name=name, opacity=opacity, **params)
        self.add(layer)
        self.previews.append(layer)
        if (legend := legend_of_url(layer.url)) is not None:
            self.add_legend(layer.name, *legend)
        return layer

    def add_legend(self, title: str, colormap_name: str, value_range: tuple[float, float],
                   ) -> ipywidgets.HTML:
        """Show a colour bar of ``colormap_name`` from ``value_range[0]`` to ``[1]`` (bottom
        right; one per title: a second call with the same title replaces the first)."""
        from .legend import legend_html

        widget = ipywidgets.HTML(legend_html(title, colormap_name, value_range))
        self.legends[title] = widget
        if self.legend_control is None:
            self.legend_control = ipyleaflet.WidgetControl(
                widget=ipywidgets.VBox(), position="bottomright")
            self.add(self.legend_control)
        self.legend_control.widget.children = tuple(self.legends.values())
        return widget

    def clear_previews(self) -> None:
        """Remove the previews added with `add_preview`."""
        for layer in self.previews:
            if layer.model_id in self._layer_ids:
                self.remove(layer)
            self.legends.pop(layer.name, None)
        self.previews = []
        if self.legend_control is not None:
            self.legend_control.widget.children = tuple(self.legends.values())

    # ------------------------------------------------------------------ view

    def _pixel_size(self) -> tuple[int, int]:
        width, height = self.right - self.left, self.bottom - self.top
        if 0 < width < 100_000 and 0 < height < 100_000:  # reported by a displayed map
            return int(width), int(height)
        size = DEFAULT_SIZE
        layout_height = str(self.layout.height or "")
        if layout_height.endswith("px"):  # not shown yet, but its height is set
            try:
                size = (size[0], int(float(layout_height[:-2])))
            except ValueError:
                pass
        return size

    def zoom_to(self, target: ItemsLike | tuple[float, float, float, float] | None = None,
                ) -> tuple[float, float, float, float] | None:
        """Centre and zoom the map on ``target``: items (default: the map's items, else the
        AOI) or (west, south, east, north). Returns the bounds used (None if nothing to fit)."""
        if target is None:
            bounds = items_bounds(self.items) if self.items else self.aoi_bbox
        elif isinstance(target, tuple) and len(target) == 4 \
                and all(isinstance(v, (int, float)) for v in target):
            bounds = tuple(float(v) for v in target)  # type: ignore[assignment]
        else:
            bounds = items_bounds(target)
        if bounds is None:
            return None
        center, zoom = fit_view(bounds, self._pixel_size())
        self.center = list(center)
        self.zoom = zoom
        return bounds

    fit = zoom_to

    # ------------------------------------------------------------------ split view

    def _items_for(self, side: Any) -> list[ItemLike]:
        if isinstance(side, (_dt.date, str)) and not isinstance(side, _dt.datetime):
            try:
                day = side if isinstance(side, _dt.date) else _dt.date.fromisoformat(side[:10])
            except ValueError:
                return [self._resolve(side)]  # an item id
            found = [it for it in self.items if item_date(it) == day]
            if not found:
                known = ", ".join(sorted({str(item_date(i)) for i in self.items})) or "none"
                raise ValueError(f"no item on {day} on this map (dates: {known})")
            return found
        if isinstance(side, int) and not isinstance(side, bool):
            return [self.items[side]]
        return as_items(side)

    def compare(self, left: Any, right: Any, preset: str = "true_color",
                **params: Any) -> ipyleaflet.SplitMapControl:
        """Split view: ``left`` and ``right`` (each a date, "YYYY-MM-DD", an item, its index,
        or a list of items) previewed with ``preset`` on either side of a movable divider.
        Replaces an earlier split view; `end_compare` removes it."""
        left_layers = [preview_layer(it, preset, **params)
                       for it in self._items_for(left)[: self.max_previews]]
        right_layers = [preview_layer(it, preset, **params)
                        for it in self._items_for(right)[: self.max_previews]]
        self.end_compare()
        if self.time_slider is not None:
            self.time_slider.hide_layer()  # it would show on both sides
        self.split_control = ipyleaflet.SplitMapControl(left_layer=left_layers,
                                                        right_layer=right_layers)
        self.add(self.split_control)
        return self.split_control

    def end_compare(self) -> None:
        """Remove the split view."""
        if self.split_control is not None and self.split_control.model_id in self._control_ids:
            self.remove(self.split_control)
        self.split_control = None


def details_html(properties: Mapping[str, Any], pinned: bool = False,
                 overlapping: int = 1) -> str:
    """The details box: a small table of a footprint's properties."""
    rows = []
    for key in DETAIL_FIELDS:
        value = properties.get(key)
        if value is None:
            continue
        if key == "eo:cloud_cover" and isinstance(value, (int, float)):
            value = f"{value:.1f} %"
        rows.append(f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(key)}</th>"
                    f"<td>{html.escape(str(value))}</td></tr>")
    title = "selected" if pinned else "item"
    more = (f"<div><i>{overlapping} footprints here; the time slider picks the date</i></div>"
            if overlapping > 1 else "")
    return (f"<div style='font-size:12px'><b>{title}</b>"
            f"<table style='border-collapse:collapse'>{''.join(rows)}</table>{more}</div>")


def latest_aoi() -> dict[str, Any]:
    """{"maps": how many maps this kernel has, "aoi": the AOI of the map whose AOI changed last
    (else of any map that has one), a GeoJSON geometry or None}."""
    latest = _latest() if _latest is not None else None
    if latest is None or latest.aoi is None:
        latest = next((m for m in list(_MAPS) if m.aoi is not None), latest)
    return {"maps": len(_MAPS), "aoi": latest.aoi if latest is not None else None}


def show_items(items: ItemsLike, preview: str | None = None, **kwargs: Any) -> Map:
    """A `Map` of the items: footprints, a time slider when they span several dates, and
    ``preview`` ("true_color", "ndvi", a band) of the chosen date through the tile server.

    items: pystac Items, an ItemCollection, search results, a GeoJSON FeatureCollection dict or
    a list of STAC Item dicts. Other keyword arguments go to `Map`.
    """
    return Map(items, preview=preview, **kwargs)
