"""Issue 8, items 3 and 11 (catalogue): who may write to the STAC catalogue.

Attacks: an ordinary user (mallory) replaces, patches or deletes the platform's demo collection
or another user's (alice's) collection and items, plants items in them, takes ownership, or
replaces another collection through her own path; the platform's service token writes; a
revoked token, or a deleted user's, keeps writing for a minute.
"""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.platform

DEMO = "sentinel-2-l2a"
OWNER = "eopde:owner"


def collection(cid: str, **extra) -> dict:
    return {
        "type": "Collection", "id": cid, "stac_version": "1.0.0", "description": "test",
        "license": "proprietary", "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [["2025-01-01T00:00:00Z", None]]}},
        **extra,
    }


def item(iid: str, cid: str) -> dict:
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": cid,
        "geometry": {"type": "Point", "coordinates": [12.1, 43.1]},
        "bbox": [12.1, 43.1, 12.1, 43.1],
        "properties": {"datetime": "2025-05-01T00:00:00Z"}, "links": [], "assets": {},
    }


@pytest.fixture(scope="module")
def catalogue(platform) -> str:
    return platform.url("catalogue")


@pytest.fixture(scope="module", autouse=True)
def leave_as_found(platform, catalogue):
    """Delete the collections these tests made (some owners are deleted users: through the
    database, as the platform), so later tests see the demo catalogue only."""
    import psycopg

    from eopde.services.platform import Platform

    def ids() -> set[str]:
        listed = httpx.get(f"{catalogue}/collections", params={"limit": 1000}).json()
        return {c["id"] for c in listed["collections"]}

    before = ids()
    yield
    dsn = Platform(platform.settings()).part("postgres").dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for cid in ids() - before:
            conn.execute("SELECT pgstac.delete_collection(%s)", (cid,))
    assert ids() == before


def _create(catalogue: str, headers: dict, cid: str) -> dict:
    """Create collection `cid` with one item as the user of `headers`."""
    with httpx.Client(headers=headers, timeout=30) as client:
        client.delete(f"{catalogue}/collections/{cid}")  # left over from an earlier test run
        created = client.post(f"{catalogue}/collections", json=collection(cid))
        assert created.status_code == 201, created.text
        added = client.post(f"{catalogue}/collections/{cid}/items", json=item(f"{cid}-1", cid))
        assert added.status_code == 201, added.text
    return httpx.get(f"{catalogue}/collections/{cid}").json()


@pytest.fixture(scope="module")
def alices(catalogue, alice) -> str:
    """A collection of alice's, with one item."""
    _create(catalogue, alice.headers, "alice-own")
    return "alice-own"


@pytest.fixture(scope="module")
def mallorys(catalogue, mallory) -> str:
    """A collection of mallory's own, with one item."""
    _create(catalogue, mallory.headers, "mallory-own")
    return "mallory-own"


def _snapshot(catalogue: str, cid: str) -> tuple[int, dict, list]:
    """A collection and its items as anyone reads them."""
    got = httpx.get(f"{catalogue}/collections/{cid}")
    items = httpx.get(f"{catalogue}/collections/{cid}/items", params={"limit": 100})
    features = sorted(items.json().get("features", []), key=lambda f: f["id"]) \
        if items.status_code == 200 else []
    return got.status_code, got.json(), features


def _attacks(catalogue: str, cid: str, item_id: str) -> list[tuple[str, str, dict | list | None]]:
    """Every write on collection `cid` and its item `item_id` (method, URL, JSON body)."""
    base = f"{catalogue}/collections/{cid}"
    return [
        ("PUT", base, collection(cid, description="taken over")),
        ("PATCH", base, {"description": "taken over"}),
        ("POST", f"{base}/items", item("planted", cid)),
        ("POST", f"{base}/items", {"type": "FeatureCollection",
                                   "features": [item("planted2", cid)]}),
        ("POST", f"{base}/bulk_items", {"items": {"planted3": item("planted3", cid)},
                                        "method": "upsert"}),
        ("PUT", f"{base}/items/{item_id}", item(item_id, cid)),
        ("PATCH", f"{base}/items/{item_id}", {"properties": {"hacked": True}}),
        ("DELETE", f"{base}/items/{item_id}", None),
        ("DELETE", base, None),
    ]


def _assert_all_refused(catalogue: str, headers: dict, cid: str, item_id: str,
                        status: int, words: str) -> None:
    before = _snapshot(catalogue, cid)
    answers = []
    for method, url, body in _attacks(catalogue, cid, item_id):
        response = httpx.request(method, url, json=body, headers=headers, timeout=30)
        answers.append((method, url.removeprefix(catalogue), response.status_code))
        assert response.headers.get("content-type", "").startswith("application/json"), \
            (method, url, response.status_code, response.text[:200])
        if response.status_code == status:
            assert words in response.json()["description"], response.text
    assert all(code == status for *_, code in answers), answers
    assert _snapshot(catalogue, cid) == before


def test_users_cannot_write_to_the_platforms_collection(catalogue, mallory):
    demo_item = httpx.get(f"{catalogue}/collections/{DEMO}/items",
                          params={"limit": 1}).json()["features"][0]["id"]
    _assert_all_refused(catalogue, mallory.headers, DEMO, demo_item, 403,
                        "belongs to the platform and is read-only")


def test_users_cannot_write_to_another_users_collection(catalogue, alices, mallory):
    _assert_all_refused(catalogue, mallory.headers, alices, f"{alices}-1", 403,
                        "belongs to another user")


def test_the_service_token_cannot_write(catalogue, canary, alices):
    headers = {"Authorization": f"Bearer {canary}"}
    _assert_all_refused(catalogue, headers, DEMO, "any", 403, "not a user's")
    _assert_all_refused(catalogue, headers, alices, f"{alices}-1", 403, "not a user's")
    created = httpx.post(f"{catalogue}/collections", json=collection("by-service"),
                         headers=headers)
    assert created.status_code == 403
    assert httpx.get(f"{catalogue}/collections/by-service").status_code == 404


def test_anonymous_cannot_write(catalogue, alices):
    _assert_all_refused(catalogue, {}, alices, f"{alices}-1", 401, "Authorization: Bearer")
    created = httpx.post(f"{catalogue}/collections", json=collection("by-nobody"))
    assert created.status_code == 401
    assert httpx.get(f"{catalogue}/collections/by-nobody").status_code == 404


def test_owner_is_set_by_the_server(catalogue, alice, mallory, alices):
    assert httpx.get(f"{catalogue}/collections/{alices}").json()[OWNER] == "alice"
    # Planting a collection in someone else's name, or claiming one for oneself twice.
    with mallory.client() as client:
        planted = client.post(f"{catalogue}/collections",
                              json=collection("planted-for-alice", **{OWNER: "alice"}))
        assert planted.status_code == 403, planted.text
        assert OWNER in planted.json()["description"]
        assert httpx.get(f"{catalogue}/collections/planted-for-alice").status_code == 404
        # An existing id cannot be created again (and so not taken over).
        again = client.post(f"{catalogue}/collections", json=collection(alices))
        assert again.status_code == 409
    assert httpx.get(f"{catalogue}/collections/{alices}").json()[OWNER] == "alice"


def test_owner_cannot_be_changed_or_dropped(catalogue, alice, alices):
    base = f"{catalogue}/collections/{alices}"
    with alice.client() as client:
        given = client.put(base, json=collection(alices, **{OWNER: "mallory"}))
        assert given.status_code == 403, given.text
        patched = client.patch(base, json=[{"op": "replace", "path": f"/{OWNER}",
                                            "value": "mallory"}],
                               headers={"content-type": "application/json-patch+json"})
        assert patched.status_code == 403, patched.text
        # A replacement without the field, or a patch removing it, keeps the owner.
        replaced = client.put(base, json=collection(alices, description="replaced"))
        assert replaced.status_code == 200, replaced.text
        removed = client.patch(base, json=[{"op": "remove", "path": f"/{OWNER}"}],
                               headers={"content-type": "application/json-patch+json"})
        assert removed.status_code == 200, removed.text
    stored = httpx.get(base).json()
    assert stored[OWNER] == "alice" and stored["description"] == "replaced"


def test_own_path_cannot_write_another_collection(catalogue, mallory, mallorys, alices):
    """pgstac writes the collection named in the body: a PUT or PATCH to one's own path must
    not replace another's; an item posted to one's own collection cannot name another."""
    before = _snapshot(catalogue, alices)
    demo_before = _snapshot(catalogue, DEMO)
    base = f"{catalogue}/collections/{mallorys}"
    with mallory.client() as client:
        for target in (alices, DEMO):
            put = client.put(base, json=collection(target, description="taken over"))
            assert put.status_code == 400, put.text
            patch = client.patch(base, json=[{"op": "replace", "path": "/id", "value": target}],
                                 headers={"content-type": "application/json-patch+json"})
            assert patch.status_code == 400, patch.text
            planted = client.post(f"{base}/items", json=item("cuckoo", target))
            assert planted.status_code == 400, planted.text
            bulk = client.post(f"{base}/bulk_items",
                               json={"items": {"cuckoo": item("cuckoo", target)}})
            assert bulk.status_code == 200 and bulk.json()["success"] == 0, bulk.text
    assert _snapshot(catalogue, alices) == before
    assert _snapshot(catalogue, DEMO) == demo_before
    assert httpx.get(f"{catalogue}/collections/{mallorys}/items/cuckoo").status_code == 404


def test_owner_writes_to_her_collection(catalogue, alice):
    cid = "alice-writes"
    base = f"{catalogue}/collections/{cid}"
    _create(catalogue, alice.headers, cid)
    with alice.client() as client:
        assert client.put(base, json=collection(cid, title="Mine")).status_code == 200
        assert client.patch(base, json={"description": "patched"}).status_code == 200
        assert client.post(f"{base}/items", json=item("two", cid)).status_code == 201
        assert client.put(f"{base}/items/two", json=item("two", cid)).status_code == 200
        assert client.patch(f"{base}/items/two",
                            json={"properties": {"note": "ok"}}).status_code == 200
        bulk = client.post(f"{base}/bulk_items", json={"items": {"three": item("three", cid)}})
        assert bulk.status_code == 200 and bulk.json()["success"] == 1, bulk.text
        assert client.delete(f"{base}/items/three").status_code == 200
    got = httpx.get(base).json()
    assert (got["title"], got["description"], got[OWNER]) == ("Mine", "patched", "alice")
    assert httpx.get(f"{base}/items/two").json()["properties"]["note"] == "ok"
    with alice.client() as client:
        assert client.delete(base).status_code == 200
    assert httpx.get(base).status_code == 404


def _hub(platform) -> httpx.Client:
    """The hub's REST API as the platform's service (which may manage users and tokens)."""
    return httpx.Client(base_url=platform.settings().url("hub_api"),
                        headers={"Authorization": f"token {platform.secrets['service_token']}"},
                        timeout=30)


def _seconds_until_refused(catalogue: str, token: str, cid: str, revoke) -> float:
    """Write with `token` (so the catalogue knows it), `revoke()`, then write every 0.2 s
    until refused; the seconds that took (fails after 20 s)."""
    headers = _bearer(token)
    url = f"{catalogue}/collections/{cid}"
    assert httpx.patch(url, json={"title": "before"}, headers=headers).status_code == 200
    revoke()
    start = time.monotonic()
    while time.monotonic() - start < 20:
        response = httpx.patch(url, json={"title": "after"}, headers=headers)
        if response.status_code == 401:
            return time.monotonic() - start
        assert response.status_code == 200, response.text
        time.sleep(0.2)
    return time.monotonic() - start


def test_revoked_token_is_refused_within_seconds(platform, catalogue):
    with _hub(platform) as hub:
        assert hub.post("/hub/api/users/revokee").status_code in (201, 409)
        made = hub.post("/hub/api/users/revokee/tokens", json={"note": "revoke test"}).json()
        _create(catalogue, _bearer(made["token"]), "revokee-own")
        seconds = _seconds_until_refused(
            catalogue, made["token"], "revokee-own",
            lambda: hub.delete(f"/hub/api/users/revokee/tokens/{made['id']}").raise_for_status())
    assert seconds < 6, f"a revoked token kept writing for {seconds:.1f} s"


def test_deleted_users_token_is_refused_within_seconds(platform, catalogue):
    with _hub(platform) as hub:
        assert hub.post("/hub/api/users/leaver").status_code in (201, 409)
        made = hub.post("/hub/api/users/leaver/tokens", json={"note": "delete test"}).json()
        _create(catalogue, _bearer(made["token"]), "leaver-own")
        seconds = _seconds_until_refused(
            catalogue, made["token"], "leaver-own",
            lambda: hub.delete("/hub/api/users/leaver").raise_for_status())
    assert seconds < 6, f"a deleted user's token kept writing for {seconds:.1f} s"


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
