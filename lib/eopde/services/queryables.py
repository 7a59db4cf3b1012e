"""Queryables of the demo collection, registered through pgstac's own `pgstac.queryables` table.

stac-fastapi-pgstac answers ``GET /queryables`` and ``GET /collections/{id}/queryables`` with
``pgstac.get_queryables()``, built from that table; pgstac also reads a property's type there
(``property_wrapper``: to_float, to_int, to_text...) when it turns a CQL2 filter into SQL. So
registering ``eo:cloud_cover`` as a number makes ``eo:cloud_cover < 20`` compare numbers, and lets
a search panel offer the filters with their types and ranges.

pgstac 0.10 loads a queryables document with ``pgstac.upsert_queryables()`` (what
``pypgstac load_queryables`` calls); on pgstac 0.9, which lacks it, rows are replaced directly.
Only rows that differ are written, so a second call changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["demo_queryables", "register_queryables"]

#: Properties stored as columns of pgstac's items table: pgstac answers them itself.
_COLUMNS = {"id", "geometry", "datetime", "start_datetime", "end_datetime", "collection"}


def demo_queryables() -> dict[str, Any]:
    """The queryables document (JSON Schema) of the demo collection, from the demo scenes."""
    from . import demodata

    scenes = demodata.scenes()
    areas = demodata.areas()
    props: dict[str, Any] = {
        "datetime": {
            "title": "Acquired", "description": "Acquisition time (UTC)",
            "type": "string", "format": "date-time",
        },
        "eo:cloud_cover": {
            "title": "Cloud cover",
            "description": "Percentage of valid pixels classified as cloud (SCL 8, 9, 10)",
            "type": "number", "minimum": 0, "maximum": 100,
        },
        "platform": {
            "title": "Platform", "type": "string",
            "enum": sorted({s.platform for s in scenes}),
        },
        "constellation": {"title": "Constellation", "type": "string", "enum": ["sentinel-2"]},
        "instruments": {"title": "Instruments", "type": "array", "items": {"type": "string"}},
        "gsd": {"title": "Ground sample distance (m)", "type": "number", "minimum": 0},
        "grid:code": {
            "title": "MGRS tile", "description": "Grid cell, 'MGRS-' followed by the tile",
            "type": "string", "enum": sorted({f"MGRS-{a.mgrs_tile}" for a in areas}),
        },
        "mgrs:utm_zone": {"title": "UTM zone", "type": "integer", "minimum": 1, "maximum": 60},
        "mgrs:latitude_band": {"title": "MGRS latitude band", "type": "string",
                               "pattern": "^[C-X]$"},
        "mgrs:grid_square": {"title": "MGRS 100 km square", "type": "string",
                             "pattern": "^[A-Z]{2}$"},
        "proj:code": {"title": "Projection", "type": "string",
                      "enum": sorted({a.crs for a in areas})},
        "view:sun_azimuth": {"title": "Sun azimuth (deg)", "type": "number",
                             "minimum": 0, "maximum": 360},
        "view:sun_elevation": {"title": "Sun elevation (deg)", "type": "number",
                               "minimum": -90, "maximum": 90},
    }  # fmt: skip
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "title": f"Queryables of {demodata.COLLECTION_ID}",
        "properties": props,
        "additionalProperties": True,
    }


def _wrapper(definition: dict[str, Any]) -> str:
    """pgstac's property_wrapper for a definition (pgstac 0.10 infers the same itself)."""
    kind = definition.get("type")
    if kind == "integer":
        return "to_int"
    if kind == "number":
        return "to_float"
    if kind == "array":
        return "to_text_array"
    if definition.get("format") in ("date-time", "date"):
        return "to_tstz"
    return "to_text"


def register_queryables(dsn: str, collection: str | None = None,
                        document: dict[str, Any] | None = None) -> None:
    """Make the demo collection's queryables (or `document`'s, for `collection`) appear in
    ``/collections/{id}/queryables`` and ``/queryables``. Idempotent; the collection must
    already be loaded."""
    import psycopg

    from . import demodata

    collection = collection or demodata.COLLECTION_ID
    document = document or demo_queryables()
    wanted = {name: d for name, d in document["properties"].items() if name not in _COLUMNS}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT name, definition, collection_ids FROM pgstac.queryables "
            "WHERE name = ANY(%s)", (list(wanted),)).fetchall()
        current = {name: d for name, d, ids in rows if ids == [collection]}
        changed = {n: d for n, d in wanted.items() if current.get(n) != d}
        if not changed:
            return
        row = conn.execute(
            "SELECT to_regprocedure('pgstac.upsert_queryables(jsonb,text[],text[],boolean)')"
        ).fetchone()
        has_upsert = row is not None and row[0] is not None
        if has_upsert:  # pgstac >= 0.10
            conn.execute("SELECT pgstac.upsert_queryables(%s::jsonb, %s::text[], NULL, false)",
                         (json.dumps({"properties": changed}), [collection]))
            return
        for name, definition in changed.items():  # pgstac 0.9
            conn.execute(
                "DELETE FROM pgstac.queryables WHERE name = %s "
                "AND (collection_ids IS NULL OR collection_ids && %s::text[])",
                (name, [collection]))
            conn.execute(
                "INSERT INTO pgstac.queryables (name, collection_ids, definition, "
                "property_wrapper) VALUES (%s, %s, %s::jsonb, %s)",
                (name, [collection], json.dumps(definition), _wrapper(definition)))
