"""The local ADES's durable store, over both backends: SQLite (default) and PostgreSQL (the
local platform's server, in a database of its own per test). Processes and jobs survive a new
JobStore; both backends answer alike."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from eopde.services.ades.store import (DuplicateProcess, JobStore, NoSuchJob, NoSuchProcess,
                                       ProcessRecord, StoreError, utcnow)


def _proc(user="alice", pid="ndvi", version="1.0.0", text="cwlVersion: v1.2\n"):
    now = utcnow()
    return ProcessRecord(user=user, id=pid, version=version, cwl_text=text, workflow_id=pid,
                         description={"id": pid, "inputs": {"a": {"schema": {"type": "string"}}}},
                         created=now, updated=now)


def _admin(platform):
    """An autocommit connection to the platform's PostgreSQL, and a DSN maker."""
    import psycopg

    from eopde.services.platform import Platform

    postgres = Platform(platform.settings()).part("postgres")
    return psycopg.connect(postgres.dsn(), autocommit=True), postgres.dsn


@pytest.fixture
def pg_database(request):
    """A fresh database on the platform's PostgreSQL (dropped afterwards): its DSN."""
    platform = request.getfixturevalue("platform")
    admin, dsn = _admin(platform)
    name = f"ades_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield dsn(name)
    finally:
        # Stores a test did not close still hold connections: end them, then drop.
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.platform)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'ades.db'}"
    return request.getfixturevalue("pg_database")


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
        JobStore("mysql://somewhere/db")
    with pytest.raises(StoreError):
        JobStore("ades.db")


def test_unreachable_postgres_is_a_store_error():
    with pytest.raises(StoreError):
        JobStore("postgresql://nobody:x@127.0.0.1:1/nothing?connect_timeout=2")


def test_key_order_and_timezones_are_kept(url):
    store = JobStore(url)
    desc = {"id": "p", "inputs": {"zeta": {}, "alpha": {}, "mid": {}}, "b": 1, "a": 2}
    now = utcnow()
    store.add_process(ProcessRecord(user="alice", id="p", version=None, cwl_text="x",
                                    workflow_id="p", description=desc, created=now, updated=now))
    job = store.create_job("alice", "p", {"z": 1, "a": 2}, None, "async")
    naive = datetime(2024, 5, 1, 12, 30, 15)
    store.update_job(job.id, finished=naive)
    store.close()

    again = JobStore(url)
    rec = again.get_process("alice", "p")
    assert list(rec.description["inputs"]) == ["zeta", "alpha", "mid"]
    assert list(rec.description) == ["id", "inputs", "b", "a"]
    assert rec.version is None and rec.created == now
    got = again.get_job(job.id)
    assert list(got.inputs) == ["z", "a"]
    assert got.finished == naive.replace(tzinfo=timezone.utc)
    assert got.finished.utcoffset() == timedelta(0) and got.created.utcoffset() == timedelta(0)
    again.close()


@pytest.mark.platform
def test_postgres_tables_live_in_their_own_schema(pg_database, platform):
    import psycopg

    a = JobStore(pg_database)  # creates the schema and tables
    b = JobStore(pg_database)  # finds them
    a.add_process(_proc())
    assert b.get_process("alice", "ndvi") is not None
    a.close()
    b.close()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name IN ('processes', 'jobs') ORDER BY 2").fetchall()
    assert tables == [("eopde_ades", "jobs"), ("eopde_ades", "processes")]


@pytest.mark.platform
def test_postgres_store_reconnects_after_losing_its_connection(pg_database, platform):
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    store = JobStore(pg_database)
    job = store.create_job("alice", "ndvi", {}, None, "async")
    admin, _ = _admin(platform)
    with admin:  # as a server restart would: end the store's connection
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s", (conninfo_to_dict(pg_database)["dbname"],))
    with pytest.raises(psycopg.OperationalError):
        store.get_job(job.id)  # the statement that finds the connection gone fails...
    assert store.get_job(job.id).id == job.id  # ...and the next one connects again
    store.close()


def test_claim_user_binds_a_name_to_one_account(url):
    """A name re-created with another identity retires the old account's things, atomically,
    and the old identity is refused afterwards (issue 8, item 15)."""
    from eopde.services.ades.store import RetiredIdentity

    store = JobStore(url)
    store.add_process(_proc())
    job = store.create_job("alice", "ndvi", {}, None, "async")
    done = store.create_job("alice", "ndvi", {}, None, "async")
    store.update_job(done.id, status="successful")
    assert store.claim_user("alice", "hub:1") == []  # first account: keeps what is stored
    assert store.claim_user("alice", "hub:1") == []
    assert store.get_process("alice", "ndvi") is not None
    assert store.claim_user("alice", "hub:2") == [job.id]  # re-created: the open job to stop
    assert store.get_process("alice", "ndvi") is None
    assert store.list_jobs("alice") == ([], 0)
    assert store.get_job(job.id).user.startswith("alice/retired-")
    with pytest.raises(RetiredIdentity):
        store.claim_user("alice", "hub:1")
    assert store.claim_user("alice", "hub:2") == []
    store.add_process(_proc())  # the new account deploys the same id: no clash
    store.close()


def test_response_kept_and_dismissed_jobs_leave_the_list(url):
    store = JobStore(url)
    raw = store.create_job("alice", "ndvi", {}, None, "sync", "raw")
    doc = store.create_job("alice", "ndvi", {}, None, "async")
    store.update_job(doc.id, status="dismissed")
    again = JobStore(url)
    assert again.get_job(raw.id).response == "raw" and again.get_job(doc.id).response == "document"
    jobs, total = again.list_jobs("alice")
    assert [j.id for j in jobs] == [raw.id] and total == 1
    jobs, total = again.list_jobs("alice", statuses=iter(["dismissed"]))
    assert [j.id for j in jobs] == [doc.id] and total == 1
    store.close()
    again.close()


def test_a_database_from_before_response_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute('CREATE TABLE jobs ("id" TEXT PRIMARY KEY, "user" TEXT NOT NULL, '
               '"process_id" TEXT NOT NULL, "inputs" TEXT NOT NULL, "outputs" TEXT, '
               '"mode" TEXT NOT NULL, "status" TEXT NOT NULL, "message" TEXT NOT NULL, '
               '"progress" INTEGER NOT NULL, "created" TEXT NOT NULL, "started" TEXT, '
               '"finished" TEXT, "updated" TEXT NOT NULL, "results" TEXT, "log_path" TEXT, '
               '"pid" INTEGER)')
    now = utcnow().isoformat()
    db.execute("INSERT INTO jobs VALUES ('j1', 'alice', 'p', '{}', NULL, 'async', 'successful', "
               "'done', 100, ?, NULL, NULL, ?, NULL, NULL, NULL)", (now, now))
    db.commit()
    db.close()
    store = JobStore(f"sqlite:///{path}")
    assert store.get_job("j1").response == "document"
    assert store.create_job("alice", "p", {}, None, "sync", "raw").response == "raw"
    store.close()
