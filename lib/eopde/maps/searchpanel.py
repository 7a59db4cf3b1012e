"""A search form for a notebook: the filters it offers follow the catalogue's conformance.

    >>> from eopde.catalogue import Catalogue
    >>> from eopde.maps import Map, SearchPanel
    >>> m = Map()
    >>> panel = SearchPanel(Catalogue(url), m)
    >>> ipywidgets.HBox([panel, m])

A CQL2 filter box appears only when the catalogue conforms to STAC API - Filter, a sort choice
only with STAC API - Sort (as STAC Browser does). The area searched is the map's AOI (the shape
drawn on it) when there is one, else the map's current view. The panel shows the equivalent
`eopde.catalogue.search(...)` call, to copy into a cell.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import ipywidgets

if TYPE_CHECKING:  # pragma: no cover
    from .map import Map

__all__ = ["SearchPanel", "Searchable"]

SORT_CHOICES: tuple[tuple[str, str], ...] = (
    ("catalogue's order", ""),
    ("newest first", "-properties.datetime"),
    ("oldest first", "properties.datetime"),
    ("least cloudy first", "properties.eo:cloud_cover"),
)


class Searchable(Protocol):
    """What the panel needs of a catalogue (`eopde.catalogue.Catalogue` has it)."""

    def conforms_to(self, feature: str) -> bool: ...

    def search(self, **kwargs: Any) -> Any: ...


class SearchPanel(ipywidgets.VBox):
    """Search form: collection, dates, cloud cover, CQL2 filter and sort when the catalogue
    supports them, and a Search button that shows the results on ``map``.

    catalogue: a `Catalogue` (anything with ``conforms_to(feature)`` and ``search(**kwargs)``;
    ``collection_ids()`` fills the collection list); default: the platform's catalogue.
    """

    def __init__(self, catalogue: Searchable | Any | None = None, map: Map | None = None, *,
                 collections: Sequence[str] | None = None, max_items: int = 100,
                 preview: str | None = None) -> None:
        if catalogue is None:
            from eopde.catalogue import open_catalogue
            from eopde.catalogue.stac import platform_catalogue_url, token_for

            url = platform_catalogue_url()
            catalogue = open_catalogue(url, token_for(url, None))
        self.catalogue: Any = catalogue
        self.map = map
        self.preview = preview
        #: The last search's results.
        self.results: Any = None

        if collections is None and hasattr(self.catalogue, "collection_ids"):
            try:
                collections = list(self.catalogue.collection_ids())
            except Exception:  # the form still works without the list
                collections = []
        self.collection = ipywidgets.Dropdown(
            options=[("any", "")] + [(c, c) for c in collections or ()],
            value="", description="collection")
        self.start = ipywidgets.DatePicker(description="from")
        self.end = ipywidgets.DatePicker(description="to")
        self.cloud_cover = ipywidgets.IntSlider(value=100, min=0, max=100, step=5,
                                                description="clouds ≤ %", continuous_update=False)
        self.max_items = ipywidgets.BoundedIntText(value=max_items, min=1, max=10_000,
                                                   description="max items")
        self.use_aoi = ipywidgets.Checkbox(value=map is not None, indent=False,
                                           description="only the drawn area (or the map view)")
        children: list[ipywidgets.Widget] = [self.collection, self.start, self.end,
                                             self.cloud_cover]
        #: CQL2 text box; None when the catalogue does not conform to STAC API - Filter.
        self.filter: ipywidgets.Textarea | None = None
        if _conforms(catalogue, "filter"):
            self.filter = ipywidgets.Textarea(
                placeholder="CQL2, e.g. \"eo:cloud_cover\" < 20 AND platform = 'sentinel-2a'",
                description="filter", layout=ipywidgets.Layout(width="98%"))
            children.append(self.filter)
        #: Sort choice; None when the catalogue does not conform to STAC API - Sort.
        self.sortby: ipywidgets.Dropdown | None = None
        if _conforms(catalogue, "sort"):
            self.sortby = ipywidgets.Dropdown(options=list(SORT_CHOICES), value="",
                                              description="sort")
            children.append(self.sortby)
        self.button = ipywidgets.Button(description="Search", button_style="primary",
                                        icon="search")
        self.status = ipywidgets.HTML()
        self.code = ipywidgets.HTML()
        children += [self.max_items, self.use_aoi, self.button, self.status, self.code]
        super().__init__(children=children, layout=ipywidgets.Layout(width="360px"))
        self.button.on_click(lambda _: self.search())
        for widget in children:
            if hasattr(widget, "value") and widget not in (self.status, self.code):
                widget.observe(lambda _: self._update_code(), names="value")
        self._update_code()

    # ------------------------------------------------------------------ parameters

    def _area(self) -> dict[str, Any]:
        if not self.use_aoi.value or self.map is None:
            return {}
        if self.map.aoi is not None:
            return {"intersects": self.map.aoi}
        south, west, north, east = self.map.south, self.map.west, self.map.north, self.map.east
        if north > south and east > west:  # the displayed map reports its view
            return {"bbox": (round(west, 5), round(south, 5), round(east, 5), round(north, 5))}
        return {}

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the search the form describes."""
        out: dict[str, Any] = {}
        out.update(self._area())
        start: _dt.date | None = self.start.value
        end: _dt.date | None = self.end.value
        if start or end:
            out["datetime"] = (start, end)
        if self.collection.value:
            out["collections"] = [self.collection.value]
        if self.cloud_cover.value < 100:
            out["cloud_cover"] = self.cloud_cover.value
        if self.filter is not None and self.filter.value.strip():
            out["filter"] = self.filter.value.strip()
        if self.sortby is not None and self.sortby.value:
            out["sortby"] = self.sortby.value
        out["max_items"] = self.max_items.value
        return out

    def code_text(self) -> str:
        """The equivalent Python call, e.g. to paste into a cell."""
        args = []
        for key, value in self.kwargs().items():
            if key == "intersects":
                args.append("intersects=m")  # the map's AOI
            elif key == "datetime":
                start, end = value
                args.append(f"datetime=({_date_repr(start)}, {_date_repr(end)})")
            else:
                args.append(f"{key}={value!r}")
        return f"found = search({', '.join(args)})"

    def _update_code(self) -> None:
        import html

        self.code.value = f"<pre style='font-size:11px'>{html.escape(self.code_text())}</pre>"

    # ------------------------------------------------------------------ search

    def search(self) -> Any:
        """Run the search, show the results on the map, and return them."""
        self.status.value = "<i>searching…</i>"
        try:
            results = self.catalogue.search(**self.kwargs())
            items = list(results)
        except Exception as err:
            import html

            self.status.value = (f"<span style='color:#b00'>{html.escape(type(err).__name__)}: "
                                 f"{html.escape(str(err))}</span>")
            return None
        self.results = results
        n = len(items)
        self.status.value = f"{n} item{'s' if n != 1 else ''} found"
        if self.map is not None:
            self.map.show(items, preview=self.preview)
        return results


def _conforms(catalogue: Any, feature: str) -> bool:
    try:
        return bool(catalogue.conforms_to(feature))
    except (ValueError, AttributeError):
        return False


def _date_repr(value: _dt.date | None) -> str:
    return "None" if value is None else repr(value.isoformat())
