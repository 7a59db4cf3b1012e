"""A slider over the acquisition dates of items that shows the chosen date's items on the map."""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import TYPE_CHECKING, Any

import ipyleaflet
import ipywidgets

from . import tiles
from .footprints import group_by_date
from .items import ItemsLike
from .layers import DATE_STYLE, FootprintsLayer, preview_layer

if TYPE_CHECKING:  # pragma: no cover
    from .map import Map

__all__ = ["MAX_PREVIEWS", "TimeSlider"]

#: At most this many preview tile layers per date (each loads its own tiles).
MAX_PREVIEWS = 25


class TimeSlider:
    """A ``SelectionSlider`` of the distinct acquisition dates (UTC) of ``items``, in order.

    The chosen date's items are shown in one layer that is swapped when the slider moves: their
    raster previews (``preview`` = "true_color", "ndvi", a band...) as a group of tile layers, or,
    without a preview, their footprints highlighted. The slider sits on the map as a control.
    """

    def __init__(self, map: Map, items: ItemsLike, *, preview: str | None = None,
                 max_previews: int = MAX_PREVIEWS, position: str = "bottomright",
                 value: _dt.date | None = None) -> None:
        self.map = map
        self.preview = preview
        self.max_previews = max_previews
        self.groups: dict[_dt.date, list[Any]] = group_by_date(items)
        if not self.groups:
            raise ValueError("none of the items has a datetime: nothing to put on a time slider")
        self.slider = ipywidgets.SelectionSlider(
            options=[(d.isoformat(), d) for d in self.groups],
            value=value if value in self.groups else next(iter(self.groups)),
            description="date",
            continuous_update=False,
            readout=True,
            layout=ipywidgets.Layout(width="340px"),
        )
        self.info = ipywidgets.HTML()
        self.widget = ipywidgets.VBox([self.slider, self.info])
        self.control = ipyleaflet.WidgetControl(widget=self.widget, position=position)
        #: The layer of the chosen date currently on the map.
        self.layer: ipyleaflet.Layer | None = None
        self._layers: dict[_dt.date, ipyleaflet.Layer] = {}
        self.slider.observe(self._on_change, names="value")
        map.add(self.control)
        self._show(self.slider.value)

    @property
    def dates(self) -> list[_dt.date]:
        return list(self.groups)

    @property
    def value(self) -> _dt.date:
        return self.slider.value

    @value.setter
    def value(self, date: _dt.date | str) -> None:
        if isinstance(date, str):
            date = _dt.date.fromisoformat(date[:10])
        self.slider.value = date

    def items(self, date: _dt.date | None = None) -> list[Any]:
        """The items of ``date`` (default: the chosen one)."""
        return self.groups[self.value if date is None else date]

    def layer_for(self, date: _dt.date) -> ipyleaflet.Layer:
        """The layer showing the items of ``date`` (built once, then reused)."""
        layer = self._layers.get(date)
        if layer is None:
            layer = self._layers[date] = self._build(date)
        return layer

    def _build(self, date: _dt.date) -> ipyleaflet.Layer:
        items = self.groups[date]
        if self.preview:
            shown = items[: self.max_previews]
            if len(items) > len(shown):
                warnings.warn(
                    f"{date}: previewing the first {len(shown)} of {len(items)} items "
                    f"(max_previews={self.max_previews})", stacklevel=3)
            return ipyleaflet.LayerGroup(
                layers=[preview_layer(item, self.preview) for item in shown],
                name=f"{date.isoformat()} · {tiles.preset_title(self.preview)}",
            )
        features = self.map.footprint_features(date=date)
        layer = FootprintsLayer(data={"type": "FeatureCollection", "features": features},
                                name=f"{date.isoformat()} · footprints", style=dict(DATE_STYLE),
                                hover_style=dict(self.map.footprints.hover_style)
                                if self.map.footprints is not None else {})
        self.map.attach_feature_events(layer)
        return layer

    def _show(self, date: _dt.date) -> None:
        new = self.layer_for(date)
        old = self.layer
        if old is not None and old.model_id in self.map._layer_ids:
            self.map.substitute(old, new)
        else:
            self.map.add(new)
        self.layer = new
        n = len(self.groups[date])
        self.info.value = f"<small>{n} item{'s' if n != 1 else ''} on {date.isoformat()}</small>"

    def _on_change(self, change: dict[str, Any]) -> None:
        self._show(change["new"])
        self.map.refresh_details()  # the hover card follows the date

    def hide_layer(self) -> None:
        """Take the date's layer off the map (the slider puts it back when moved)."""
        if self.layer is not None and self.layer.model_id in self.map._layer_ids:
            self.map.remove(self.layer)
        self.layer = None

    def close(self) -> None:
        """Remove the slider and its layer from the map."""
        self.hide_layer()
        if self.control.model_id in self.map._control_ids:
            self.map.remove(self.control)
        self.slider.unobserve(self._on_change, names="value")
