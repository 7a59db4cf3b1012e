"""The catalogue panel's REST API with CSW and OpenSearch endpoints (a real pycsw 2.6.2 loaded
with the demo scenes), AOIs typed as WKT, through a real Jupyter server (pytest-jupyter's
`jp_fetch`). pycsw listens on 127.0.0.1, which the panel's guard refuses unless an
administrator allows the origin: these tests allow it (CatalogueGuard.allowed_origins);
tests/security/test_catalogue_panel_ssrf.py shows what happens when nobody did."""

from __future__ import annotations

import json
import warnings
from urllib.parse import urlsplit

import httpx
import pytest
from shapely.geometry import box

from catalogue_endpoints import demo_pycsw
from server_helpers import call, exchange

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycsw")

#: Inside the Trasimeno scenes, away from their edges (pycsw rounds Atom boxes to 2 decimals).
AOI = (12.0, 43.0, 12.2, 43.2)
WKT = "POLYGON ((12 43, 12.2 43, 12.2 43.2, 12 43.2, 12 43))"


@pytest.fixture(scope="module")
def pycsw(tmp_path_factory):
    with demo_pycsw(tmp_path_factory.mktemp("panel-csw")) as found:
        yield found


def origin(url: str) -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


@pytest.fixture
def eopde_server_config(pycsw):
    """pycsw's origin, and that of the server of the records' files (their browse graphics)."""
    server, items = pycsw
    files = origin(items[0]["assets"]["thumbnail"]["href"])
    return {"CatalogueGuard": {"allowed_origins": [origin(server.url), files]}}


@pytest.fixture(autouse=True)
def no_platform(monkeypatch):
    for name in ("EOPDE_CATALOGUE_URL", "EOPDE_CONFIG", "EOPDE_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EOPDE_TOKEN", "platform-token-not-for-others")



def expected(items) -> list[str]:
    return sorted(i["id"] for i in items if box(*i["bbox"]).intersects(box(*AOI)))


def run_code(code: str) -> list[str]:
    scope: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(code.rsplit("\n", 1)[0], scope)  # noqa: S102 - the code the panel inserts
    return scope["found"].ids()


@pytest.mark.parametrize("kind", ["csw", "opensearch"])
async def test_search_a_csw_or_opensearch_endpoint_pages_and_code(jp_fetch, pycsw, kind):
    server, items = pycsw
    url = server.url if kind == "csw" else server.opensearch_url
    want = expected(items)
    assert len(want) == 3

    code, described = await call(jp_fetch, "catalogue/collections", url=url, kind=kind)
    assert (code, described["kind"], described["collections"]) == (200, kind, []), described

    body = {"url": url, "kind": kind, "bbox": list(AOI), "max_items": 50, "limit": 2}
    code, first = await call(jp_fetch, "catalogue/search", "POST", body)
    assert code == 200, first
    assert len(first["features"]) == 2 and first["next"] == 2
    code, second = await call(jp_fetch, f"catalogue/search/{first['search']}", offset="2",
                              limit="2")
    assert code == 200, second
    ids = [f["id"] for f in first["features"] + second["features"]]
    assert sorted(ids) == want
    assert second["next"] is None
    feature = first["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    # the record's link to its STAC Item: what "Use as input" hands to the wizard
    assert feature["href"].endswith(f"/{feature['id']}/{feature['id']}.json")

    name = "CSWCatalogue" if kind == "csw" else "OpenSearchCatalogue"
    assert first["code"] == (
        f"from eopde.catalogue import {name}, search\n\n"
        f"found = search(url={name}({url!r}), bbox={AOI!r}, max_items=50)\nfound")
    assert run_code(first["code"]) == ids


async def test_wkt_aoi_is_read_and_searched(jp_fetch, pycsw):
    server, items = pycsw
    code, read = await call(jp_fetch, "catalogue/aoi", "POST", {"wkt": WKT})
    assert code == 200, read
    assert read["geometry"]["type"] == "Polygon"
    assert read["bbox"] == pytest.approx(list(AOI))

    body = {"url": server.url, "kind": "csw", "intersects": WKT, "max_items": 20}
    code, found = await call(jp_fetch, "catalogue/search", "POST", body)
    assert code == 200, found
    assert sorted(f["id"] for f in found["features"]) == expected(items)
    # the inserted code carries the WKT as typed
    assert f"intersects={WKT!r}" in found["code"]
    assert sorted(run_code(found["code"])) == expected(items)


async def test_the_platform_token_never_goes_to_a_csw_or_opensearch_endpoint(jp_fetch, pycsw):
    server, _ = pycsw
    before = len(server.requests)
    for kind, url in (("csw", server.url), ("opensearch", server.opensearch_url)):
        code, _ = await call(jp_fetch, "catalogue/search", "POST",
                             {"url": url, "kind": kind, "bbox": list(AOI)})
        assert code == 200
    assert {r.mode for r in server.requests[before:]} == {"csw", "opensearch"}  # both asked
    # pycsw_server keeps no headers: the recorder of tests/security checks them; here the
    # library objects the panel builds for these two carry none
    from eopde.server.sources import _opened

    mine = [_opened.peek(("csw", server.url)), _opened.peek(("opensearch", server.opensearch_url))]
    assert None not in mine
    assert all(not backend.headers for backend in mine)


@pytest.mark.parametrize("route,method,body,query,says", [
    ("catalogue/search", "POST", {"kind": "wms", "url": "https://x.example/wms"}, {},
     "kind: one of stac, csw, opensearch"),
    ("catalogue/search", "POST", {"kind": "csw"}, {}, "give the catalogue's URL"),
    ("catalogue/collections", "GET", None, {"kind": "opensearch", "url": "ftp://x/os.xml"},
     "opensearch endpoint's http(s) URL"),
    ("catalogue/search", "POST", {"kind": "csw", "url": "{csw}", "filter": "a = 1"}, {},
     "cannot apply a CQL2 filter"),
    ("catalogue/search", "POST", {"kind": "opensearch", "url": "{os}", "sortby": "datetime"},
     {}, "cannot sort"),
    ("catalogue/search", "POST", {"kind": "csw", "url": "{csw}", "intersects": "POLYGON ((1"},
     {}, "neither GeoJSON nor valid WKT"),
    ("catalogue/aoi", "POST", {"wkt": "CIRCLE (1 2, 3)"}, {}, "neither GeoJSON nor valid WKT"),
    ("catalogue/aoi", "POST", {"wkt": "POINT (200 10)"}, {}, "outside WGS84"),
    ("catalogue/aoi", "POST", {"wkt": ""}, {}, "wkt: give a WKT geometry"),
    ("catalogue/aoi", "POST", {"wkt": 3}, {}, "wkt: give a WKT geometry"),
])
async def test_bad_requests_get_a_400_saying_what_to_fix(jp_fetch, pycsw, route, method, body,
                                                         query, says):
    server, _ = pycsw
    if body:
        body = {k: v.format(csw=server.url, os=server.opensearch_url) if isinstance(v, str)
                else v for k, v in body.items()}
    code, answer = await call(jp_fetch, route, method, body, **query)
    assert code == 400, answer
    assert says in answer["message"]
    assert "Traceback" not in json.dumps(answer)


async def test_a_url_that_is_not_a_csw_says_so(jp_fetch, pycsw):
    server, _ = pycsw
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(server.url))
    code, answer = await call(jp_fetch, "catalogue/collections", kind="opensearch",
                              url=f"{origin}/csw?service=CSW&request=GetCapabilities")
    assert code == 502, answer
    assert "is not an OpenSearch description document" in answer["message"]


@pytest.mark.parametrize("kind", ["csw", "opensearch"])
async def test_rows_show_the_records_browse_graphic_through_this_server(jp_fetch, pycsw, kind):
    """Each row's thumbnail is this server's route (never the record's URL); it answers the
    record's image, fetched through the catalogue's guard, as an image that cannot be sniffed
    into anything else; a number the search does not have: 404."""
    server, items = pycsw
    url = server.url if kind == "csw" else server.opensearch_url
    code, found = await call(jp_fetch, "catalogue/search", "POST",
                             {"url": url, "kind": kind, "bbox": list(AOI), "max_items": 10})
    assert code == 200, found
    by_id = {i["id"]: i for i in items}
    assert sorted(f["id"] for f in found["features"]) == expected(items)
    routes = set()
    for feature in found["features"]:
        # the table's Date column: the record's date (kept out of a built Item's properties)
        assert feature["properties"]["datetime"] == \
            by_id[feature["id"]]["properties"]["datetime"].replace("+00:00", "Z")
        route = feature["thumbnail"]
        assert route.startswith(f"catalogue/thumbnail/{found['search']}/"), route
        routes.add(route)
        r = await jp_fetch("eopde", *route.split("/"))
        assert r.code == 200
        assert r.headers["Content-Type"] == "image/png"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        original = httpx.get(by_id[feature["id"]]["assets"]["thumbnail"]["href"]).content
        assert r.body == original and original.startswith(b"\x89PNG")
    assert len(routes) == len(found["features"])
    code, answer, _ = await exchange(jp_fetch, f"catalogue/thumbnail/{found['search']}/99")
    assert code == 404 and "no such thumbnail" in answer["message"], answer


@pytest.mark.parametrize("kind,says", [
    ("csw", ["A CSW catalogue lists no collections and has no queryables", "cloud cover"]),
    ("opensearch", ["An OpenSearch catalogue lists no collections", "It cannot sort",
                    "geo:box", "time:start"]),
])
async def test_what_a_csw_or_opensearch_catalogue_cannot_do_is_said(jp_fetch, pycsw, kind,
                                                                   says):
    server, _ = pycsw
    url = server.url if kind == "csw" else server.opensearch_url
    code, described = await call(jp_fetch, "catalogue/collections", url=url, kind=kind)
    assert code == 200, described
    assert described["collections"] == []
    for words in says:
        assert words in described["notes"], described["notes"]
    if kind == "opensearch":  # pycsw's description document, as declared
        assert {"geo:box", "time:start", "time:end", "searchTerms", "count"} <= set(
            described["parameters"]), described["parameters"]
        assert all(p in described["notes"] for p in described["parameters"])
    else:
        assert described["parameters"] == []
