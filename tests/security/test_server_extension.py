"""The wizard's REST API (eopde.server, under /user/<name>/eopde/) through the hub.

Attacks: another user (mallory) or nobody calls alice's wizard API to read her notebooks'
parameters or package them; alice's own server is asked for a notebook outside her folder
(`..`, an absolute path, a symbolic link out of it) or to validate a CWL "file" named by path.
Steps 5-9: mallory cannot start, follow or cancel alice's test runs, deploy, execute, follow,
publish or search through her server; alice's server talks only to the ADES endpoints its
configuration names (a URL in the request is refused before any connection: her token would go
to it); a test run's notebook is confined as the others are.
Every answer is refused without a byte of what was asked for."""

from __future__ import annotations

import json

import httpx
import pytest

from extension_install import install_for_user, spawn
from untouched import untouched_listener

pytestmark = pytest.mark.platform

SECRET = "ALICE-PRIVATE-MARKER-7f3a"


def _notebook(title: str) -> str:
    return json.dumps({
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": f"# {title}\n\nPrivate.\n"},
            {"cell_type": "code", "execution_count": None, "metadata": {"tags": ["parameters"]},
             "outputs": [], "source": f"threshold = 0.4  # {title}\n"},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 4})


@pytest.fixture(scope="module")
def alice_server(platform, alice, mallory):
    """alice's server running with the server extension, a private notebook in her home; a
    notebook of mallory's (outside alice's root) that alice's requests must not reach."""
    install_for_user(platform, alice.name, alice.token)
    home = platform.settings().users_dir / alice.name
    (home / "private.ipynb").write_text(_notebook(SECRET))
    other = platform.settings().users_dir / mallory.name
    other.mkdir(mode=0o700, exist_ok=True)
    (other / "theirs.ipynb").write_text(_notebook(SECRET))
    link = home / "escape.ipynb"
    link.unlink(missing_ok=True)
    link.symlink_to(other / "theirs.ipynb")
    spawn(platform, alice.name, alice.token)
    return f"{platform.hub_url}/user/{alice.name}/eopde"


def _post(url: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(url, json=body, headers=headers or {}, timeout=60, follow_redirects=False)


def test_alice_uses_her_own_wizard_api(alice_server, alice):
    """The positive control: the same requests succeed for their owner."""
    assert httpx.get(f"{alice_server}/version", headers=alice.headers, timeout=30).status_code \
        == 200
    answer = _post(f"{alice_server}/parameters", {"path": "private.ipynb"}, alice.headers)
    assert answer.status_code == 200
    assert answer.json()["parameters"][0]["label"] == SECRET


@pytest.mark.parametrize("route, body", [
    ("parameters", {"path": "private.ipynb"}),
    ("package", {"path": "private.ipynb"}),
    ("validate", {"cwl": "cwlVersion: v1.2\nclass: Workflow\n"}),
])
def test_another_user_cannot_call_alices_wizard_api(alice_server, mallory, route, body):
    answer = _post(f"{alice_server}/{route}", body, mallory.headers)
    assert answer.status_code == 403
    assert SECRET not in answer.text


STEP_ROUTES = [("runs", {"path": "private.ipynb"}), ("deploy/preview", {"path": "private.ipynb"}),
               ("deploy", {"path": "private.ipynb", "ades": "local"}),
               ("process", {"ades": "local", "process": "p"}),
               ("execute", {"ades": "local", "process": "p"}),
               ("job", {"ades": "local", "job": "j"}), ("dismiss", {"ades": "local", "job": "j"}),
               ("results", {"ades": "local", "job": "j"}),
               ("publish", {"ades": "local", "job": "j"}), ("search", {"limit": 1})]


@pytest.mark.parametrize("route, body", STEP_ROUTES)
def test_another_user_cannot_use_alices_steps_5_to_9(alice_server, mallory, route, body):
    answer = _post(f"{alice_server}/{route}", body, mallory.headers)
    assert answer.status_code == 403
    assert SECRET not in answer.text
    for method in ("GET", "DELETE"):
        answer = httpx.request(method, f"{alice_server}/runs/0123abcd", headers=mallory.headers,
                               timeout=30, follow_redirects=False)
        assert answer.status_code == 403


def test_alices_server_sends_her_token_to_no_ades_the_request_names(alice_server, alice):
    """A listener stands for an attacker's server: no request ever reaches it."""
    with untouched_listener() as url:
        for route, body in STEP_ROUTES[2:9]:
            answer = _post(f"{alice_server}/{route}", {**body, "ades": url}, alice.headers)
            assert answer.status_code == 400, answer.text
            assert answer.json()["field"] == "ades"


def test_a_test_run_reads_no_notebook_outside_her_folder(alice_server, alice, platform):
    for path, status in ((f"../{'mallory'}/theirs.ipynb", 403), ("escape.ipynb", 403)):
        for route in ("runs", "deploy/preview", "deploy"):
            answer = _post(f"{alice_server}/{route}", {"path": path, "ades": "local"},
                           alice.headers)
            assert (answer.status_code, answer.json()["field"]) == (status, "path")
            assert SECRET not in answer.text
            assert str(platform.settings().users_dir) not in answer.text


@pytest.mark.parametrize("route", ["version", "parameters", "package", "validate"])
def test_nobody_logged_in_gets_nothing(alice_server, route):
    if route == "version":
        answer = httpx.get(f"{alice_server}/{route}", timeout=30, follow_redirects=False)
    else:
        answer = _post(f"{alice_server}/{route}", {"path": "private.ipynb"})
    assert answer.status_code in (302, 403)  # to the hub's login, or refused
    assert SECRET not in answer.text


@pytest.mark.parametrize("path, status", [
    (f"../{'mallory'}/theirs.ipynb", 403),
    ("/etc/passwd", 400),
    ("escape.ipynb", 403),
    (".ipynb_checkpoints/private-checkpoint.ipynb", 403),
])
def test_alices_server_reads_no_notebook_outside_her_folder(alice_server, alice, platform,
                                                             path, status):
    for route in ("parameters", "package"):
        answer = _post(f"{alice_server}/{route}", {"path": path}, alice.headers)
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["field"] == "path"
        assert SECRET not in answer.text
        assert str(platform.settings().users_dir) not in answer.text


def test_validate_reads_no_file_named_by_the_request(alice_server, alice, platform):
    secrets = str(platform.home / "secrets.json")
    for cwl in (secrets, "/etc/passwd", f"cwlVersion: v1.2\n$graph:\n- run: {secrets}\n"):
        answer = _post(f"{alice_server}/validate", {"cwl": cwl}, alice.headers)
        assert answer.status_code == 200
        assert answer.json()["valid"] is False
        assert platform.secrets["service_token"] not in answer.text
        assert "root:x:" not in answer.text
