"""Issue 8, item 14 (the ADES's part): a failed stage-out left a partial catalog in the bucket;
job folders stayed on disk forever; dismissing a finished job left its results in the bucket."""

from __future__ import annotations

import glob

import pytest

from .ades_jobs import bucket_text, deploy, execute, logs, publish_image, sh_process, status, wait

pytestmark = pytest.mark.platform

# The tool waits, then writes zz/data.txt; meanwhile the test puts an object at the key
# processing-results/<job>/zz, so that S3 (rclone over a folder) cannot store zz/data.txt: the
# upload fails midway (after catalog.json, in name order).
BLOCKED = r'''
sleep 8
mkdir zz && echo data > zz/data.txt
'''


@pytest.fixture(scope="module")
def tools(platform, alice, tmp_path_factory):
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(alice, sh_process("blocked", BLOCKED))
    deploy(alice, sh_process("fine", "echo fine > loot.txt"))


def test_a_failed_stage_out_leaves_nothing_in_the_bucket(platform, tools, alice, ensure_bucket):
    job = execute(alice, "blocked")
    assert wait(alice, job, 60, until=("running", "failed"))["status"] == "running"
    s3 = s3_client(platform)
    s3.head_bucket(Bucket="user-alice")  # made by an earlier stage-out of this user
    s3.put_object(Bucket="user-alice", Key=f"processing-results/{job}/zz", Body=b"in the way")
    final = wait(alice, job)
    assert final["status"] == "failed" and "stage-out failed" in final["message"], final
    assert bucket_text(platform, "alice", f"processing-results/{job}/") == {}


@pytest.fixture
def ensure_bucket(platform, tools, alice):
    """alice's bucket exists (a first successful job makes it)."""
    if not bucket_text(platform, "alice"):
        assert wait(alice, execute(alice, "fine"))["status"] == "successful"


def s3_client(platform):
    from eopde.apppkg.stagein import s3_client as make

    s = platform.secrets
    return make(platform.url("storage"), s["s3_access_key"], s["s3_secret_key"], None)


def test_a_finished_jobs_work_folder_is_removed_and_its_log_kept(platform, tools, alice):
    job = execute(alice, "fine")
    assert wait(alice, job)["status"] == "successful"
    job_dir = platform.home / "ades" / "jobs" / job
    left = sorted(p.relative_to(job_dir).as_posix() for p in job_dir.rglob("*"))
    assert set(left) <= {"job.log", "steps", "steps/run.log"}, left
    assert not glob.glob(f"/var/lib/eopde/jobs/*/{job}")
    assert "Final process status is success" in logs(alice, job)


def test_dismissing_a_finished_job_deletes_its_results(platform, tools, alice):
    job = execute(alice, "fine")
    assert wait(alice, job)["status"] == "successful"
    prefix = f"processing-results/{job}/"
    assert f"{prefix}catalog.json" in bucket_text(platform, "alice", prefix)
    with alice.client() as c:
        r = c.delete(alice.ades(f"/jobs/{job}"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dismissed"
    assert "results were deleted" in r.json()["message"]
    assert bucket_text(platform, "alice", prefix) == {}
    assert status(alice, job)["status"] == "dismissed"
