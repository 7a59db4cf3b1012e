"""Issue 8, items 11, 13 and 15 on the ADES: revoked tokens stop working within seconds; a deeply
nested body or a huge `skip` gets a 4xx, and the connection still serves the next request; links
never follow the request's Host header; a user deleted and created again under the same name
does not inherit the old account's processes and jobs."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.platform

GOOD = (Path(__file__).resolve().parent.parent / "data" / "cwl" / "good.cwl").read_text()
CWL = {"Content-Type": "application/cwl+yaml"}


@pytest.fixture(scope="module")
def settings(platform):
    return platform.settings()


@pytest.fixture(scope="module")
def hub(platform, settings):
    """The hub's REST API as the platform's service (creates users and tokens)."""
    with httpx.Client(base_url=f"{settings.url('hub_api')}/hub/api", timeout=30, headers={
            "Authorization": f"token {platform.secrets['service_token']}"}) as client:
        yield client


@pytest.fixture(scope="module")
def ndvi(mallory):
    with mallory.client() as client:
        client.delete(mallory.ades("/processes/ndvi"))
        resp = client.post(mallory.ades("/processes"), content=GOOD, headers=CWL)
        assert resp.status_code == 201, resp.text
    return "ndvi"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_requests(url: str, requests: list[bytes]) -> list[bytes]:
    """Send each request on ONE keep-alive connection, reading each answer before the next;
    returns the raw answers (b"" when the server had closed the connection)."""
    parts = httpx.URL(url)
    answers = []
    with socket.create_connection((parts.host, parts.port), timeout=20) as sock:
        for request in requests:
            try:
                sock.sendall(request)
                answers.append(_read_response(sock))
            except (ConnectionError, socket.timeout):
                answers.append(b"")
    return answers


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def request(method: str, path: str, token: str, body: bytes = b"",
            ctype: str = "application/json", host: str = "x") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


# ------------------------------------------------------------------ 13: bad input, 4xx, no reset

def test_deeply_nested_json_is_a_400(mallory, ndvi):
    with mallory.client() as client:
        for depth in (100_000, 100):
            body = '{"inputs": {"scene": ' + nested(depth) + "}}"
            resp = client.post(mallory.ades(f"/processes/{ndvi}/execution"), content=body,
                               headers={"Content-Type": "application/json"})
            assert resp.status_code == 400, (depth, resp.status_code, resp.text[:300])
            assert "deep" in resp.json()["detail"]
        deploy = client.post(mallory.ades("/processes"),
                             content='{"executionUnit": ' + nested(100_000) + "}",
                             headers={"Content-Type": "application/ogcapppkg+json"})
        assert deploy.status_code == 400, deploy.text[:300]
        assert deploy.json()["status"] == 400


@pytest.mark.parametrize("path", ["/jobs", "/processes"])
def test_huge_skip_is_a_4xx(mallory, path):
    with mallory.client() as client:
        for skip in (10 ** 30, 2 ** 63):
            resp = client.get(mallory.ades(path), params={"skip": skip})
            assert resp.status_code == 400, (skip, resp.status_code, resp.text[:300])
            assert "skip" in resp.json()["detail"]


def test_connection_serves_the_next_request_after_an_error(mallory, ndvi):
    prefix = f"/{mallory.name}/ogc-api"
    bad = request("POST", f"{prefix}/processes/{ndvi}/execution", mallory.token,
                  ('{"inputs": {"scene": ' + nested(100_000) + "}}").encode())
    follow = request("GET", f"{prefix}/processes", mallory.token)
    answers = raw_requests(mallory.ades(), [bad, follow, bad, follow])
    assert [status_of(a) for a in answers] == [400, 200, 400, 200], \
        [a[:120] for a in answers]


# ------------------------------------------------------------------ 15: links and the Host header

def test_links_ignore_the_host_header(platform, settings, mallory, ndvi):
    direct = f"{settings.url('ades')}/{mallory.name}/ogc-api"
    proxied = f"{platform.hub_url}/services/ades/{mallory.name}/ogc-api"
    evil = {"Host": "evil.example:4444", "X-Forwarded-Host": "evil.example"}
    with mallory.client() as client:
        for url, base in ((direct, direct), (proxied, proxied)):
            for path in ("/", "/processes", f"/processes/{ndvi}", "/jobs?limit=1"):
                resp = client.get(url + path, headers=evil)
                assert resp.status_code == 200, (url + path, resp.text[:300])
                hrefs = [link["href"] for link in resp.json()["links"]]
                for doc in resp.json().get("processes", []):
                    hrefs += [link["href"] for link in doc["links"]]
                assert hrefs and all(h.startswith(base + "/") for h in hrefs), (path, hrefs)
                assert "evil.example" not in resp.text


# ------------------------------------------------------------------ 11: revocation

def test_revoked_token_stops_working_within_seconds(hub, mallory):
    made = hub.post(f"/users/{mallory.name}/tokens", json={"note": "revocation test"})
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    headers = {"Authorization": f"Bearer {token}"}
    url = mallory.ades("/processes")
    assert httpx.get(url, headers=headers).status_code == 200  # cached as valid now
    assert hub.delete(f"/users/{mallory.name}/tokens/{token_id}").status_code == 204
    revoked = time.monotonic()
    while True:
        code = httpx.get(url, headers=headers).status_code
        if code == 401:
            break
        assert code == 200
        assert time.monotonic() - revoked < 6, "a revoked token still works after 6 s"
        time.sleep(0.25)


# ------------------------------------------------------------------ 15: re-created user names

def test_recreated_user_does_not_inherit_processes_or_jobs(platform, hub):
    name = f"eve{uuid.uuid4().hex[:6]}"
    ades = f"{platform.settings().url('ades')}/{name}/ogc-api"

    def new_token() -> dict:
        assert hub.post(f"/users/{name}").status_code == 201
        made = hub.post(f"/users/{name}/tokens", json={"note": "re-created user test"})
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}

    old = new_token()
    assert httpx.post(f"{ades}/processes", content=GOOD, headers={**old, **CWL}).status_code \
        == 201
    job = httpx.post(f"{ades}/processes/ndvi/execution", headers={**old,
                     "Prefer": "respond-async"}, json={"inputs": {"scene": "https://x.invalid/i"}})
    assert job.status_code == 201, job.text
    assert hub.delete(f"/users/{name}").status_code == 204

    new = new_token()  # same name, another account
    processes = httpx.get(f"{ades}/processes", headers=new).json()
    assert processes["processes"] == [] and processes["numberTotal"] == 0, processes
    assert httpx.get(f"{ades}/processes/ndvi", headers=new).status_code == 404
    jobs = httpx.get(f"{ades}/jobs", headers=new).json()
    assert jobs["jobs"] == [] and jobs["numberTotal"] == 0, jobs
    assert httpx.get(f"{ades}/jobs/{job.json()['jobID']}", headers=new).status_code == 404
    again = httpx.post(f"{ades}/processes", content=GOOD, headers={**new, **CWL})
    assert again.status_code == 201, again.text
    # the old account's token is dead (the hub deleted it with the user)
    deadline = time.monotonic() + 6
    while httpx.get(f"{ades}/processes", headers=old).status_code != 401:
        assert time.monotonic() < deadline, "a deleted user's token still works after 6 s"
        time.sleep(0.25)
    hub.delete(f"/users/{name}")
