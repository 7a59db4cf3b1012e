"""The local ADES HTTP API (OGC API - Processes Part 1 + Part 2, EOEPCA's per-user layout),
with a fixed token verifier and a fake executor (the real executor has its own tests)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from eopde.hub.local import bucket_name
from eopde.services.ades.app import CONFORMANCE, create_app
from eopde.services.ades.store import JobStore, utcnow
from loopback import serve_folder

DATA = Path(__file__).parent / "data" / "cwl"
GOOD = (DATA / "good.cwl").read_text()
WATER = (DATA / "water-bodies.cwl").read_text()
UNION = (DATA / "union-array.cwl").read_text()
TWO_OUTPUTS = (Path(__file__).parent / "data" / "published" / "directory-array.cwl").read_text()
TOKENS = {"tok-alice": "alice", "tok-bob": "bob"}
A = {"Authorization": "Bearer tok-alice"}
B = {"Authorization": "Bearer tok-bob"}
CWL = {"Content-Type": "application/cwl+yaml"}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
P1 = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
P2 = "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/"


class FakeExecutor:
    """Same methods as LocalExecutor; `auto` jobs end successful at once, others stay queued."""

    def __init__(self, store: JobStore, log_dir: Path, auto: bool = True):
        self.store, self.log_dir, self.auto = store, log_dir, auto
        self.started = self.stopped = False
        self.submitted: list[str] = []

    def start(self):
        self.started = True

    def shutdown(self, wait=False):
        self.stopped = True

    def submit(self, job_id):
        self.submitted.append(job_id)
        log = self.log_dir / f"{job_id}.log"
        log.write_text(f"[job {job_id}] running without a container\n")
        self.store.update_job(job_id, log_path=str(log))
        if self.auto:
            self.finish(job_id)

    def finish(self, job_id):
        job = self.store.get_job(job_id)
        href = f"s3://{bucket_name(job.user)}/processing-results/{job_id}/catalog.json"
        now = utcnow()
        first = next(iter(self.store.get_process(job.user, job.process_id).description["outputs"]))
        self.store.update_job(job_id, status="successful", progress=100, message="done",
                              started=now, finished=now, results={  # as LocalExecutor keeps them
                                  first: {"href": href, "type": "application/json",
                                          "rel": "stac-catalog"},
                                  "StacCatalogUri": href})

    def fail(self, job_id, message="the tool failed: step calc exited with code 3"):
        self.store.update_job(job_id, status="failed", message=message, finished=utcnow())

    def wait(self, job_id, timeout=None):
        return self.store.get_job(job_id)

    def dismiss(self, job_id):
        return self.store.update_job(job_id, status="dismissed", message="dismissed by the user",
                                     finished=utcnow())


def verifier(token):
    return TOKENS.get(token)


@pytest.fixture
def env(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path / 'ades.db'}")
    ex = FakeExecutor(store, tmp_path)
    allowed = tmp_path / "packages"
    allowed.mkdir()
    app = create_app(store=store, executor=ex, verify_token=verifier, max_body=64 * 1024,
                     href_dirs=[allowed], base_url="http://testserver")
    with TestClient(app) as client:
        yield client, store, ex, tmp_path


def snapshot(store: JobStore):
    db = sqlite3.connect(sqlite_file(store))
    try:
        return (db.execute("SELECT * FROM processes ORDER BY user, id").fetchall(),
                db.execute("SELECT * FROM jobs ORDER BY id").fetchall())
    finally:
        db.close()


def sqlite_file(store: JobStore) -> str:
    return store.url[len("sqlite://"):]


def deploy(client, text=GOOD, headers=CWL, user="alice", auth=A, **params):
    return client.post(f"/{user}/ogc-api/processes", content=text,
                       headers={**auth, **headers}, params=params)


def assert_ogc_error(resp, status, type_suffix=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["detail"]
    if type_suffix:
        assert body["type"].endswith(type_suffix), body["type"]
    return body


@contextmanager
def serve(folder: Path):
    with serve_folder(folder) as server:
        yield server.url


# ---------------------------------------------------------------------- capabilities

def test_landing_conformance_openapi(env):
    client, _, ex, _ = env
    assert ex.started
    assert client.get("/healthz").json() == {"status": "ok"}
    land = client.get("/alice/ogc-api/", headers=A)
    assert land.status_code == 200
    rels = {link["rel"]: link["href"] for link in land.json()["links"]}
    base = "http://testserver/alice/ogc-api"
    assert rels["self"] == f"{base}/"
    assert rels["service-desc"] == f"{base}/api"
    assert rels["conformance"] == f"{base}/conformance"
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/processes"] == f"{base}/processes"
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/job-list"] == f"{base}/jobs"
    assert client.get("/alice/ogc-api", headers=A).status_code == 200
    conf = client.get("/alice/ogc-api/conformance", headers=A).json()["conformsTo"]
    assert conf == CONFORMANCE
    assert "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy" in conf
    assert not any(c.endswith(("/callback", "/html")) for c in conf)
    api = client.get(rels["service-desc"].replace("http://testserver", ""))
    assert api.status_code == 200
    doc = api.json()
    assert doc["openapi"].startswith("3.")
    for path in ("/{user}/ogc-api/processes", "/{user}/ogc-api/processes/{process_id}/execution",
                 "/{user}/ogc-api/jobs/{job_id}/results", "/{user}/ogc-api/jobs/{job_id}/logs"):
        assert path in doc["paths"]
    assert "application/cwl+yaml" in doc["paths"]["/{user}/ogc-api/processes"]["post"][
        "requestBody"]["content"]


# ---------------------------------------------------------------------- deploy / describe

def test_deploy_cwl_yaml_and_describe(env):
    client, store, _, _ = env
    resp = deploy(client)
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"] == "http://testserver/alice/ogc-api/processes/ndvi"
    summary = resp.json()
    assert summary["id"] == "ndvi" and summary["mutable"] is True
    assert summary["jobControlOptions"] == ["async-execute", "sync-execute", "dismiss"]
    assert summary["version"] == "1.0.0"
    assert "inputs" not in summary
    desc = client.get("/alice/ogc-api/processes/ndvi", headers=A).json()
    assert desc["title"] == "NDVI with cloud mask"
    assert desc["description"].startswith("Computes the NDVI")
    scene, thr = desc["inputs"]["scene"], desc["inputs"]["threshold"]
    assert scene["schema"] == {"type": "string", "format": "uri"}
    assert (scene["minOccurs"], scene["maxOccurs"]) == (1, 1)
    assert scene["title"] == "Sentinel-2 L2A scene"
    assert scene["description"] == "A staged STAC catalog holding one Sentinel-2 L2A item"
    assert thr["schema"]["type"] == "number" and thr["schema"]["default"] == 0.2
    assert thr["minOccurs"] == 0
    assert desc["outputs"]["results"]["schema"]["contentMediaType"] == "application/json"
    rels = {link["rel"] for link in desc["links"]}
    assert {"self", "http://www.opengis.net/def/rel/ogc/1.0/execute"} <= rels
    assert store.get_process("alice", "ndvi").cwl_text == GOOD


def test_describe_arrays_enums_records(env):
    client, _, _, _ = env
    assert deploy(client, WATER).status_code == 201
    assert deploy(client, UNION).status_code == 201
    water = client.get("/alice/ogc-api/processes/water-bodies", headers=A).json()["inputs"]
    assert water["stac_items"]["schema"] == {"type": "array",
                                             "items": {"type": "string", "format": "uri"}}
    assert (water["stac_items"]["minOccurs"], water["stac_items"]["maxOccurs"]) == (1, 1)
    assert water["bands"]["schema"] == {"type": "array", "items": {"type": "string"},
                                        "default": ["green", "nir"]}
    assert water["bands"]["minOccurs"] == 0 and water["bands"]["maxOccurs"] == 1
    assert water["epsg"]["schema"] == {"type": "string", "default": "EPSG:4326"}
    mosaic = client.get("/alice/ogc-api/processes/mosaic", headers=A).json()["inputs"]
    assert mosaic["resampling"]["schema"] == {"type": "string",
                                              "enum": ["nearest", "bilinear", "cubic"]}
    assert mosaic["window"]["schema"]["properties"]["size"]["type"] == "integer"
    assert mosaic["window"]["minOccurs"] == 0 and mosaic["window"]["schema"]["nullable"] is True
    assert mosaic["scenes"]["maxOccurs"] == 1 and mosaic["scenes"]["minOccurs"] == 0


@pytest.mark.parametrize("unit", [
    {"value": GOOD, "mediaType": "application/cwl+yaml"},
    {"value": yaml.safe_load(GOOD), "mediaType": "application/cwl+json"},
    [{"value": GOOD, "mediaType": "application/cwl+yaml"}],
])
@pytest.mark.parametrize("ctype", ["application/ogcapppkg+json", "application/json"])
def test_deploy_ogcapppkg_by_value(env, unit, ctype):
    client, store, _, _ = env
    resp = client.post("/alice/ogc-api/processes", json={"executionUnit": unit},
                       headers={**A, "Content-Type": ctype})
    assert resp.status_code == 201, resp.text
    assert resp.json()["id"] == "ndvi"
    assert store.get_process("alice", "ndvi").description["inputs"]["threshold"]


def test_deploy_by_href_http_and_local(env):
    client, store, _, tmp = env
    site = tmp / "site"
    site.mkdir()
    (site / "water.cwl").write_text(WATER)
    with serve(site) as url:
        # a loopback server is refused (SSRF guard) unless it is one of the platform's origins
        refused = client.post("/alice/ogc-api/processes",
                              json={"executionUnit": {"href": f"{url}/water.cwl"}},
                              headers={**A, "Content-Type": "application/ogcapppkg+json"})
        assert "not public" in assert_ogc_error(refused, 400)["detail"]
        client = TestClient(create_app(store=store, executor=FakeExecutor(store, tmp),
                                       verify_token=verifier, href_dirs=[tmp / "packages"],
                                       fetch_origins=[url]))
        resp = client.post("/alice/ogc-api/processes",
                           json={"executionUnit": {"href": f"{url}/water.cwl#detect_water_body",
                                                   "type": "application/cwl"}},
                           headers={**A, "Content-Type": "application/ogcapppkg+json"})
        assert resp.status_code == 201, resp.text
        assert resp.json()["id"] == "detect_water_body"
        missing = client.post("/alice/ogc-api/processes",
                              json={"executionUnit": {"href": f"{url}/nope.cwl"}},
                              headers={**A, "Content-Type": "application/ogcapppkg+json"})
        assert_ogc_error(missing, 400)
        assert "cannot fetch" in missing.json()["detail"]
    (tmp / "packages" / "good.cwl").write_text(GOOD)
    ok = client.post("/alice/ogc-api/processes",
                     json={"executionUnit": {"href": str(tmp / "packages" / "good.cwl")}},
                     headers={**A, "Content-Type": "application/ogcapppkg+json"})
    assert ok.status_code == 201, ok.text
    before = snapshot(store)
    outside = client.post("/alice/ogc-api/processes",
                          json={"executionUnit": {"href": "file:///etc/passwd"}},
                          headers={**A, "Content-Type": "application/ogcapppkg+json"})
    assert "outside the folders" in assert_ogc_error(outside, 400)["detail"]
    sneaky = client.post("/alice/ogc-api/processes",
                         json={"executionUnit": {"href": str(tmp / "packages" / ".." / "x.cwl")}},
                         headers={**A, "Content-Type": "application/ogcapppkg+json"})
    assert_ogc_error(sneaky, 400)
    assert snapshot(store) == before


def test_deploy_w_picks_the_workflow(env):
    client, store, _, _ = env
    resp = deploy(client, WATER, w="detect_water_body")
    assert resp.status_code == 201
    assert resp.headers["location"].endswith("/processes/detect_water_body")
    before = snapshot(store)
    bad = deploy(client, WATER, w="nope")
    body = assert_ogc_error(bad, 400, "ogcapi-processes-2/1.0/workflow-not-found")
    assert "water-bodies" in body["detail"]
    assert snapshot(store) == before


def test_list_with_limit_and_skip(env):
    client, _, _, _ = env
    for text in (GOOD, WATER, UNION):
        assert deploy(client, text).status_code == 201
    page = client.get("/alice/ogc-api/processes", headers=A, params={"limit": 2}).json()
    assert page["numberTotal"] == 3 and len(page["processes"]) == 2
    assert any(link["rel"] == "next" for link in page["links"])
    rest = client.get("/alice/ogc-api/processes", headers=A,
                      params={"limit": 2, "skip": 2}).json()
    ids = {p["id"] for p in page["processes"]} | {p["id"] for p in rest["processes"]}
    assert ids == {"ndvi", "water-bodies", "mosaic"}
    assert all(p["mutable"] and p["links"][0]["rel"] == "self" for p in page["processes"])
    assert_ogc_error(client.get("/alice/ogc-api/processes", headers=A,
                                params={"limit": "x"}), 400)


def test_duplicate_is_409_and_changes_nothing(env):
    client, store, _, _ = env
    assert deploy(client).status_code == 201
    before = snapshot(store)
    again = deploy(client, GOOD.replace("NDVI with cloud mask", "changed"))
    assert_ogc_error(again, 409, "ogcapi-processes-2/1.0/duplicated-process")
    assert again.headers["location"].endswith("/processes/ndvi")
    assert snapshot(store) == before


def test_replace_and_undeploy(env):
    client, store, _, _ = env
    assert deploy(client).status_code == 201
    new = GOOD.replace("NDVI with cloud mask", "NDVI v2").replace("softwareVersion: 1.0.0",
                                                                  "softwareVersion: 2.0.0")
    resp = client.put("/alice/ogc-api/processes/ndvi", content=new, headers={**A, **CWL})
    assert resp.status_code == 204, resp.text
    assert resp.headers["location"].endswith("/processes/ndvi")
    desc = client.get("/alice/ogc-api/processes/ndvi", headers=A).json()
    assert desc["title"] == "NDVI v2" and desc["version"] == "2.0.0"
    # a package whose workflow is not the path's id is refused, nothing changes
    before = snapshot(store)
    assert_ogc_error(client.put("/alice/ogc-api/processes/ndvi", content=WATER,
                                headers={**A, **CWL}), 400, "workflow-not-found")
    assert_ogc_error(client.put("/alice/ogc-api/processes/nope", content=GOOD,
                                headers={**A, **CWL}), 404, "no-such-process")
    assert snapshot(store) == before
    assert client.delete("/alice/ogc-api/processes/ndvi", headers=A).status_code == 204
    assert_ogc_error(client.get("/alice/ogc-api/processes/ndvi", headers=A), 404,
                     "no-such-process")
    assert_ogc_error(client.delete("/alice/ogc-api/processes/ndvi", headers=A), 404)


def test_package_negotiation(env):
    client, _, _, _ = env
    assert deploy(client).status_code == 201
    url = "/alice/ogc-api/processes/ndvi/package"
    for accept in ("application/cwl+yaml", "application/cwl"):
        r = client.get(url, headers={**A, "Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"].startswith(accept)
        assert r.text == GOOD
    r = client.get(url, headers={**A, "Accept": "application/cwl+json"})
    assert r.headers["content-type"].startswith("application/cwl+json")
    assert r.json()["$graph"][0]["id"] == "ndvi"
    r = client.get(url, headers={**A, "Accept": "application/ogcapppkg+json"})
    unit = r.json()["executionUnit"]
    assert unit["mediaType"] == "application/cwl+json" and unit["value"]["cwlVersion"] == "v1.2"
    r = client.get(url, headers={**A, "Accept": "text/html;q=1, application/cwl;q=0.5"})
    assert r.headers["content-type"].startswith("application/cwl")
    assert_ogc_error(client.get(url, headers={**A, "Accept": "text/html"}), 406)


# ---------------------------------------------------------------------- execution and jobs

def test_execute_async_status_logs_results(env):
    client, store, ex, _ = env
    ex.auto = False
    assert deploy(client).status_code == 201
    resp = client.post("/alice/ogc-api/processes/ndvi/execution",
                       json={"inputs": {"scene": "https://example.org/items/S2A"}},
                       headers={**A, "Prefer": "respond-async"})
    assert resp.status_code == 201, resp.text
    info = resp.json()
    job_id = info["jobID"]
    assert resp.headers["location"] == f"http://testserver/alice/ogc-api/jobs/{job_id}"
    assert info["id"] == job_id and info["type"] == "process" and info["processID"] == "ndvi"
    assert info["status"] == "accepted" and info["progress"] == 0
    assert ex.submitted == [job_id]
    assert store.get_job(job_id).mode == "async"
    # not ready yet
    assert_ogc_error(client.get(f"/alice/ogc-api/jobs/{job_id}/results", headers=A), 404,
                     "result-not-ready")
    logs = client.get(f"/alice/ogc-api/jobs/{job_id}/logs", headers=A)
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")
    assert "without a container" in logs.text
    ex.finish(job_id)
    status = client.get(f"/alice/ogc-api/jobs/{job_id}", headers=A).json()
    assert status["status"] == "successful" and status["progress"] == 100
    for key in ("created", "started", "finished", "updated"):
        assert TIME.match(status[key]), (key, status[key])
    assert status["message"] == "done"
    links = {link["rel"]: link for link in status["links"]}
    assert links["monitor"]["href"].endswith(f"/jobs/{job_id}")
    assert links["self"]["href"] == links["monitor"]["href"]
    assert links["results"]["href"].endswith(f"/jobs/{job_id}/results")
    assert links["related"]["type"] == "text/plain"
    assert links["related"]["href"].endswith(f"/jobs/{job_id}/logs")
    results = client.get(f"/alice/ogc-api/jobs/{job_id}/results", headers=A).json()
    # only the declared outputs: the stored StacCatalogUri is no output of ndvi
    assert results == {"results": {
        "href": f"s3://user-alice/processing-results/{job_id}/catalog.json",
        "type": "application/json", "rel": "stac-catalog"}}
    assert store.get_job(job_id).response == "document"


def test_execute_sync_returns_results(env):
    client, store, _, _ = env
    assert deploy(client, WATER).status_code == 201
    resp = client.post("/alice/ogc-api/processes/water-bodies/execution", headers=A,
                       json={"inputs": {"aoi": "-121.4,39.8,-120.7,40.5",
                                        "stac_items": ["https://e/items/1", "https://e/items/2"],
                                        "bands": {"value": ["green", "nir"]}}})
    assert resp.status_code == 200, resp.text
    job = store.list_jobs("alice")[0][0]
    assert resp.json() == {"stac_catalog": {
        "href": f"s3://user-alice/processing-results/{job.id}/catalog.json",
        "type": "application/json", "rel": "stac-catalog"}}
    assert job.mode == "sync" and job.inputs["stac_items"] == ["https://e/items/1",
                                                               "https://e/items/2"]


@pytest.mark.parametrize("body, word", [
    ({"inputs": {}}, "required"),
    ({"inputs": {"scene": 42}}, "expected a string"),
    ({"inputs": {"scene": "https://x/i", "threshold": "high"}}, "expected a number"),
    ({"inputs": {"scene": "https://x/i", "threshold": True}}, "expected a number"),
    ({"inputs": {"scene": ["https://x/1", "https://x/2"]}}, "one value"),
    ({"inputs": {"scene": "https://x/i", "colour": "red"}}, "unknown input"),
    ({"inputs": ["scene"]}, "must be an object"),
    ({"inputs": {"scene": "https://x/i"}, "outputs": {"nope": {}}}, "unknown output"),
    ([1, 2], "JSON object"),
])
def test_execute_bad_inputs_are_400_and_create_no_job(env, body, word):
    client, store, ex, _ = env
    assert deploy(client).status_code == 201
    before = snapshot(store)
    resp = client.post("/alice/ogc-api/processes/ndvi/execution", json=body,
                       headers={**A, "Prefer": "respond-async"})
    detail = assert_ogc_error(resp, 400)["detail"]
    assert word in detail, detail
    assert snapshot(store) == before and ex.submitted == []


def test_execute_enum_and_malformed_json(env):
    client, store, _, _ = env
    assert deploy(client, UNION).status_code == 201
    before = snapshot(store)
    bad = client.post("/alice/ogc-api/processes/mosaic/execution", headers=A,
                      json={"inputs": {"resampling": "sinc"}})
    assert "not one of" in assert_ogc_error(bad, 400)["detail"]
    broken = client.post("/alice/ogc-api/processes/mosaic/execution", content=b"{inputs:",
                         headers={**A, "Content-Type": "application/json"})
    assert "not valid JSON" in assert_ogc_error(broken, 400)["detail"]
    assert_ogc_error(client.post("/alice/ogc-api/processes/nope/execution", headers=A,
                                 json={"inputs": {}}), 404, "no-such-process")
    assert snapshot(store) == before
    ok = client.post("/alice/ogc-api/processes/mosaic/execution", headers=A,
                     json={"inputs": {"resampling": "cubic", "window": {"size": 3, "overlap": 1},
                                      "scenes": "https://e/items/1"}})
    assert ok.status_code == 200, ok.text


def test_jobs_list_filters_and_dismiss(env):
    client, _, ex, _ = env
    for text in (GOOD, WATER):
        assert deploy(client, text).status_code == 201
    run = {"Prefer": "respond-async", **A}
    j1 = client.post("/alice/ogc-api/processes/ndvi/execution", headers=run,
                     json={"inputs": {"scene": "https://x/1"}}).json()["jobID"]
    ex.auto = False
    j2 = client.post("/alice/ogc-api/processes/ndvi/execution", headers=run,
                     json={"inputs": {"scene": "https://x/2"}}).json()["jobID"]
    j3 = client.post("/alice/ogc-api/processes/water-bodies/execution", headers=run,
                     json={"inputs": {"aoi": "1,2,3,4", "stac_items": ["https://x/3"]}}
                     ).json()["jobID"]
    everything = client.get("/alice/ogc-api/jobs", headers=A).json()
    assert everything["numberTotal"] == 3
    assert {j["jobID"] for j in everything["jobs"]} == {j1, j2, j3}
    assert all(j["type"] == "process" for j in everything["jobs"])
    by_proc = client.get("/alice/ogc-api/jobs", headers=A, params={"processID": "ndvi"}).json()
    assert {j["jobID"] for j in by_proc["jobs"]} == {j1, j2}
    by_status = client.get("/alice/ogc-api/jobs", headers=A,
                           params={"status": "accepted"}).json()
    assert {j["jobID"] for j in by_status["jobs"]} == {j2, j3}
    both = client.get("/alice/ogc-api/jobs?status=accepted&processID=water-bodies",
                      headers=A).json()
    assert [j["jobID"] for j in both["jobs"]] == [j3]
    page = client.get("/alice/ogc-api/jobs", headers=A, params={"limit": 1, "skip": 1}).json()
    assert len(page["jobs"]) == 1 and page["numberTotal"] == 3
    assert any(link["rel"] == "next" for link in page["links"])
    assert_ogc_error(client.get("/alice/ogc-api/jobs", headers=A,
                                params={"status": "exploded"}), 400)

    gone = client.delete(f"/alice/ogc-api/jobs/{j2}", headers=A)
    assert gone.status_code == 200
    assert gone.json()["status"] == "dismissed" and gone.json()["jobID"] == j2
    assert any(link["rel"] == "parent" for link in gone.json()["links"])
    assert client.get(f"/alice/ogc-api/jobs/{j2}", headers=A).json()["status"] == "dismissed"
    detail = assert_ogc_error(client.get(f"/alice/ogc-api/jobs/{j2}/results", headers=A), 410,
                              "job-dismissed")["detail"]
    assert detail.startswith(f"job '{j2}' was dismissed")
    # a dismissed job leaves the list (as ZOO removes it); asked for by status, it is there
    after = client.get("/alice/ogc-api/jobs", headers=A).json()
    assert {j["jobID"] for j in after["jobs"]} == {j1, j3} and after["numberTotal"] == 2
    asked = client.get("/alice/ogc-api/jobs", headers=A, params={"status": "dismissed"}).json()
    assert [j["jobID"] for j in asked["jobs"]] == [j2]
    assert_ogc_error(client.get("/alice/ogc-api/jobs/0000-nope", headers=A), 404, "no-such-job")


def test_results_of_a_failed_job_answer_the_failure(env):
    client, store, ex, _ = env
    ex.auto = False
    assert deploy(client).status_code == 201
    job_id = client.post("/alice/ogc-api/processes/ndvi/execution",
                         json={"inputs": {"scene": "https://x/1"}},
                         headers={**A, "Prefer": "respond-async"}).json()["jobID"]
    ex.fail(job_id)
    body = assert_ogc_error(client.get(f"/alice/ogc-api/jobs/{job_id}/results", headers=A),
                            500, "job-failed")
    assert body == {"type": "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
                            "job-failed", "title": "JobFailed", "status": 500, "jobID": job_id,
                    "detail": f"job '{job_id}' failed: the tool failed: step calc exited with "
                              f"code 3; its log is at http://testserver/alice/ogc-api/jobs/"
                              f"{job_id}/logs"}


@pytest.mark.parametrize("body, word", [
    ({"response": "fancy"}, "`response` is \"document\""),
    ({"response": ["raw"]}, "`response` is \"document\""),
])
def test_execute_bad_response_is_400(env, body, word):
    client, store, ex, _ = env
    assert deploy(client).status_code == 201
    before = snapshot(store)
    resp = client.post("/alice/ogc-api/processes/ndvi/execution", headers=A,
                       json={"inputs": {"scene": "https://x/1"}, **body})
    assert word in assert_ogc_error(resp, 400)["detail"]
    assert snapshot(store) == before and ex.submitted == []


def test_execute_raw_needs_one_output(env):
    client, store, ex, _ = env
    assert deploy(client, TWO_OUTPUTS).status_code == 201
    before = snapshot(store)
    scenes = {"scenes": ["https://example.org/items/1"]}
    resp = client.post("/alice/ogc-api/processes/water-mask/execution", headers=A,
                       json={"inputs": scenes, "response": "raw"})
    detail = assert_ogc_error(resp, 400)["detail"]
    assert detail == ("`response: raw` answers one output's value and this request asks for 2 "
                      "(['masks', 'catalog']): name one in `outputs`, e.g. {\"outputs\": "
                      "{\"masks\": {}}}, or use `response: document`")
    assert snapshot(store) == before
    ex.auto = False
    ok = client.post("/alice/ogc-api/processes/water-mask/execution",
                     headers={**A, "Prefer": "respond-async"},
                     json={"inputs": scenes, "response": "raw", "outputs": {"catalog": {}}})
    assert ok.status_code == 201, ok.text
    assert store.get_job(ok.json()["jobID"]).response == "raw"


def test_one_value_for_an_array_input_and_directory_array_results(env):
    """One value for an array input is a one-item array (as ZOO takes it); a loopback URL given
    alone is refused like one in an array; a Directory[] output's results are an array of
    catalog links (what LocalExecutor keeps), in the document and raw."""
    client, store, ex, _ = env
    ex.auto = False
    assert deploy(client, TWO_OUTPUTS).status_code == 201
    before = snapshot(store)
    bad = client.post("/alice/ogc-api/processes/water-mask/execution", headers=A,
                      json={"inputs": {"scenes": "http://127.0.0.1:8080/items/1"}})
    assert "input 'scenes'" in assert_ogc_error(bad, 400, "invalid-parameter-value")["detail"]
    assert snapshot(store) == before
    resp = client.post("/alice/ogc-api/processes/water-mask/execution",
                       headers={**A, "Prefer": "respond-async"},
                       json={"inputs": {"scenes": "https://example.org/items/1",
                                        "bands": {"value": "B08"}}})
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["jobID"]
    assert store.get_job(job_id).inputs == {"scenes": ["https://example.org/items/1"],
                                            "bands": ["B08"]}
    base = f"s3://user-alice/processing-results/{job_id}"
    masks = [{"href": f"{base}/masks/{i}/catalog.json", "type": "application/json",
              "rel": "stac-catalog"} for i in (0, 1)]
    catalog = {"href": f"{base}/catalog/catalog.json", "type": "application/json",
               "rel": "stac-catalog"}
    store.update_job(job_id, status="successful", progress=100, message="done",
                     finished=utcnow(), results={"masks": masks, "catalog": catalog,
                                                 "StacCatalogUri": masks[0]["href"]})
    results = client.get(f"/alice/ogc-api/jobs/{job_id}/results", headers=A)
    assert results.json() == {"masks": masks, "catalog": catalog}
    raw = client.post("/alice/ogc-api/processes/water-mask/execution",
                      headers={**A, "Prefer": "respond-async"},
                      json={"inputs": {"scenes": ["https://example.org/items/2"]},
                            "response": "raw", "outputs": {"masks": {}}}).json()["jobID"]
    store.update_job(raw, status="successful", progress=100, message="done", finished=utcnow(),
                     results={"masks": masks, "StacCatalogUri": masks[0]["href"]})
    assert client.get(f"/alice/ogc-api/jobs/{raw}/results", headers=A).json() == masks


# ---------------------------------------------------------------------- isolation and auth

def test_users_are_isolated(env):
    client, store, ex, _ = env
    assert deploy(client).status_code == 201
    job = client.post("/alice/ogc-api/processes/ndvi/execution", headers=A,
                      json={"inputs": {"scene": "https://x/1"}})
    job_id = store.list_jobs("alice")[0][0].id
    assert job.status_code == 200
    # bob in his own prefix sees nothing of alice's
    assert client.get("/bob/ogc-api/processes", headers=B).json()["numberTotal"] == 0
    assert_ogc_error(client.get("/bob/ogc-api/processes/ndvi", headers=B), 404)
    assert_ogc_error(client.get(f"/bob/ogc-api/jobs/{job_id}", headers=B), 404, "no-such-job")
    assert_ogc_error(client.get(f"/bob/ogc-api/jobs/{job_id}/results", headers=B), 404)
    assert_ogc_error(client.delete(f"/bob/ogc-api/jobs/{job_id}", headers=B), 404)
    assert client.get("/bob/ogc-api/jobs", headers=B).json()["numberTotal"] == 0
    # bob in alice's prefix: 404 whatever he asks, and nothing changes
    before = snapshot(store)
    for method, path in [("get", "/alice/ogc-api/"), ("get", "/alice/ogc-api/processes"),
                         ("get", "/alice/ogc-api/processes/ndvi"),
                         ("delete", "/alice/ogc-api/processes/ndvi"),
                         ("get", f"/alice/ogc-api/jobs/{job_id}"),
                         ("delete", f"/alice/ogc-api/jobs/{job_id}")]:
        assert_ogc_error(getattr(client, method)(path, headers=B), 404)
    assert_ogc_error(deploy(client, WATER, user="alice", auth=B), 404)
    assert_ogc_error(client.post("/alice/ogc-api/processes/ndvi/execution", headers=B,
                                 json={"inputs": {"scene": "https://x/1"}}), 404)
    assert snapshot(store) == before
    # bob deploys the same id in his own prefix: no clash
    assert deploy(client, user="bob", auth=B).status_code == 201


def test_no_token_and_bad_token_are_401(env):
    client, store, _, _ = env
    before = snapshot(store)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YTpi"}):
        for method, path in [("get", "/alice/ogc-api/processes"), ("get", "/alice/ogc-api/jobs"),
                             ("post", "/alice/ogc-api/processes")]:
            resp = getattr(client, method)(path, headers=headers)
            assert_ogc_error(resp, 401)
            assert resp.headers["www-authenticate"].startswith("Bearer")
    assert snapshot(store) == before
    # the OpenAPI document stays open, like EOEPCA's /ogc-api/api
    assert client.get("/alice/ogc-api/api").status_code == 200


@pytest.mark.parametrize("path", [
    "/alice/ogc-api/processes/a%2Fb",
    "/alice/ogc-api/processes/a%5Cb", "/alice/ogc-api/processes/a%00b",
    "/alice/ogc-api/processes/..%2F..%2Fetc", "/alice/ogc-api/jobs/..%5Cx",
    "/alice/ogc-api/jobs/a%00", "/alice/ogc-api/processes/.hidden",
])
def test_path_characters_in_ids(env, path):
    client, store, _, _ = env
    assert deploy(client).status_code == 201
    before = snapshot(store)
    for method in ("get", "delete"):
        resp = getattr(client, method)(path, headers=A)
        assert resp.status_code in (400, 404), (path, resp.status_code)
        assert resp.json()["detail"]
    resp = client.put(path, content=GOOD, headers={**A, **CWL})
    assert resp.status_code in (400, 404, 405)
    assert snapshot(store) == before


@pytest.mark.parametrize("bad_id", ["../evil", "a/b", "a\\b", "a\x00b", "..", "-lead"])
def test_workflow_ids_with_path_characters_are_refused(env, bad_id):
    client, store, _, _ = env
    before = snapshot(store)
    text = GOOD.replace("id: ndvi\n", f"id: {json.dumps(bad_id)}\n", 1).replace(
        "'#ndvi-notebook'", "'#ndvi-notebook'")
    resp = deploy(client, text)
    assert resp.status_code == 400, resp.text
    resp = deploy(client, GOOD, w=bad_id)
    assert resp.status_code == 400, resp.text
    assert snapshot(store) == before


def test_body_limits_media_types_and_malformed_bodies(env):
    client, store, _, _ = env
    assert deploy(client).status_code == 201
    before = snapshot(store)
    big = GOOD.replace("ndvi", "big") + "#" * (70 * 1024) + "\n"
    body = assert_ogc_error(deploy(client, big), 413)
    assert "limit" in body["detail"]
    assert_ogc_error(client.post("/alice/ogc-api/processes/ndvi/execution", headers=A,
                                 content=b"{" + b" " * (70 * 1024) + b"}"), 413)
    other = GOOD.replace("id: ndvi\n", "id: other\n", 1)
    assert_ogc_error(deploy(client, other, headers={"Content-Type": "text/html"}), 415,
                     "unsupported-media-type")
    assert_ogc_error(deploy(client, other, headers={"Content-Type": "application/geo+json"}), 415)
    assert_ogc_error(deploy(client, other, headers={}), 415)
    malformed = deploy(client, (DATA / "malformed.cwl").read_text())
    assert "YAML" in assert_ogc_error(malformed, 400)["detail"]
    not_json = deploy(client, "{executionUnit: ", headers={"Content-Type": "application/json"})
    assert "JSON" in assert_ogc_error(not_json, 400)["detail"]
    no_unit = client.post("/alice/ogc-api/processes", json={"foo": 1},
                          headers={**A, "Content-Type": "application/ogcapppkg+json"})
    assert "executionUnit" in assert_ogc_error(no_unit, 400)["detail"]
    assert_ogc_error(deploy(client, ""), 400)
    assert_ogc_error(deploy(client, "/etc/passwd"), 400)
    assert_ogc_error(deploy(client, (DATA / "not-cwl.yaml").read_text()), 400)
    assert_ogc_error(deploy(client, b"\xff\xfe\x00bad"), 400)
    assert snapshot(store) == before


def test_invalid_application_package_lists_findings(env):
    client, store, _, _ = env
    before = snapshot(store)
    resp = deploy(client, (DATA / "no-docker.cwl").read_text())
    body = assert_ogc_error(resp, 400)
    assert "not a valid application package" in body["detail"]
    assert any(f["rule"] == "OGC-20-089/req-8" and f["severity"] == "error"
               for f in body["findings"])
    resp = deploy(client, (DATA / "lone-tool.cwl").read_text())
    assert "Workflow" in assert_ogc_error(resp, 400)["detail"]
    assert snapshot(store) == before


def test_package_made_by_eopde_deploys(env, tmp_path):
    """A package from `eopde package` (make_package on a tiny notebook) deploys and describes."""
    nbformat = pytest.importorskip("nbformat")
    from eopde.apppkg.package import make_package

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('stac_item = "/tmp/item"\nthreshold = 0.3\nlabel = "x"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(threshold)")]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    pkg = make_package(path, tmp_path / "pkg", app_id="tiny", image="python:3.11-slim")
    cwl = next(Path(tmp_path / "pkg").rglob("*.cwl")).read_text()
    client = env[0]
    resp = deploy(client, cwl)
    assert resp.status_code == 201, resp.text
    desc = client.get(f"/alice/ogc-api/processes/{resp.json()['id']}", headers=A).json()
    assert "threshold" in desc["inputs"]
    assert desc["inputs"]["threshold"]["schema"]["type"] == "number"
    assert pkg is not None


# ---------------------------------------------------------------------- real OIDC JWTs

def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(
        b"=").decode()


def test_oidc_jwt_verifier(tmp_path):
    jwt = pytest.importorskip("jwt")
    from cryptography.hazmat.primitives.asymmetric import rsa

    from eopde.services.ades.auth import jwt_verifier

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_numbers()
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [
        {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": _b64(pub.n),
         "e": _b64(pub.e)}]}))
    issuer, aud = "https://auth.example.org/realms/eo", "ades"

    def token(signer=key, **claims):
        body = {"iss": issuer, "aud": aud, "exp": int(time.time()) + 300,
                "preferred_username": "alice", **claims}
        return jwt.encode(body, signer, algorithm="RS256", headers={"kid": "k1"})

    with serve(tmp_path) as url:
        verify = jwt_verifier(issuer, f"{url}/jwks.json", aud)
        assert verify(token()).name == "alice"
        assert verify(token(exp=int(time.time()) - 3600)) is None
        assert verify(token(iss="https://evil.example.org")) is None
        assert verify(token(aud="someone-else")) is None
        assert verify(token(signer=other)) is None
        assert verify("not-a-jwt") is None

        store = JobStore(f"sqlite:///{tmp_path / 'ades.db'}")
        app = create_app(store=store, executor=FakeExecutor(store, tmp_path), verify_token=verify)
        with TestClient(app) as client:
            ok = client.get("/alice/ogc-api/processes",
                            headers={"Authorization": f"Bearer {token()}"})
            assert ok.status_code == 200
            assert client.get("/bob/ogc-api/processes",
                              headers={"Authorization": f"Bearer {token()}"}).status_code == 404
            assert client.get("/alice/ogc-api/processes", headers={
                "Authorization": f"Bearer {token(signer=other)}"}).status_code == 401


def test_verifier_from_env_picks_oidc_or_refuses(tmp_path):
    from eopde.services.ades.auth import verifier_from_env

    assert verifier_from_env({})("anything") is None


# ---------------------------------------------------------------------- schemathesis: no 5xx

def _schemathesis_app():
    tmp = Path(tempfile.mkdtemp(prefix="eopde-ades-st-"))
    store = JobStore(f"sqlite:///{tmp / 'ades.db'}")
    app = create_app(store=store, executor=FakeExecutor(store, tmp), verify_token=verifier,
                     max_body=64 * 1024)
    with TestClient(app) as client:
        assert deploy(client, GOOD).status_code == 201
        client.post("/alice/ogc-api/processes/ndvi/execution", headers=A,
                    json={"inputs": {"scene": "https://x/1"}})
    return app, store


def test_schemathesis_no_server_errors():
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error

    app, store = _schemathesis_app()
    job_id = store.list_jobs("alice")[0][0].id
    schema = schemathesis.openapi.from_asgi("/alice/ogc-api/api", app)
    failures = []
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()

        @given(case=strategy)
        @settings(max_examples=20, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case):
            nonlocal count
            if "user" in (case.path_parameters or {}) and count % 2 == 0:
                case.path_parameters["user"] = "alice"  # half the cases hit real data
                if "process_id" in case.path_parameters and count % 4 == 0:
                    case.path_parameters["process_id"] = "ndvi"
                if "job_id" in case.path_parameters and count % 4 == 0:
                    case.path_parameters["job_id"] = job_id
            count += 1
            try:
                case.call_and_validate(headers=A, checks=[not_a_server_error])
            except Exception as err:  # collect every failing operation
                failures.append(f"{case.method} {case.formatted_path}: {err}")

        run()
    assert count > 100
    assert not failures, "\n".join(failures[:5])
