"""Areas of interest as users give them (bounding boxes, GeoJSON, WKT, anything with a
`__geo_interface__`) -> the GeoJSON and bbox shapes the STAC API uses, with errors that say how to
write them instead. Pure Python, no network."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .base import SearchParameterError

__all__ = ["BBoxLike", "GeoInterface", "IntersectsLike", "as_number", "bbox_geometry", "normalize_bbox",
           "normalize_intersects"]

BBOX_EXAMPLE = "bbox=(12.0, 43.0, 12.3, 43.2)  # west, south, east, north in degrees"
WKT_EXAMPLE = "'POLYGON ((12.1 43.1, 12.2 43.1, 12.2 43.2, 12.1 43.2, 12.1 43.1))'"


class GeoInterface(Protocol):
    """Anything with a GeoJSON `__geo_interface__`: shapely geometries, the map's drawn AOI..."""

    @property
    def __geo_interface__(self) -> dict[str, Any]: ...


BBoxLike = Sequence[float] | str
IntersectsLike = dict[str, Any] | str | GeoInterface


def as_number(value: Any, what: str) -> float:
    """A finite number, or a SearchParameterError naming `what`."""
    if isinstance(value, bool):
        raise SearchParameterError(f"{what} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SearchParameterError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise SearchParameterError(f"{what} must be a finite number, not {value!r}")
    return number


# --------------------------------------------------------------------------- bbox


def normalize_bbox(bbox: BBoxLike) -> tuple[float, float, float, float]:
    """(west, south, east, north) in WGS84 degrees, checked.

    Accepts 4 numbers, 6 numbers (3D: the heights are dropped) or "w,s,e,n". West greater than
    east means a box across the antimeridian (STAC API semantics); `build_params` turns that
    into an `intersects` MultiPolygon, because catalogues such as pgstac would swap the two.
    """
    if isinstance(bbox, str):
        parts = [p for p in re.split(r"[,\s]+", bbox.strip()) if p]
    else:
        try:
            parts = list(bbox)
        except TypeError:
            raise SearchParameterError(
                f"bbox must be 4 numbers (west, south, east, north), not {bbox!r}; "
                f"e.g. {BBOX_EXAMPLE}") from None
    if len(parts) == 6:  # (w, s, zmin, e, n, zmax)
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise SearchParameterError(
            f"bbox has {len(parts)} values, it needs 4 (west, south, east, north) or 6 (3D); "
            f"e.g. {BBOX_EXAMPLE}")
    names = ("west", "south", "east", "north")
    w, s, e, n = (as_number(v, f"bbox {name}") for v, name in zip(parts, names, strict=True))
    for name, value in (("west", w), ("east", e)):
        if not -180 <= value <= 180:
            raise SearchParameterError(
                f"bbox {name} longitude {value:g} is outside -180..180: give longitudes in "
                f"degrees east, latitudes in degrees north, in the order west, south, east, "
                f"north (WGS84, EPSG:4326); e.g. {BBOX_EXAMPLE}")
    for name, value in (("south", s), ("north", n)):
        if not -90 <= value <= 90:
            raise SearchParameterError(
                f"bbox {name} latitude {value:g} is outside -90..90: the order is west, south, "
                f"east, north (longitude first), in WGS84 degrees; e.g. {BBOX_EXAMPLE}")
    if s > n:
        raise SearchParameterError(
            f"bbox south ({s:g}) is greater than north ({n:g}): the order is west, south, east, "
            f"north; swap the two latitudes. (West greater than east is allowed: it means a box "
            f"across the antimeridian.)")
    return (w, s, e, n)


def bbox_geometry(bbox: Sequence[float]) -> dict[str, Any]:
    """GeoJSON of a WGS84 box; a MultiPolygon when it crosses the antimeridian (west > east)."""
    west, south, east, north = bbox

    def ring(w: float, e: float) -> list[list[list[float]]]:
        return [[[w, south], [e, south], [e, north], [w, north], [w, south]]]

    if west <= east:
        return {"type": "Polygon", "coordinates": ring(west, east)}
    return {"type": "MultiPolygon", "coordinates": [ring(west, 180.0), ring(-180.0, east)]}


# --------------------------------------------------------------------------- intersects

_GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                   "MultiPolygon", "GeometryCollection")
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
          "MultiPolygon": 3}


def normalize_intersects(value: IntersectsLike) -> dict[str, Any]:
    """A GeoJSON geometry dict from a geometry/Feature/FeatureCollection dict, a GeoJSON or WKT
    string, or anything with `__geo_interface__` (shapely, the map's drawn AOI)."""
    source = value
    if hasattr(value, "__geo_interface__") and not isinstance(value, dict):
        value = value.__geo_interface__
        if value is None:
            raise SearchParameterError(
                f"intersects: {type(source).__name__} has no geometry yet (nothing drawn?); "
                "draw an area of interest on the map, or pass bbox= or a GeoJSON geometry")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as err:
                raise SearchParameterError(
                    f"intersects: the string looks like GeoJSON but is not valid JSON ({err})"
                ) from None
        else:
            value = _wkt_to_geojson(text)
    if not isinstance(value, Mapping):
        raise SearchParameterError(
            f"intersects must be a GeoJSON geometry dict, a GeoJSON or WKT string, or an object "
            f"with __geo_interface__ (e.g. a shapely geometry), not {type(source).__name__}")
    geometry = _geometry_of(dict(value))
    _check_geometry(geometry)
    return geometry


def _wkt_to_geojson(text: str) -> dict[str, Any]:
    try:
        import shapely
        from shapely import wkt
    except ImportError:  # pragma: no cover - shapely is a dependency
        raise SearchParameterError(
            "intersects: a WKT string needs shapely (pip install shapely); or pass GeoJSON"
        ) from None
    try:
        geom = wkt.loads(text)
    except (shapely.errors.ShapelyError, ValueError, TypeError) as err:
        short = text if len(text) <= 60 else text[:57] + "..."
        raise SearchParameterError(
            f"intersects: {short!r} is neither GeoJSON nor valid WKT ({err}); "
            f"e.g. {WKT_EXAMPLE}") from None
    if geom.is_empty:
        raise SearchParameterError("intersects: the WKT geometry is empty")
    return dict(geom.__geo_interface__)


def _geometry_of(value: dict[str, Any]) -> dict[str, Any]:
    kind = value.get("type")
    if kind == "Feature":
        geometry = value.get("geometry")
        if not geometry:
            raise SearchParameterError("intersects: the Feature has no geometry")
        return _geometry_of(dict(geometry))
    if kind == "FeatureCollection":
        geometries = [f.get("geometry") for f in value.get("features") or [] if f.get("geometry")]
        if not geometries:
            raise SearchParameterError(
                "intersects: the FeatureCollection holds no geometry (nothing drawn?); draw an "
                "area of interest on the map, or pass bbox= or a GeoJSON geometry")
        if len(geometries) == 1:
            return _geometry_of(dict(geometries[0]))
        return {"type": "GeometryCollection",
                "geometries": [_geometry_of(dict(g)) for g in geometries]}
    if kind not in _GEOMETRY_TYPES:
        raise SearchParameterError(
            f"intersects: {kind!r} is not a GeoJSON geometry type; expected one of "
            f"{', '.join(_GEOMETRY_TYPES)} (or a Feature / FeatureCollection)")
    return json.loads(json.dumps(value))  # a plain copy: tuples -> lists, no shared state


def _check_geometry(geometry: dict[str, Any]) -> None:
    kind = geometry["type"]
    if kind == "GeometryCollection":
        for g in geometry.get("geometries") or []:
            _check_geometry(g)
        return
    coords = geometry.get("coordinates")
    if coords is None:
        raise SearchParameterError(f"intersects: the {kind} has no coordinates")
    _check_coords(coords, _DEPTH[kind], kind)
    rings = {"Polygon": [coords], "MultiPolygon": coords}.get(kind, [])
    for polygon in rings:
        for ring in polygon:
            if len(ring) < 4 or list(ring[0]) != list(ring[-1]):
                raise SearchParameterError(
                    f"intersects: a {kind} ring must be closed (first position = last) and have "
                    f"at least 4 positions; got {len(ring)} positions")


def _check_coords(coords: Any, depth: int, kind: str) -> None:
    if depth == 0:
        if not isinstance(coords, (list, tuple)) or len(coords) < 2:
            raise SearchParameterError(
                f"intersects: {coords!r} in the {kind} is not a position [longitude, latitude]")
        lon = as_number(coords[0], "intersects longitude")
        lat = as_number(coords[1], "intersects latitude")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise SearchParameterError(
                f"intersects: position [{lon:g}, {lat:g}] is outside WGS84 (longitude -180..180, "
                "latitude -90..90): GeoJSON wants [longitude, latitude] in degrees; reproject "
                "projected coordinates (e.g. UTM metres) to EPSG:4326 first")
        return
    if not isinstance(coords, (list, tuple)) or not coords:
        raise SearchParameterError(f"intersects: the {kind} has empty or malformed coordinates")
    for c in coords:
        _check_coords(c, depth - 1, kind)
