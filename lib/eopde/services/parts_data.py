"""The data parts of the local platform (part of :mod:`eopde.services.parts`): PostgreSQL, the
pgstac schema, and the demo data with its items loaded into the catalogue."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING

from .partbase import Part, http_ok, rclone_path

if TYPE_CHECKING:
    from .platform import Platform


class PostgresPart(Part):
    """PostgreSQL 15 + PostGIS 3, a private cluster in the state folder."""

    name = "postgres"
    port_key = "postgres"
    #: PostgreSQL's "fast" shutdown.
    stop_signal = signal.SIGINT

    def __init__(self, platform: Platform):
        super().__init__(platform)
        from . import postgres

        self._pg = postgres
        self._found: tuple[Path, str | None, Path] | None = None

    def _resolve(self) -> tuple[Path, str | None, Path]:
        """PostgreSQL's binaries, the account it runs as (None: this one), the cluster folder:
        looked up once, when first needed."""
        if self._found is None:
            user = self._pg.run_user()
            self._found = (self._pg.find_bindir(), user,
                           self._pg.cluster_dir(self.settings.home_path, user))
        return self._found

    @property
    def _port(self) -> int:
        port = self.port
        assert port is not None  # port_key is set
        return port

    @property
    def url(self) -> str:
        return f"postgresql://{self.settings.host}:{self.port}/{self._pg.DB_NAME}"

    def dsn(self, dbname: str | None = None) -> str:
        password = self.platform.secrets["postgres_password"]
        return self._pg.dsn(self.settings.host, self._port, password, dbname or self._pg.DB_NAME)

    def prepare(self) -> None:
        bindir, user, folder = self._resolve()
        self._pg.init_cluster(bindir, folder, self.platform.secrets["postgres_password"], user)
        self._remove_stale_lock()

    def _remove_stale_lock(self) -> None:
        """After a crash, PostgreSQL's lock file may name a postmaster that is a zombie (its
        parent has not reaped it yet): PostgreSQL takes that for a live server and refuses to
        start. Only a lock whose pid is gone or a zombie is removed."""
        from .process import pid_alive

        lock = self._resolve()[2] / "data" / "postmaster.pid"
        try:
            pid = int(lock.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        if not pid_alive(pid):
            lock.unlink(missing_ok=True)

    def command(self) -> list[str]:
        bindir, _, folder = self._resolve()
        return self._pg.server_command(bindir, folder, self.settings.host, self._port)

    def user(self) -> str | None:
        return self._resolve()[1]

    def cwd(self) -> Path | None:
        return self._resolve()[2]

    def healthy(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2) as conn:
                conn.execute("select 1")
            return True
        except psycopg.Error:
            return False

    def after_start(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (self._pg.DB_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{self._pg.DB_NAME}"')


class PgstacPart(Part):
    """The pgstac schema (`pypgstac migrate`), then the demo collection and items."""

    name = "pgstac"
    daemon = False
    needs = ("postgres",)

    @property
    def url(self) -> str:
        return self.platform.part("postgres").url

    def _db(self):
        from pypgstac.db import PgstacDB

        return PgstacDB(dsn=postgres_dsn(self.platform))

    def healthy(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(postgres_dsn(self.platform), connect_timeout=2) as conn:
                row = conn.execute("select pgstac.get_version()").fetchone()
            return bool(row and row[0])
        except psycopg.Error:
            return False

    def run_step(self) -> None:
        from pypgstac.migrate import Migrate

        db = self._db()
        try:
            Migrate(db).run_migration()
        finally:
            db.close()


class DataPart(Part):
    """The demo data: generated once, served over HTTP (range requests) by `rclone serve http`,
    and loaded into the catalogue with asset links to this server."""

    name = "data"
    port_key = "data"
    # Generating the demo data and starting the server need nothing; loading the items into the
    # catalogue needs its schema.
    after_start_needs = ("pgstac",)

    def prepare(self) -> None:
        from . import demodata

        demodata.generate(self.settings.data_dir)

    def command(self) -> list[str]:
        return [
            rclone_path(), "serve", "http", str(self.settings.data_dir),
            "--addr", f"{self.settings.host}:{self.port}", "--read-only", "--no-modtime",
            # Serve the folder as it is on disk now: with rclone's default 5 min listing cache
            # a new file was a 404, a deleted one still 200 and a rewritten one cut to its old
            # size. Listing a local folder of a few files per request costs nothing measurable.
            "--dir-cache-time", "0s", "--poll-interval", "0",
        ]

    def healthy(self) -> bool:
        return http_ok(self.url + "/")

    @property
    def loaded_file(self) -> Path:
        """What the last load put into the catalogue: the fingerprint and the item count."""
        return self.settings.home_path / "demo-items-loaded.json"

    def after_start(self) -> None:
        """Load the demo items into the catalogue, unless the last load left them there as
        they would be now (a warm `up` spent 1-3 s of CPU re-upserting the same six items
        while the other parts were starting)."""
        import json

        from .queryables import register_queryables

        stamp = self._fingerprint()
        if self._still_loaded(stamp):
            return
        self.loaded_file.unlink(missing_ok=True)
        count = load_demo_items(self.platform)
        # After the items: pgstac refuses queryables of a collection that does not exist yet.
        register_queryables(postgres_dsn(self.platform))
        self.loaded_file.write_text(json.dumps({"fingerprint": stamp, "items": count}))

    def _fingerprint(self) -> str:
        """Everything the loaded items depend on: the data server's URL, the data files (name,
        size, time) and the code that writes the item JSON."""
        import hashlib

        from . import demodata

        digest = hashlib.sha256(self.url.encode())
        for source in demodata.source_files():
            digest.update(source.read_bytes())
        folder = self.settings.data_dir
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                st = path.stat()
                digest.update(f"{path.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n"
                              .encode())
        return digest.hexdigest()

    def _still_loaded(self, stamp: str) -> bool:
        """The last load had this fingerprint and the catalogue still holds its item count
        (a deleted demo item, or a new database, loads them again)."""
        import json

        try:
            last = json.loads(self.loaded_file.read_text())
        except (OSError, ValueError):
            return False
        if not isinstance(last, dict) or last.get("fingerprint") != stamp:
            return False
        return demo_item_count(self.platform) == last.get("items")


def demo_item_count(platform: Platform) -> int | None:
    """How many items the demo collection has in the catalogue (None: no answer)."""
    import psycopg

    from . import demodata

    try:
        with psycopg.connect(postgres_dsn(platform), connect_timeout=5) as conn:
            row = conn.execute("select count(*) from pgstac.items where collection = %s",
                               (demodata.COLLECTION_ID,)).fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row else None


def postgres_dsn(platform: Platform) -> str:
    """How to connect to the platform's PostgreSQL (its main database)."""
    part = platform.part("postgres")
    assert isinstance(part, PostgresPart)
    return part.dsn()


def load_demo_items(platform: Platform) -> int:
    """Upsert the demo collection and items, with asset links to the running data server."""
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    from . import demodata

    base_url = platform.part("data").url
    collection = demodata.collection(base_url)
    items = demodata.items(platform.settings.data_dir, base_url)
    db = PgstacDB(dsn=postgres_dsn(platform))
    try:
        loader = Loader(db)
        loader.load_collections(iter([collection]), insert_mode=Methods.upsert)
        loader.load_items(iter(items), insert_mode=Methods.upsert)
    finally:
        db.close()
    return len(items)


