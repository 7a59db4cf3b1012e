"""`GET /jobs/{jobId}/inputs` of the local ADES (OGC API - Processes Part 4 draft): the inputs a
job ran with, to its owner only, credentials redacted; the redaction rules themselves. The
app runs in-process with a fixed token verifier and the fake executor of test_ades_api (the
real platform: tests/security/test_job_inputs.py)."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from eopde.services.ades.app import create_app
from eopde.services.ades.redact import REDACTED, redact_inputs, redact_url
from eopde.services.ades.store import JobStore
from test_ades_api import A, B, CWL, GOOD, FakeExecutor, assert_ogc_error, verifier

REL = "http://www.opengis.net/def/rel/ogc/1.0/inputs"
SIGNED = ("https://data.example.org/items/S2A?X-Amz-Credential=AKIA1%2F2024&X-Amz-Signature="
          "deadbeef&page=2")


@pytest.fixture
def env(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path / 'ades.db'}")
    app = create_app(store=store, executor=FakeExecutor(store, tmp_path), verify_token=verifier,
                     base_url="http://testserver")
    with TestClient(app) as client:
        assert client.post("/alice/ogc-api/processes", content=GOOD,
                           headers={**A, **CWL}).status_code == 201
        yield client, store


def _execute(client, inputs, **body):
    r = client.post("/alice/ogc-api/processes/ndvi/execution", json={"inputs": inputs, **body},
                    headers={**A, "Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_owner_gets_the_inputs_linked_from_the_status(env):
    client, _ = env
    status = _execute(client, {"scene": "https://example.org/items/S2A", "threshold": 0.4},
                      outputs={"results": {"transmissionMode": "reference"}})
    link = next(lk for lk in status["links"] if lk["rel"] == REL)
    job = status["jobID"]
    assert link["href"] == f"http://testserver/alice/ogc-api/jobs/{job}/inputs"
    r = client.get(link["href"], headers=A)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["inputs"] == {"scene": "https://example.org/items/S2A", "threshold": 0.4}
    assert doc["outputs"] == {"results": {"transmissionMode": "reference"}}
    assert (doc["jobID"], doc["processID"], doc["response"], doc["redacted"]) == \
        (job, "ndvi", "document", [])
    assert doc["process"] == "http://testserver/alice/ogc-api/processes/ndvi"
    assert {lk["rel"]: lk["href"] for lk in doc["links"]} == {
        "self": link["href"], "up": f"http://testserver/alice/ogc-api/jobs/{job}",
        "http://www.opengis.net/def/rel/ogc/1.0/process": doc["process"]}
    # the listing's status documents link the inputs too
    listed = client.get("/alice/ogc-api/jobs", headers=A).json()["jobs"][0]
    assert any(lk["rel"] == REL for lk in listed["links"])


def test_another_user_gets_404_and_nothing_of_the_job(env):
    client, _ = env
    job = _execute(client, {"scene": "https://example.org/items/alice-only-scene"})["jobID"]
    for path, auth in ((f"/bob/ogc-api/jobs/{job}/inputs", B),
                       (f"/alice/ogc-api/jobs/{job}/inputs", B)):
        body = assert_ogc_error(client.get(path, headers=auth), 404)
        assert "alice-only-scene" not in str(body) and "ndvi" not in str(body)
    assert_ogc_error(client.get(f"/alice/ogc-api/jobs/{job}/inputs"), 401)
    assert_ogc_error(client.get("/alice/ogc-api/jobs/not-a-job/inputs", headers=A), 404,
                     "no-such-job")


def test_credentials_in_inputs_are_redacted(env):
    client, store = env
    job = _execute(client, {"scene": "https://ann:hunter2@example.org/items/S2A?token=t0k3n&x=1",
                            "threshold": 0.2})["jobID"]
    doc = client.get(f"/alice/ogc-api/jobs/{job}/inputs", headers=A).json()
    assert doc["inputs"]["scene"] == \
        f"https://{REDACTED}@example.org/items/S2A?token={REDACTED}&x=1"
    assert doc["redacted"] == ["scene"]
    assert "hunter2" not in str(doc) and "t0k3n" not in str(doc)
    # the job itself still runs with what was given
    assert store.get_job(job).inputs["scene"].startswith("https://ann:hunter2@")


def test_a_job_recorded_without_inputs_answers_a_clear_404(env):
    client, store = env
    job = _execute(client, {"scene": "https://example.org/items/S2A"})["jobID"]
    db = sqlite3.connect(store.url[len("sqlite://"):])
    db.execute("UPDATE jobs SET inputs='null' WHERE id=?", (job,))
    db.commit()
    db.close()
    body = assert_ogc_error(client.get(f"/alice/ogc-api/jobs/{job}/inputs", headers=A), 404,
                            "no-inputs-recorded")
    assert "without its inputs" in body["detail"]
    assert client.get(f"/alice/ogc-api/jobs/{job}", headers=A).status_code == 200


# -- the rules ---------------------------------------------------------------------------------

def test_redact_url_keeps_what_is_not_a_credential():
    for plain in ("https://example.org/items/S2A?collection=s2&limit=10", "not a url",
                  "s3://user-alice/results/catalog.json", "12.1,43.1,12.3,43.2"):
        assert redact_url(plain) == plain
    assert redact_url(SIGNED) == ("https://data.example.org/items/S2A?X-Amz-Credential="
                                  f"{REDACTED}&X-Amz-Signature={REDACTED}&page=2")
    assert redact_url("https://tok@github.com/a/b.git") == f"https://{REDACTED}@github.com/a/b.git"
    assert redact_url("https://x.blob.core.windows.net/c/b.tif?sv=2022&sig=abc%2B") == \
        f"https://x.blob.core.windows.net/c/b.tif?sv=2022&sig={REDACTED}"


def test_redact_inputs_by_name_schema_and_nesting():
    inputs = {"api_key": "k-123", "author": "Ada", "threshold": 0.3, "secret_word": ["a", "b"],
              "passphrase": "open sesame", "aoi": [12.1, 43.1, 12.3, 43.2],
              "items": [SIGNED, "https://example.org/items/2"],
              "options": {"access_token": "tok", "bands": ["B04"]},
              "file": {"class": "File", "location": "https://u:p@example.org/f.tif"}}
    declared = {"passphrase": {"schema": {"type": "string", "format": "password"}}}
    out, changed = redact_inputs(inputs, declared)
    assert out["api_key"] == out["secret_word"] == out["passphrase"] == REDACTED
    assert (out["author"], out["threshold"], out["aoi"]) == ("Ada", 0.3, [12.1, 43.1, 12.3, 43.2])
    assert out["items"][1] == "https://example.org/items/2" and "deadbeef" not in out["items"][0]
    assert out["options"] == {"access_token": REDACTED, "bands": ["B04"]}
    assert out["file"]["location"] == f"https://{REDACTED}@example.org/f.tif"
    assert changed == ["api_key", "secret_word", "passphrase", "items", "options", "file"]
    assert inputs["api_key"] == "k-123"  # the record itself is not changed
