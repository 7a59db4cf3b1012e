"""Issue 8, item 7: a YAML alias bomb ("billion laughs", under 1 KB) cost 167 s of CPU and was
deployed. Now every parse of user YAML/JSON has alias, expansion, depth and size limits: the
bomb gets a 400 at once, a deeply nested JSON deploy body gets a 400 (not a RecursionError 500),
and the ADES keeps answering other requests meanwhile. (The execute body's depth limit is in the
ADES app, tested with the other malformed requests.)"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from cwl_attacks import alias_bomb

pytestmark = pytest.mark.platform


def _baseline(client, user) -> float:
    """Seconds an ordinary request takes now (the test machine may be busy): the limits below
    are a few of these plus 5 s; the bomb took 167 s before."""
    t0 = time.perf_counter()
    client.get(user.ades("/processes")).raise_for_status()
    return time.perf_counter() - t0


def _refused_quickly(response: httpx.Response, seconds: float, limit: float) -> None:
    assert seconds < limit, f"took {seconds:.1f} s (limit {limit:.1f} s)"
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.headers["content-type"].endswith("json")
    assert response.json()["detail"]


def test_alias_bomb_deploy_is_refused_at_once(mallory):
    bomb = alias_bomb()
    assert len(bomb) < 1024
    answered: list[float] = []

    def poll():  # another request while the bomb is being handled
        with mallory.client(timeout=60) as c:
            t0 = time.perf_counter()
            c.get(mallory.ades("/processes")).raise_for_status()
            answered.append(time.perf_counter() - t0)

    with mallory.client(timeout=60) as client:
        limit = 5 + 3 * _baseline(client, mallory)
        poller = threading.Timer(0.2, poll)
        poller.start()
        t0 = time.perf_counter()
        r = client.post(mallory.ades("/processes"), content=bomb,
                        headers={"Content-Type": "application/cwl+yaml"})
        _refused_quickly(r, time.perf_counter() - t0, limit)
        poller.join(60)
        assert "expands to more than" in r.json()["detail"]
        # the same bomb inside an OGC application package
        body = {"executionUnit": {"value": bomb, "mediaType": "application/cwl+yaml"}}
        t0 = time.perf_counter()
        r = client.post(mallory.ades("/processes"), content=json.dumps(body),
                        headers={"Content-Type": "application/ogcapppkg+json"})
        _refused_quickly(r, time.perf_counter() - t0, limit)
        t0 = time.perf_counter()
        listed = client.get(mallory.ades("/processes"))
        assert time.perf_counter() - t0 < limit
        assert "bomb" not in [p["id"] for p in listed.json()["processes"]]
    assert answered and answered[0] < limit, (answered, limit)


def test_deeply_nested_json_is_a_400(mallory):
    deep = "[" * 100_000 + "]" * 100_000
    with mallory.client(timeout=60) as client:
        limit = 5 + 3 * _baseline(client, mallory)
        t0 = time.perf_counter()
        r = client.post(mallory.ades("/processes"),
                        content='{"executionUnit": {"value": ' + deep + "}}",
                        headers={"Content-Type": "application/ogcapppkg+json"})
        _refused_quickly(r, time.perf_counter() - t0, limit)
        assert "deeper than" in r.json()["detail"]
        # and the connection still works for the next request
        assert client.get(mallory.ades("/processes")).status_code == 200
