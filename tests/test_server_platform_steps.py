"""The wizard's steps 6-9 handlers through a real Jupyter server (`jp_fetch`) against the local
platform's ADES, workspace and catalogue, as a user's server has them: deploy (then what a
replace changes, refused without `replace`), the process description, execute, status with
per-step logs, results, publish; a bad input on its field; a job cancelled; the item picker's
search."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from test_server_steps import META, call, notebook  # noqa: F401  (fixtures)
from workspace_helpers import drop_collections

pytestmark = pytest.mark.platform
pytest_plugins = ["pytest_jupyter.jupyter_server"]

USER = "demo"
APP_ID = "wizard-plot-survey"


@pytest.fixture
def user_env(platform, monkeypatch):
    """What the hub puts in a user's server: the endpoints, the user, a token, their storage.
    Afterwards the process is undeployed and what was published goes: other tests list the
    whole catalogue."""
    endpoints = json.loads((platform.home / "endpoints.json").read_text())
    token = platform.eopde("token", USER).stdout.strip()
    keys = httpx.get(f"{endpoints['EOPDE_WORKSPACE_URL']}/workspaces/ws-{USER}",
                     headers={"Authorization": f"Bearer {token}"}).json()
    keys = keys["storage"]["credentials"]
    values = {**endpoints, "EOPDE_TOKEN": token, "JUPYTERHUB_USER": USER,
              "EOPDE_IMAGES_DIR": str(platform.home / "images"),
              "EOPDE_CONFIG": str(platform.home / "no-platforms.toml"),
              "AWS_ACCESS_KEY_ID": keys["access"], "AWS_SECRET_ACCESS_KEY": keys["secret"],
              "AWS_ENDPOINT_URL_S3": endpoints["EOPDE_S3_ENDPOINT"],
              "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield values
    from eopde.ades import Client

    with Client(endpoints["EOPDE_ADES_URL"], user=USER, token=token) as ades:
        try:
            ades.undeploy(APP_ID)
        except Exception:
            pass
    drop_collections(endpoints["EOPDE_CATALOGUE_URL"], {token: [f"ws-{USER}"]})


async def wait_job(jp_fetch, job_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, s = await call(jp_fetch, "POST", "job", {"ades": "local", "job": job_id,
                                                      "logs": True})
        assert code == 200, s
        if s["status"] not in ("accepted", "running"):
            return s
        await asyncio.sleep(1)
    raise AssertionError("the job did not end")


async def test_deploy_execute_monitor_publish(jp_fetch, notebook, user_env):  # noqa: F811
    code, found = await call(jp_fetch, "GET", "ades")
    assert (code, found["default"]) == (200, "local")
    assert found["endpoints"] == [{"name": "local", "url": user_env["EOPDE_ADES_URL"]}]

    body = {"path": notebook, "metadata": {**META, "id": APP_ID}, "ades": "local"}
    code, preview = await call(jp_fetch, "POST", "deploy/preview", body)
    assert (code, preview["exists"], preview["diff"]) == (200, False, ""), preview
    code, deployed = await call(jp_fetch, "POST", "deploy", body)
    assert (code, deployed["id"], deployed["version"]) == (200, APP_ID, "0.3.0"), deployed

    # deployed: a new version says what changes, and is refused without `replace`
    newer = {**body, "metadata": {**body["metadata"], "version": "0.4.0"}}
    code, preview = await call(jp_fetch, "POST", "deploy/preview", newer)
    assert (code, preview["exists"], preview["deployed_version"]) == (200, True, "0.3.0")
    assert preview["changes"] == ["version 0.3.0 → 0.4.0"]
    diff = preview["diff"].splitlines()
    assert diff[:2] == ["--- deployed", "+++ new"]
    assert "-s:softwareVersion: 0.3.0" in diff and "+s:softwareVersion: 0.4.0" in diff
    code, refused = await call(jp_fetch, "POST", "deploy", newer)
    assert (code, refused["field"]) == (409, "replace")
    code, deployed = await call(jp_fetch, "POST", "deploy", {**newer, "replace": True})
    assert (code, deployed["version"], deployed["replaced"]) == (200, "0.4.0", True)

    code, process = await call(jp_fetch, "POST", "process", {"ades": "local",
                                                            "process": APP_ID})
    assert code == 200 and sorted(process["inputs"]) == ["plot", "wait_s"]

    code, refused = await call(jp_fetch, "POST", "execute", {
        "ades": "local", "process": APP_ID, "inputs": {"wait_s": "soon"}})
    assert (code, refused["field"]) == (422, "inputs"), refused

    code, job = await call(jp_fetch, "POST", "execute", {
        "ades": "local", "process": APP_ID, "inputs": {"plot": "R-9", "wait_s": 0}})
    assert code == 200 and job["status"] in ("accepted", "running"), job
    end = await wait_job(jp_fetch, job["id"])
    assert (end["status"], end["progress"]) == ("successful", 100), end
    assert end["step_logs"] and all(log["text"] for log in end["step_logs"])
    assert [log["title"] for log in end["step_logs"]] == end["logs"]
    code, results = await call(jp_fetch, "POST", "results", {"ades": "local", "job": job["id"]})
    assert code == 200, results
    assert [i["id"] for i in results["items"]] == ["survey-R-9"]

    code, published = await call(jp_fetch, "POST", "publish", {"ades": "local",
                                                               "job": job["id"]})
    assert code == 200, published
    assert published["collection"] == f"ws-{USER}"
    assert published["created"] + published["updated"] == ["survey-R-9"]


async def test_a_job_is_cancelled_and_items_are_searched(jp_fetch, notebook,  # noqa: F811
                                                         user_env):
    body = {"path": notebook, "metadata": {**META, "id": APP_ID}, "ades": "local",
            "replace": True}
    assert (await call(jp_fetch, "POST", "deploy", body))[0] == 200
    code, job = await call(jp_fetch, "POST", "execute", {
        "ades": "local", "process": APP_ID, "inputs": {"wait_s": 300}})
    assert code == 200, job
    code, stopped = await call(jp_fetch, "POST", "dismiss", {"ades": "local", "job": job["id"]})
    assert (code, stopped["status"]) == (200, "dismissed"), stopped
    assert (await wait_job(jp_fetch, job["id"], 30))["status"] == "dismissed"

    code, found = await call(jp_fetch, "POST", "search", {"collections": ["sentinel-2-l2a"],
                                                          "limit": 3})
    assert code == 200, found
    assert len(found["items"]) == 3
    assert all(i["href"].startswith(user_env["EOPDE_CATALOGUE_URL"]) for i in found["items"])
    code, refused = await call(jp_fetch, "POST", "search", {"limit": 5000})
    assert (code, refused["field"]) == (400, "limit")
