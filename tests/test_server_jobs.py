"""The jobs panel's REST API (eopde.server.jobs on the one ADES layer eopde.server.ades) through
a real Jupyter server (pytest-jupyter's `jp_fetch`) against the running platform's ADES and
workspace, as a user's server has them: the listing (newest first, a 304 when nothing
changed), a job's status, its logs (one followed from an offset while it runs), its results
(items and the catalog tree), publish, dismiss; a failed job; an ADES that is down; bad
requests get a 4xx JSON answer saying what to fix, never a 500."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from loopback import JsonHandler, serve
from security.ades_jobs import deploy, execute, publish_image, sh_process, wait
from security.conftest import User, platform_user
from server_helpers import exchange as call  # (status, body, headers): ETags
from workspace_helpers import drop_collections

pytestmark = pytest.mark.platform
pytest_plugins = ["pytest_jupyter.jupyter_server"]

USER = "jobspanel"


@pytest.fixture(scope="module")
def user(platform) -> User:
    return platform_user(platform, USER)


@pytest.fixture
def config(tmp_path, monkeypatch):
    """The user's platforms.toml (none at first): a test adds platforms to it."""
    path = tmp_path / "platforms.toml"
    monkeypatch.setenv("EOPDE_CONFIG", str(path))
    return path


@pytest.fixture(autouse=True)
def user_env(platform, user, ades_user_env, config, monkeypatch):
    """What the hub sets in a user's server (lib/eopde/hub/local.py), outside a hub's proxy."""
    for name in ("JUPYTERHUB_BASE_URL", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN",
                 "EOPDE_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    endpoints = json.loads((platform.home / "endpoints.json").read_text())
    for key, value in endpoints.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EOPDE_TOKEN", user.token)
    monkeypatch.setenv("JUPYTERHUB_USER", USER)


@pytest.fixture(scope="module")
def tools(platform, user, tmp_path_factory):
    """The test's processes, deployed once."""
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(user, sh_process("jobs-tool", "echo step says $1", ("word",)))
    deploy(user, sh_process("jobs-slow", "echo first; sleep 4; echo second; sleep 2"))
    deploy(user, sh_process("jobs-fail", "echo about to fail; exit 3"))
    deploy(user, sh_process("jobs-secret", "echo signing in", ("api_token",)))
    return user


async def test_listing_is_newest_first_and_a_poll_without_change_is_a_bodiless_304(
        jp_fetch, tools):
    older = execute(tools, "jobs-tool", {"word": "one"})
    newer = execute(tools, "jobs-tool", {"word": "two"})
    assert wait(tools, newer)["status"] == "successful"
    assert wait(tools, older)["status"] == "successful"

    code, listed, headers = await call(jp_fetch, "jobs")
    assert code == 200 and listed["failures"] == {} and listed["endpoints"] == ["local"]
    mine = [j["id"] for j in listed["jobs"] if j["id"] in (older, newer)]
    assert mine == [newer, older]
    job = next(j for j in listed["jobs"] if j["id"] == newer)
    assert (job["process"], job["status"], job["progress"], job["ades"]) == \
        ("jobs-tool", "successful", 100, "local")
    assert job["logs"][0] == "Job log" and any(t.startswith("Tool log") for t in job["logs"])

    etag = headers["Etag"]
    code, body, _ = await call(jp_fetch, "jobs", headers={"If-None-Match": etag})
    assert (code, body) == (304, None)
    # naming the one configured ADES is the same listing
    code, body, _ = await call(jp_fetch, "jobs", headers={"If-None-Match": etag}, ades="local")
    assert (code, body) == (304, None)
    # a change (a job dismissed) is a new body with a new tag
    code, gone, _ = await call(jp_fetch, f"jobs/{older}", "DELETE")
    assert (code, gone["status"], gone["ades"]) == (200, "dismissed", "local")
    code, body, again = await call(jp_fetch, "jobs", headers={"If-None-Match": etag})
    assert code == 200 and again["Etag"] != etag
    assert older not in [j["id"] for j in body["jobs"]]


async def test_a_running_job_log_is_followed_from_an_offset(jp_fetch, tools):
    job = execute(tools, "jobs-slow")
    pieces, offsets, running_polls = [], [0], 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code, part, _ = await call(jp_fetch, f"jobs/{job}/logs", step="Job log",
                                   offset=str(offsets[-1]))
        assert code == 200, part
        assert part["reset"] is False and part["skipped"] == 0
        pieces.append(part["text"])
        offsets.append(part["offset"])
        if part["status"] not in ("successful", "failed", "dismissed"):
            running_polls += 1
            await asyncio.sleep(1)
            continue
        break
    assert part["status"] == "successful", part
    assert running_polls >= 2  # it was followed while it ran
    assert offsets == sorted(offsets)
    code, whole, _ = await call(jp_fetch, f"jobs/{job}/logs")
    assert code == 200
    job_log = next(x["text"] for x in whole["step_logs"] if x["title"] == "Job log")
    assert "".join(pieces) == job_log
    assert job_log.index("first") < job_log.index("second")
    # the per-step logs, once it ended; one of them by its title
    step = next(x for x in whole["step_logs"] if x["title"].startswith("Tool log"))
    assert "second" in step["text"]
    code, one, _ = await call(jp_fetch, f"jobs/{job}/logs", step=step["title"])
    assert (code, one["text"], one["offset"]) == (200, step["text"], len(step["text"]))
    # an offset past the end (another log than the one read before): the whole text again
    code, again, _ = await call(jp_fetch, f"jobs/{job}/logs", step=step["title"],
                                offset=str(len(step["text"]) + 10))
    assert (code, again["reset"], again["text"]) == (200, True, step["text"])
    # a title the job has no log of: 404 naming those it has
    code, none, _ = await call(jp_fetch, f"jobs/{job}/logs", step="no such log")
    assert code == 404 and none["field"] == "step", none
    assert f"`{step['title']}`" in none["message"] and "`Job log`" in none["message"]


async def test_results_as_items_and_a_tree_then_published(jp_fetch, platform, tools, request):
    request.addfinalizer(lambda: drop_collections(platform.url("catalogue"),
                                                  {tools.token: [f"ws-{USER}"]}))
    job = execute(tools, "jobs-tool", {"word": "tree"})
    assert wait(tools, job)["status"] == "successful"
    code, results, _ = await call(jp_fetch, f"jobs/{job}/results")
    assert code == 200, results
    assert (results["id"], results["ades"], results["total"]) == (job, "local", 1)
    assert results["catalog"].startswith("s3://") and results["catalog"].endswith(
        "catalog.json")
    item = results["items"][0]
    assert (item["id"], item["geometry"], item["assets"]) == \
        ("loot", {"type": "Point", "coordinates": [0, 0]}, ["loot"])
    tree = results["tree"]
    assert (tree["type"], tree["id"], tree["more"]) == ("Catalog", "loot", False)
    assert tree["href"] == results["catalog"]
    [leaf] = tree["children"]
    assert (leaf["type"], leaf["id"]) == ("Item", "loot")
    [asset] = leaf["assets"]
    assert (asset["key"], asset["type"]) == ("loot", "text/plain")
    assert asset["href"].startswith("s3://") and asset["href"].endswith("loot.txt")

    code, published, _ = await call(jp_fetch, f"jobs/{job}/publish", "POST", {})
    assert code == 200, published
    assert (published["collection"], published["created"] + published["updated"]) == \
        (f"ws-{USER}", ["loot"])
    import httpx

    found = httpx.get(f"{platform.url('catalogue')}/collections/ws-{USER}/items/loot",
                      timeout=30)
    assert found.status_code == 200


async def test_a_failed_job_has_a_log_and_no_results(jp_fetch, tools):
    job = execute(tools, "jobs-fail")
    assert wait(tools, job)["status"] == "failed"
    code, status, _ = await call(jp_fetch, f"jobs/{job}")
    assert (code, status["status"]) == (200, "failed")
    code, refused, _ = await call(jp_fetch, f"jobs/{job}/results")
    assert code == 409 and "failed" in refused["message"] and "log" in refused["message"]
    code, refused, _ = await call(jp_fetch, f"jobs/{job}/publish", "POST", {})
    assert code == 409, refused
    code, logs, _ = await call(jp_fetch, f"jobs/{job}/logs")
    assert code == 200 and "about to fail" in "".join(x["text"] for x in logs["step_logs"])


async def test_a_running_job_has_no_results_yet(jp_fetch, tools):
    job = execute(tools, "jobs-slow")
    code, refused, _ = await call(jp_fetch, f"jobs/{job}/results")
    assert code == 409 and "wait until it is successful" in refused["message"], refused
    code, stopped, _ = await call(jp_fetch, f"jobs/{job}", "DELETE")
    assert (code, stopped["status"]) == (200, "dismissed")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_ades_that_is_down_is_named_and_the_others_still_answer(jp_fetch, config,
                                                                         tools):
    config.write_text(f'[platforms.down]\nades_url = "http://127.0.0.1:{_closed_port()}/'
                      'ogc-api"\n')
    code, listed, _ = await call(jp_fetch, "jobs")
    assert code == 200 and listed["endpoints"] == ["local", "down"]
    assert list(listed["failures"]) == ["down"]
    assert "cannot reach the ADES `down`" in listed["failures"]["down"]
    assert listed["jobs"] and {j["ades"] for j in listed["jobs"]} == {"local"}
    code, refused, _ = await call(jp_fetch, "jobs/some-job", ades="down")
    assert (code, refused["field"]) == (502, "ades")
    assert "cannot reach the ADES `down`" in refused["message"]


@pytest.mark.parametrize("route,method,body,query,status,says", [
    ("jobs/..bad", "GET", None, {}, 400, "a job id is"),
    ("jobs/no-such-job", "GET", None, {}, 404, "no-such-job"),
    ("jobs/no-such-job", "DELETE", None, {}, 404, "no-such-job"),
    ("jobs/no-such-job/logs", "GET", None, {}, 404, "no-such-job"),
    ("jobs/no-such-job/logs", "GET", None, {"step": "Job log"}, 404, "no-such-job"),
    ("jobs/no-such-job/results", "GET", None, {}, 404, "no-such-job"),
    ("jobs/no-such-job/publish", "POST", {}, {}, 404, "no-such-job"),
    ("jobs/x1/logs", "GET", None, {"step": "Job log", "offset": "-1"}, 400, "whole number"),
    ("jobs/x1/logs", "GET", None, {"step": "x" * 101}, 400, "`step` must be"),
    ("jobs/x1/publish", "POST", "not json", {}, 400, "must be JSON"),
    ("jobs/x1/publish", "POST", {"collection": "a/b"}, {}, 400, "short name"),
    ("jobs/x1/publish", "POST", {"collection": 7}, {}, 400, "short name"),
    ("jobs", "GET", None, {"ades": "nowhere"}, 400, "no ADES named `nowhere`"),
    ("jobs", "GET", None, {"ades": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}, 400,
     "at most 8"),
    ("jobs/x1", "GET", None, {"ades": "file:///etc"}, 400, "is configured"),
    ("jobs/x1", "GET", None, {"ades": "http://127.0.0.1:1/ogc-api"}, 400, "is configured"),
    ("jobs/x1/logs", "GET", None, {"ades": "javascript:alert(1)"}, 400, "is configured"),
    ("jobs/x1/results", "GET", None, {"ades": "other"}, 400, "configured: local"),
    ("jobs/x1/publish", "POST", {"ades": "https://evil.example/ogc-api"}, {}, 400,
     "is configured"),
    ("jobs/no-such-job/inputs", "GET", None, {}, 404, "no-such-job"),
    ("jobs/no-such-job/rerun", "POST", {}, {}, 404, "no-such-job"),
    ("jobs/x1/rerun", "POST", "not json", {}, 400, "must be JSON"),
    ("jobs/x1/rerun", "POST", {"ades": "http://127.0.0.1:1/ogc-api"}, {}, 400, "is configured"),
    ("jobs/x1/inputs", "GET", None, {"ades": "nowhere"}, 400, "no ADES named"),
])
async def test_bad_requests_get_a_4xx_saying_what_to_fix(jp_fetch, route, method, body, query,
                                                         status, says):
    code, answer, _ = await call(jp_fetch, route, method, body, **query)
    assert code == status, answer
    text = json.dumps(answer)
    assert says in text
    assert "Traceback" not in text and "/tmp/" not in text


async def test_a_log_that_does_not_exist_is_named_with_those_that_do(jp_fetch, tools):
    job = execute(tools, "jobs-tool", {"word": "x"})
    assert wait(tools, job)["status"] == "successful"
    code, refused, _ = await call(jp_fetch, f"jobs/{job}/logs", step="no such log")
    assert (code, refused["field"]) == (404, "step")
    assert "`Job log`" in refused["message"]


async def test_a_job_runs_again_with_the_same_inputs(jp_fetch, tools):
    first = execute(tools, "jobs-tool", {"word": "again"})
    assert wait(tools, first)["status"] == "successful"
    code, found, _ = await call(jp_fetch, f"jobs/{first}/inputs")
    assert code == 200, found
    assert (found["process"], found["inputs"], found["redacted"]) == \
        ("jobs-tool", {"word": "again"}, [])

    code, second, _ = await call(jp_fetch, f"jobs/{first}/rerun", "POST", {"ades": "local"})
    assert code == 200, second
    assert second["id"] != first and (second["process"], second["ades"]) == ("jobs-tool", "local")
    assert second["status"] in ("accepted", "running", "successful")
    assert wait(tools, second["id"])["status"] == "successful"
    code, logs, _ = await call(jp_fetch, f"jobs/{second['id']}/logs")
    assert "step says again" in "".join(x["text"] for x in logs["step_logs"])
    code, again, _ = await call(jp_fetch, f"jobs/{second['id']}/inputs")
    assert again["inputs"] == {"word": "again"}


async def test_a_job_with_a_credential_is_not_run_again_without_it(jp_fetch, tools):
    job = execute(tools, "jobs-secret", {"api_token": "tok-SECRET-4711"})
    assert wait(tools, job)["status"] == "successful"
    code, found, _ = await call(jp_fetch, f"jobs/{job}/inputs")
    assert code == 200 and found["redacted"] == ["api_token"]
    assert "tok-SECRET-4711" not in json.dumps(found)
    before = {j["id"] for j in (await call(jp_fetch, "jobs"))[1]["jobs"]}
    code, refused, _ = await call(jp_fetch, f"jobs/{job}/rerun", "POST", {})
    assert (code, refused["field"], refused["redacted"]) == (409, "inputs", ["api_token"])
    assert "Execute step" in refused["message"]
    after = {j["id"] for j in (await call(jp_fetch, "jobs"))[1]["jobs"]}
    assert after == before  # nothing was started


class _NoInputsADES(JsonHandler):
    """An ADES without `GET /jobs/{id}/inputs` (EOEPCA's zoo-project-dru has none): a stand-in,
    since that server cannot run here. It knows one finished job."""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.split("?")[0] == "/ogc-api/jobs/zoo-job":
            self.send_json(200, {"jobID": "zoo-job", "status": "successful", "processID": "p",
                                 "links": []})
        else:
            self.send_json(404, {"type": "http://www.opengis.net/def/exceptions/"
                                 "ogcapi-processes-1/1.0/not-found", "title": "NotFound",
                                 "detail": "no route"})


async def test_an_ades_without_job_inputs_says_to_use_the_wizard(jp_fetch, config):
    with serve(_NoInputsADES) as server:
        config.write_text(f'[platforms.zoo]\nades_url = "{server.url}/ogc-api"\n')
        for route, method in (("inputs", "GET"), ("rerun", "POST")):
            code, refused, _ = await call(jp_fetch, f"jobs/zoo-job/{route}", method,
                                          {"ades": "zoo"} if method == "POST" else None,
                                          **({"ades": "zoo"} if method == "GET" else {}))
            assert code == 409, refused
            assert "does not give this job's inputs back" in refused["message"]
            assert "wizard's Execute step" in refused["message"]


class _RecordingADES(JsonHandler):
    """An ADES whose jobs the test sets (`server.jobs`: id -> status), recording every request
    (`server.seen`): what the panel's polls cost the ADES. A stand-in: the request pattern is
    the point here; the real ADES answers the same routes in the tests above."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.seen.append(self.path)
        path, _, query = self.path.partition("?")
        jobs = self.server.jobs
        doc = lambda i: {"jobID": i, "status": jobs[i], "processID": "p",  # noqa: E731
                         "created": f"2026-01-01T00:00:0{sorted(jobs).index(i)}Z",
                         "links": []}
        if path == "/ogc-api/jobs":
            wanted = [s for part in query.split("&") if part.startswith("status=")
                      for s in part[7:].replace("%2C", ",").split(",")]
            found = [doc(i) for i in jobs if not wanted or jobs[i] in wanted]
            self.send_json(200, {"jobs": found, "links": []})
        elif path.startswith("/ogc-api/jobs/") and path[14:] in jobs:
            self.send_json(200, doc(path[14:]))
        else:
            self.send_json(404, {"type": "http://www.opengis.net/def/exceptions/"
                                 "ogcapi-processes-1/1.0/no-such-job", "title": "NoSuchJob",
                                 "detail": path})


async def test_a_poll_asks_the_ades_for_its_running_jobs_only(jp_fetch, config, monkeypatch):
    with serve(_RecordingADES) as server:
        server.jobs, server.seen = {"j0-old": "successful", "j1-run": "running"}, []
        config.write_text(f'[platforms.rec]\nades_url = "{server.url}/ogc-api"\n')

        async def poll(**query) -> list[tuple[str, str]]:
            server.seen.clear()
            code, listed, _ = await call(jp_fetch, "jobs", ades="rec", **query)
            assert code == 200 and listed["failures"] == {}, listed
            return [(j["id"], j["status"]) for j in listed["jobs"]]

        assert await poll() == [("j1-run", "running"), ("j0-old", "successful")]
        assert server.seen == ["/ogc-api/jobs?limit=500"]
        # one ended, one new: the running ones, and the status of the one that ended
        server.jobs.update({"j1-run": "failed", "j2-new": "accepted"})
        assert await poll() == [("j2-new", "accepted"), ("j1-run", "failed"),
                                ("j0-old", "successful")]
        assert server.seen == ["/ogc-api/jobs?status=accepted%2Crunning&limit=500",
                               "/ogc-api/jobs/j1-run"]
        # nothing running that it knew of: the running ones only
        server.jobs.update({"j2-new": "successful"})
        await poll()
        server.jobs.pop("j0-old")  # gone elsewhere: shows at the next full listing
        assert await poll() == [("j2-new", "successful"), ("j1-run", "failed"),
                                ("j0-old", "successful")]
        assert server.seen == ["/ogc-api/jobs?status=accepted%2Crunning&limit=500"]
        assert await poll(full="1") == [("j2-new", "successful"), ("j1-run", "failed")]
        assert server.seen == ["/ogc-api/jobs?limit=500"]
        monkeypatch.setattr("eopde.server.ades.FULL_EVERY", 0.0)
        await poll()
        assert server.seen == ["/ogc-api/jobs?limit=500"]
