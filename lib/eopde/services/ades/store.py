"""Durable state of the local ADES: deployed processes and jobs, in SQLite (thread-safe).

`JobStore("sqlite:///abs/path.db")`. One connection guarded by a lock (SQLite serialises
writes anyway); WAL mode so readers (status polling) do not wait behind a writer. Records are
plain dataclasses; JSON fields are stored as text, datetimes as ISO 8601 UTC.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable


class StoreError(RuntimeError):
    """Base of the store's errors."""


class DuplicateProcess(StoreError):
    def __init__(self, user: str, process_id: str):
        self.user, self.process_id = user, process_id
        super().__init__(f"process {process_id!r} is already deployed for user {user!r}")


class NoSuchProcess(StoreError):
    def __init__(self, user: str, process_id: str):
        self.user, self.process_id = user, process_id
        super().__init__(f"no process {process_id!r} for user {user!r}")


class NoSuchJob(StoreError):
    def __init__(self, job_id: str):
        self.job_id = job_id
        super().__init__(f"no job {job_id!r}")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass
class ProcessRecord:
    user: str
    id: str
    version: str | None
    cwl_text: str
    workflow_id: str
    description: dict
    created: datetime
    updated: datetime


@dataclass
class JobRecord:
    id: str
    user: str
    process_id: str
    inputs: dict
    outputs: dict | None
    mode: str
    status: str
    message: str
    progress: int
    created: datetime
    started: datetime | None
    finished: datetime | None
    updated: datetime
    results: dict | None
    log_path: str | None
    pid: int | None


_JSON_JOB = {"inputs", "outputs", "results"}
_TIME_JOB = {"created", "started", "finished", "updated"}
_JOB_FIELDS = [f.name for f in fields(JobRecord)]
_PROC_FIELDS = [f.name for f in fields(ProcessRecord)]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processes (
    user TEXT NOT NULL, id TEXT NOT NULL, version TEXT, cwl_text TEXT NOT NULL,
    workflow_id TEXT NOT NULL, description TEXT NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL, PRIMARY KEY (user, id));
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, process_id TEXT NOT NULL, inputs TEXT NOT NULL,
    outputs TEXT, mode TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    progress INTEGER NOT NULL, created TEXT NOT NULL, started TEXT, finished TEXT,
    updated TEXT NOT NULL, results TEXT, log_path TEXT, pid INTEGER);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user, created);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def sqlite_path(url: str) -> str:
    """`sqlite:///abs/path.db` (or `sqlite:///:memory:`) -> the file path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise StoreError(f"unsupported database URL {url!r}: use sqlite:///ABSOLUTE/PATH.db")
    path = url[len(prefix):]
    if path != ":memory:" and not path.startswith("/"):
        path = "/" + path
    return path


class JobStore:
    """Processes and jobs of every user. Safe to share between threads."""

    def __init__(self, url: str):
        self.url = url
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ processes
    @staticmethod
    def _proc_row(rec: ProcessRecord) -> tuple:
        return (rec.user, rec.id, rec.version, rec.cwl_text, rec.workflow_id,
                json.dumps(rec.description), _ts(rec.created), _ts(rec.updated))

    @staticmethod
    def _proc(row: sqlite3.Row) -> ProcessRecord:
        d = dict(row)
        d["description"] = json.loads(d["description"])
        d["created"], d["updated"] = _dt(d["created"]), _dt(d["updated"])
        return ProcessRecord(**d)

    def add_process(self, record: ProcessRecord) -> None:
        with self._lock:
            try:
                self._db.execute(
                    f"INSERT INTO processes ({', '.join(_PROC_FIELDS)}) VALUES (?,?,?,?,?,?,?,?)",
                    self._proc_row(record))
            except sqlite3.IntegrityError:
                raise DuplicateProcess(record.user, record.id) from None

    def replace_process(self, record: ProcessRecord) -> None:
        with self._lock:
            old = self.get_process(record.user, record.id)
            if old is None:
                raise NoSuchProcess(record.user, record.id)
            record.created = old.created
            self._db.execute(
                "UPDATE processes SET version=?, cwl_text=?, workflow_id=?, description=?, "
                "updated=? WHERE user=? AND id=?",
                (record.version, record.cwl_text, record.workflow_id,
                 json.dumps(record.description), _ts(record.updated), record.user, record.id))

    def get_process(self, user: str, process_id: str) -> ProcessRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM processes WHERE user=? AND id=?",
                                   (user, process_id)).fetchone()
        return None if row is None else self._proc(row)

    def list_processes(self, user: str, limit: int, skip: int) -> tuple[list[ProcessRecord], int]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM processes WHERE user=?",
                                     (user,)).fetchone()[0]
            rows = self._db.execute(
                "SELECT * FROM processes WHERE user=? ORDER BY id LIMIT ? OFFSET ?",
                (user, max(0, limit), max(0, skip))).fetchall()
        return [self._proc(r) for r in rows], total

    def delete_process(self, user: str, process_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM processes WHERE user=? AND id=?",
                                   (user, process_id))
        return cur.rowcount > 0

    # ------------------------------------------------------------------ jobs
    @staticmethod
    def _job(row: sqlite3.Row) -> JobRecord:
        d = dict(row)
        for k in _JSON_JOB:
            d[k] = None if d[k] is None else json.loads(d[k])
        for k in _TIME_JOB:
            d[k] = _dt(d[k])
        return JobRecord(**d)

    def create_job(self, user: str, process_id: str, inputs: dict, outputs: dict | None,
                   mode: str) -> JobRecord:
        now = utcnow()
        job = JobRecord(id=str(uuid.uuid4()), user=user, process_id=process_id,
                        inputs=inputs, outputs=outputs, mode=mode, status="accepted",
                        message="job accepted, waiting for a worker", progress=0,
                        created=now, started=None, finished=None, updated=now,
                        results=None, log_path=None, pid=None)
        values = []
        for name in _JOB_FIELDS:
            v = getattr(job, name)
            if name in _JSON_JOB:
                v = None if v is None else json.dumps(v)
            elif name in _TIME_JOB:
                v = _ts(v)
            values.append(v)
        with self._lock:
            self._db.execute(
                f"INSERT INTO jobs ({', '.join(_JOB_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(_JOB_FIELDS))})", values)
        return job

    def get_job(self, job_id: str, user: str | None = None) -> JobRecord | None:
        with self._lock:
            if user is None:
                row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            else:
                row = self._db.execute("SELECT * FROM jobs WHERE id=? AND user=?",
                                       (job_id, user)).fetchone()
        return None if row is None else self._job(row)

    def list_jobs(self, user: str, *, process_ids: Iterable[str] | None = None,
                  statuses: Iterable[str] | None = None, limit: int = 1000,
                  skip: int = 0) -> tuple[list[JobRecord], int]:
        where, args = ["user=?"], [user]
        for column, values in (("process_id", process_ids), ("status", statuses)):
            if values:
                values = list(values)
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        clause = " AND ".join(where)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE {clause}",
                                     args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM jobs WHERE {clause} ORDER BY created DESC, rowid DESC "
                "LIMIT ? OFFSET ?", [*args, max(0, limit), max(0, skip)]).fetchall()
        return [self._job(r) for r in rows], total

    def update_job(self, job_id: str, **changes: Any) -> JobRecord:
        bad = set(changes) - (set(_JOB_FIELDS) - {"id", "user"})
        if bad:
            raise StoreError(f"cannot update job field(s) {sorted(bad)}")
        changes.setdefault("updated", utcnow())
        sets, args = [], []
        for name, v in changes.items():
            if name in _JSON_JOB:
                v = None if v is None else json.dumps(v)
            elif name in _TIME_JOB:
                v = _ts(v)
            sets.append(f"{name}=?")
            args.append(v)
        with self._lock:
            cur = self._db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id=?",
                                   [*args, job_id])
            if cur.rowcount == 0:
                raise NoSuchJob(job_id)
            return self.get_job(job_id)

    def jobs_with_status(self, statuses: Iterable[str]) -> list[JobRecord]:
        statuses = list(statuses)
        if not statuses:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM jobs WHERE status IN ({', '.join('?' * len(statuses))}) "
                "ORDER BY created, rowid", statuses).fetchall()
        return [self._job(r) for r in rows]
