"""The catalogue panel's REST API (eopde.server.catalogue; the jobs panel's: test_server_jobs.py)
through a real Jupyter server (pytest-jupyter's `jp_fetch`) against the running platform's STAC
API: the user's server environment is what the hub gives it (catalogue, tiles and ADES URLs,
the user's token). Bad requests get a 4xx JSON answer, never a 500."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import box

from eopde.services import demodata
from security.conftest import User, platform_user
from server_helpers import call

pytestmark = pytest.mark.platform
pytest_plugins = ["pytest_jupyter.jupyter_server"]

USER = "panels"
COLLECTION = demodata.COLLECTION_ID


@pytest.fixture(scope="module")
def user(platform) -> User:
    return platform_user(platform, USER)


@pytest.fixture(autouse=True)
def user_env(platform, user, ades_user_env, monkeypatch):
    """What the hub sets in a user's server (lib/eopde/hub/local.py), outside a hub's proxy."""
    for name in ("JUPYTERHUB_BASE_URL", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EOPDE_CATALOGUE_URL", platform.url("catalogue"))
    monkeypatch.setenv("EOPDE_TILES_URL", platform.url("tiles"))
    monkeypatch.setenv("EOPDE_ADES_URL", f"{platform.url('ades')}/{{user}}/ogc-api")
    monkeypatch.setenv("EOPDE_TOKEN", user.token)
    monkeypatch.setenv("JUPYTERHUB_USER", USER)


@pytest.fixture(scope="module")
def demo(platform) -> list[dict]:
    return demodata.items(platform.home / "data", platform.url("data"))


def trasimeno(demo) -> tuple[tuple[float, ...], list[str]]:
    """An AOI inside the Trasimeno scenes and their ids, newest first (the API's order)."""
    west, south, east, north = next(i["bbox"] for i in demo
                                    if i["properties"].get("s2:mgrs_tile", "").endswith("33TTH")
                                    or "33TTH" in i["id"])
    aoi = (west + 0.01, south + 0.01, east - 0.01, north - 0.01)
    hits = [i for i in demo if box(*i["bbox"]).intersects(box(*aoi))]
    hits.sort(key=lambda i: i["properties"]["datetime"], reverse=True)
    return aoi, [i["id"] for i in hits]


async def test_catalogues_collections_and_queryables(jp_fetch, platform):
    code, answer = await call(jp_fetch, "catalogue/catalogues")
    assert code == 200
    assert answer == {
        "catalogues": [{"name": "platform", "url": platform.url("catalogue"), "platform": True}],
        "basemap": f"{platform.url('tiles')}/basemap/{{z}}/{{x}}/{{y}}.png"}

    code, answer = await call(jp_fetch, "catalogue/collections")
    assert code == 200
    ids = [c["id"] for c in answer["collections"]]
    # what the catalogue itself lists (earlier tests on the shared platform add collections)
    import httpx

    listed = httpx.get(f"{platform.url('catalogue')}/collections", timeout=30).json()
    assert COLLECTION in ids
    assert sorted(ids) == sorted(c["id"] for c in listed["collections"])
    assert answer["features"]["filter"] is True

    code, answer = await call(jp_fetch, "catalogue/queryables", collection=COLLECTION)
    assert code == 200
    fields = {f["name"]: f for f in answer["queryables"]}
    assert fields["eo:cloud_cover"]["kind"] == "number"
    assert (fields["eo:cloud_cover"]["minimum"], fields["eo:cloud_cover"]["maximum"]) == (0, 100)


async def test_search_pages_and_the_code_finds_the_same(jp_fetch, platform, demo):
    aoi, expected = trasimeno(demo)
    assert len(expected) == 3
    body = {"collections": [COLLECTION], "bbox": list(aoi), "max_items": 50, "limit": 2}
    code, first = await call(jp_fetch, "catalogue/search", "POST", body)
    assert code == 200, first
    assert [f["id"] for f in first["features"]] == expected[:2]
    assert first["next"] == 2
    feature = first["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["preview"].startswith(f"{platform.url('tiles')}/stac/tiles/WebMercatorQuad/"
                                         "{z}/{x}/{y}.png?url=")
    assert feature["href"] == f"{platform.url('catalogue')}/collections/{COLLECTION}/items/" \
                              f"{expected[0]}"

    code, second = await call(jp_fetch, f"catalogue/search/{first['search']}", offset="2",
                              limit="2")
    assert code == 200
    assert [f["id"] for f in second["features"]] == expected[2:]
    assert second["next"] is None

    # "Insert as code": the platform's catalogue is the default, so no url=
    assert first["code"] == (
        "from eopde.catalogue import search\n\n"
        f"found = search(collections=['{COLLECTION}'], bbox={tuple(aoi)!r}, max_items=50)\n"
        "found")
    scope: dict = {}
    exec(first["code"].rsplit("\n", 1)[0], scope)  # noqa: S102 - the code the panel inserts
    assert scope["found"].ids() == expected


@pytest.mark.parametrize("route,method,body,query,status,says", [
    ("catalogue/search", "POST", {"bbox": "somewhere"}, {}, 400, "bbox"),
    ("catalogue/search", "POST", {"cloud_cover": "lots"}, {}, 400, "cloud_cover"),
    ("catalogue/search", "POST", {"datetime": "last tuesday"}, {}, 400, "datetime"),
    ("catalogue/search", "POST", {"colections": ["x"]}, {}, 400, "unknown search fields"),
    ("catalogue/search", "POST", {"max_items": 0}, {}, 400, "max_items"),
    ("catalogue/search", "POST", {"limit": "all"}, {}, 400, "limit"),
    ("catalogue/search", "POST", "not json", {}, 400, "must be JSON"),
    ("catalogue/search", "POST", [1, 2], {}, 400, "JSON object"),
    ("catalogue/search", "POST", {"collections": ["no-such"]}, {}, 404, "no-such"),
    ("catalogue/search", "POST", {"url": "file:///etc/passwd"}, {}, 400, "http(s) URL"),
    # a user-added catalogue on an internal address (tests/security/test_catalogue_panel_ssrf.py)
    ("catalogue/search", "POST", {"url": "http://127.0.0.1:1/stac"}, {}, 400, "is refused"),
    ("catalogue/collections", "GET", None, {"url": "ftp://x"}, 400, "http(s) URL"),
    ("catalogue/queryables", "GET", None, {"collection": "no-such"}, 404, "no-such"),
    ("catalogue/search/" + "0" * 32, "GET", None, {}, 404, "search again"),
])
async def test_bad_requests_get_a_4xx_saying_what_to_fix(jp_fetch, route, method, body, query,
                                                         status, says):
    code, answer = await call(jp_fetch, route, method, body, **query)
    assert code == status, answer
    text = json.dumps(answer)
    assert says in text
    assert "Traceback" not in text and "/tmp/" not in text


async def test_page_with_a_bad_offset(jp_fetch, demo):
    aoi, _ = trasimeno(demo)
    code, first = await call(jp_fetch, "catalogue/search", "POST", {"bbox": list(aoi), "limit": 1})
    assert code == 200
    code, answer = await call(jp_fetch, f"catalogue/search/{first['search']}", offset="-1")
    assert (code, answer["message"]) == (400, "offset: 0 to 5000; limit: 1 to 500.")
