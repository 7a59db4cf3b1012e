"""Legends of colormapped rasters: a colour bar with its value range, shown on the map.

    >>> m.add_preview(item, "ndvi")     # adds the legend "… · NDVI  -1 … 1" by itself
    >>> m.add_legend("slope", "viridis", (0, 45))

The colours are rio-tiler's colormaps, the ones the tile server and `maps.overlay` draw with, so
the bar matches the picture.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["gradient_css", "legend_html", "legend_of_url"]

#: Colours sampled along the colormap for the CSS gradient.
STOPS = 16


def gradient_css(colormap_name: str, stops: int = STOPS) -> str:
    """A CSS ``linear-gradient`` (left: low values, right: high) of a rio-tiler colormap;
    KeyError-like InvalidColorMapName for an unknown name."""
    from rio_tiler.colormap import cmap

    colours: Any = cmap.get(colormap_name)  # {0..255: (r, g, b, a)}
    parts = []
    for k in range(stops):
        r, g, b, a = colours[round(k * 255 / (stops - 1))]
        parts.append(f"rgba({r},{g},{b},{a / 255:.2f}) {k * 100 / (stops - 1):.1f}%")
    return "linear-gradient(to right, " + ", ".join(parts) + ")"


def _label(value: float) -> str:
    return f"{value:.4g}"


def legend_html(title: str, colormap_name: str, value_range: tuple[float, float]) -> str:
    """A small legend: the title, a colour bar, the low, middle and high values under it."""
    low, high = (float(v) for v in value_range)
    middle = (low + high) / 2
    ticks = "".join(f"<span>{html.escape(_label(v))}</span>" for v in (low, middle, high))
    return (
        "<div class='eopde-legend' style='font-size:11px;line-height:1.2;padding:2px 4px'>"
        f"<div style='font-weight:bold'>{html.escape(title)}</div>"
        f"<div style='width:180px;height:12px;border:1px solid #888;"
        f"background:{gradient_css(colormap_name)}'></div>"
        f"<div style='width:182px;display:flex;justify-content:space-between'>{ticks}</div>"
        "</div>"
    )


def legend_of_url(url: str) -> tuple[str, tuple[float, float]] | None:
    """(colormap name, (low, high)) of a tile URL rendered with ``colormap_name=`` and one
    ``rescale=low,high``; None when the URL draws no colormap (true colour, class colours)."""
    params: list[tuple[str, Any]] = parse_qsl(urlsplit(url).query)
    names = [v for k, v in params if k == "colormap_name"]
    rescales = [v for k, v in params if k == "rescale"]
    if len(names) != 1 or len(rescales) != 1:
        return None
    try:
        low, high = (float(v) for v in rescales[0].split(","))
    except ValueError:
        return None
    return names[0], (low, high)
