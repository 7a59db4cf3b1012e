"""Workspaces (issue 11): one user's storage keys list, read and write only their own bucket; a
workspace answers only its owner; nobody registers into another's collection.

Attacks by mallory on alice's workspace, against the real local platform: the storage part
(`rclone serve s3` with the per-key auth proxy), the workspace part and the catalogue.
"""

from __future__ import annotations

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module", autouse=True)
def cleanup(platform, alice, mallory):
    """Other tests search the whole catalogue: what these publish goes again."""
    yield
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from workspace_helpers import drop_collections

    drop_collections(platform.url("catalogue"), {
        alice.token: ["ws-alice", "ws-alice.private", "ws-alice.squat"],
        mallory.token: ["ws-mallory.ws-alice", "ws-mallory.own"]})


def workspace(platform, user) -> dict:
    with user.client() as client:
        answer = client.get(f"{platform.url('workspace')}/workspaces/ws-{user.name}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def s3_of(doc: dict):
    creds = doc["storage"]["credentials"]
    return boto3.client("s3", endpoint_url=creds["endpoint"], region_name=creds["region"],
                        aws_access_key_id=creds["access"], aws_secret_access_key=creds["secret"],
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def test_a_workspace_answers_its_owner_only(platform, alice, mallory, anonymous):
    mine = workspace(platform, alice)
    creds = mine["storage"]["credentials"]
    assert mine["name"] == "ws-alice" and mine["status"] == "ready"
    assert creds["bucketname"] == "user-alice"
    assert creds["access"] != platform.secrets["s3_access_key"]
    assert workspace(platform, alice)["storage"]["credentials"] == creds  # stable
    url = f"{platform.url('workspace')}/workspaces/ws-alice"
    with mallory.client() as client:
        stolen = client.get(url)
        assert stolen.status_code == 403, stolen.text
        assert creds["secret"] not in stolen.text and creds["access"] not in stolen.text
        assert client.get(f"{platform.url('workspace')}/workspaces/ws-nobody").status_code == 403
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer forged"}).status_code == 401


def test_keys_reach_only_their_own_bucket(platform, alice, mallory):
    a, m = s3_of(workspace(platform, alice)), s3_of(workspace(platform, mallory))
    a.put_object(Bucket="user-alice", Key="private/secret.txt", Body=b"alice only")
    assert a.get_object(Bucket="user-alice", Key="private/secret.txt")["Body"].read() == \
        b"alice only"
    assert [b["Name"] for b in m.list_buckets()["Buckets"]] == ["user-mallory"]
    attacks = {
        "list": lambda: m.list_objects_v2(Bucket="user-alice"),
        "read": lambda: m.get_object(Bucket="user-alice", Key="private/secret.txt"),
        "head": lambda: m.head_object(Bucket="user-alice", Key="private/secret.txt"),
        "write": lambda: m.put_object(Bucket="user-alice", Key="private/secret.txt", Body=b"x"),
        "delete": lambda: m.delete_object(Bucket="user-alice", Key="private/secret.txt"),
        "copy": lambda: m.copy_object(Bucket="user-mallory", Key="stolen.txt",
                                      CopySource={"Bucket": "user-alice",
                                                  "Key": "private/secret.txt"}),
        "create": lambda: m.create_bucket(Bucket="user-alice"),
        "escape": lambda: m.put_object(Bucket="user-mallory", Key="../user-alice/x", Body=b"x"),
    }
    for name, attack in attacks.items():
        with pytest.raises(ClientError):
            attack()
            pytest.fail(f"{name} succeeded")
    assert a.get_object(Bucket="user-alice", Key="private/secret.txt")["Body"].read() == \
        b"alice only"
    assert "Contents" not in m.list_objects_v2(Bucket="user-mallory", Prefix="stolen")
    forged = boto3.client("s3", endpoint_url=platform.url("storage"), region_name="us-east-1",
                          aws_access_key_id=workspace(platform, alice)["storage"]["credentials"]
                          ["access"], aws_secret_access_key="guessed",
                          config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError):
        forged.list_objects_v2(Bucket="user-alice")


def test_nobody_registers_into_another_workspace(platform, alice, mallory):
    base = platform.url("workspace")
    m = s3_of(workspace(platform, mallory))
    m.put_object(Bucket="user-mallory", Key="evil/item.json", Body=(
        b'{"type": "Feature", "stac_version": "1.0.0", "id": "evil", "collection": "ws-alice",'
        b' "geometry": null, "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],'
        b' "assets": {}}'))
    with mallory.client() as client:
        into_alice = client.post(f"{base}/workspaces/ws-alice/register",
                                 json={"type": "stac-item", "url": "s3://user-mallory/evil/item.json"})
        assert into_alice.status_code == 403, into_alice.text
        her_file = client.post(f"{base}/workspaces/ws-mallory/register",
                               json={"type": "stac-item", "url": "s3://user-alice/private/x.json"})
        assert her_file.status_code == 400, her_file.text
        # the item names ws-alice as its collection: it lands in mallory's own namespace
        own = client.post(f"{base}/workspaces/ws-mallory/register",
                          json={"type": "stac-item", "url": "s3://user-mallory/evil/item.json"})
        assert own.status_code == 200, own.text
        assert own.json()["collection"] == "ws-mallory.ws-alice"
        for bad in ({"type": "stac-item", "url": "file:///etc/passwd"},
                    {"type": "stac-item", "url": "s3://user-mallory/../user-alice/x.json"},
                    {"type": "oaproc", "url": "s3://user-mallory/evil/item.json"}, {}):
            refused = client.post(f"{base}/workspaces/ws-mallory/register", json=bad)
            assert refused.status_code == 400, (bad, refused.text)
    with alice.client() as client:
        client.post(f"{base}/workspaces/ws-alice/register-json",
                    json={"type": "Collection", "id": "ws-alice", "description": "mine",
                          "license": "other", "stac_version": "1.0.0", "links": [],
                          "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                                     "temporal": {"interval": [[None, None]]}}})
    with mallory.client() as client:
        direct = client.post(f"{platform.url('catalogue')}/collections/ws-alice/items", json={
            "type": "Feature", "stac_version": "1.0.0", "id": "evil", "geometry": None,
            "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [], "assets": {}})
        assert direct.status_code == 403, direct.text


def test_another_users_private_raster_never_renders(platform, alice, mallory, tmp_path):
    """alice publishes a raster; mallory sees the record (reads are open) but neither her
    kernel (her own keys) nor the shared tiler can read the pixels."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from workspace_helpers import ndvi_catalog

    from eopde.download import download
    from eopde.workspace import Workspace

    ws = Workspace("alice", url=platform.url("workspace"), token=alice.token,
                   catalogue_url=platform.url("catalogue"))
    ws.publish(ndvi_catalog(tmp_path / "private", count=1, prefix="private"),
               collection="private", progress=False)
    item_url = f"{platform.url('catalogue')}/collections/ws-alice.private/items/private-0"
    item = httpx.get(item_url).json()
    href = item["assets"]["ndvi"]["href"]
    assert href.startswith("s3://user-alice/")
    with pytest.raises(ClientError):
        download(href, tmp_path / "stolen.tif", s3=s3_of(workspace(platform, mallory)))
    assert not (tmp_path / "stolen.tif").exists() or (tmp_path / "stolen.tif").stat().st_size == 0
    tiles = httpx.get(f"{platform.url('tiles')}/stac/tiles/WebMercatorQuad/8/135/91.png",
                      params={"url": item_url, "assets": "ndvi"})
    assert 400 <= tiles.status_code < 500, tiles.text
    assert b"\x89PNG" not in tiles.content[:8]
    info = httpx.get(f"{platform.url('tiles')}/cog/info", params={"url": href})
    assert 400 <= info.status_code < 500, info.text


@pytest.mark.parametrize("document", [
    b'{"type": "Feature", "id": 5}',
    b'{"type": "Feature"}',
    b'{"type": "Feature", "id": "ok", "links": "no"}',
    b'{"type": "Feature", "id": "../../x"}',
    b'{"type": "Collection", "id": "c", "links": {"rel": "item"}}',
    b'{"type": "Collection", "id": "c", "links": [{"rel": "item", "href": "../../../../x.json"}]}',
    b'{"type": "Collection", "id": "c", "links": [{"rel": "item", "href": "s3://user-alice/x.json"}]}',
    b'{"type": "Collection", "id": "../c", "links": []}',
    b'{"type": "Feature", "id": "x", "bbox": [Infinity, 0, 1, 1]}',
    b'[1, 2]',
    b'not json',
])
def test_hostile_documents_are_refused_with_400(platform, mallory, document):
    m = s3_of(workspace(platform, mallory))
    m.put_object(Bucket="user-mallory", Key="hostile/doc.json", Body=document)
    with mallory.client() as client:
        for kind in ("stac-item", "stac-collection"):
            answer = client.post(f"{platform.url('workspace')}/workspaces/ws-mallory/register",
                                 json={"type": kind, "url": "s3://user-mallory/hostile/doc.json"})
            assert answer.status_code == 400, (kind, answer.text)
            assert answer.json()["code"] == "BadRequest"


def test_nobody_takes_another_users_workspace_collection_ids(platform, alice, mallory):
    """Collection ids ws-alice and ws-alice.<x> are alice's to create: squatting them would
    block her publishing."""
    def collection(cid: str) -> dict:
        return {"type": "Collection", "id": cid, "description": "d", "license": "other",
                "stac_version": "1.0.0", "links": [],
                "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                           "temporal": {"interval": [[None, None]]}}}

    url = f"{platform.url('catalogue')}/collections"
    with mallory.client() as client:
        for cid in ("ws-alice.squat", "ws-alice", "ws-alicex", "ws-alice--0123456789abcdef"):
            taken = client.post(url, json=collection(cid))
            assert taken.status_code == 403, (cid, taken.text)
        mine = client.post(url, json=collection("ws-mallory.own"))
        assert mine.status_code == 201, mine.text
    with alice.client() as client:
        assert client.post(url, json=collection("ws-alice.squat")).status_code == 201
