"""End to end: the local platform started by `eopde up`, used as a user and a script would."""

from __future__ import annotations

import json
import os
import signal
import socket
import textwrap
import time

import httpx
import pytest

from eopde.services import demodata

from conftest import TEST_BASE_PORT, clean_env, eopde
from hubsession import HubSession
from workspace_helpers import drop_collections

pytestmark = pytest.mark.platform

PARTS = {"postgres", "pgstac", "data", "catalogue", "tiles", "storage", "workspace", "ades", "hub"}


def _bbox_overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_up_prints_url_and_login(platform):
    secrets = platform.secrets
    assert f"{platform.hub_url}/hub/login" in platform.up_output
    assert f"demo / {secrets['demo_password']}" in platform.up_output


def test_status_json_every_part_healthy(platform):
    status = platform.status()
    assert set(status) == PARTS
    for name, part in status.items():
        assert part["healthy"] is True, name
        assert part["url"], name
    for name in PARTS - {"pgstac"}:
        assert isinstance(status[name]["pid"], int) and status[name]["pid"] > 0


def test_status_table_names_every_part(platform):
    table = platform.eopde("status").stdout
    for name in PARTS:
        assert name in table


def test_second_up_changes_nothing(platform):
    before = platform.status()
    result = platform.eopde("up")
    assert "already running" in result.stdout
    after = platform.status()
    assert {k: v["pid"] for k, v in after.items()} == {k: v["pid"] for k, v in before.items()}


def test_demo_data_in_catalogue(platform):
    from pystac_client import Client

    client = Client.open(platform.url("catalogue"))
    items = list(client.search(collections=["sentinel-2-l2a"], max_items=100).items())
    assert sorted(i.id for i in items) == sorted(s.item_id for s in demodata.scenes())
    # Assets are served over HTTP with range requests (what GDAL needs for COGs).
    href = items[0].assets["B04"].href
    response = httpx.get(href, headers={"Range": "bytes=0-15"})
    assert response.status_code == 206
    assert response.content[:4] in (b"II*\x00", b"MM\x00*")


def test_data_server_serves_the_folder_as_it_is_on_disk(platform):
    """A file written into the data folder is served at once, a rewritten one whole, a deleted
    one no more, even in a folder the data server has just listed (rclone caches listings)."""
    data = platform.settings().data_dir
    folder = next(p.parent for p in sorted(data.rglob("B04.tif")))
    base = f"{platform.url('data')}/{folder.relative_to(data).as_posix()}"
    assert httpx.get(f"{base}/B04.tif", headers={"Range": "bytes=0-3"}).status_code == 206
    new = folder / "written-now.txt"
    try:
        new.write_text("first")
        answer = httpx.get(f"{base}/{new.name}")
        assert (answer.status_code, answer.text) == (200, "first")
        new.write_text("second, longer than the first")
        answer = httpx.get(f"{base}/{new.name}")
        assert (answer.status_code, answer.text) == (200, "second, longer than the first")
    finally:
        new.unlink(missing_ok=True)
    assert httpx.get(f"{base}/{new.name}").status_code == 404


def test_login_spawn_and_search_from_kernel(platform):
    """Log in with the form, spawn the server, and search the catalogue from the EO kernel."""
    from eopde.services import demodata

    data_url = platform.url("data")
    items = demodata.items(platform.home / "data", data_url)
    area = items[0]["bbox"]
    expected = sorted(i["id"] for i in items if _bbox_overlaps(i["bbox"], area))
    assert 0 < len(expected) < len(items)  # the query really filters

    session = HubSession(platform.hub_url, "demo")
    try:
        refused = session.login("wrong-password")
        assert refused.status_code == 403 and "Invalid username or password" in refused.text
        assert 'name="password"' in refused.text  # the login form itself, not a button
        landing = session.login(platform.secrets["demo_password"])
        assert landing.status_code == 200
        session.spawn(timeout=90)
        lab = session.open_lab()
        assert lab.status_code == 200 and "/user/demo/" in str(lab.url)
        kernel = session.start_kernel("eopde")
        code = textwrap.dedent(f"""
            import json, os, eopde, eopde.config, eopde.auth
            from pystac_client import Client
            cfg = eopde.config.load()
            client = Client.open(cfg.require("catalogue_url"), headers=eopde.auth.auth_headers())
            found = client.search(collections=["sentinel-2-l2a"], bbox={area!r}, max_items=50)
            print(json.dumps({{
                "ids": sorted(i.id for i in found.items()),
                "env": {{k: os.environ.get(k) for k in ("EOPDE_CATALOGUE_URL", "EOPDE_TILES_URL",
                                                        "EOPDE_S3_ENDPOINT", "EOPDE_S3_BUCKET",
                                                        "EOPDE_ADES_URL")}},
                "token": bool(eopde.auth.get_token()),
                "home": os.environ["HOME"],
            }}))
        """)
        result = session.execute(kernel, code, timeout=120)
        assert result.status == "ok", result.error
        answer = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        session.stop()
        session.close()
    assert answer["ids"] == expected
    assert answer["env"]["EOPDE_CATALOGUE_URL"] == platform.url("catalogue")
    assert answer["env"]["EOPDE_TILES_URL"] == platform.url("tiles")
    assert answer["env"]["EOPDE_S3_ENDPOINT"] == platform.url("storage")
    assert answer["env"]["EOPDE_S3_BUCKET"] == "user-demo"
    assert answer["env"]["EOPDE_ADES_URL"] == platform.url("ades") + "/demo/ogc-api"
    assert answer["token"] is True
    assert answer["home"] == str(platform.home / "users" / "demo")


def _collection(cid: str) -> dict:
    return {
        "type": "Collection", "id": cid, "stac_version": "1.0.0", "description": "test",
        "license": "proprietary", "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [["2025-01-01T00:00:00Z", None]]}},
    }


def test_token_accepted_by_catalogue_writes(platform, request):
    catalogue = platform.url("catalogue")
    token = platform.eopde("token", "alice").stdout.strip()
    request.addfinalizer(lambda: drop_collections(catalogue, {token: ["token-test"]}))
    body = _collection("token-test")
    anonymous = httpx.post(f"{catalogue}/collections", json=body)
    assert anonymous.status_code == 401
    assert "eopde token" in anonymous.json()["description"]
    forged = httpx.post(f"{catalogue}/collections", json=body,
                        headers={"Authorization": "Bearer not-a-real-token"})
    assert forged.status_code == 401
    assert httpx.get(f"{catalogue}/collections/token-test").status_code == 404

    assert len(token) >= 32
    created = httpx.post(f"{catalogue}/collections", json=body,
                         headers={"Authorization": f"Bearer {token}"})
    assert created.status_code in (200, 201), created.text
    assert httpx.get(f"{catalogue}/collections/token-test").json()["id"] == "token-test"
    # Searching is a POST but a read: open to all.
    assert httpx.post(f"{catalogue}/search", json={"limit": 1}).status_code == 200


def test_s3_storage_with_platform_keys(platform):
    import boto3

    secrets = platform.secrets
    s3 = boto3.client("s3", endpoint_url=platform.url("storage"), region_name="us-east-1",
                      aws_access_key_id=secrets["s3_access_key"],
                      aws_secret_access_key=secrets["s3_secret_key"])
    s3.create_bucket(Bucket="user-s3test")
    s3.put_object(Bucket="user-s3test", Key="a/b.txt", Body=b"hello")
    assert s3.get_object(Bucket="user-s3test", Key="a/b.txt")["Body"].read() == b"hello"
    bad = boto3.client("s3", endpoint_url=platform.url("storage"), region_name="us-east-1",
                       aws_access_key_id="nobody", aws_secret_access_key="wrong")
    with pytest.raises(Exception):
        bad.list_objects_v2(Bucket="user-s3test")


def _kill_and_recover(platform, part: str) -> tuple[dict, dict]:
    before = platform.status()
    os.kill(before[part]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and platform.status()[part]["healthy"]:
        time.sleep(0.2)
    down = platform.status()
    assert down[part]["healthy"] is False and down[part]["pid"] is None
    assert platform.eopde("status", check=False).returncode == 1
    platform.eopde("up")
    after = platform.status()
    assert all(p["healthy"] for p in after.values()), after
    assert after[part]["pid"] != before[part]["pid"]
    return before, after


def test_crashed_part_is_restarted_alone(platform):
    before, after = _kill_and_recover(platform, "tiles")
    unchanged = PARTS - {"tiles", "pgstac"}
    assert {p: after[p]["pid"] for p in unchanged} == {p: before[p]["pid"] for p in unchanged}


def test_crashed_database_keeps_its_data(platform, request):
    token = platform.eopde("token", "alice").stdout.strip()
    catalogue = platform.url("catalogue")
    request.addfinalizer(lambda: drop_collections(catalogue, {token: ["survives-crash"]}))
    created = httpx.post(f"{catalogue}/collections", json=_collection("survives-crash"),
                         headers={"Authorization": f"Bearer {token}"})
    assert created.status_code in (200, 201), created.text
    _kill_and_recover(platform, "postgres")
    # The catalogue must answer again (it reconnects), with the data written before the crash.
    deadline = time.monotonic() + 20
    while True:
        response = httpx.get(f"{catalogue}/collections/survives-crash")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.text
    search = httpx.post(f"{catalogue}/search", json={"collections": ["sentinel-2-l2a"]}).json()
    assert len(search["features"]) == len(demodata.scenes())


def test_port_in_use_is_named(tmp_path):
    env = clean_env()
    port = TEST_BASE_PORT + 50
    env.update(EOPDE_HOME=str(tmp_path / "home"), EOPDE_BASE_PORT=str(TEST_BASE_PORT + 40),
               EOPDE_POSTGRES_PORT=str(port), EOPDE_HUB_PORT=str(TEST_BASE_PORT + 60))
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = eopde(env, "up", check=False)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "EOPDE_POSTGRES_PORT" in result.stderr
    status = json.loads(eopde(env, "status", "--json", check=False).stdout)
    assert not any(part["pid"] for part in status.values())


def test_tiles_reachable_through_the_hub_proxy(platform):
    """Browsers get tiles at {hub}/services/tiles/: no other port needs to be open to users."""
    import morecantile
    import numpy as np
    from pystac_client import Client
    from rasterio.io import MemoryFile

    assert httpx.get(f"{platform.hub_url}/services/tiles/healthz").json() == {"status": "ok"}
    item = next(Client.open(platform.url("catalogue")).search(
        collections=["sentinel-2-l2a"], max_items=1).items())
    west, south, east, north = item.bbox
    tile = morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, 12)
    response = httpx.get(
        f"{platform.hub_url}/services/tiles/stac/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png",
        params=[("url", item.get_self_href()), ("assets", "B04"), ("assets", "B03"),
                ("assets", "B02"), ("rescale", "1000,4000")],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    with MemoryFile(response.content) as memfile, memfile.open() as png:
        pixels = png.read()
    assert pixels.shape[1:] == (256, 256)
    assert np.unique(pixels[:3]).size > 20  # a real picture, not a blank tile


@pytest.mark.parametrize("url", ["/etc/passwd", "file:///etc/hosts", "http://127.0.0.1:1/x.tif",
                                 "http://example.org/cog.tif"])
def test_tiler_refuses_urls_outside_the_platform(platform, url):
    response = httpx.get(f"{platform.hub_url}/services/tiles/cog/info", params={"url": url})
    assert response.status_code == 403
    assert "only reads data under" in response.json()["detail"]
