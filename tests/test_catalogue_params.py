"""eopde.catalogue without a catalogue: input normalisation, its error messages, the result
object, and the import cost."""

from __future__ import annotations

import datetime as dt
import json
import sys
import types

import pystac
import pytest
import shapely.geometry

from eopde.catalogue import SearchParameterError, SearchResults, build_params
from eopde.catalogue.params import (
    cloud_cover_matches,
    normalize_bbox,
    normalize_cloud_cover,
    normalize_collections,
    normalize_datetime,
    normalize_filter,
    normalize_ids,
    normalize_intersects,
    normalize_query,
    normalize_sortby,
)
from import_checks import heavy_after

SQUARE = {"type": "Polygon",
          "coordinates": [[[12.15, 43.12], [12.2, 43.12], [12.2, 43.15], [12.15, 43.15],
                           [12.15, 43.12]]]}


def test_import_catalogue_is_light():
    assert heavy_after("import eopde.catalogue",
                       ("pystac", "pystac_client", "shapely", "requests", "cql2", "numpy", "httpx",
                        "owslib")) == []


# --------------------------------------------------------------------------- bbox


@pytest.mark.parametrize("value", [(12.0, 43.0, 12.3, 43.2), [12, 43, 12.3, 43.2],
                                   "12,43,12.3,43.2", (12.0, 43.0, 0, 12.3, 43.2, 500)])
def test_bbox_forms(value):
    assert normalize_bbox(value) == (12.0, 43.0, 12.3, 43.2)


@pytest.mark.parametrize("value, match", [
    ((200, 0, 210, 10), r"east longitude 210 is outside -180\.\.180|west longitude 200"),
    ((-181, 0, 10, 10), r"west longitude -181 is outside -180\.\.180"),
    ((0, -91, 10, 10), r"south latitude -91 is outside -90\.\.90.*longitude first"),
    ((0, 0, 10, 95), r"north latitude 95 is outside -90\.\.90"),
    ((0, 50, 10, 40), r"south \(50\) is greater than north \(40\).*swap.*antimeridian"),
    ((0, 0, 10), r"has 3 values, it needs 4.*e\.g\. bbox="),
    ((0, 0, 1, 2, 3), r"has 5 values"),
    (("a", 0, 1, 2), r"bbox west must be a number, not 'a'"),
    ((float("nan"), 0, 1, 2), r"finite"),
    (42, r"bbox must be 4 numbers"),
])
def test_bbox_errors_say_what_and_how(value, match):
    with pytest.raises(SearchParameterError, match=match):
        normalize_bbox(value)


def test_bbox_across_antimeridian_becomes_two_boxes():
    params = build_params(bbox=(170, -10, -170, 10))
    assert params.bbox is None
    assert params.intersects["type"] == "MultiPolygon"
    east, west = (shapely.geometry.shape({"type": "Polygon", "coordinates": p})
                  for p in params.intersects["coordinates"])
    assert east.bounds == (170, -10, 180, 10) and west.bounds == (-180, -10, -170, 10)


def test_bbox_and_intersects_together_refused():
    with pytest.raises(SearchParameterError, match=r"either bbox= or intersects="):
        build_params(bbox=(0, 0, 1, 1), intersects=SQUARE)


# --------------------------------------------------------------------------- intersects


class DrawnAOI:
    """What the map widget exposes: a FeatureCollection through __geo_interface__."""

    def __init__(self, geometry):
        self.geometry = geometry

    @property
    def __geo_interface__(self):
        if self.geometry is None:
            return {"type": "FeatureCollection", "features": []}
        return {"type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": self.geometry}]}


@pytest.mark.parametrize("form", ["dict", "feature", "collection", "json", "wkt", "shapely",
                                  "geo_interface"])
def test_intersects_forms(form):
    value = {
        "dict": SQUARE,
        "feature": {"type": "Feature", "properties": {}, "geometry": SQUARE},
        "collection": {"type": "FeatureCollection",
                       "features": [{"type": "Feature", "geometry": SQUARE, "properties": {}}]},
        "json": json.dumps(SQUARE),
        "wkt": shapely.geometry.shape(SQUARE).wkt,
        "shapely": shapely.geometry.shape(SQUARE),
        "geo_interface": DrawnAOI(SQUARE),
    }[form]
    geometry = normalize_intersects(value)
    assert geometry["type"] == "Polygon"
    assert shapely.geometry.shape(geometry).equals(shapely.geometry.shape(SQUARE))


def test_intersects_two_drawn_shapes_become_a_collection():
    other = {"type": "Point", "coordinates": [5.5, 52.5]}
    aoi = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": SQUARE}, {"type": "Feature", "geometry": other}]}
    geometry = normalize_intersects(aoi)
    assert geometry["type"] == "GeometryCollection" and len(geometry["geometries"]) == 2


@pytest.mark.parametrize("value, match", [
    (DrawnAOI(None), r"no geometry.*draw an area of interest"),
    ("POLYGON ((1 2, 3", r"neither GeoJSON nor valid WKT.*e\.g\. 'POLYGON"),
    ('{"type": "Polygon", ', r"not valid JSON"),
    ({"type": "Circle", "coordinates": [0, 0]}, r"'Circle' is not a GeoJSON geometry type"),
    ({"type": "Point", "coordinates": [500000, 4800000]}, r"outside WGS84.*reproject"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}, r"ring must be closed"),
    ({"type": "Polygon"}, r"has no coordinates"),
    (12, r"intersects must be a GeoJSON geometry dict"),
])
def test_intersects_errors(value, match):
    with pytest.raises(SearchParameterError, match=match):
        normalize_intersects(value)


# --------------------------------------------------------------------------- datetime


@pytest.mark.parametrize("value, expected", [
    ("2025-06-01T10:30:00Z", "2025-06-01T10:30:00Z"),
    ("2025-06-01T12:30:00+02:00", "2025-06-01T10:30:00Z"),
    ("2025-06-01 10:30:00", "2025-06-01T10:30:00Z"),
    ("2025-06-01", "2025-06-01T00:00:00Z/2025-06-01T23:59:59.999999Z"),
    ("2025-06", "2025-06-01T00:00:00Z/2025-06-30T23:59:59.999999Z"),
    ("2025-12", "2025-12-01T00:00:00Z/2025-12-31T23:59:59.999999Z"),
    ("2025", "2025-01-01T00:00:00Z/2025-12-31T23:59:59.999999Z"),
    ("2025-06-01/..", "2025-06-01T00:00:00Z/.."),
    ("../2025-07-01", "../2025-07-01T23:59:59.999999Z"),
    ("2025-06-01/2025-07-01T00:00:00Z", "2025-06-01T00:00:00Z/2025-07-01T00:00:00Z"),
    (dt.datetime(2025, 6, 1, 10, 30), "2025-06-01T10:30:00Z"),
    (dt.datetime(2025, 6, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     "2025-06-01T10:30:00Z"),
    (dt.date(2025, 6, 1), "2025-06-01T00:00:00Z/2025-06-01T23:59:59.999999Z"),
    ((dt.date(2025, 6, 1), None), "2025-06-01T00:00:00Z/.."),
    ((None, dt.datetime(2025, 7, 1)), "../2025-07-01T00:00:00Z"),
    (["2025-06-01", "2025-06-30"], "2025-06-01T00:00:00Z/2025-06-30T23:59:59.999999Z"),
    ((None, None), None),
    ("../..", None),
])
def test_datetime_forms(value, expected):
    assert normalize_datetime(value) == expected


@pytest.mark.parametrize("value, match", [
    ("2025-13-01", (r"'2025-13-01' is not a valid date/time \(month must be in 1\.\.12\)"
                    r".*Valid: '2025-06-01'")),
    ("2025-06-01/2025-06-31", r"end '2025-06-31' is not a valid date/time.*day is out of range"),
    ("yesterday", r"'yesterday' is not a valid date/time.*expected YYYY-MM-DD"),
    ("2025-06-01T25:00:00Z", r"not a valid date/time.*hour"),
    ("2025/06/01", r"has 3 parts; a range has two"),
    ("2025-07-01/2025-06-01", (r"ends \(2025-06-01T23:59:59\.999999Z\) before it starts "
                               r"\(2025-07-01T00:00:00Z\): swap")),
    ((dt.date(2025, 7, 1), dt.date(2025, 6, 1)), r"before it starts"),
    ((1, 2), r"start 1 is a int"),
    ("..", r"has no date in it"),
    (3.5, r"datetime must be a string"),
])
def test_datetime_errors_name_the_bad_part(value, match):
    with pytest.raises(SearchParameterError, match=match):
        normalize_datetime(value)


# --------------------------------------------------------------------------- the others


def test_collections_and_ids():
    assert normalize_collections("a, b") == ("a", "b")
    assert normalize_collections(["a", "a", "b"]) == ("a", "b")
    coll = types.SimpleNamespace(id="sentinel-2-l2a")
    assert normalize_collections([coll]) == ("sentinel-2-l2a",)
    assert normalize_collections([]) is None
    assert normalize_ids("x,y") == ("x", "y")
    with pytest.raises(SearchParameterError, match=r"non-empty strings.*e.g. collections="):
        normalize_collections(["a", ""])
    with pytest.raises(SearchParameterError, match=r"ids must be non-empty strings"):
        normalize_ids([3])


def test_filter_language_inferred_and_checked():
    text = "eo:cloud_cover < 20 AND platform = 'sentinel-2a'"
    assert normalize_filter(text) == (text, "cql2-text")
    as_json = {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]}
    assert normalize_filter(as_json) == (as_json, "cql2-json")
    assert normalize_filter(json.dumps(as_json)) == (as_json, "cql2-json")
    with pytest.raises(SearchParameterError,
                       match=r"(?s)not valid CQL2 \(text\).*\^.*A valid one"):
        normalize_filter("eo:cloud_cover <<< 20")
    with pytest.raises(SearchParameterError, match=r"not valid CQL2 \(JSON\)"):
        normalize_filter({"op": "<", "args": 3})
    with pytest.raises(SearchParameterError, match=r"filter_lang='cql2-json' but the filter is "
                                                   "cql2-text"):
        normalize_filter(text, "cql2-json")
    with pytest.raises(SearchParameterError, match=r"filter_lang 'cql' is unknown"):
        normalize_filter(text, "cql")
    with pytest.raises(SearchParameterError, match=r"filter_lang was given without a filter"):
        build_params(filter_lang="cql2-text")


def test_query_forms_and_errors():
    assert normalize_query(["eo:cloud_cover<20", "platform=sentinel-2a"]) == {
        "eo:cloud_cover": {"lt": 20}, "platform": {"eq": "sentinel-2a"}}
    assert normalize_query({"eo:cloud_cover": {"gte": 5, "lte": 30}}) == {
        "eo:cloud_cover": {"gte": 5, "lte": 30}}
    with pytest.raises(SearchParameterError, match=r"unknown operator\(s\) \['less'\]"):
        normalize_query({"eo:cloud_cover": {"less": 20}})
    with pytest.raises(SearchParameterError, match=r"must be a dict of operator -> value"):
        normalize_query({"eo:cloud_cover": 20})
    with pytest.raises(SearchParameterError, match=r"is not 'property<op>value'"):
        normalize_query(["eo:cloud_cover 20"])


def test_sortby_forms_and_errors():
    assert normalize_sortby("-properties.eo:cloud_cover") == ("-properties.eo:cloud_cover",)
    assert normalize_sortby("eo:cloud_cover,-datetime") == ("+eo:cloud_cover", "-datetime")
    assert normalize_sortby([{"field": "datetime", "direction": "desc"}, "+id"]) == (
        "-datetime", "+id")
    with pytest.raises(SearchParameterError, match=r"direction 'down' must be 'asc' or 'desc'"):
        normalize_sortby([{"field": "datetime", "direction": "down"}])
    with pytest.raises(SearchParameterError, match=r"sortby is empty"):
        normalize_sortby([])


def test_cloud_cover_forms_and_errors():
    assert normalize_cloud_cover(20) == (None, 20.0)
    assert normalize_cloud_cover((5, 30)) == (5.0, 30.0)
    assert normalize_cloud_cover((10, None)) == (10.0, None)
    with pytest.raises(SearchParameterError, match=r"maximum 120 is outside 0..100"):
        normalize_cloud_cover(120)
    with pytest.raises(SearchParameterError, match=r"minimum 30 is greater than maximum 10"):
        normalize_cloud_cover((30, 10))
    with pytest.raises(SearchParameterError, match=r"must be a number"):
        normalize_cloud_cover("low")
    assert cloud_cover_matches({"eo:cloud_cover": 20}, (None, 20.0))
    assert not cloud_cover_matches({"eo:cloud_cover": 20.5}, (None, 20.0))
    assert not cloud_cover_matches({}, (None, 20.0))  # unknown cover never matches, as in CQL2


@pytest.mark.parametrize("kwargs, match", [
    ({"max_items": 0}, "max_items must be a positive integer"),
    ({"max_items": 2.5}, "max_items must be a positive integer"),
    ({"limit": 20000}, "above 10000"),
])
def test_paging_parameters(kwargs, match):
    with pytest.raises(SearchParameterError, match=match):
        build_params(**kwargs)


# --------------------------------------------------------------------------- SearchResults


def _item(i: int, cover: float | None, day: int) -> pystac.Item:
    props = {} if cover is None else {"eo:cloud_cover": cover}
    item = pystac.Item(f"item-{i}", SQUARE, [12.15, 43.12, 12.2, 43.15],
                       dt.datetime(2025, 7, day, tzinfo=dt.UTC), props, collection="c")
    item.add_asset("thumbnail", pystac.Asset(f"https://example.org/{i}.png",
                                             roles=["thumbnail"]))
    return item


def test_results_iterate_lazily_and_only_once():
    pulled = []

    def source():
        for i in range(10):
            pulled.append(i)
            yield _item(i, float(i * 10), i + 1)

    results = SearchResults(source, max_items=8, catalogues=["test"])
    assert pulled == [] and results.loaded == 0
    first = next(iter(results))
    assert first.id == "item-0" and pulled == [0]
    assert [i.id for _, i in zip(range(3), results)] == ["item-0", "item-1", "item-2"]
    assert pulled == [0, 1, 2]
    assert len(results) == 8 and pulled == list(range(8))  # max_items, and no further
    assert len(list(results)) == 8 and pulled == list(range(8))  # served from what was fetched
    assert len(results.items) == 8 and results.items[3].id == "item-3"


def test_results_conveniences():
    items = [_item(0, 30.0, 1), _item(1, None, 2), _item(2, 5.0, 3), _item(3, 5.0, 4)]
    results = SearchResults(lambda: iter(items), catalogues=["test"])
    assert results.least_cloudy().id == "item-3"  # lowest cover, newest of the equals
    fc = results.to_geojson()
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == ["item-0", "item-1", "item-2", "item-3"]
    assert SearchResults(lambda: iter([_item(0, None, 1)])).least_cloudy() is None
    assert results.matched() is None


def test_results_html_table():
    items = [_item(0, 30.0, 1), _item(1, None, 2)]
    items[0].properties["eopde:catalogue"] = "<b>cat</b>"
    page = SearchResults(lambda: iter(items), catalogues=["test"], federated=True)._repr_html_()
    assert page.count("<tr>") == 3  # header + 2 rows
    assert "<td>item-0</td>" in page and "<td>30.0 %</td>" in page
    assert '<img src="https://example.org/0.png"' in page
    assert "<th>catalogue</th>" in page and "&lt;b&gt;cat&lt;/b&gt;" in page
    plain = SearchResults(lambda: iter(items[1:]), catalogues=["test"])._repr_html_()
    assert "<th>catalogue</th>" not in plain and "1 item from test" in plain


def test_results_show_calls_the_map(monkeypatch):
    seen = {}
    fake = types.ModuleType("eopde.maps")
    fake.show_items = lambda results, **kw: seen.update(results=results, kw=kw) or "a map"
    monkeypatch.setitem(sys.modules, "eopde.maps", fake)
    results = SearchResults(lambda: iter([_item(0, 1.0, 1)]))
    assert results.show(zoom=9) == "a map"
    assert seen == {"results": results, "kw": {"zoom": 9}}


def test_search_signatures_match_build_params():
    # search() and Catalogue.search() spell out build_params' keywords (so that help() and tab
    # completion in a notebook show them): a parameter added to one must be added to all
    import inspect

    from eopde.catalogue import Catalogue, search

    def keywords(function):
        return [(p.name, p.default, p.annotation)
                for p in inspect.signature(function).parameters.values() if p.name != "self"]

    wanted = keywords(build_params)
    assert len(wanted) == 12
    assert keywords(Catalogue.search) == wanted
    assert [name for name, _, _ in keywords(search)[:2]] == ["url", "token"]
    assert keywords(search)[2:] == wanted
