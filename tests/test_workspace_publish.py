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
        "ws-alice", "ws-alice.readback", "ws-alice.cli-results", "ws-alice.interrupted", "alice-plain-stac",
        "ws-alice.job-results", "ws-alice.job-provenance"]})


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


#: A job's tool as an NDVI application writes its results: a STAC catalog with one item whose
#: asset is the raster it made (here a byte pattern named .tif: publishing never opens it).
NDVI_SH = r'''
i=1; while [ $i -le 2000 ]; do printf 'NDVI %05d\n' $i; i=$((i+1)); done > ndvi.tif
cat > S2B_33TUJ_20240601_ndvi.json <<EOT
{"type": "Feature", "stac_version": "1.0.0", "id": "S2B_33TUJ_20240601_ndvi",
 "geometry": {"type": "Polygon", "coordinates": [[[12.0, 43.08], [12.2, 43.08], [12.2, 43.22],
   [12.0, 43.22], [12.0, 43.08]]]}, "bbox": [12.0, 43.08, 12.2, 43.22],
 "properties": {"datetime": "2024-06-01T10:10:31Z", "platform": "sentinel-2b"},
 "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "parent", "href": "./catalog.json"}],
 "assets": {"ndvi": {"href": "./ndvi.tif", "type": "image/tiff; application=geotiff",
                     "roles": ["data"], "title": "NDVI"}}}
EOT
cat > catalog.json <<EOT
{"type": "Catalog", "stac_version": "1.0.0", "id": "ndvi-results", "description": "NDVI",
 "links": [{"rel": "root", "href": "./catalog.json"},
           {"rel": "item", "href": "./S2B_33TUJ_20240601_ndvi.json"}]}
EOT
'''


@pytest.fixture(scope="module")
def ndvi_job(platform, alice, tmp_path_factory) -> tuple[str, list[str]]:
    """Deploy a one-step process with alice's token and run it through the ADES on two items of
    the catalogue; (its job id, the items' URLs)."""
    import httpx

    from security.ades_jobs import IMAGE, publish_image

    publish_image(platform, tmp_path_factory.mktemp("image"))
    cwl = {"cwlVersion": "v1.2", "$graph": [
        {"class": "Workflow", "id": "ws-ndvi", "label": "NDVI", "doc": "NDVI of a scene",
         "inputs": {"scenes": {"type": "string[]"}},
         "outputs": {"results": {"type": "Directory", "outputSource": "run/results"}},
         "steps": {"run": {"run": "#tool", "in": {"scenes": "scenes"}, "out": ["results"]}}},
        {"class": "CommandLineTool", "id": "tool",
         "requirements": {"DockerRequirement": {"dockerPull": IMAGE}},
         "baseCommand": ["sh", "-c", NDVI_SH, "tool"], "inputs": {"scenes": "string[]"},
         "outputs": {"results": {"type": "Directory", "outputBinding": {"glob": "."}}}}]}
    ades = f"{platform.url('ades').rstrip('/')}/alice/ogc-api"
    with httpx.Client(headers={"Authorization": f"Bearer {alice.token}"}, timeout=60) as c:
        c.delete(f"{ades}/processes/ws-ndvi")
        made = c.post(f"{ades}/processes", content=json.dumps(cwl),
                      headers={"Content-Type": "application/cwl+json"})
        assert made.status_code == 201, made.text
        found = pystac_client.Client.open(platform.url("catalogue")).search(
            collections=["sentinel-2-l2a"], max_items=2).items()
        scenes = [item.get_self_href() for item in found]
        assert len(scenes) == 2 and all(scenes), scenes
        started = c.post(f"{ades}/processes/ws-ndvi/execution",
                         json={"inputs": {"scenes": scenes}}, headers={"Prefer": "respond-async"})
        assert started.status_code == 201, started.text
        job_id = started.json()["jobID"]
        deadline = time.monotonic() + 240
        while (status := c.get(f"{ades}/jobs/{job_id}").json())["status"] in \
                ("accepted", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
    assert status["status"] == "successful", status
    return job_id, scenes


def test_cli_publish_of_a_job(platform, alice, ndvi_job):
    """`eopde publish JOB_ID` in a subprocess, as in a user's terminal (their token and their
    own storage keys in the environment); read back with pystac-client and boto3."""
    import boto3

    job_id, scenes = ndvi_job
    keys = _workspace(platform, alice).info["storage"]["credentials"]
    env = {**platform.env, "JUPYTERHUB_USER": "alice", "JUPYTERHUB_API_TOKEN": alice.token,
           "AWS_ACCESS_KEY_ID": keys["access"], "AWS_SECRET_ACCESS_KEY": keys["secret"],
           "AWS_ENDPOINT_URL_S3": keys["endpoint"],
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    from conftest import eopde

    result = eopde(env, "publish", job_id, "--collection", "job-results")
    assert result.stdout.strip() == ("published to ws-alice.job-results: 1 created, 0 updated "
                                     "(0 files uploaded, 1 copied)")
    catalogue = pystac_client.Client.open(platform.url("catalogue"))
    [item] = catalogue.search(collections=["ws-alice.job-results"]).items()
    assert item.id == "S2B_33TUJ_20240601_ndvi"
    assert item.bbox == [12.0, 43.08, 12.2, 43.22]
    href = item.assets["ndvi"].href
    assert href == ("s3://user-alice/published/ws-alice.job-results/S2B_33TUJ_20240601_ndvi/"
                    "ndvi.tif")
    ades = f"{platform.url('ades').rstrip('/')}/alice/ogc-api"
    provenance = [(link.rel, link.href) for link in item.links
                  if link.rel in ("via", "processing-software", "derived_from")]
    assert provenance == [("via", f"{ades}/jobs/{job_id}"),
                          ("processing-software", f"{ades}/processes/ws-ndvi"),
                          *(("derived_from", scene) for scene in scenes)]
    s3 = boto3.client("s3", endpoint_url=keys["endpoint"], region_name=keys["region"],
                      aws_access_key_id=keys["access"], aws_secret_access_key=keys["secret"])
    body = s3.get_object(Bucket="user-alice", Key=href.split("user-alice/", 1)[1])["Body"].read()
    assert body == "".join(f"NDVI {i:05d}\n" for i in range(1, 2001)).encode()
    again = eopde(env, "publish", job_id, "--collection", "job-results")
    assert again.stdout.strip().startswith("published to ws-alice.job-results: 0 created, "
                                           "1 updated")


def test_publish_of_a_job_links_the_catalogue_items_it_was_run_on(platform, alice, ndvi_job,
                                                                   monkeypatch):
    """`Workspace().publish(job)`: the job's inputs come from the ADES (`Job.inputs()`), each
    input item becomes a derived_from link; the links lead back to those items."""
    import pystac

    from eopde.ades import Client

    job_id, scenes = ndvi_job
    keys = _workspace(platform, alice).info["storage"]["credentials"]
    for name, key in (("AWS_ACCESS_KEY_ID", "access"), ("AWS_SECRET_ACCESS_KEY", "secret"),
                      ("AWS_ENDPOINT_URL_S3", "endpoint")):  # as alice's kernel has them
        monkeypatch.setenv(name, keys[key])
    ades = Client(f"{platform.url('ades')}/{{user}}/ogc-api", user="alice", token=alice.token)
    done = _workspace(platform, alice).publish(ades.job(job_id), collection="job-provenance",
                                               progress=False)
    assert done.created == ["S2B_33TUJ_20240601_ndvi"]
    catalogue = pystac_client.Client.open(platform.url("catalogue"))
    [item] = catalogue.search(collections=["ws-alice.job-provenance"]).items()
    derived = [link.href for link in item.links if link.rel == "derived_from"]
    assert derived == scenes
    inputs = [pystac.Item.from_file(href) for href in derived]
    assert [i.collection_id for i in inputs] == ["sentinel-2-l2a"] * 2
    assert [i.id for i in inputs] == [href.rsplit("/", 1)[1] for href in scenes]


def test_eoepca_style_register_of_a_job_catalog_as_stac_item(platform, alice, ndvi_job):
    """What EOEPCA's ADES does after a job: `register {type: stac-item, url: <the job's
    catalog.json>}`; the Catalog's items land in the default workspace collection, and the
    answer says so at once."""
    import httpx

    url = f"s3://user-alice/processing-results/{ndvi_job[0]}/catalog.json"
    with httpx.Client(base_url=platform.url("workspace"), timeout=60,
                      headers={"Authorization": f"Bearer {alice.token}"}) as client:
        answer = client.post("/workspaces/ws-alice/register",
                             json={"type": "stac-item", "url": url})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        try:
            assert (body["status"], body["collection"], body["created"], body["updated"]) == \
                ("registered", "ws-alice", ["S2B_33TUJ_20240601_ndvi"], [])
            catalogue = pystac_client.Client.open(platform.url("catalogue"))
            [item] = catalogue.search(collections=["ws-alice"],
                                      ids=["S2B_33TUJ_20240601_ndvi"]).items()
            assert item.assets["ndvi"].href == \
                f"s3://user-alice/processing-results/{ndvi_job[0]}/ndvi.tif"
        finally:
            client.post("/workspaces/ws-alice/deregister",
                        json={"identifier": "S2B_33TUJ_20240601_ndvi", "collection": "ws-alice"})
