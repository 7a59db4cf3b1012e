"""Maps of EO search results on ipyleaflet, with raster previews from the platform's tile server.

    >>> from eopde.maps import Map, show_items
    >>> m = show_items(found, preview="true_color")   # footprints, date slider, previews
    >>> m.add_preview(found.least_cloudy(), "ndvi")
    >>> m.compare("2025-04-16", "2025-07-15")          # split view of two dates
    >>> search(intersects=m)                           # the shape drawn on the map

Modules: `tiles` (every browser-facing tile URL, aware of JupyterHub's proxy), `footprints`
(one simplified GeoJSON layer for thousands of items), `items` (reading items in any form),
`view` (centre and zoom for bounds), `layers`, `map` (`Map`, `show_items`), `timeslider`,
`searchpanel` (a search form whose filters follow the catalogue's conformance).

Importing this package does not import ipyleaflet: `Map`, `show_items`, `SearchPanel` and
`TimeSlider` are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .tiles import (
    TilesConfigError,
    TilesWarning,
    cog_tile_url,
    ndvi,
    preset_url,
    single_band,
    stac_tile_url,
    tiles_base,
    true_color,
)

if TYPE_CHECKING:  # pragma: no cover
    from .map import Map, show_items
    from .searchpanel import SearchPanel
    from .timeslider import TimeSlider

__all__ = [
    "Map",
    "SearchPanel",
    "TilesConfigError",
    "TilesWarning",
    "TimeSlider",
    "cog_tile_url",
    "ndvi",
    "preset_url",
    "show_items",
    "single_band",
    "stac_tile_url",
    "tiles_base",
    "true_color",
]

_LAZY = {
    "Map": "map",
    "show_items": "map",
    "SearchPanel": "searchpanel",
    "TimeSlider": "timeslider",
}


class _JSONAnswer(dict):
    """A dict whose repr is JSON: a kernel's user_expressions answer as text/plain."""

    def __repr__(self) -> str:
        import json

        return json.dumps(self)


def panel_aoi() -> Any:
    """The area of interest drawn last on an eopde map of this kernel, for the JupyterLab
    catalogue panel ("From the notebook's map"): its repr is the JSON of
    {"maps": n, "aoi": geometry or None}. Does not load ipyleaflet when no map was made."""
    import sys

    module = sys.modules.get(f"{__name__}.map")
    return _JSONAnswer(module.latest_aoi() if module else {"maps": 0, "aoi": None})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
