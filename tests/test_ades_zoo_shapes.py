"""The local ADES answers as zoo-project-dru does where a client would notice (issue 9, part 4):
packages in published shapes deployed to the running ADES and their descriptions checked field
by field (cwl2ogc's mapping), and the results rules checked on real jobs: only declared outputs,
`response: raw`, a failed job's results answer its failure, a failure message without server
paths, dismissed jobs leave the list."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from notebook_apps import publish_app, write_app_notebook

pytestmark = pytest.mark.platform

PUBLISHED = Path(__file__).parent / "data" / "published"
URI = {"type": "string", "format": "uri"}
CATALOG = {"type": "object", "contentMediaType": "application/json",
           "contentSchema": "https://schemas.stacspec.org/v1.0.0/catalog-spec/json-schema/"
                            "catalog.json"}

APP_PARAMETERS = """label: str = "hello"  # A word written into the result
fail: bool = False  # Fail on purpose"""

APP_CODE = """import json
from eopde.outputs import save
if fail:
    raise RuntimeError("failing on purpose in /srv/secret/place")
with open("result.json", "w") as f:
    json.dump({"label": label}, f)
save({"result": "result.json"}, id=f"shapes-{label}", datetime="2025-07-01T10:00:00Z",
     geometry={"type": "Point", "coordinates": [12.1, 43.15]}, bbox=[12.1, 43.15, 12.1, 43.15])"""


@pytest.fixture(scope="module")
def shapes(platform, ades_user_env, tmp_path_factory):
    """A small notebook app, packaged and published as a local image, deployed for `zoe`."""
    from eopde.ades import Client

    work = tmp_path_factory.mktemp("shapes-app")
    notebook = write_app_notebook(work / "shapes.ipynb", APP_PARAMETERS, APP_CODE)
    package = publish_app(notebook, work / "shapes", "shapes", author="Zoe Shape",
                          email="zoe@example.org")
    token = platform.eopde("token", "zoe").stdout.strip()
    client = Client(f"{platform.url('ades')}/{{user}}/ogc-api", user="zoe", token=token)
    client.deploy(package.directory, replace_existing=True)
    return client


def _get(client, path: str, **kwargs) -> httpx.Response:
    return httpx.get(f"{client.url}/{path}", headers={"Authorization": f"Bearer {client.token}"},
                     timeout=60, **kwargs)


def _deployed(client, name: str) -> dict:
    summary = client.deploy((PUBLISHED / name).read_text(), replace_existing=True)
    response = _get(client, f"processes/{summary.id}")
    assert response.status_code == 200, response.text
    return response.json()


def _io(schema: dict, cwl_type: str, min_occurs: int | None = None, **text) -> dict:
    out = {**text, "schema": schema, "metadata": [{"title": "cwl:type", "value": cwl_type}]}
    if min_occurs is not None:
        out.update(minOccurs=min_occurs, maxOccurs=1, valuePassing="byValue")
    return out


# ------------------------------------------------------------------ descriptions, field by field

def test_optional_inputs_and_staged_directories(shapes):
    desc = _deployed(shapes, "stage-in-directory.cwl")
    assert desc["id"] == "burned-area" and desc["version"] == "2.1.0"
    assert desc["inputs"] == {
        "pre_event": _io(URI, "Directory", 1, title="pre-event scene",
                         description="staged pre-event scene (STAC catalog folder)"),
        "post_event": _io(URI, "Directory", 1, title="post-event scene",
                          description="staged post-event scene (STAC catalog folder)"),
        "aoi": _io({"nullable": True, "type": "string"}, "string?", 0,
                   title="area of interest", description="optional bounding box to crop to"),
        "ndvi_threshold": _io({"nullable": True, "type": "number", "format": "float",
                               "default": 0.3}, "float?", 0, title="NDVI threshold",
                              description="pixels with NDVI below this are masked"),
        "cloud_mask": _io({"nullable": True, "type": "boolean", "default": True},
                          "[ null, boolean ]", 0, title="cloud mask",
                          description="mask clouds with the scene classification layer"),
    }
    assert desc["outputs"] == {"burned": _io(CATALOG, "Directory")}
    # an optional input may be left out, or given as null
    for inputs in ({}, {"aoi": None}):
        bad = httpx.post(f"{shapes.url}/processes/burned-area/execution",
                         headers={"Authorization": f"Bearer {shapes.token}"},
                         json={"inputs": inputs}, timeout=60)
        assert bad.status_code == 400 and "'pre_event' is required" in bad.json()["detail"]


def test_arrays_defaults_and_directory_array_outputs(shapes):
    desc = _deployed(shapes, "scatter-string-items.cwl")
    assert desc["inputs"]["items"] == _io({"type": "array", "items": {"type": "string"}},
                                          "string[]", 1, title="STAC items",
                                          description="URLs of Sentinel-1 GRD STAC items")
    assert desc["inputs"]["polarisations"]["schema"] == {
        "type": "array", "items": {"type": "string"}, "default": ["vv", "vh"]}
    assert desc["inputs"]["polarisations"]["minOccurs"] == 0
    assert desc["outputs"] == {"results": _io({"type": "array", "items": CATALOG},
                                              "Directory[]")}
    author = next(m["value"] for m in desc["metadata"]
                  if m["role"] == "https://schema.org/author")
    assert author == [{"@context": "https://schema.org", "@type": "Person", "givenName": "Ada",
                       "familyName": "Rivers", "email": "ada.rivers@example.org",
                       "affiliation": "Example Hydrology Lab"}]
    water = _deployed(shapes, "directory-array.cwl")
    assert water["inputs"]["scenes"]["schema"] == {"type": "array", "items": URI}
    assert water["inputs"]["bands"]["schema"] == {"type": "array", "items": {"type": "string"},
                                                  "default": ["B03", "B08"]}
    assert water["outputs"] == {"masks": _io({"type": "array", "items": CATALOG}, "Directory[]"),
                                "catalog": _io(CATALOG, "Directory")}


def test_enums_and_records(shapes):
    inputs = _deployed(shapes, "enum-record.cwl")["inputs"]
    assert inputs["index"] == _io({"type": "string", "enum": ["ndvi", "ndwi", "nbr"],
                                   "default": "ndvi"}, "enum[ ndvi, ndwi, nbr ]", 0,
                                  title="index", description="which index to compute")
    assert inputs["resampling"]["schema"] == {"nullable": True, "type": "string",
                                              "enum": ["nearest", "bilinear", "cubic"]}
    ints = {"type": "integer", "format": "int32"}
    assert inputs["window"]["schema"] == {
        "nullable": True, "type": "object",
        "properties": {"xoff": ints, "yoff": ints, "width": ints, "height": ints},
        "required": ["xoff", "yoff", "width", "height"]}
    bad = httpx.post(f"{shapes.url}/processes/spectral-index/execution",
                     headers={"Authorization": f"Bearer {shapes.token}"}, timeout=60,
                     json={"inputs": {"scene": "https://example.org/i", "index": "evi"}})
    assert bad.status_code == 400 and "'evi' is not one of" in bad.json()["detail"]


# ------------------------------------------------------------------ results

def test_results_hold_only_declared_outputs_and_raw_gives_the_catalog(shapes):
    job = shapes.execute("shapes", {"label": "doc"})
    job.wait(timeout=180, progress=False)
    href = f"s3://user-zoe/processing-results/{job.id}/catalog.json"
    document = _get(shapes, f"jobs/{job.id}/results").json()
    [output] = shapes.describe("shapes").outputs
    assert document == {output: {"href": href, "type": "application/json",
                                 "rel": "stac-catalog"}}
    assert job.results().catalog_url == href

    raw = httpx.post(f"{shapes.url}/processes/shapes/execution", timeout=180,
                     headers={"Authorization": f"Bearer {shapes.token}"},
                     json={"inputs": {"label": "raw"}, "response": "raw"})
    assert raw.status_code == 200, raw.text
    catalog = raw.json()
    raw_id = raw.headers["location"].rsplit("/", 1)[1]
    raw_href = f"s3://user-zoe/processing-results/{raw_id}/catalog.json"
    assert catalog["type"] == "Catalog"
    links = {link["rel"]: link["href"] for link in catalog["links"]}
    assert links["root"] == raw_href and links["self"] == raw_href
    items = [link["href"] for link in catalog["links"] if link["rel"] == "item"]
    assert len(items) == 1 and items[0].startswith(f"s3://user-zoe/processing-results/{raw_id}/")
    # the same through the client: the catalog is found from the raw document
    again = shapes.execute("shapes", {"label": "rawclient"}, mode="sync", response="raw")
    results = again.results()
    assert results.form == "stac"
    [item] = list(results.items())
    assert item.id == "shapes-rawclient"


def test_a_failed_job_says_what_failed_and_its_results_say_so(shapes, platform):
    from eopde.ades.errors import JobFailed

    job = shapes.execute("shapes", {"label": "x", "fail": True})
    with pytest.raises(JobFailed) as info:
        job.wait(timeout=180, progress=False)
    message = info.value.status.message
    assert re.fullmatch(r"the tool failed: step [\w-]+ exited with code [1-9]\d*; the step's "
                        r"log is linked from the job status", message), message
    assert str(platform.home) not in message and "/srv/secret" not in message
    answer = _get(shapes, f"jobs/{job.id}/results")
    assert answer.status_code == 500
    body = answer.json()
    assert body["type"].endswith("/job-failed") and body["jobID"] == job.id
    assert body["detail"] == (f"job '{job.id}' failed: {message}; its log is at "
                              f"{shapes.url}/jobs/{job.id}/logs")
    with pytest.raises(JobFailed) as results_info:
        job.results()
    assert results_info.value.message == f"job {job.id} failed: {message}"
    assert "failing on purpose" in job.logs()  # the log has the tool's words
    # a synchronous execute that fails: the client raises JobFailed with the same message
    with pytest.raises(JobFailed) as sync_info:
        shapes.execute("shapes", {"label": "y", "fail": True}, mode="sync")
    sync_job = sync_info.value.job_id
    assert sync_info.value.message == (f"job '{sync_job}' failed: {message}; its log is at "
                                       f"{shapes.url}/jobs/{sync_job}/logs")


def test_dismissed_jobs_leave_the_list(shapes):
    job = shapes.execute("shapes", {"label": "gone"})
    job.wait(timeout=180, progress=False)
    assert job.id in [j.id for j in shapes.jobs(limit=None)]
    job.dismiss()
    assert job.id not in [j.id for j in shapes.jobs(limit=None)]
    assert job.id in [j.id for j in shapes.jobs(status="dismissed", limit=None)]
    listed = _get(shapes, "jobs").json()
    assert job.id not in [j["jobID"] for j in listed["jobs"]]
    assert listed["numberTotal"] == len(listed["jobs"])
    answer = _get(shapes, f"jobs/{job.id}/results")
    assert answer.status_code == 410 and answer.json()["type"].endswith("/job-dismissed")
    status = _get(shapes, f"jobs/{job.id}").json()  # its status and log stay readable
    assert (status["status"], status["jobID"]) == ("dismissed", job.id)
