"""The panels' REST API (eopde.server catalogue and jobs routes, under /user/<name>/eopde/)
through the hub.

Attacks: mallory (or nobody) calls alice's panel API to list, read or dismiss her jobs; mallory
asks her own server for alice's job by id (logs, results, publish, dismiss); mallory's server is
pointed at a catalogue or an ADES she runs, to collect the platform token her server holds (a
token handed to a third party is a token stolen: that server could then act as her anywhere)."""

from __future__ import annotations

import json

import httpx
import pytest

from catalogue_endpoints import recorder
from extension_install import install_for_user, spawn
from security.ades_jobs import deploy, execute, publish_image, sh_process, wait
from untouched import untouched_listener

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def servers(platform, alice, mallory, tmp_path_factory):
    """alice's and mallory's servers with the extension; a finished job of alice's."""
    for user in (alice, mallory):
        install_for_user(platform, user.name, user.token)
        spawn(platform, user.name, user.token)
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(alice, sh_process("alice-private-tool", "echo ALICE-JOB-SECRET"))
    job = execute(alice, "alice-private-tool")
    assert wait(alice, job)["status"] == "successful"
    return {"alice": f"{platform.hub_url}/user/{alice.name}/eopde",
            "mallory": f"{platform.hub_url}/user/{mallory.name}/eopde", "job": job}


def _get(url: str, headers: dict, method: str = "GET", **kwargs) -> httpx.Response:
    return httpx.request(method, url, headers=headers, timeout=60, follow_redirects=False,
                         **kwargs)


def test_alice_sees_her_job_in_her_panel(servers, alice):
    """The positive control."""
    answer = _get(f"{servers['alice']}/jobs", alice.headers)
    assert answer.status_code == 200
    assert servers["job"] in [j["id"] for j in answer.json()["jobs"]]
    logs = _get(f"{servers['alice']}/jobs/{servers['job']}/logs", alice.headers)
    assert "ALICE-JOB-SECRET" in json.dumps(logs.json()["step_logs"])


@pytest.mark.parametrize("path,method", [("jobs", "GET"), ("jobs/{job}", "GET"),
                                         ("jobs/{job}/logs", "GET"),
                                         ("jobs/{job}/results", "GET"),
                                         ("jobs/{job}/publish", "POST"),
                                         ("jobs/{job}", "DELETE"),
                                         ("catalogue/catalogues", "GET")])
def test_nobody_else_reaches_alice_panel_api(servers, mallory, anonymous, path, method):
    url = f"{servers['alice']}/{path.format(job=servers['job'])}"
    for headers in (mallory.headers, {}):
        answer = _get(url, headers, method)
        assert answer.status_code in (302, 403), (headers, answer.status_code)
        assert servers["job"] not in answer.text and "ALICE-JOB-SECRET" not in answer.text


@pytest.mark.parametrize("path,method", [("jobs/{job}", "GET"), ("jobs/{job}/logs", "GET"),
                                         ("jobs/{job}/results", "GET"),
                                         ("jobs/{job}/publish", "POST"),
                                         ("jobs/{job}", "DELETE")])
def test_mallory_own_server_does_not_give_alice_job(servers, mallory, alice, path, method):
    url = f"{servers['mallory']}/{path.format(job=servers['job'])}"
    answer = _get(url, mallory.headers, method)
    assert answer.status_code == 404, answer.text
    assert "ALICE-JOB-SECRET" not in answer.text
    assert servers["job"] not in [j["id"] for j in _get(
        f"{servers['mallory']}/jobs", mallory.headers).json()["jobs"]]
    assert wait(alice, servers["job"])["status"] == "successful"  # not dismissed


def test_a_catalogue_on_an_internal_address_is_not_asked(servers, mallory):
    with recorder() as (url, seen):
        collections = _get(f"{servers['mallory']}/catalogue/collections", mallory.headers,
                           params={"url": url})
    # a catalogue on an internal address is not even asked (test_catalogue_panel_ssrf.py); an
    # ADES named by URL is refused before any connection (test below)
    assert collections.status_code == 400 and "is refused" in collections.text
    assert seen == [], seen


JOB_ROUTES = [("jobs", "GET"), ("jobs/{job}", "GET"), ("jobs/{job}/logs", "GET"),
              ("jobs/{job}/results", "GET"), ("jobs/{job}/publish", "POST"),
              ("jobs/{job}", "DELETE")]


def test_no_jobs_route_reaches_an_ades_the_request_names(servers, mallory):
    """The jobs panel talks to configured ADES endpoints only: a URL in `ades` (query or body)
    is refused before any connection (the server would send the user's token to it). A
    listener stands for the attacker's ADES: nothing ever connects to it."""
    with untouched_listener() as url:
        for path, method in JOB_ROUTES:
            target = f"{servers['mallory']}/{path.format(job='some-job')}"
            answer = _get(target, mallory.headers, method, params={"ades": url},
                          **({"json": {"ades": url}} if method == "POST" else {}))
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["field"] == "ades" and "is configured" in answer.text
