"""The local ADES's durable store (SQLite): processes and jobs survive a new JobStore."""

from __future__ import annotations

import threading

import pytest

from eopde.services.ades.store import (DuplicateProcess, JobStore, NoSuchJob, NoSuchProcess,
                                       ProcessRecord, StoreError, utcnow)


def _proc(user="alice", pid="ndvi", version="1.0.0", text="cwlVersion: v1.2\n"):
    now = utcnow()
    return ProcessRecord(user=user, id=pid, version=version, cwl_text=text, workflow_id=pid,
                         description={"id": pid, "inputs": {"a": {"schema": {"type": "string"}}}},
                         created=now, updated=now)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'db' / 'ades.db'}"


def test_processes_roundtrip_and_durable(url):
    store = JobStore(url)
    store.add_process(_proc())
    store.add_process(_proc(pid="water"))
    store.add_process(_proc(user="bob"))
    with pytest.raises(DuplicateProcess):
        store.add_process(_proc())
    store.close()

    again = JobStore(url)
    rec = again.get_process("alice", "ndvi")
    assert rec.description["inputs"]["a"]["schema"] == {"type": "string"}
    assert rec.created.tzinfo is not None
    assert again.get_process("carol", "ndvi") is None
    recs, total = again.list_processes("alice", limit=1, skip=1)
    assert total == 2 and [r.id for r in recs] == ["water"]

    new = _proc(version="2.0.0", text="cwlVersion: v1.2\n# v2\n")
    again.replace_process(new)
    rec2 = again.get_process("alice", "ndvi")
    assert rec2.version == "2.0.0" and rec2.cwl_text.endswith("# v2\n")
    assert rec2.created == rec.created
    with pytest.raises(NoSuchProcess):
        again.replace_process(_proc(pid="nope"))
    assert again.delete_process("alice", "ndvi") is True
    assert again.delete_process("alice", "ndvi") is False
    assert again.get_process("bob", "ndvi") is not None  # another user's is untouched


def test_jobs_roundtrip_filters_and_durable(url):
    store = JobStore(url)
    j1 = store.create_job("alice", "ndvi", {"scene": "http://x/item"}, None, "async")
    j2 = store.create_job("alice", "water", {}, {"out": {}}, "sync")
    j3 = store.create_job("bob", "ndvi", {}, None, "async")
    assert j1.status == "accepted" and j1.progress == 0 and j1.started is None
    started = utcnow()
    store.update_job(j1.id, status="running", started=started, pid=1234, log_path="/tmp/l")
    store.update_job(j2.id, status="successful", progress=100, results={"r": {"href": "s3://b"}})
    with pytest.raises(NoSuchJob):
        store.update_job("missing", status="failed")
    with pytest.raises(StoreError):
        store.update_job(j1.id, user="mallory")
    store.close()

    again = JobStore(url)
    got = again.get_job(j1.id)
    assert (got.status, got.pid, got.log_path, got.started) == ("running", 1234, "/tmp/l", started)
    assert got.inputs == {"scene": "http://x/item"}
    assert again.get_job(j1.id, user="bob") is None
    assert again.get_job(j2.id, "alice").results == {"r": {"href": "s3://b"}}
    assert again.get_job(j2.id).outputs == {"out": {}}

    jobs, total = again.list_jobs("alice")
    assert total == 2 and {j.id for j in jobs} == {j1.id, j2.id}
    jobs, total = again.list_jobs("alice", process_ids=["water"])
    assert total == 1 and jobs[0].id == j2.id
    jobs, total = again.list_jobs("alice", statuses=["running", "accepted"])
    assert [j.id for j in jobs] == [j1.id]
    jobs, total = again.list_jobs("alice", limit=1, skip=1)
    assert total == 2 and len(jobs) == 1

    pending = again.jobs_with_status(["accepted", "running"])
    assert [j.id for j in pending] == [j1.id, j3.id]
    assert again.jobs_with_status([]) == []


def test_updated_is_set_and_threads_share_a_store(url):
    store = JobStore(url)
    job = store.create_job("alice", "ndvi", {}, None, "async")
    errors = []

    def work(n):
        try:
            for i in range(20):
                store.update_job(job.id, progress=i)
                store.create_job("alice", f"p{n}", {}, None, "async")
        except Exception as err:  # pragma: no cover - the assertion shows it
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.list_jobs("alice")[1] == 81
    assert store.get_job(job.id).updated >= job.updated


def test_bad_url_is_refused():
    with pytest.raises(StoreError):
        JobStore("postgresql://somewhere/db")
