"""Map view arithmetic: the centre and zoom that show given bounds (Web Mercator).

ipyleaflet's ``Map.fit_bounds`` needs a displayed map and a running event loop (it waits for the
browser to report the new bounds); computing centre and zoom here works before the map is shown,
in tests and in exported notebooks.
"""

from __future__ import annotations

import math

__all__ = ["DEFAULT_SIZE", "fit_view"]

#: Assumed size (width, height) in pixels of a map not shown yet (ipyleaflet's height is 400 px).
DEFAULT_SIZE = (800, 400)
_MAX_LAT = 85.0511287798


def _merc_y(lat: float) -> float:
    lat = max(-_MAX_LAT, min(_MAX_LAT, lat))
    s = math.sin(math.radians(lat))
    return 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)  # 0 at the top, 1 at the bottom


def _merc_lat(y: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


def fit_view(
    bounds: tuple[float, float, float, float],
    size: tuple[int, int] = DEFAULT_SIZE,
    *,
    padding: int = 20,
    max_zoom: int = 16,
) -> tuple[tuple[float, float], int]:
    """((lat, lon) centre, integer zoom) of the largest view of ``size`` pixels showing
    ``bounds`` = (west, south, east, north) in degrees (west > east crosses the antimeridian)."""
    west, south, east, north = bounds
    if south > north:
        raise ValueError(f"bounds {bounds}: south is greater than north")
    span_lon = (east - west) % 360 if east < west else east - west
    x0 = (west + 180) / 360
    dx = span_lon / 360
    y_top, y_bottom = _merc_y(north), _merc_y(south)
    dy = y_bottom - y_top
    width = max(size[0] - 2 * padding, 16)
    height = max(size[1] - 2 * padding, 16)
    candidates: list[float] = [float(max_zoom)]
    if dx > 0:
        candidates.append(math.log2(width / (256 * dx)))
    if dy > 0:
        candidates.append(math.log2(height / (256 * dy)))
    zoom = int(max(0, min(max_zoom, math.floor(min(candidates)))))
    lon = (x0 + dx / 2) * 360 - 180
    lon = (lon + 180) % 360 - 180
    lat = _merc_lat((y_top + y_bottom) / 2)
    return (lat, lon), zoom
