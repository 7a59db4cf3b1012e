"""Pure parts of the ADES's job handling: the fair queue, the tools' environment, the bounds of
synchronous waits, and the all-or-nothing, stay-inside stage-out (against a fake S3 client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eopde.services.ades import jobuser
from eopde.services.ades.errors import OGCError
from eopde.services.ades.execution import SyncWaits, executor_limits
from eopde.services.ades.fairshare import FairQueue
from eopde.services.ades.stageout import StageOutError, stage_out


def test_fair_queue_serves_a_newcomer_before_the_busy_users_next_job():
    q = FairQueue(workers=2)
    for i in range(3):
        q.push("mallory", f"m{i}")
    assert q.pop_ready() == ("mallory", "m0")
    assert q.pop_ready() == ("mallory", "m1")  # alone: every worker
    assert q.pop_ready() is None
    q.push("alice", "a0")
    assert q.pop_ready() == ("alice", "a0")  # below her share: an extra worker at once
    assert q.pop_ready() is None  # mallory holds more than her share: m2 waits
    q.done("mallory")
    q.done("alice")
    assert q.pop_ready() == ("mallory", "m2")


def test_fair_queue_is_bounded_by_burst():
    q = FairQueue(workers=1, burst=2)
    q.push("a", "a0")
    q.push("b", "b0")
    q.push("c", "c0")
    assert q.pop_ready() == ("a", "a0")
    assert q.pop_ready() == ("b", "b0")
    assert q.pop_ready() is None  # two running: the burst
    assert q.remove("c0") and not q.remove("c0")


def test_tool_env_keeps_no_secret():
    base = {"PATH": "/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": "/root",
            "EOPDE_SERVICE_TOKEN": "s", "AWS_SECRET_ACCESS_KEY": "k", "AWS_ACCESS_KEY_ID": "i",
            "PGPASSWORD": "p", "EOPDE_CATALOGUE_URL": "http://c", "JUPYTERHUB_API_TOKEN": "t"}
    env = jobuser.tool_env(base, home=Path("/box/home"), tmp=Path("/box/tmp"),
                           account=jobuser.JobAccount("eopde-job0", 999, 999))
    assert env == {"PATH": "/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": "/box/home",
                   "TMPDIR": "/box/tmp", "EOPDE_CATALOGUE_URL": "http://c",
                   "USER": "eopde-job0", "LOGNAME": "eopde-job0"}
    same = jobuser.tool_env(base, home=None, tmp=Path("/t"),
                            account=jobuser.JobAccount(None, None, None))
    assert same["HOME"] == "/root" and "AWS_ACCESS_KEY_ID" not in same


def test_sync_waits_per_user_then_in_all():
    waits = SyncWaits(per_user=2, total=3)
    waits.take("a")
    waits.take("a")
    with pytest.raises(OGCError) as err:
        waits.take("a")
    assert err.value.status == 429 and err.value.headers["Retry-After"]
    waits.take("b")
    with pytest.raises(OGCError) as err:
        waits.take("c")
    assert err.value.status == 503
    waits.give("a")
    waits.take("c")


def test_executor_limits_from_the_environment():
    assert executor_limits({"EOPDE_ADES_JOB_TIMEOUT": "60", "EOPDE_ADES_KEEP_WORK": "0"}) == {
        "job_timeout": 60.0, "keep_work": 0.0}


class FakeS3:
    """Records puts; fails on a chosen key."""

    def __init__(self, fail_on: str | None = None):
        self.objects: dict[str, bytes] = {}
        self.order: list[str] = []
        self.fail_on = fail_on

    def head_bucket(self, Bucket):
        pass

    def _put(self, key, body):
        if self.fail_on and key.endswith(self.fail_on):
            raise OSError("disk full")
        self.objects[key] = body
        self.order.append(key)

    def upload_file(self, path, bucket, key, ExtraArgs=None):
        self._put(key, Path(path).read_bytes())

    def put_object(self, Bucket, Key, Body, ContentType=None):
        self._put(Key, Body)

    def delete_object(self, Bucket, Key):
        self.objects.pop(Key, None)

    def get_paginator(self, name):
        s3 = self

        class P:
            def paginate(self, Bucket, Prefix):
                return [{"Contents": [{"Key": k} for k in s3.objects if k.startswith(Prefix)]}]
        return P()

    def delete_objects(self, Bucket, Delete):
        for o in Delete["Objects"]:
            self.objects.pop(o["Key"], None)


def _result(folder: Path, asset_href: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "z.txt").write_text("z")
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "i", "geometry": None,
            "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
            "assets": {"a": {"href": asset_href}, "z": {"href": "./z.txt"}}}
    (folder / "item.json").write_text(json.dumps(item))
    (folder / "catalog.json").write_text(json.dumps({
        "type": "Catalog", "id": "c", "stac_version": "1.0.0", "description": "d",
        "links": [{"rel": "item", "href": "./item.json"}]}))
    return folder


def test_stage_out_writes_the_catalog_last(tmp_path):
    s3 = FakeS3()
    stage_out({"r": _result(tmp_path / "r", "./a.txt")}, user="u", job_id="j", client=s3)
    assert s3.order[-1] == "processing-results/j/catalog.json"
    assert s3.order.index("processing-results/j/item.json") > s3.order.index(
        "processing-results/j/z.txt")


def test_a_failed_stage_out_deletes_what_it_uploaded(tmp_path):
    s3 = FakeS3(fail_on="z.txt")
    with pytest.raises(StageOutError):
        stage_out({"r": _result(tmp_path / "r", "./a.txt")}, user="u", job_id="j", client=s3)
    assert s3.objects == {}


@pytest.mark.parametrize("how", ["absolute", "symlink", "link"])
def test_stage_out_reads_nothing_outside_the_job(tmp_path, how):
    secret = tmp_path / "secrets.json"
    secret.write_text('{"service_token": "CANARY"}')
    job = tmp_path / "job"
    if how == "absolute":
        folder = _result(job / "r", str(secret))
    elif how == "symlink":
        folder = _result(job / "r", "./stolen.json")
        (folder / "stolen.json").symlink_to(secret)
    else:  # the catalog itself is a link out
        folder = _result(job / "r", "./a.txt")
        (folder / "catalog.json").unlink()
        (folder / "catalog.json").symlink_to(secret)
    s3 = FakeS3()
    with pytest.raises(StageOutError) as err:
        stage_out({"r": folder}, user="u", job_id="j", client=s3, within=job)
    assert "CANARY" not in str(err.value) and str(tmp_path) not in str(err.value)
    assert not any(b"CANARY" in body for body in s3.objects.values())
    assert s3.objects == {}


@pytest.mark.skipif(not jobuser.isolating(), reason="as root only: jobs run as other accounts")
def test_protect_state_folder_makes_service_folders_private(tmp_path):
    for name in ("storage", "users", "data"):
        (tmp_path / name).mkdir(mode=0o755)
        (tmp_path / name).chmod(0o755)
    (tmp_path / "secrets.json").write_text("{}")
    (tmp_path / "secrets.json").chmod(0o644)
    changed = jobuser.protect_state_folder(tmp_path)
    assert sorted(p.name for p in changed) == ["secrets.json", "storage", "users"]
    assert (tmp_path / "storage").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o755  # public demo data
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
