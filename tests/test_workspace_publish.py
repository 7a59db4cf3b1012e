"""Publishing to the real local platform: the workspace part, the storage part (rclone serve s3
with per-user keys) and the catalogue (stac-fastapi-pgstac). Read back through pystac-client
and boto3; an upload interrupted by killing the storage part, then published again."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pystac_client
import pytest

from eopde.workspace import PublishError, Workspace
from eopde.workspace import upload as upload_module
from workspace_helpers import drop_collections, ndvi_catalog

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def alice(platform):
    from types import SimpleNamespace

    user = SimpleNamespace(name="alice", token=platform.eopde("token", "alice").stdout.strip())
    yield user
    drop_collections(platform.url("catalogue"), {user.token: [
        "ws-alice.readback", "ws-alice.cli-results", "ws-alice.interrupted", "alice-plain-stac"]})


def _workspace(platform, user) -> Workspace:
    return Workspace(user.name, url=platform.url("workspace"), token=user.token,
                     catalogue_url=platform.url("catalogue"))


def _ids(platform, collection: str) -> list[str]:
    search = pystac_client.Client.open(platform.url("catalogue")).search(
        collections=[collection], max_items=100)
    return sorted(item.id for item in search.items())


def test_publish_and_read_back(platform, alice, tmp_path):
    folder = ndvi_catalog(tmp_path / "job")
    ws = _workspace(platform, alice)
    done = ws.publish(folder, collection="readback", progress=False)
    assert done.collection == "ws-alice.readback"
    assert (sorted(done.created), done.updated, done.uploaded) == \
        (["ndvi-0", "ndvi-1", "ndvi-2"], [], 3)
    catalogue = pystac_client.Client.open(platform.url("catalogue"))
    collection = catalogue.get_collection("ws-alice.readback")
    assert collection.extra_fields["eopde:owner"] == "alice"
    assert collection.extent.spatial.bboxes[0] == [10.0, 44.36, 12.64, 45.0]
    found = {i.id: i for i in catalogue.search(collections=["ws-alice.readback"]).items()}
    assert sorted(found) == ["ndvi-0", "ndvi-1", "ndvi-2"]
    href = found["ndvi-2"].assets["ndvi"].href
    assert href == "s3://user-alice/published/ws-alice.readback/ndvi-2/ndvi-2.tif"
    body = ws.s3.get_object(Bucket="user-alice", Key=href.split("user-alice/")[1])["Body"].read()
    assert body == (folder / "ndvi-2.tif").read_bytes()
    # publish again: an upsert, no duplicates
    again = ws.publish(folder, collection="readback", progress=False)
    assert (again.created, sorted(again.updated)) == ([], ["ndvi-0", "ndvi-1", "ndvi-2"])
    assert _ids(platform, "ws-alice.readback") == ["ndvi-0", "ndvi-1", "ndvi-2"]
    # remove: records and objects
    assert ws.remove(["ndvi-0"], collection="readback") == ["ndvi-0"]
    assert _ids(platform, "ws-alice.readback") == ["ndvi-1", "ndvi-2"]
    left = ws.s3.list_objects_v2(Bucket="user-alice",
                                 Prefix="published/ws-alice.readback/ndvi-0/")
    assert left.get("Contents", []) == []


def test_cli_publish(platform, alice, tmp_path):
    folder = ndvi_catalog(tmp_path / "cli", count=2, prefix="cli")
    env = {**platform.env, "JUPYTERHUB_USER": "alice", "JUPYTERHUB_API_TOKEN": alice.token,
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    from conftest import eopde

    result = eopde(env, "publish", str(folder), "--new-collection")
    assert result.stdout.strip() == \
        "published to ws-alice.cli-results: 2 created, 0 updated (2 files uploaded, 0 copied)"
    assert _ids(platform, "ws-alice.cli-results") == ["cli-0", "cli-1"]


def _storage_pgid(platform) -> int:
    return json.loads((platform.home / "run" / "storage.json").read_text())["pgid"]


def test_interrupted_publish_leaves_the_catalogue_and_a_rerun_completes(platform, alice,
                                                                        tmp_path, monkeypatch):
    folder = ndvi_catalog(tmp_path / "big", count=6, size=2048, prefix="big")  # 16 MiB each
    ws = _workspace(platform, alice)
    ws.info  # keys before the storage part goes
    started = threading.Event()

    class Bar:
        def update(self, n):
            started.set()

        def close(self):
            pass

    monkeypatch.setattr(upload_module, "_progress", lambda total, show: Bar())
    failure: list[BaseException] = []

    def run():
        try:
            ws.publish(folder, collection="interrupted", workers=2)
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            failure.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    assert started.wait(60), "the upload never started"
    os.killpg(_storage_pgid(platform), signal.SIGKILL)
    worker.join(300)
    assert failure and isinstance(failure[0], PublishError), failure
    message = str(failure[0])
    assert message.startswith("upload of big-") and ".tif failed" in message, message
    assert "nothing was registered" in message
    collections = pystac_client.Client.open(platform.url("catalogue")).get_collections()
    assert "ws-alice.interrupted" not in [c.id for c in collections]
    platform.eopde("up", timeout=300)  # the storage part again (up repairs what died)
    time.sleep(0.5)
    done = ws.publish(folder, collection="interrupted", progress=False)
    assert sorted(done.created) == [f"big-{i}" for i in range(6)] and done.uploaded == 6
    assert _ids(platform, "ws-alice.interrupted") == [f"big-{i}" for i in range(6)]
    again = ws.publish(folder, collection="interrupted", progress=False)
    assert again.created == [] and len(again.updated) == 6
    assert _ids(platform, "ws-alice.interrupted") == [f"big-{i}" for i in range(6)]


def test_publish_through_a_plain_stac_api(platform, alice, tmp_path, monkeypatch):
    """Backend `stac-api`: keys and bucket from the environment (here alice's own), documents
    written with the STAC API's transactions."""
    keys = _workspace(platform, alice).info["storage"]["credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["access"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["secret"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", keys["endpoint"])
    monkeypatch.setenv("EOPDE_S3_BUCKET", keys["bucketname"])
    ws = Workspace("alice", api="stac-api", token=alice.token,
                   catalogue_url=platform.url("catalogue"))
    folder = ndvi_catalog(tmp_path / "plain", count=2, prefix="plain")
    done = ws.publish(folder, collection="alice-plain-stac", progress=False)
    assert (done.collection, sorted(done.created), done.updated) == \
        ("alice-plain-stac", ["plain-0", "plain-1"], [])
    again = ws.publish(folder, collection="alice-plain-stac", progress=False)
    assert (again.created, sorted(again.updated)) == ([], ["plain-0", "plain-1"])
    assert _ids(platform, "alice-plain-stac") == ["plain-0", "plain-1"]
    owner = pystac_client.Client.open(platform.url("catalogue")).get_collection(
        "alice-plain-stac").extra_fields["eopde:owner"]
    assert owner == "alice"
