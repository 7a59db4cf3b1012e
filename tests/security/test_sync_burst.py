"""Issue 8, item 6: synchronous executes held a worker thread each; 42 of them, abandoned by
their client, blocked every user's requests."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from .ades_jobs import deploy, dismiss_all, execute, publish_image, sh_process, status

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def tools(platform, mallory, alice, tmp_path_factory):
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(mallory, sh_process("slow", "sleep 30"))
    deploy(alice, sh_process("quick", "true"))
    yield
    dismiss_all(mallory)


def _abandoned_sync_execute(user, codes: list) -> None:
    # 5 s: the refusals come at once; a loaded machine took more than 1.5 s to refuse some.
    try:
        with httpx.Client(headers=user.headers, timeout=5) as c:
            r = c.post(user.ades("/processes/slow/execution"), json={"inputs": {}})
            codes.append(r.status_code)
    except httpx.TimeoutException:
        codes.append("abandoned")


# A stalled ADES answers when the 30 s sleeps end (past the clients' 10 s timeout); a healthy one
# at once. 5 s leaves room for a loaded machine (answers took 1.2-2.8 s at load 20-27) and still
# tells the two apart.
STALLED = 5.0


def _unfinished(user) -> int:
    with user.client() as c:
        return c.get(user.ades("/jobs"),
                     params={"status": "accepted,running"}).json()["numberTotal"]


def test_abandoned_sync_executes_do_not_stall_the_ades(tools, mallory, alice):
    job = execute(alice, "quick")
    codes: list = []
    burst = [threading.Thread(target=_abandoned_sync_execute, args=(mallory, codes))
             for _ in range(40)]
    for t in burst:
        t.start()
    for t in burst:
        t.join()
    assert len(codes) == 40 and 500 not in codes, codes
    assert set(codes) <= {429, "abandoned"} and codes.count(429) >= 20, codes  # refused at once
    took = {}
    with httpx.Client(headers=alice.headers, timeout=10) as c:
        for path in ("/jobs", f"/jobs/{job}", "/processes", "/jobs", f"/jobs/{job}"):
            t0 = time.monotonic()
            r = c.get(alice.ades(path))
            took.setdefault(path, []).append(time.monotonic() - t0)
            assert r.status_code == 200, (path, r.text)
    print("answer times after the burst:", took)
    assert all(t < STALLED for times in took.values() for t in times), took
    with httpx.Client(headers=mallory.headers, timeout=10) as c:
        t0 = time.monotonic()
        r = c.get(mallory.ades("/jobs"))
        assert r.status_code == 200 and time.monotonic() - t0 < STALLED
    # the abandoned executes' jobs are dismissed: nobody will read their results
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = _unfinished(mallory)
        if left == 0:
            break
        time.sleep(1)
    assert left == 0


def test_a_429_is_json_and_says_what_to_do(tools, mallory):
    """Four synchronous executes wait (each holds a slot from before its job exists, so four
    unfinished jobs mean four slots taken); the fifth is refused."""
    deadline = time.monotonic() + 60  # the last test's abandoned jobs are being dismissed
    while (before := _unfinished(mallory)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert before == 0
    codes: list = []

    def wait() -> None:
        try:
            with httpx.Client(headers=mallory.headers, timeout=90) as c:
                codes.append(c.post(mallory.ades("/processes/slow/execution"),
                                    json={"inputs": {}}).status_code)
        except httpx.HTTPError as err:
            codes.append(type(err).__name__)

    waiting = [threading.Thread(target=wait) for _ in range(4)]
    for t in waiting:
        t.start()
    try:
        deadline = time.monotonic() + 25  # before the first sleep 30 could end
        while _unfinished(mallory) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _unfinished(mallory) == 4, codes
        with mallory.client() as c:
            r = c.post(mallory.ades("/processes/slow/execution"), json={"inputs": {}})
    finally:
        dismiss_all(mallory)  # the four waits end with their dismissed jobs
        for t in waiting:
            t.join(timeout=90)
    assert r.status_code == 429, r.text
    assert "respond-async" in r.json()["detail"] and r.headers.get("retry-after")
    assert len(codes) == 4 and 429 not in codes, codes
