"""The pure parts of eopde.maps: reading items in any form, footprint collections, grouping by
date, and the centre/zoom that fits bounds."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from eopde.maps import footprints, items, view


def item(id_: str, when: str | None = "2025-07-15T10:00:31Z", *, bbox=None, geometry=None,
         **props) -> dict:
    properties = {"datetime": when, **props}
    return {"type": "Feature", "id": id_, "bbox": bbox, "geometry": geometry,
            "properties": properties, "links": [], "assets": {}}


SQUARE = {"type": "Polygon", "coordinates": [[[12.0, 43.0], [12.1, 43.0], [12.1, 43.1],
                                              [12.0, 43.1], [12.0, 43.0]]]}


def test_item_dates_are_utc_days():
    # 23:30 at UTC-02:00 is the next day in UTC
    assert items.item_date(item("a", "2025-07-15T23:30:00-02:00")) == dt.date(2025, 7, 16)
    assert items.item_date(item("b", "2025-07-15T10:00:31.123456Z")) == dt.date(2025, 7, 15)
    ranged = item("c", None, start_datetime="2025-01-02T00:00:00Z",
                  end_datetime="2025-01-09T00:00:00Z")
    assert items.item_date(ranged) == dt.date(2025, 1, 2)
    assert items.item_date(item("d", None)) is None


def test_bbox_from_bbox_3d_bbox_or_geometry():
    assert items.item_bbox(item("a", bbox=[1, 2, 3, 4])) == (1, 2, 3, 4)
    assert items.item_bbox(item("b", bbox=[1, 2, 0, 3, 4, 10])) == (1, 2, 3, 4)
    assert items.item_bbox(item("c", geometry=SQUARE)) == (12.0, 43.0, 12.1, 43.1)
    assert items.item_bbox(item("d")) is None


def test_as_items_forms_and_errors():
    a, b = item("a"), item("b")
    assert items.as_items({"type": "FeatureCollection", "features": [a, b]}) == [a, b]
    assert items.as_items(a) == [a]
    assert items.as_items(iter([a, b])) == [a, b]
    assert items.as_items(None) == []
    with pytest.raises(TypeError, match="Collection"):
        items.as_items({"type": "Collection", "id": "s2"})
    with pytest.raises(TypeError, match="not an item or a collection of items"):
        items.as_items(42)


def test_feature_collection_properties_and_precision():
    geometry = {"type": "Polygon", "coordinates": [[[12.0000001234, 43.0], [12.1, 43.0],
                                                    [12.1, 43.1], [12.0, 43.1234567891],
                                                    [12.0000001234, 43.0]]]}
    big = dict(item("a", geometry=geometry, **{"eo:cloud_cover": 12.5, "s2:huge": "x" * 1000}),
               collection="sentinel-2-l2a")
    fc = footprints.feature_collection([item("nothing"), big])  # no geometry, no bbox: skipped
    (feature,) = fc["features"]
    assert feature["id"] == "a"
    assert feature["properties"] == {"id": "a", "i": 1, "collection": "sentinel-2-l2a",
                                     "date": "2025-07-15", "datetime": "2025-07-15T10:00:31Z",
                                     "eo:cloud_cover": 12.5}
    text = json.dumps(feature["geometry"])
    assert "12.0000001234" not in text and "43.12346" in text  # 5 decimals
    assert footprints.feature_collection([]) == {"type": "FeatureCollection", "features": []}


def test_group_by_date_and_bounds():
    found = [item("late", "2025-09-01T10:00:00Z", bbox=[5, 50, 6, 51]),
             item("early", "2025-04-01T10:00:00Z", bbox=[12, 43, 13, 44]),
             item("early2", "2025-04-01T11:00:00Z", bbox=[12.5, 43, 13.5, 44]),
             item("undated", None, bbox=[0, 0, 1, 1])]
    groups = footprints.group_by_date(found)
    assert list(groups) == [dt.date(2025, 4, 1), dt.date(2025, 9, 1)]
    assert [i["id"] for i in groups[dt.date(2025, 4, 1)]] == ["early", "early2"]
    assert footprints.dates(found) == list(groups)
    assert footprints.items_bounds(found) == (0, 0, 13.5, 51)
    assert footprints.items_bounds([item("x")]) is None


def _visible(bounds, centre, zoom, size):
    """Whether bounds fit into a view of size pixels at (centre, zoom) in Web Mercator."""
    def x(lon):
        return (lon + 180) / 360 * 256 * 2 ** zoom

    def y(lat):
        s = math.sin(math.radians(lat))
        return (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * 256 * 2 ** zoom

    w, s, e, n = bounds
    cy, cx = y(centre[0]), x(centre[1])
    return (abs(x(w) - cx) <= size[0] / 2 and abs(x(e) - cx) <= size[0] / 2
            and abs(y(n) - cy) <= size[1] / 2 and abs(y(s) - cy) <= size[1] / 2)


@pytest.mark.parametrize("bounds", [(12.14, 43.11, 12.22, 43.17), (-10, 35, 30, 65),
                                    (5.0, 52.0, 5.001, 52.001), (-180, -80, 180, 80)])
def test_fit_view_is_the_largest_zoom_that_shows_the_bounds(bounds):
    size = (800, 400)
    centre, zoom = view.fit_view(bounds, size, padding=0, max_zoom=18)
    assert _visible(bounds, centre, zoom, size)
    if zoom < 18:
        assert not _visible(bounds, centre, zoom + 1, size)


def test_fit_view_antimeridian_and_points():
    centre, zoom = view.fit_view((170, -20, -170, -10))  # 20 degrees across the antimeridian
    assert abs(abs(centre[1]) - 180) < 1e-9 and zoom >= 3
    assert view.fit_view((5, 52, 5, 52), max_zoom=15) == (pytest.approx((52, 5)), 15)
    with pytest.raises(ValueError, match="south is greater than north"):
        view.fit_view((0, 10, 1, 5))
