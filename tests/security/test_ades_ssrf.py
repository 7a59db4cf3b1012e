"""Issue 8, item 4: the ADES fetches only what a user may name.

Mallory deploys an app that copies whatever is staged in into its results (so anything stage-in
fetched would land in her bucket), then names this machine's files, the platform's private
ports, Alice's bucket and a hostile server on loopback: as STAC item URLs (refused up front, 400,
no job), as asset hrefs of an item in the real catalogue (the job fails at stage-in naming the
rule; nothing reaches her bucket), and as deploy-by-href URLs (400, and the same answer for an
open and a closed port: no port scanner).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from notebook_apps import publish_app, write_app_notebook
from stacserver import serve_routes

pytestmark = pytest.mark.platform

PARAMETERS = 'from eopde.outputs import StacItem\n\nscene: StacItem = "scene"  # Any staged item'
EXFILTRATE = """import shutil
from eopde.outputs import load_items, save
item = load_items(scene)[0]
files = {}
for key, asset in item.assets.items():
    shutil.copy(asset.href, f"copy-{key}")
    files[key] = f"copy-{key}"
save(files, id=f"{item.id}-copy", datetime="2025-07-01T10:00:00Z",
     geometry={"type": "Point", "coordinates": [12.1, 43.15]}, bbox=[12.1, 43.15, 12.1, 43.15])"""


@pytest.fixture(scope="module")
def settings(platform):
    return platform.settings()


@pytest.fixture(scope="module")
def s3(platform, settings):
    import boto3

    secrets = platform.secrets
    return boto3.client("s3", endpoint_url=settings.url("storage"), region_name="us-east-1",
                        aws_access_key_id=secrets["s3_access_key"],
                        aws_secret_access_key=secrets["s3_secret_key"])


@pytest.fixture(scope="module")
def exfil(platform, mallory, tmp_path_factory, monkeypatch_module):
    """Mallory's process `exfil`: copies every staged asset into its results."""
    from eopde.apppkg.layout import find_cwl

    monkeypatch_module.setenv("EOPDE_IMAGES_DIR", str(platform.home / "images"))
    work = tmp_path_factory.mktemp("exfil")
    notebook = write_app_notebook(work / "exfil.ipynb", PARAMETERS, EXFILTRATE,
                                  intro="# Exfil\n\nCopies its input.")
    package = publish_app(notebook, work / "pkg", "exfil", author="Mallory",
                          email="m@example.org", affiliation="tests")
    with mallory.client() as client:
        client.delete(mallory.ades("/processes/exfil"))
        resp = client.post(mallory.ades("/processes"),
                           content=find_cwl(Path(package.directory)).read_text(),
                           headers={"Content-Type": "application/cwl+yaml"})
        assert resp.status_code == 201, resp.text
    return "exfil"


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def hostile_server(body: dict):
    """A server on loopback that any user could start on the platform's machine."""
    return serve_routes({}, default=(200, {"Content-Type": "application/json"},
                                     json.dumps(body).encode()))


def item(item_id: str, hrefs: dict[str, str]) -> dict:
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id,
            "geometry": {"type": "Point", "coordinates": [12.1, 43.15]},
            "bbox": [12.1, 43.15, 12.1, 43.15],
            "properties": {"datetime": "2025-07-01T10:00:00Z"}, "links": [],
            "assets": {k: {"href": v, "type": "image/tiff"} for k, v in hrefs.items()}}


def secrets_texts(platform) -> list[str]:
    return [v for v in platform.secrets.values() if isinstance(v, str) and len(v) >= 12]


def assert_no_leak(text: str, platform) -> None:
    assert "root:x:0:0" not in text
    for secret in secrets_texts(platform):
        assert secret not in text


def job_count(client, mallory) -> int:
    return client.get(mallory.ades("/jobs")).json()["numberTotal"]


def results_in_bucket(s3, job_id: str) -> list[str]:
    try:
        listing = s3.list_objects_v2(Bucket="user-mallory",
                                     Prefix=f"processing-results/{job_id}/")
    except s3.exceptions.NoSuchBucket:
        return []
    return [o["Key"] for o in listing.get("Contents", [])]


# ------------------------------------------------------------------ item URLs: refused up front

def test_item_urls_into_the_machine_are_refused_up_front(platform, settings, mallory, exfil,
                                                         s3):
    s3.create_bucket(Bucket="user-alice") if "user-alice" not in [
        b["Name"] for b in s3.list_buckets()["Buckets"]] else None
    s3.put_object(Bucket="user-alice", Key="private/item.json",
                  Body=json.dumps(item("alice-private", {})).encode())
    home = platform.home
    with hostile_server(item("hostile", {"data": "file:///etc/passwd"})) as hostile, \
            mallory.client() as client:
        before = job_count(client, mallory)
        attempts = {
            "file": "file:///etc/passwd",
            "secrets": f"file://{home}/secrets.json",
            "path": f"{home}/ades/ades.db",
            "postgres": f"http://127.0.0.1:{settings.port('postgres')}/",
            "hub api": f"http://127.0.0.1:{settings.port('hub_api')}/hub/api/users",
            "storage": f"http://127.0.0.1:{settings.port('storage')}/user-alice/private/item.json",
            "tiles": f"{settings.url('tiles')}/healthz",
            "localhost": f"http://localhost:{settings.port('data')}/",
            "mapped": f"http://[::ffff:127.0.0.1]:{settings.port('catalogue')}/",
            "hostile server": f"{hostile}/item.json",
            "alice's bucket": "s3://user-alice/private/item.json",
        }
        for what, url in attempts.items():
            resp = client.post(mallory.ades("/processes/exfil/execution"),
                               json={"inputs": {"scene": url}},
                               headers={"Prefer": "respond-async"})
            assert resp.status_code == 400, (what, resp.status_code, resp.text)
            body = resp.json()
            assert "input 'scene'" in body["detail"] and "refused" in body["detail"], what
            assert_no_leak(resp.text, platform)
        # CWL objects naming the ADES's own folders (other users' jobs live there)
        for location in (f"file://{home}/ades/jobs", f"{home}/ades", "file:///etc"):
            resp = client.post(mallory.ades("/processes/exfil/execution"),
                               json={"inputs": {"scene": {"class": "Directory",
                                                          "location": location}}},
                               headers={"Prefer": "respond-async"})
            assert resp.status_code == 400, (location, resp.text)
        assert job_count(client, mallory) == before  # no job was created


# ------------------------------------------------------------------ asset hrefs: stage-in refuses

@pytest.fixture
def hostile_collection(settings, mallory):
    """A collection of mallory's for her hostile items, deleted afterwards (later tests search
    the whole catalogue)."""
    cid = f"mallory-ssrf-{uuid.uuid4().hex[:8]}"
    yield cid
    with httpx.Client(headers=mallory.headers, timeout=30) as cat:
        cat.delete(f"{settings.url('catalogue')}/collections/{cid}")


def test_asset_hrefs_into_the_machine_fail_the_job(platform, settings, mallory, exfil, s3,
                                                   hostile_collection):
    catalogue = settings.url("catalogue")
    home = platform.home
    cid = hostile_collection
    hrefs = {
        "passwd": "file:///etc/passwd",
        "secrets": f"file://{home}/secrets.json",
        "ades-db": f"file://{home}/ades/ades.db",
        "hub-api": f"http://127.0.0.1:{settings.port('hub_api')}/hub/api/users",
        "alice-bucket": "s3://user-alice/private/item.json",
    }
    with httpx.Client(headers=mallory.headers, timeout=30) as cat:
        created = cat.post(f"{catalogue}/collections", json={
            "type": "Collection", "id": cid, "stac_version": "1.0.0", "description": "x",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [["2025-01-01T00:00:00Z", None]]}}})
        assert created.status_code == 201, created.text
        for name, href in hrefs.items():
            resp = cat.post(f"{catalogue}/collections/{cid}/items",
                            json={**item(f"evil-{name}", {"data": href}), "collection": cid})
            assert resp.status_code == 201, resp.text
    jobs = {}
    with mallory.client() as client:
        for name in hrefs:
            url = f"{catalogue}/collections/{cid}/items/evil-{name}"
            resp = client.post(mallory.ades("/processes/exfil/execution"),
                               json={"inputs": {"scene": url}},
                               headers={"Prefer": "respond-async"})
            assert resp.status_code == 201, (name, resp.text)  # the item URL itself is fine
            jobs[name] = resp.json()["jobID"]
        deadline = time.monotonic() + 240
        final = {}
        while len(final) < len(jobs) and time.monotonic() < deadline:
            for name, job_id in jobs.items():
                status = client.get(mallory.ades(f"/jobs/{job_id}")).json()
                if status["status"] in ("successful", "failed", "dismissed"):
                    final[name] = status
            time.sleep(0.5)
        assert len(final) == len(jobs), "jobs did not end"
        for name, status in final.items():
            assert status["status"] == "failed", (name, status["message"])
            assert "stage-in failed" in status["message"] and "refused" in status["message"], \
                (name, status["message"])
            log = client.get(mallory.ades(f"/jobs/{jobs[name]}/logs")).text
            assert_no_leak(status["message"] + log, platform)
    for job_id in jobs.values():
        assert results_in_bucket(s3, job_id) == []
    for job_id in jobs.values():  # nothing was staged into the job either
        staged = home / "ades" / "jobs" / job_id / "run" / "stage-in"
        assert [p for p in staged.rglob("*") if p.is_file()] == []


# ------------------------------------------------------------------ deploy by href

def test_deploy_by_href_is_no_file_reader_or_port_scanner(platform, settings, mallory):
    closed = 1  # nothing listens on port 1
    hrefs = [f"http://127.0.0.1:{settings.port('postgres')}/",
             f"http://127.0.0.1:{settings.port('hub_api')}/hub/api/",
             f"http://127.0.0.1:{closed}/",
             "file:///etc/passwd", f"file://{platform.home}/secrets.json",
             f"{platform.home}/secrets.json"]
    details = {}
    with mallory.client() as client:
        for href in hrefs:
            resp = client.post(mallory.ades("/processes"),
                               json={"executionUnit": {"href": href}},
                               headers={"Content-Type": "application/ogcapppkg+json"})
            assert resp.status_code == 400, (href, resp.text)
            assert_no_leak(resp.text, platform)
            details[href] = resp.json()["detail"]
    loopback = [d for h, d in details.items() if h.startswith("http")]
    for detail in loopback:
        assert "refused" in detail and "not public" in detail, detail
    # an open port and a closed one get the same answer, apart from the URL itself
    shapes = {d.replace(h, "URL") for h, d in details.items() if h.startswith("http")}
    assert len(shapes) == 1, details
