"""eopde.catalogue against the local platform's real STAC API (stac-fastapi-pgstac).

Every expected answer is computed here from the demo items themselves (demodata.items), not
written down, and every query is chosen so that it keeps some scenes and drops others.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings

import httpx
import psycopg
import pytest
import shapely.geometry
from shapely.geometry import box, shape

from eopde.catalogue import (
    Catalogue,
    CatalogueAuthError,
    CatalogueUnreachableError,
    CatalogueWarning,
    NotACatalogueError,
    SearchParameterError,
    SearchParams,
    UnknownCollectionError,
    search,
)
from eopde.catalogue import stac as stac_module
from eopde.services import demodata
from eopde.services.queryables import register_queryables

from catalogue_helpers import demo, dsn, newest_first, pgstac_context, url, when  # noqa: F401

pytestmark = pytest.mark.platform

UTC = dt.UTC


# --------------------------------------------------------------------------- fixtures, helpers


@pytest.fixture(scope="module")
def cat(url) -> Catalogue:
    return Catalogue(url)


class Recorder:
    """A pystac-client request_modifier that records every request."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict | None, dict]] = []

    def __call__(self, request):
        self.requests.append((request.method, request.url, request.json, dict(request.params)))

    def searches(self) -> list[tuple[str, str, dict | None, dict]]:
        return [r for r in self.requests if r[1].split("?")[0].endswith("/search")]


def cover(item: dict) -> float:
    return item["properties"]["eo:cloud_cover"]


def ids(items) -> list[str]:
    return sorted(i["id"] if isinstance(i, dict) else i.id for i in items)


def some(expected: list[str], demo: list[dict]) -> list[str]:
    """The expectation, checked to keep some scenes and drop others (so the test can fail)."""
    assert 0 < len(expected) < len(demo), expected
    return expected


def area(demo: list[dict], tile: str) -> list[dict]:
    return [i for i in demo if f"_{tile}_" in i["id"]]


# --------------------------------------------------------------------------- capabilities


def test_catalogue_conformance_and_collections(cat, url):
    assert cat.name == url.split("://")[1].rstrip("/")
    for feature in ("item-search", "filter", "sort", "fields", "query", "collections"):
        assert cat.conforms_to(feature), feature
    # stac-fastapi-pgstac 7.2 offers free text for collections only, not for item search
    assert cat.conforms_to("free-text") is False
    assert cat.features["sort"] is True
    with pytest.raises(ValueError, match=r"unknown feature 'sorting'.*sort"):
        cat.conforms_to("sorting")
    assert cat.collection_ids() == [demodata.COLLECTION_ID]
    assert [c.id for c in cat.collections()] == [demodata.COLLECTION_ID]


def test_sort_conformance_of_stac_api_1_1_is_seen_without_pystac_client_warnings(cat):
    # The server announces ".../v1.1.0/item-search#sort", which pystac-client's own patterns
    # (v1.0.* only) miss; searching with sortby must not warn "does not conform to SORT".
    from pystac_client.warnings import PystacClientWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", PystacClientWarning)
        assert len(list(cat.search(sortby="-datetime", max_items=2))) == 2


# --------------------------------------------------------------------------- each filter kind


def test_bbox(cat, demo):
    tras = area(demo, "33TTH")[0]["bbox"]
    aoi = (tras[0] + 0.01, tras[1] + 0.01, tras[2] - 0.01, tras[3] - 0.01)
    expected = some(ids(i for i in demo if box(*i["bbox"]).intersects(box(*aoi))), demo)
    assert ids(cat.search(bbox=aoi)) == expected
    assert ids(cat.search(bbox=",".join(map(str, aoi)))) == expected


def test_bbox_across_the_antimeridian(cat, demo):
    # West of the Trasimeno scenes' centre eastwards to 180, and -180 to just west of
    # Flevoland: only Trasimeno. pgstac itself would swap west and east (-> both areas).
    tras = area(demo, "33TTH")[0]["bbox"]
    flev = area(demo, "31UFU")[0]["bbox"]
    west, east = (tras[0] + tras[2]) / 2, flev[0] - 0.5
    halves = [box(west, -80, 180, 80), box(-180, -80, east, 80)]
    expected = some(ids(i for i in demo if any(box(*i["bbox"]).intersects(h) for h in halves)),
                    demo)
    assert ids(cat.search(bbox=(west, -80, east, 80))) == expected


def _flevoland_aoi(demo) -> dict:
    footprint = shape(area(demo, "31UFU")[0]["geometry"])
    c = footprint.centroid
    return shapely.geometry.mapping(box(c.x - 0.01, c.y - 0.01, c.x + 0.01, c.y + 0.01))


class DrawnAOI:
    """Stands for the map widget's drawn area: a FeatureCollection via __geo_interface__."""

    def __init__(self, geometry):
        self.__geo_interface__ = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": geometry}]}


@pytest.mark.parametrize("form", ["geojson", "feature", "geojson-string", "wkt", "shapely",
                                  "drawn-aoi"])
def test_intersects_in_each_form(cat, demo, form):
    geometry = json.loads(json.dumps(_flevoland_aoi(demo)))
    value = {
        "geojson": geometry,
        "feature": {"type": "Feature", "properties": {}, "geometry": geometry},
        "geojson-string": json.dumps(geometry),
        "wkt": shape(geometry).wkt,
        "shapely": shape(geometry),
        "drawn-aoi": DrawnAOI(geometry),
    }[form]
    expected = some(ids(i for i in demo if shape(i["geometry"]).intersects(shape(geometry))),
                    demo)
    assert ids(cat.search(intersects=value)) == expected


def _between(demo, start, end) -> list[str]:
    return ids(i for i in demo if (start is None or when(i) >= start)
               and (end is None or when(i) <= end))


def test_datetime_forms(cat, demo):
    july = (dt.datetime(2025, 7, 1, tzinfo=UTC), dt.datetime(2025, 8, 1, tzinfo=UTC)
            - dt.timedelta(microseconds=1))
    june1 = dt.datetime(2025, 6, 1, tzinfo=UTC)
    end_july1 = dt.datetime(2025, 7, 2, tzinfo=UTC) - dt.timedelta(microseconds=1)
    one = sorted(demo, key=when)[2]
    day = when(one).date()
    cases = {
        "2025-07": _between(demo, *july),
        "2025-06-01/..": _between(demo, june1, None),
        "../2025-07-01": _between(demo, None, end_july1),
        (dt.date(2025, 6, 1), None): _between(demo, june1, None),
        (None, "2025-07-01"): _between(demo, None, end_july1),
        (dt.datetime(2025, 7, 1), dt.datetime(2025, 8, 1)): _between(
            demo, july[0], dt.datetime(2025, 8, 1, tzinfo=UTC)),
        day.isoformat(): [one["id"]],
        day: [one["id"]],
        when(one).strftime("%Y-%m-%dT%H:%M:%SZ"): [one["id"]],
        when(one).astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat(): [one["id"]],
        when(one).replace(tzinfo=None): [one["id"]],  # naive = UTC
    }
    for value, expected in cases.items():
        assert ids(cat.search(datetime=value)) == some(expected, demo), value


def test_collections_and_ids(cat, demo):
    assert ids(cat.search(collections=[demodata.COLLECTION_ID])) == ids(demo)
    assert ids(cat.search(collections=demodata.COLLECTION_ID)) == ids(demo)
    chosen = [demo[1]["id"], demo[4]["id"]]
    assert ids(cat.search(ids=chosen)) == sorted(chosen)
    assert ids(cat.search(ids=",".join(chosen))) == sorted(chosen)


def test_cql2_text_and_json(cat, demo):
    expected = some(ids(i for i in demo if cover(i) < 20
                        and i["properties"]["platform"] == "sentinel-2a"), demo)
    text = "eo:cloud_cover < 20 AND platform = 'sentinel-2a'"
    as_json = {"op": "and", "args": [
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]},
        {"op": "=", "args": [{"property": "platform"}, "sentinel-2a"]}]}
    assert ids(cat.search(filter=text)) == expected
    assert ids(cat.search(filter=as_json)) == expected
    assert ids(cat.search(filter=json.dumps(as_json))) == expected
    assert ids(cat.search(filter=text, filter_lang="cql2-text")) == expected


def test_cql2_text_is_sent_as_json_over_post(url, demo):
    # stac-fastapi-pgstac's POST /search takes only cql2-json: the text is converted.
    rec = Recorder()
    found = Catalogue(url, request_modifier=rec).search(filter="eo:cloud_cover >= 20")
    assert ids(found) == some(ids(i for i in demo if cover(i) >= 20), demo)
    method, _, body, _ = rec.searches()[0]
    assert method == "POST" and body["filter-lang"] == "cql2-json"
    assert body["filter"]["op"] == ">="
    # A catalogue that advertises GET search only gets CQL2 JSON as text in the query string
    cat = Catalogue(url, request_modifier=rec)
    cat._post = False
    as_json = {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 20]}
    assert ids(cat.search(filter=as_json)) == some(ids(i for i in demo if cover(i) >= 20), demo)
    method, _, _, query = rec.searches()[-1]
    assert method == "GET" and query["filter-lang"] == "cql2-text"
    assert query["filter"].replace(" ", "").startswith("eo:cloud_cover>=20")


def test_query_extension(cat, demo):
    expected = some(ids(i for i in demo if cover(i) < 20), demo)
    assert ids(cat.search(query={"eo:cloud_cover": {"lt": 20}})) == expected
    assert ids(cat.search(query=["eo:cloud_cover<20"])) == expected
    b = some(ids(i for i in demo if i["properties"]["platform"] == "sentinel-2b"), demo)
    assert ids(cat.search(query={"platform": {"eq": "sentinel-2b"}})) == b


def test_sortby(cat, demo):
    by_cover = [i["id"] for i in sorted(demo, key=cover)]
    assert [i.id for i in cat.search(sortby="eo:cloud_cover")] == by_cover
    assert [i.id for i in cat.search(sortby="-properties.eo:cloud_cover")] == by_cover[::-1]
    assert [i.id for i in cat.search(sortby=["+properties.eo:cloud_cover"])] == by_cover
    by_platform_newest = [i["id"] for i in sorted(
        sorted(demo, key=when, reverse=True), key=lambda i: i["properties"]["platform"])]
    assert [i.id for i in cat.search(sortby=["platform", "-datetime"])] == by_platform_newest
    # default order of the catalogue: newest first
    assert [i.id for i in cat.search()] == newest_first(demo)


@pytest.mark.parametrize("value, low, high", [(20, None, 20), ((10, 30), 10, 30)])
def test_cloud_cover_as_cql2(url, demo, value, low, high):
    expected = some(ids(i for i in demo if (low is None or cover(i) >= low)
                        and cover(i) <= high), demo)
    rec = Recorder()
    assert ids(Catalogue(url, request_modifier=rec).search(cloud_cover=value)) == expected
    body = rec.searches()[0][2]
    assert "filter" in body and "query" not in body


def test_cloud_cover_falls_back_to_query_then_client_side(url, demo, monkeypatch):
    expected = some(ids(i for i in demo if 10 <= cover(i) <= 30), demo)
    rec = Recorder()
    cat = Catalogue(url, request_modifier=rec)
    monkeypatch.setitem(cat._features, "filter", False)  # as if the API had no filter
    assert ids(cat.search(cloud_cover=(10, 30))) == expected
    body = rec.searches()[-1][2]
    assert body["query"] == {"eo:cloud_cover": {"gte": 10, "lte": 30}} and "filter" not in body
    monkeypatch.setitem(cat._features, "query", False)  # ... and no query extension either
    with pytest.warns(CatalogueWarning, match=r"checked on the client side"):
        found = cat.search(cloud_cover=(10, 30), max_items=1)
    assert ids(found) == [next(i for i in newest_first(demo) if i in expected)]
    body = rec.searches()[-1][2]
    assert "query" not in body and "filter" not in body


def test_cloud_cover_combined_with_a_filter(cat, demo):
    expected = some(ids(i for i in demo if cover(i) <= 20
                        and i["properties"]["platform"] == "sentinel-2b"), demo)
    assert ids(cat.search(filter="platform = 'sentinel-2b'", cloud_cover=20)) == expected
    assert ids(cat.search(filter={"op": "=", "args": [{"property": "platform"}, "sentinel-2b"]},
                          cloud_cover=20)) == expected


def test_max_items_and_combined_criteria(cat, demo):
    assert [i.id for i in cat.search(max_items=2)] == newest_first(demo)[:2]
    assert len(cat.search(max_items=2)) == 2
    tras = area(demo, "33TTH")
    expected = some(ids(i for i in tras if cover(i) <= 20
                        and when(i) >= dt.datetime(2025, 6, 1, tzinfo=UTC)), demo)
    found = cat.search(bbox=tras[0]["bbox"], datetime="2025-06-01/..", cloud_cover=20)
    assert ids(found) == expected


def test_iteration_fetches_pages_on_demand(url, demo):
    rec = Recorder()
    cat = Catalogue(url, request_modifier=rec)
    rec.requests.clear()
    results = cat.search(collections=[demodata.COLLECTION_ID], limit=2, max_items=None)
    assert rec.searches() == []  # nothing fetched yet
    # only the collection list (checked once), not the landing page again
    assert [r[1] for r in rec.requests] == [f"{url}/collections"]
    it = iter(results)
    got = [next(it).id]
    assert len(rec.searches()) == 1 and rec.searches()[0][2]["limit"] == 2
    got.append(next(it).id)  # from the same page
    assert len(rec.searches()) == 1 and results.loaded == 2
    got.append(next(it).id)  # the second page
    assert len(rec.searches()) == 2
    got += [i.id for i in it]
    assert got == newest_first(demo)
    assert len(rec.searches()) == 3  # 6 items, 3 pages of 2, no extra request
    assert [i.id for i in results] == got and len(rec.searches()) == 3  # kept, not refetched


def test_matched_when_the_api_counts(cat, demo, dsn):
    expected = len(some(ids(i for i in demo if cover(i) <= 20), demo))
    results = cat.search(cloud_cover=20)
    assert results.matched() is None  # pgstac's context is off by default: no count
    with pgstac_context(dsn):
        results = cat.search(cloud_cover=20, max_items=1)
        assert results.matched() == expected
        assert results.loaded == 0  # counting did not fetch the items


# --------------------------------------------------------------------------- results


def test_results_table_geojson_least_cloudy(cat, demo, platform):
    results = cat.search(collections=[demodata.COLLECTION_ID])
    page = results._repr_html_()
    assert page.count("<tr>") == len(demo) + 1
    for item in demo:
        assert f"<td>{item['id']}</td>" in page
        assert f"<td>{cover(item):.1f} %</td>" in page
    # Thumbnails on the platform's loopback data server are inlined: a user's browser
    # cannot reach 127.0.0.1 of the platform, the kernel can.
    import base64

    thumb = httpx.get(demo[0]["assets"]["thumbnail"]["href"]).content
    assert f'<img src="data:image/png;base64,{base64.b64encode(thumb).decode()}"' in page
    assert page.count('<img src="data:image/png;base64,') == len(demo)
    assert "<th>catalogue</th>" not in page
    assert "<th>cloud cover</th>" in page
    assert httpx.get(demo[0]["assets"]["thumbnail"]["href"]).status_code == 200
    fc = results.to_geojson()
    assert fc["type"] == "FeatureCollection" and ids(fc["features"]) == ids(demo)
    assert results.least_cloudy().id == min(demo, key=cover)["id"]
    assert ids(results.items) == ids(demo) and len(results) == len(demo)


# --------------------------------------------------------------------------- queryables


def test_register_queryables(url, dsn, demo, cat):
    register_queryables(dsn)
    with psycopg.connect(dsn) as conn:
        before = conn.execute("SELECT id, name, collection_ids, definition "
                              "FROM pgstac.queryables ORDER BY id").fetchall()
    register_queryables(dsn)  # idempotent: nothing rewritten
    with psycopg.connect(dsn) as conn:
        after = conn.execute("SELECT id, name, collection_ids, definition "
                             "FROM pgstac.queryables ORDER BY id").fetchall()
    assert after == before
    for path in ("/queryables", f"/collections/{demodata.COLLECTION_ID}/queryables"):
        props = httpx.get(url + path).json()["properties"]
        assert props["eo:cloud_cover"]["type"] == "number"
        assert (props["eo:cloud_cover"]["minimum"], props["eo:cloud_cover"]["maximum"]) == (0, 100)
        assert props["platform"]["enum"] == sorted({i["properties"]["platform"] for i in demo})
        assert props["grid:code"]["enum"] == sorted({i["properties"]["grid:code"] for i in demo})
        assert "datetime" in props
    schema = cat.queryables(demodata.COLLECTION_ID)
    assert schema["properties"]["eo:cloud_cover"]["type"] == "number"
    assert "platform" in cat.queryables()["properties"]
    tile = area(demo, "33TTH")[0]["properties"]["grid:code"]
    expected = some(ids(i for i in demo if i["properties"]["grid:code"] == tile), demo)
    assert ids(cat.search(filter=f"\"grid:code\" = '{tile}'")) == expected
    with pytest.raises(UnknownCollectionError, match=r"'sentinel2' is not in catalogue"):
        cat.queryables("sentinel2")


# --------------------------------------------------------------------------- defaults


@pytest.fixture()
def configured(monkeypatch, tmp_path, url):
    for var in ("EOPDE_PLATFORM", "EOPDE_TOKEN_SOURCE", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path / "no-platform"))
    monkeypatch.setenv("EOPDE_CATALOGUE_URL", url)
    monkeypatch.setenv("EOPDE_TOKEN", "platform-token")
    stac_module._cache.clear()
    yield
    stac_module._cache.clear()


def test_url_and_token_from_the_platform_configuration(configured, url, demo):
    found = search(collections=[demodata.COLLECTION_ID])
    assert ids(found) == ids(demo)
    used = stac_module.open_catalogue(url, "platform-token")
    assert used.client._stac_io.session.headers["Authorization"] == "Bearer platform-token"
    assert found.catalogues == [used.name]
    # Another catalogue (here the same server under another name) never gets the token
    other = url.replace("127.0.0.1", "localhost")
    assert ids(search(url=other, max_items=1)) == newest_first(demo)[:1]
    opened = stac_module.open_catalogue(other, None)
    assert "Authorization" not in opened.client._stac_io.session.headers
    assert stac_module.token_for(other, None) is None
    assert stac_module.token_for(url, None) == "platform-token"
    assert stac_module.token_for(url, "") is None  # explicitly anonymous


def test_nothing_configured_says_how_to_set_it(configured, monkeypatch):
    from eopde.config import ConfigError

    monkeypatch.delenv("EOPDE_CATALOGUE_URL")
    with pytest.raises(ConfigError, match=r"EOPDE_CATALOGUE_URL"):
        search(bbox=(0, 0, 1, 1))


# --------------------------------------------------------------------------- bad input


def test_unknown_collection_lists_close_names(cat, url):
    with pytest.raises(UnknownCollectionError,
                       match=r"'sentinel2-l2a' is not in catalogue .*did you mean "
                             r"'sentinel-2-l2a'.*Its collections: sentinel-2-l2a"):
        cat.search(collections=["sentinel2-l2a"])
    with pytest.raises(UnknownCollectionError, match=r"'Sentinel-2-L2A'.*'sentinel-2-l2a'"):
        search(url=url, collections="Sentinel-2-L2A")


def test_unreachable_url(url):
    with pytest.raises(CatalogueUnreachableError,
                       match=r"catalogue http://127\.0\.0\.1:1 is unreachable.*Connection refused"):
        Catalogue("http://127.0.0.1:1")
    with pytest.raises(CatalogueUnreachableError, match=r"http://127\.0\.0\.1:1"):
        search(url="http://127.0.0.1:1/stac", bbox=(0, 0, 1, 1))


def test_not_a_stac_api(platform, url):
    data = platform.url("data")
    with pytest.raises(NotACatalogueError, match=r"answered, but not with a STAC API landing"):
        Catalogue(data)  # an HTML directory listing
    with pytest.raises(NotACatalogueError, match=r"not a catalog.*found type=Collection.*root URL"):
        Catalogue(f"{url}/collections/{demodata.COLLECTION_ID}")
    with pytest.raises(NotACatalogueError, match=r"404 Not Found.*check the path"):
        Catalogue(f"{url}/no/such/path")
    with pytest.raises(NotACatalogueError, match=r"404 Not Found"):
        Catalogue(platform.url("tiles"))  # answers JSON, but no landing page
    with pytest.raises(SearchParameterError, match=r"not an http"):
        Catalogue("ftp://example.org/stac")


def test_bad_parameters_are_refused_before_any_request(url):
    rec = Recorder()
    cat = Catalogue(url, request_modifier=rec)
    rec.requests.clear()
    for kwargs, match in [
        ({"bbox": (0, 50, 10, 40)}, "south .50. is greater than north"),
        ({"bbox": (0, 0, 200, 10)}, "outside -180..180"),
        ({"datetime": "2025-02-30"}, "'2025-02-30' is not a valid date"),
        ({"datetime": "2025-07-01/2025-06-01"}, "before it starts"),
        ({"filter": "eo:cloud_cover <<< 3"}, "not valid CQL2"),
        ({"cloud_cover": 150}, "outside 0..100"),
    ]:
        with pytest.raises(SearchParameterError, match=match):
            cat.search(**kwargs)
    assert rec.requests == []


def test_server_rejections_are_wrapped(cat, dsn):
    # Bypass the client-side checks with raw parameters: the API's own 400 comes back readable.
    bad = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0]]]}
    with pytest.raises(SearchParameterError,
                       match=r"rejected the search \(HTTP 400\): .*intersects"):
        list(cat.search_params(SearchParams(intersects=bad)))
    register_queryables(dsn)  # eo:cloud_cover is a number: comparing it to text fails in pgstac
    # The server answers 400 naming the value (it was a 500 before issue 8, item 13).
    with pytest.raises(SearchParameterError, match=r"rejected the search \(HTTP 400\): .*abc"):
        list(cat.search(filter="eo:cloud_cover < 'abc'"))


def test_unsupported_extensions_are_named(url, monkeypatch):
    cat = Catalogue(url)
    monkeypatch.setitem(cat._features, "filter", False)
    with pytest.raises(SearchParameterError, match=r"does not support CQL2 filters.*use query="):
        cat.search(filter="eo:cloud_cover < 20")
    monkeypatch.setitem(cat._features, "query", False)
    with pytest.raises(SearchParameterError, match=r"does not support the query extension"):
        cat.search(query={"eo:cloud_cover": {"lt": 20}})
    monkeypatch.setitem(cat._features, "sort", False)
    with pytest.warns(CatalogueWarning, match=r"sortby is ignored"):
        cat.search(sortby="eo:cloud_cover")


@pytest.fixture()
def tiny_server():
    """A throw-away HTTP server answering each path with a fixed (status, JSON body)."""
    from loopback import JsonHandler, serve

    routes: dict[str, tuple[int, dict]] = {}

    class Handler(JsonHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_json(*routes.get(self.path.rstrip("/") or "/", (404, {"detail": "nope"})))

    with serve(Handler) as server:
        yield server.url, routes


def test_static_catalog_and_refused_access(tiny_server):
    base, routes = tiny_server
    routes["/static"] = (200, {"type": "Catalog", "id": "c", "stac_version": "1.0.0",
                               "description": "a static catalog", "links": []})
    with pytest.raises(NotACatalogueError, match=r"not a STAC API with item search.*static"):
        Catalogue(f"{base}/static")
    routes["/private"] = (401, {"code": "Unauthorized", "description": "token needed"})
    with pytest.raises(CatalogueAuthError, match=r"refused access.*HTTP 401: token needed.*token="):
        Catalogue(f"{base}/private")
