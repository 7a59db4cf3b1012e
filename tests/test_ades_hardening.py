"""The local ADES's defences that need no platform: the last-resort 500 keeps the connection,
deep JSON is a 400, links come from configured bases, user names are bound to account
identities, the hub verifier re-checks tokens after a few seconds."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient
from test_ades_api import GOOD, FakeExecutor

from eopde.services.ades.app import create_app
from eopde.services.ades.web import public_bases
from eopde.services.ades.auth import Principal, hub_verifier
from eopde.services.ades.store import JobStore, RetiredIdentity

PORT = 19480  # this helper's range (EOPDE_TEST_BASE_PORT 19400 + 80)


def app_with(tmp_path, verify, **kw):
    store = JobStore(f"sqlite:///{tmp_path / 'ades.db'}")
    return create_app(store=store, executor=FakeExecutor(store, tmp_path), verify_token=verify,
                      **kw), store


def test_last_resort_500_is_json_and_keeps_the_connection(tmp_path):
    import uvicorn

    def verify(token):
        if token == "bug":
            raise RuntimeError("boom /etc/secret-path")
        return "alice" if token == "ok" else None

    app, _ = app_with(tmp_path, verify, base_url="http://127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=PORT, log_level="critical",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        req = ("GET /alice/ogc-api/processes HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer {}\r\n\r\n")
        with socket.create_connection(("127.0.0.1", PORT), timeout=10) as sock:
            sock.sendall(req.format("bug").encode() + req.format("ok").encode())
            data = b""
            while data.count(b"HTTP/1.1 ") < 2 or not data.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        first, second = data.split(b"HTTP/1.1 ")[1:3]
        assert first.startswith(b"500") and b"application/problem+json" in first
        assert b"secret-path" not in first and b"RuntimeError" not in first
        assert b"reference" in first
        assert second.startswith(b"200"), data
    finally:
        server.should_exit = True
        thread.join(10)


def test_deep_bodies_are_400(tmp_path):
    app, _ = app_with(tmp_path, lambda t: "alice")
    with TestClient(app) as client:
        assert client.post("/alice/ogc-api/processes", content=GOOD,
                           headers={"Authorization": "Bearer x",
                                    "Content-Type": "application/cwl+yaml"}).status_code == 201
        for body in ('{"inputs": {"scene": ' + "[" * 70 + "]" * 70 + "}}",
                     '{"inputs": ' + "[" * 50_000 + "]" * 50_000 + "}"):
            resp = client.post("/alice/ogc-api/processes/ndvi/execution", content=body,
                               headers={"Authorization": "Bearer x"})
            assert resp.status_code == 400 and "deep" in resp.json()["detail"]


def test_links_from_configured_bases_not_the_host_header(tmp_path):
    env = {"EOPDE_ADES_URL": "http://127.0.0.1:8714/{user}/ogc-api",
           "EOPDE_HUB_URL": "http://127.0.0.1:8000", "EOPDE_ADES_PUBLIC_PATH": "/services/ades"}
    assert public_bases(env) == ("http://127.0.0.1:8714",
                                 "http://127.0.0.1:8000/services/ades")
    assert public_bases({**env, "EOPDE_ADES_PUBLIC_URL": "https://hub.example.org/services/ades/"}
                        )[1] == "https://hub.example.org/services/ades"
    store = JobStore(f"sqlite:///{tmp_path / 'ades.db'}")
    app = create_app(store=store, executor=FakeExecutor(store, tmp_path),
                     verify_token=lambda t: "alice", env=env)
    with TestClient(app) as client:
        auth = {"Authorization": "Bearer x", "Host": "evil.example"}
        direct = client.get("/alice/ogc-api/", headers=auth).json()["links"]
        proxied = client.get("/services/ades/alice/ogc-api/", headers=auth).json()["links"]
        jobs = client.get("/alice/ogc-api/jobs?limit=5", headers=auth).json()["links"]
    assert all(l["href"].startswith("http://127.0.0.1:8714/alice/ogc-api/") for l in direct)
    assert all(l["href"].startswith("http://127.0.0.1:8000/services/ades/alice/ogc-api/")
               for l in proxied)
    assert jobs[0]["href"] == "http://127.0.0.1:8714/alice/ogc-api/jobs?limit=5"


def test_a_recreated_name_starts_empty(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path / 'ades.db'}")
    app = create_app(store=store, executor=FakeExecutor(store, tmp_path, auto=False),
                     verify_token=lambda t: Principal("alice", t), base_url="http://t")
    old, new = {"Authorization": "Bearer hub:1"}, {"Authorization": "Bearer hub:2"}
    with TestClient(app) as client:
        assert client.post("/alice/ogc-api/processes", content=GOOD, headers={
            **old, "Content-Type": "application/cwl+yaml"}).status_code == 201
        job = client.post("/alice/ogc-api/processes/ndvi/execution", headers={
            **old, "Prefer": "respond-async"}, json={"inputs": {"scene": "https://x.invalid/i"}})
        assert job.status_code == 201
        assert client.get("/alice/ogc-api/processes", headers=new).json()["numberTotal"] == 0
        assert client.get("/alice/ogc-api/jobs", headers=new).json()["numberTotal"] == 0
        retired = store.get_job(job.json()["jobID"])
        assert retired.user.startswith("alice/retired-") and retired.status == "dismissed"
        # the old account's identity never comes back
        assert client.get("/alice/ogc-api/processes", headers=old).status_code == 401
    with pytest.raises(RetiredIdentity):
        store.claim_user("alice", "hub:1")
    assert store.claim_user("alice", "hub:2") == []


def test_hub_verifier_rechecks_after_ttl():
    calls = {"user": 0, "users": 0}
    valid = {"t1": {"kind": "user", "name": "alice", "created": "2026-01-01T00:00:00Z"},
             "t2": {"kind": "user", "name": "bob"},  # a server token: no `created`
             "ts": {"kind": "service", "name": "svc"}}

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            token = self.headers["Authorization"].split()[1]
            if self.path.endswith("/user"):
                calls["user"] += 1
                model = valid.get(token)
            else:
                calls["users"] += 1
                model = {"name": "bob", "created": "2026-03-01T00:00:00Z"} \
                    if token == "service" else None
            body = json.dumps(model or {}).encode()
            self.send_response(200 if model else 403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        verify = hub_verifier(f"http://127.0.0.1:{srv.server_address[1]}/hub/api", "service",
                              ttl=0.5)
        assert verify("t1") == Principal("alice", "hub:2026-01-01T00:00:00Z")
        assert verify("t1") and calls["user"] == 1  # cached
        assert verify("t2") == Principal("bob", "hub:2026-03-01T00:00:00Z")
        assert verify("ts") is None and verify("nope") is None
        del valid["t1"]  # revoked
        assert verify("t1") == Principal("alice", "hub:2026-01-01T00:00:00Z")  # still cached
        time.sleep(0.6)
        assert verify("t1") is None
    finally:
        srv.shutdown()
        srv.server_close()


def test_chained_verifier_answers_cached_hub_tokens_without_the_thread_pool():
    from stacserver import serve_routes

    from eopde.services.ades.auth import Principal, verifier_from_env

    user = (200, {"Content-Type": "application/json"},
            json.dumps({"kind": "user", "name": "alice", "created": "2026-01-01"}).encode())
    with serve_routes({"/hub/api/user": user}) as hub:
        verify = verifier_from_env({"EOPDE_HUB_API_URL": f"{hub}/hub/api",
                                    "EOPDE_SERVICE_TOKEN": "svc",
                                    "EOPDE_ADES_OIDC_ISSUER": "http://issuer.invalid"})
        assert verify.cached("tok") == (False, None)
        assert verify("tok") == Principal("alice", "hub:2026-01-01")
    assert verify.cached("tok") == (True, Principal("alice", "hub:2026-01-01"))
    assert verify.cached("a.b.c") == (False, None)  # JWTs go to the issuer first
