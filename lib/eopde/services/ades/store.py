"""Durable state of the local ADES: deployed processes and jobs, in SQLite by default or in
PostgreSQL when configured (thread-safe).

`JobStore("sqlite:///abs/path.db")` or `JobStore("postgresql://user:pass@host:port/db")`. One
connection guarded by a lock; every statement commits on its own. The logic is written once,
against a small `_Dialect` that isolates what differs between the two databases: how to connect,
placeholders, table names, column types and how values are encoded and decoded.

- SQLite: WAL mode so readers (status polling) do not wait behind a writer; JSON fields are
  stored as text, datetimes as ISO 8601 UTC text; insertion order is the rowid.
- PostgreSQL: tables in the schema `eopde_ades` (created if missing, so nothing clashes with
  pgstac's tables in the same database); JSON fields as `json` (which, unlike `jsonb`, keeps the
  key order of process descriptions), datetimes as `timestamptz`; insertion order is a
  `bigserial` column. A broken connection is replaced before the next statement.

Records are plain dataclasses; datetimes come back timezone-aware, in UTC.

Owners: a user name is bound to the identity of the account that first used it (the `owners`
table, see :meth:`JobStore.claim_user`). When an account of the same name but another identity
comes (the user was deleted and created again), the old account's processes and jobs are moved
under a retired name no URL can reach (``<name>/retired-<id>``): the new user starts empty.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping


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


class RetiredIdentity(StoreError):
    """An account whose name now belongs to a newer account (it was deleted, then re-created)."""

    def __init__(self, user: str):
        self.user = user
        super().__init__(f"the account {user!r} this token belongs to no longer exists")


class NoSuchJob(StoreError):
    def __init__(self, job_id: str):
        self.job_id = job_id
        super().__init__(f"no job {job_id!r}")


#: Job statuses after which nothing changes.
FINAL = ("successful", "failed", "dismissed")


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
    response: str = "document"  # the execute body's `response`: "document" or "raw"


_JSON_PROC = {"description"}
_TIME_PROC = {"created", "updated"}
_JSON_JOB = {"inputs", "outputs", "results"}
_TIME_JOB = {"created", "started", "finished", "updated"}
_JOB_FIELDS = [f.name for f in fields(JobRecord)]
_PROC_FIELDS = [f.name for f in fields(ProcessRecord)]


def _q(name: str) -> str:
    """A column name quoted for SQL (`user` is a reserved word in PostgreSQL)."""
    return f'"{name}"'


def _cols(names: Iterable[str]) -> str:
    return ", ".join(_q(n) for n in names)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else _utc(value).isoformat()


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


# ---------------------------------------------------------------------------- dialects
# The SQL of JobStore is written with `?` placeholders, quoted column names and the table names
# `{processes}` / `{jobs}`; each dialect turns that into its own SQL and runs it.

_TABLES = """
CREATE TABLE IF NOT EXISTS {processes} (
    "user" TEXT NOT NULL, "id" TEXT NOT NULL, "version" TEXT, "cwl_text" TEXT NOT NULL,
    "workflow_id" TEXT NOT NULL, "description" {json} NOT NULL, "created" {time} NOT NULL,
    "updated" {time} NOT NULL, PRIMARY KEY ("user", "id"));
CREATE TABLE IF NOT EXISTS {jobs} (
    "id" TEXT PRIMARY KEY, "user" TEXT NOT NULL, "process_id" TEXT NOT NULL,
    "inputs" {json} NOT NULL, "outputs" {json}, "mode" TEXT NOT NULL, "status" TEXT NOT NULL,
    "message" TEXT NOT NULL, "progress" INTEGER NOT NULL, "created" {time} NOT NULL,
    "started" {time}, "finished" {time}, "updated" {time} NOT NULL, "results" {json},
    "log_path" TEXT, "pid" INTEGER, "response" TEXT NOT NULL DEFAULT 'document'{extra});
CREATE TABLE IF NOT EXISTS {owners} (
    "user" TEXT PRIMARY KEY, "identity" TEXT NOT NULL, "since" {time} NOT NULL);
CREATE TABLE IF NOT EXISTS {retired} (
    "user" TEXT NOT NULL, "identity" TEXT NOT NULL, "since" {time} NOT NULL,
    PRIMARY KEY ("user", "identity"));
CREATE INDEX IF NOT EXISTS jobs_user ON {jobs} ("user", "created");
CREATE INDEX IF NOT EXISTS jobs_status ON {jobs} ("status");
"""


class _Dialect:
    """What differs between databases. Subclasses connect in `__init__` and set the names."""

    processes = "processes"
    jobs = "jobs"
    owners = "owners"
    retired = "retired_owners"
    order = "rowid"  # a column giving insertion order, for ties on `created`

    def sql(self, text: str) -> str:
        return text.format(processes=self.processes, jobs=self.jobs, owners=self.owners,
                           retired=self.retired, order=self.order)

    def atomic(self):
        """A context in which the statements run form one transaction."""
        raise NotImplementedError

    def rows(self, sql: str, args: Iterable[Any] = ()) -> list[dict]:
        raise NotImplementedError

    def run(self, sql: str, args: Iterable[Any] = ()) -> int:
        """Run one statement, return the number of rows it changed."""
        raise NotImplementedError

    def is_duplicate(self, err: Exception) -> bool:
        raise NotImplementedError

    def encode_json(self, value: Any) -> Any:
        return None if value is None else json.dumps(value)

    def decode_json(self, value: Any) -> Any:
        return None if value is None else json.loads(value)

    def encode_time(self, value: datetime | None) -> Any:
        return _ts(value)

    def decode_time(self, value: Any) -> datetime | None:
        return _dt(value)

    def close(self) -> None:
        raise NotImplementedError


class _SQLite(_Dialect):
    def __init__(self, url: str):
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_TABLES.format(processes=self.processes, jobs=self.jobs,
                                              owners=self.owners, retired=self.retired,
                                              json="TEXT", time="TEXT",
                                              extra=""))
        columns = {r[1] for r in self._db.execute(f"PRAGMA table_info({self.jobs})")}
        if "response" not in columns:  # a database from before `response` was kept
            self._db.execute(f"ALTER TABLE {self.jobs} ADD COLUMN \"response\" TEXT NOT NULL "
                             "DEFAULT 'document'")

    @contextmanager
    def atomic(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def rows(self, sql, args=()):
        return [dict(r) for r in self._db.execute(self.sql(sql), list(args)).fetchall()]

    def run(self, sql, args=()):
        return self._db.execute(self.sql(sql), list(args)).rowcount

    def is_duplicate(self, err):
        return isinstance(err, sqlite3.IntegrityError)

    def close(self):
        self._db.close()


class _Postgres(_Dialect):
    SCHEMA = "eopde_ades"
    processes = f"{SCHEMA}.processes"
    jobs = f"{SCHEMA}.jobs"
    owners = f"{SCHEMA}.owners"
    retired = f"{SCHEMA}.retired_owners"
    order = "seq"

    def __init__(self, url: str):
        import psycopg
        from psycopg.rows import dict_row
        from psycopg.types.json import Json

        self._psycopg, self._dict_row, self._Json = psycopg, dict_row, Json
        self._url = url
        self._db = self._connect()
        tables = _TABLES.format(processes=self.processes, jobs=self.jobs, owners=self.owners,
                                retired=self.retired,
                                json="JSON", time="TIMESTAMPTZ",
                                extra=', "seq" BIGSERIAL NOT NULL')
        # One transaction, serialised between processes creating the tables at the same time.
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.SCHEMA,))
            self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {self.SCHEMA}")
            for statement in filter(str.strip, tables.split(";")):
                self._db.execute(statement)
            self._db.execute(f'ALTER TABLE {self.jobs} ADD COLUMN IF NOT EXISTS "response" '
                             "TEXT NOT NULL DEFAULT 'document'")

    def _connect(self):
        try:
            return self._psycopg.connect(self._url, autocommit=True, row_factory=self._dict_row)
        except self._psycopg.Error as err:
            raise StoreError(f"cannot connect to the ADES database: {err}") from err

    def _conn(self):
        if self._db.closed or self._db.broken:  # e.g. the server restarted: connect again
            self._db = self._connect()
        return self._db

    def sql(self, text):
        return super().sql(text).replace("?", "%s")

    @contextmanager
    def atomic(self):
        with self._conn().transaction():
            yield

    def rows(self, sql, args=()):
        return self._conn().execute(self.sql(sql), list(args)).fetchall()

    def run(self, sql, args=()):
        return self._conn().execute(self.sql(sql), list(args)).rowcount

    def is_duplicate(self, err):
        return isinstance(err, self._psycopg.errors.UniqueViolation)

    def encode_json(self, value):
        return None if value is None else self._Json(value)

    def decode_json(self, value):
        return value  # psycopg parses `json` columns itself

    def encode_time(self, value):
        return None if value is None else _utc(value)

    def decode_time(self, value):
        return None if value is None else _utc(value)

    def close(self):
        self._db.close()


def _dialect(url: str) -> _Dialect:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return _SQLite(url)
    if scheme in ("postgresql", "postgres"):
        return _Postgres(url)
    raise StoreError(f"unsupported database URL {url!r}: use sqlite:///ABSOLUTE/PATH.db or "
                     "postgresql://USER:PASSWORD@HOST:PORT/DATABASE")


# ---------------------------------------------------------------------------- the store
_PROC_COLS = _cols(_PROC_FIELDS)
_JOB_COLS = _cols(_JOB_FIELDS)


class JobStore:
    """Processes and jobs of every user. Safe to share between threads."""

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.RLock()
        with self._lock:
            self._d = _dialect(url)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JobStore:
        """The ADES's store as its environment says: ``EOPDE_ADES_DB_URL``, else the SQLite
        file ``ades/ades.db`` under ``EOPDE_HOME`` (default ``~/.eopde``)."""
        home = Path(env.get("EOPDE_HOME") or Path.home() / ".eopde")
        return cls(env.get("EOPDE_ADES_DB_URL") or f"sqlite:///{home / 'ades' / 'ades.db'}")

    def close(self) -> None:
        with self._lock:
            self._d.close()

    def _encode(self, name: str, value: Any, json_fields: set, time_fields: set) -> Any:
        if name in json_fields:
            return self._d.encode_json(value)
        if name in time_fields:
            return self._d.encode_time(value)
        return value

    def _decode(self, row: dict, json_fields: set, time_fields: set) -> dict:
        for k in json_fields:
            row[k] = self._d.decode_json(row[k])
        for k in time_fields:
            row[k] = self._d.decode_time(row[k])
        return row

    # ------------------------------------------------------------------ owners
    def claim_user(self, user: str, identity: str) -> list[str]:
        """Bind ``user`` to ``identity``. The first identity seen for a name owns what is stored
        under it; another identity (the name was re-created) retires the old one's processes and
        jobs (see the module doc). Returns the ids of retired jobs that had not ended. Raises
        :class:`RetiredIdentity` for an identity that was retired (an old token of the old
        account, still cached somewhere)."""
        with self._lock, self._d.atomic():
            rows = self._d.rows('SELECT "identity" FROM {owners} WHERE "user"=?', (user,))
            now = self._d.encode_time(utcnow())
            if not rows:
                self._d.run('INSERT INTO {owners} ("user", "identity", "since") VALUES (?, ?, ?)',
                            (user, identity, now))
                return []
            if rows[0]["identity"] == identity:
                return []
            if self._d.rows('SELECT "user" FROM {retired} WHERE "user"=? AND "identity"=?',
                            (user, identity)):
                raise RetiredIdentity(user)
            self._d.run('INSERT INTO {retired} ("user", "identity", "since") VALUES (?, ?, ?)',
                        (user, rows[0]["identity"], now))
            retired = f"{user}/retired-{uuid.uuid4().hex[:12]}"
            open_jobs = [r["id"] for r in self._d.rows(
                'SELECT "id" FROM {jobs} WHERE "user"=? AND "status" IN (?, ?)',
                (user, "accepted", "running"))]
            for table in ("{processes}", "{jobs}"):
                self._d.run(f'UPDATE {table} SET "user"=? WHERE "user"=?', (retired, user))
            self._d.run('UPDATE {owners} SET "identity"=?, "since"=? WHERE "user"=?',
                        (identity, now, user))
            return open_jobs

    # ------------------------------------------------------------------ processes
    def _proc(self, row: dict) -> ProcessRecord:
        return ProcessRecord(**self._decode(row, _JSON_PROC, _TIME_PROC))

    def add_process(self, record: ProcessRecord) -> None:
        values = [self._encode(n, getattr(record, n), _JSON_PROC, _TIME_PROC)
                  for n in _PROC_FIELDS]
        with self._lock:
            try:
                self._d.run(f"INSERT INTO {{processes}} ({_PROC_COLS}) "
                            f"VALUES ({', '.join('?' * len(_PROC_FIELDS))})", values)
            except Exception as err:
                if self._d.is_duplicate(err):
                    raise DuplicateProcess(record.user, record.id) from None
                raise

    def replace_process(self, record: ProcessRecord) -> None:
        with self._lock:
            old = self.get_process(record.user, record.id)
            if old is None:
                raise NoSuchProcess(record.user, record.id)
            record.created = old.created
            self._d.run(
                'UPDATE {processes} SET "version"=?, "cwl_text"=?, "workflow_id"=?, '
                '"description"=?, "updated"=? WHERE "user"=? AND "id"=?',
                (record.version, record.cwl_text, record.workflow_id,
                 self._d.encode_json(record.description), self._d.encode_time(record.updated),
                 record.user, record.id))

    def get_process(self, user: str, process_id: str) -> ProcessRecord | None:
        with self._lock:
            rows = self._d.rows(f'SELECT {_PROC_COLS} FROM {{processes}} '
                                'WHERE "user"=? AND "id"=?', (user, process_id))
        return self._proc(rows[0]) if rows else None

    def list_processes(self, user: str, limit: int, skip: int) -> tuple[list[ProcessRecord], int]:
        with self._lock:
            total = self._d.rows('SELECT COUNT(*) AS n FROM {processes} WHERE "user"=?',
                                 (user,))[0]["n"]
            rows = self._d.rows(
                f'SELECT {_PROC_COLS} FROM {{processes}} WHERE "user"=? ORDER BY "id" '
                'LIMIT ? OFFSET ?', (user, max(0, limit), max(0, skip)))
        return [self._proc(r) for r in rows], total

    def delete_process(self, user: str, process_id: str) -> bool:
        with self._lock:
            count = self._d.run('DELETE FROM {processes} WHERE "user"=? AND "id"=?',
                                (user, process_id))
        return count > 0

    # ------------------------------------------------------------------ jobs
    def _job(self, row: dict) -> JobRecord:
        return JobRecord(**self._decode(row, _JSON_JOB, _TIME_JOB))

    def create_job(self, user: str, process_id: str, inputs: dict, outputs: dict | None,
                   mode: str, response: str = "document") -> JobRecord:
        now = utcnow()
        job = JobRecord(id=str(uuid.uuid4()), user=user, process_id=process_id,
                        inputs=inputs, outputs=outputs, mode=mode, status="accepted",
                        message="job accepted, waiting for a worker", progress=0,
                        created=now, started=None, finished=None, updated=now,
                        results=None, log_path=None, pid=None, response=response)
        values = [self._encode(n, getattr(job, n), _JSON_JOB, _TIME_JOB) for n in _JOB_FIELDS]
        with self._lock:
            self._d.run(f"INSERT INTO {{jobs}} ({_JOB_COLS}) "
                        f"VALUES ({', '.join('?' * len(_JOB_FIELDS))})", values)
        return job

    def get_job(self, job_id: str, user: str | None = None) -> JobRecord | None:
        where, args = '"id"=?', [job_id]
        if user is not None:
            where, args = where + ' AND "user"=?', [*args, user]
        with self._lock:
            rows = self._d.rows(f"SELECT {_JOB_COLS} FROM {{jobs}} WHERE {where}", args)
        return self._job(rows[0]) if rows else None

    def list_jobs(self, user: str, *, process_ids: Iterable[str] | None = None,
                  statuses: Iterable[str] | None = None, limit: int = 1000,
                  skip: int = 0) -> tuple[list[JobRecord], int]:
        """A user's jobs, newest first. Dismissed jobs leave the list (as ZOO removes them)
        unless ``statuses`` names "dismissed"."""
        where, args = ['"user"=?'], [user]
        statuses = list(statuses or [])
        if not statuses or "dismissed" not in statuses:
            where.append('"status"<>?')
            args.append("dismissed")
        for column, values in (("process_id", process_ids), ("status", statuses)):
            if values:
                values = list(values)
                where.append(f"{_q(column)} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        clause = " AND ".join(where)
        with self._lock:
            total = self._d.rows(f"SELECT COUNT(*) AS n FROM {{jobs}} WHERE {clause}",
                                 args)[0]["n"]
            rows = self._d.rows(
                f'SELECT {_JOB_COLS} FROM {{jobs}} WHERE {clause} '
                'ORDER BY "created" DESC, {order} DESC LIMIT ? OFFSET ?',
                [*args, max(0, limit), max(0, skip)])
        return [self._job(r) for r in rows], total

    def update_job(self, job_id: str, **changes: Any) -> JobRecord:
        bad = set(changes) - (set(_JOB_FIELDS) - {"id", "user"})
        if bad:
            raise StoreError(f"cannot update job field(s) {sorted(bad)}")
        changes.setdefault("updated", utcnow())
        sets = [f"{_q(name)}=?" for name in changes]
        args = [self._encode(n, v, _JSON_JOB, _TIME_JOB) for n, v in changes.items()]
        with self._lock:
            count = self._d.run(f'UPDATE {{jobs}} SET {", ".join(sets)} WHERE "id"=?',
                                [*args, job_id])
            if count == 0:
                raise NoSuchJob(job_id)
            job = self.get_job(job_id)
        if job is None:  # removed between the two statements
            raise NoSuchJob(job_id)
        return job

    def jobs_with_status(self, statuses: Iterable[str]) -> list[JobRecord]:
        statuses = list(statuses)
        if not statuses:
            return []
        with self._lock:
            rows = self._d.rows(
                f"SELECT {_JOB_COLS} FROM {{jobs}} "
                f"WHERE \"status\" IN ({', '.join('?' * len(statuses))}) "
                'ORDER BY "created", {order}', statuses)
        return [self._job(r) for r in rows]
