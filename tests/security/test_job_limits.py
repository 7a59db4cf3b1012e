"""Issue 8, item 9: no job time limit and no fair share: two endless jobs of one user kept
another user's job queued (the test platform has two ADES workers)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from .ades_jobs import deploy, dismiss_all, execute, publish_image, sh_process, status, wait

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def tools(platform, mallory, alice, tmp_path_factory):
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(mallory, sh_process("endless", 'sleep 600 # "$1"', ("marker",)))
    deploy(alice, sh_process("quick", "true"))
    yield
    dismiss_all(mallory)
    dismiss_all(alice)


def _processes_with(marker: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker.encode() in (p / "cmdline").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def test_a_job_past_its_time_limit_is_stopped_and_fails(tools, mallory):
    marker = "endless-" + secrets.token_hex(6)
    job = execute(mallory, "endless", {"marker": marker}, timeout=3)
    final = wait(mallory, job, 60)
    assert final["status"] == "failed", final
    assert "time limit of 3 s" in final["message"]
    time.sleep(1)
    assert not _processes_with(marker)


def test_a_time_limit_above_the_ceiling_is_refused(tools, mallory):
    with mallory.client() as c:
        r = c.post(mallory.ades("/processes/endless/execution"),
                   json={"inputs": {}, "timeout": 10 ** 9}, headers={"Prefer": "respond-async"})
        assert r.status_code == 400, r.text
        assert "at most" in r.json()["detail"]
        r = c.post(mallory.ades("/processes/endless/execution"),
                   json={"inputs": {}, "timeout": "soon"}, headers={"Prefer": "respond-async"})
        assert r.status_code == 400 and "timeout" in r.json()["detail"]
        jobs = c.get(mallory.ades("/jobs"), params={"status": "accepted,running"}).json()
    assert jobs["numberTotal"] == 0  # nothing was created


def test_one_users_endless_jobs_do_not_keep_another_users_job_waiting(tools, mallory, alice):
    hogs = [execute(mallory, "endless", {"marker": f"hog{i}"}, timeout=300) for i in range(2)]
    try:
        for job in hogs:
            assert wait(mallory, job, 60, until=("running", "failed"))["status"] == "running"
        job = execute(alice, "quick")
        final = wait(alice, job, 90)
        assert final["status"] == "successful", final
        assert [status(mallory, h)["status"] for h in hogs] == ["running", "running"]
        # mallory's third job waits: mallory holds more than a fair share
        third = execute(mallory, "endless", {"marker": "hog3"}, timeout=300)
        time.sleep(3)
        assert status(mallory, third)["status"] == "accepted"
    finally:
        dismiss_all(mallory)
