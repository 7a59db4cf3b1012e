"""Stage-in reads s3:// inputs with the job owner's own storage keys (issue 11).

The URL policy refuses an s3:// input outside the caller's bucket up front (test_ades_ssrf.py).
Behind it, the ADES's stage-in reads with the owner's keys, which the storage part itself holds
to the owner's bucket: were the policy ever to let such a URL through, mallory's job would still
read nothing of alice's. These tests run the ADES's executor with no URL policy at all (that
hole) against the real platform's storage part and its per-user keys.
"""

from __future__ import annotations

import json
import time

import pytest

from eopde.services.ades.executor import LocalExecutor
from eopde.services.ades.stageout import StageOutTarget
from eopde.services.ades.store import JobStore, ProcessRecord

from .ades_jobs import CATALOG_SH, bucket_text

pytestmark = pytest.mark.platform

SECRET_TEXT = "alice's private field notes"

#: Lists the staged scene into loot.txt, then writes the result catalog (CATALOG_SH).
CWL = {
    "cwlVersion": "v1.2",
    "$graph": [
        {"class": "Workflow", "id": "read-scene",
         "inputs": {"scene": {"type": "Directory"}},
         "outputs": {"results": {"type": "Directory", "outputSource": "run/results"}},
         "steps": {"run": {"run": "#tool", "in": {"scene": "scene"}, "out": ["results"]}}},
        {"class": "CommandLineTool", "id": "tool",
         "baseCommand": ["sh", "-c", 'ls -R "$1" > loot.txt' + CATALOG_SH, "tool"],
         "arguments": ["$(inputs.scene.path)"],
         "inputs": {"scene": "Directory"},
         "outputs": {"results": {"type": "Directory", "outputBinding": {"glob": "."}}}},
    ],
}


def _alice_private_item(platform) -> str:
    """A STAC item and its asset in alice's bucket, written with her own keys; its URL."""
    import boto3

    from eopde.services.workspace_store import ensure_keys, keys_file

    keys = ensure_keys(keys_file(platform.home), "alice")
    s3 = boto3.client("s3", endpoint_url=platform.url("storage"), region_name="us-east-1",
                      aws_access_key_id=keys.access, aws_secret_access_key=keys.secret)
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "alice-field-survey",
            "geometry": {"type": "Point", "coordinates": [11.3, 44.5]},
            "bbox": [11.3, 44.5, 11.3, 44.5],
            "properties": {"datetime": "2024-05-02T09:00:00Z"}, "links": [],
            "assets": {"notes": {"href": "s3://user-alice/private/survey/notes.txt",
                                 "type": "text/plain", "roles": ["data"]}}}
    s3.put_object(Bucket="user-alice", Key="private/survey/notes.txt",
                  Body=SECRET_TEXT.encode())
    s3.put_object(Bucket="user-alice", Key="private/survey/item.json",
                  Body=json.dumps(item).encode())
    return "s3://user-alice/private/survey/item.json"


@pytest.fixture
def executor(platform, tmp_path, ades_user_env):
    """The ADES's executor with the platform's storage and keys file, and no URL policy; the
    platform's S3 key in the environment, as the ADES has it."""
    from datetime import datetime, timezone

    from eopde.services.workspace_store import keys_file

    store = JobStore(f"sqlite:///{tmp_path}/ades.db")
    now = datetime.now(timezone.utc)
    for user in ("alice", "mallory"):
        store.add_process(ProcessRecord(user=user, id="read-scene", version="1.0.0",
                                        cwl_text=json.dumps(CWL), workflow_id="read-scene",
                                        description={}, created=now, updated=now))
    target = StageOutTarget(endpoint=platform.url("storage"),
                            keys_file=str(keys_file(platform.home)))
    ex = LocalExecutor(store, work_dir=tmp_path / "jobs", engine="none", storage=target,
                       workers=1, url_policy=None)
    ex.start()
    yield store, ex
    ex.shutdown()
    store.close()


def _run(store, ex, user: str, scene: str):
    job = store.create_job(user, "read-scene", {"scene": scene}, None, "async")
    ex.submit(job.id)
    return ex.wait(job.id, timeout=180)


def test_a_job_cannot_stage_in_another_users_private_object(platform, executor):
    store, ex = executor
    url = _alice_private_item(platform)
    began = time.monotonic()
    done = _run(store, ex, "mallory", url)
    assert done.status == "failed", done.message
    assert done.message == (
        f"stage-in failed: input 'scene': STAC item {url}: cannot fetch it (S3 error "
        "NoSuchBucket: not readable with the storage keys of the job's owner, which read only "
        "their own bucket)")
    assert time.monotonic() - began < 60
    log = open(done.log_path).read()
    assert SECRET_TEXT not in log and "alice-field-survey" not in log
    assert done.results in (None, {})
    assert bucket_text(platform, "mallory", f"processing-results/{done.id}/") == {}


def test_the_owner_stages_in_her_own_object(platform, executor):
    """The control: the same input in alice's own job is staged (so the refusal above is the
    keys', not a broken input)."""
    store, ex = executor
    done = _run(store, ex, "alice", _alice_private_item(platform))
    assert done.status == "successful", (done.message, open(done.log_path).read()[-2000:])
    assert "stage-in alice-field-survey: 1 asset(s)" in open(done.log_path).read()
