"""The local ADES on the running platform, driven as users and other clients would: deploy,
describe, execute, follow, results in S3, dismiss, undeploy; isolation between users; a
client not written here; a restart with jobs running and queued."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from notebook_apps import publish_app, write_app_notebook

pytestmark = pytest.mark.platform

APP_PARAMETERS = """seconds: float = 0.0  # How long the app works before writing its result, in seconds
label: str = "hello"  # A word written into the result"""

APP_CODE = """import json, time
from eopde.outputs import save
time.sleep(seconds)
with open("result.json", "w") as f:
    json.dump({"label": label, "seconds": seconds}, f)
save({"result": "result.json"}, id=f"sleepy-{label}", datetime="2025-07-01T10:00:00Z",
     geometry={"type": "Point", "coordinates": [12.1, 43.15]}, bbox=[12.1, 43.15, 12.1, 43.15])"""


@pytest.fixture(scope="module")
def packages(platform, ades_user_env, tmp_path_factory):
    """The NDVI tutorial app and a 'sleepy' app, packaged and published as local images."""
    work = tmp_path_factory.mktemp("ades-apps")
    notebook = write_app_notebook(work / "sleepy.ipynb", APP_PARAMETERS, APP_CODE,
                                  intro="# Sleepy\n\nWaits, then writes a result.")
    ada = dict(author="Ada Lovelace", email="ada@example.org")
    sleepy = publish_app(notebook, work / "sleepy", "sleepy", **ada)
    ndvi = publish_app(Path(__file__).resolve().parent.parent / "notebooks" / "apps" /
                       "ndvi.ipynb", work / "ndvi", "ndvi", **ada)
    return {"sleepy": sleepy, "ndvi": ndvi}


def client_for(platform, user: str):
    from eopde.ades import Client

    token = platform.eopde("token", user).stdout.strip()
    return Client(f"{platform.url('ades')}/{{user}}/ogc-api", user=user, token=token)


@pytest.fixture(scope="module")
def demo(platform):
    return client_for(platform, "demo")


@pytest.fixture(scope="module")
def alice(platform):
    return client_for(platform, "alice")


def test_deploy_describe_execute_results_undeploy(demo, packages, platform):
    from pystac_client import Client as StacClient

    from eopde.ades.errors import NoSuchProcess

    summary = demo.deploy(packages["ndvi"].directory, replace_existing=True)
    assert summary.id == "ndvi" and summary.mutable is True
    description = demo.describe("ndvi")
    assert description.inputs["scene"]["schema"] == {"type": "string", "format": "uri"}
    assert description.inputs["cloud_mask"]["schema"]["type"] == "boolean"
    assert "ndvi" in [p.id for p in demo.processes()]

    scene = next(StacClient.open(platform.url("catalogue")).search(
        collections=["sentinel-2-l2a"], max_items=1).items())
    job = demo.execute("ndvi", {"scene": scene, "cloud_mask": True})
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = job.status()
        seen.add(status.status)
        if status.status in ("successful", "failed"):
            break
        time.sleep(0.3)
    assert status.status == "successful", (status.message, job.logs()[-2000:])
    assert seen & {"accepted", "running"}
    results = job.results()
    assert results.catalog_url == f"s3://user-demo/processing-results/{job.id}/catalog.json"
    [item] = list(results.items())
    assert item.id == f"{scene.id}-ndvi" and item.bbox and item.datetime == scene.datetime
    assert "no container engine" in job.logs()
    # One log per CWL step, linked from the status document as ZOO's ADES does.
    tool_logs = [link for link in status.links if link.get("title", "").startswith("Tool log")]
    assert [link["title"] for link in tool_logs] == ["Tool log notebook.log"]
    import httpx

    step_log = httpx.get(tool_logs[0]["href"], headers={"Authorization": f"Bearer {demo.token}"})
    assert step_log.status_code == 200 and "papermill" in step_log.text

    demo.undeploy("ndvi")
    with pytest.raises(NoSuchProcess):
        demo.describe("ndvi")


def test_dismiss_stops_a_running_job(demo, packages):
    demo.deploy(packages["sleepy"].directory, replace_existing=True)
    job = demo.execute("sleepy", {"seconds": 120, "label": "dismissed"})
    deadline = time.monotonic() + 60
    while job.status().status != "running" and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(3)  # let the tool itself start
    began = time.monotonic()
    job.dismiss()
    assert job.status().status == "dismissed"
    assert time.monotonic() - began < 30


def test_second_user_sees_nothing_of_the_first(demo, alice, packages):
    from eopde.ades.errors import NoSuchJob, NoSuchProcess

    demo.deploy(packages["sleepy"].directory, replace_existing=True)
    job = demo.execute("sleepy", {"seconds": 0, "label": "private"})
    assert "sleepy" not in [p.id for p in alice.processes()]
    with pytest.raises(NoSuchProcess):
        alice.describe("sleepy")
    with pytest.raises(NoSuchJob):
        alice.job(job.id).status()
    assert job.id not in [j.id for j in alice.jobs()]
    with pytest.raises(NoSuchProcess):
        alice.undeploy("sleepy")
    # alice's token in demo's prefix: 404, as if nothing were there
    import httpx

    response = httpx.get(demo.url + "/processes/sleepy", headers={
        "Authorization": f"Bearer {alice.token}"})
    assert response.status_code == 404
    assert demo.describe("sleepy").id == "sleepy"  # still there for its owner
    job.wait(timeout=120, progress=False)


def test_a_client_not_written_here_lists_describes_and_executes(demo, packages):
    """ogc-api-processes-client (generated from the OGC OpenAPI) and OWSLib drive the ADES."""
    from ogc_api_processes_client import Configuration
    from ogc_api_processes_client.api_client_wrapper import ApiClientWrapper
    from owslib.ogcapi.processes import Processes

    demo.deploy(packages["sleepy"].directory, replace_existing=True)
    headers = {"Authorization": f"Bearer {demo.token}"}
    owslib = Processes(demo.url, headers=headers)
    assert "sleepy" in [p["id"] for p in owslib.processes()]
    assert set(owslib.process("sleepy")["inputs"]) == {"seconds", "label"}

    client = ApiClientWrapper(Configuration(host=demo.url),
                              header_name="Authorization", header_value=f"Bearer {demo.token}")
    listed = client.get_processes()
    assert "sleepy" in [p.id for p in listed.processes]
    described = client.get_process_description("sleepy")
    assert described.id == "sleepy"
    status = client.execute_simple("sleepy", {"inputs": {"seconds": 0, "label": "third-party"}},
                                   _headers={"Prefer": "respond-async",
                                             "Content-Type": "application/json", **headers})
    deadline = time.monotonic() + 120
    while status.status.value not in ("successful", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = client.get_status(status.job_id)
    assert status.status.value == "successful"


def test_restart_accounts_for_every_job(demo, packages, platform):
    demo.deploy(packages["sleepy"].directory, replace_existing=True)
    running = [demo.execute("sleepy", {"seconds": 120, "label": f"r{i}"}) for i in range(2)]
    queued = demo.execute("sleepy", {"seconds": 0, "label": "queued"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(
            j.status().status == "running" for j in running):
        time.sleep(0.3)
    assert [j.status().status for j in running] == ["running", "running"]
    assert queued.status().status == "accepted"  # two workers, both busy

    os.kill(platform.status()["ades"]["pid"], signal.SIGKILL)
    platform.eopde("up")
    statuses = {j.id: j.status() for j in running}
    for status in statuses.values():
        assert status.status == "failed" and "restarted" in status.message
    final = queued.wait(timeout=120, progress=False)
    assert final.status == "successful"
    every = {j.id: j.status for j in demo.jobs(process_id="sleepy")}
    assert not [jid for jid, s in every.items() if s in ("running", "accepted")], every


def test_reachable_through_the_hub(demo, packages, platform):
    """Clients elsewhere use {hub}/services/ades/{user}/ogc-api; links keep that prefix."""
    from eopde.ades import Client

    remote = Client(f"{platform.hub_url}/services/ades/{{user}}/ogc-api", user="demo",
                    token=demo.token)
    remote.deploy(packages["sleepy"].directory, replace_existing=True)
    job = remote.execute("sleepy", {"seconds": 0, "label": "via-hub"})
    status = job.wait(timeout=120, progress=False)
    assert status.status == "successful"
    assert all(link["href"].startswith(f"{platform.hub_url}/services/ades/demo/ogc-api/")
               for link in status.links)
    import httpx

    anonymous = httpx.get(f"{platform.hub_url}/services/ades/demo/ogc-api/processes")
    assert anonymous.status_code == 401
