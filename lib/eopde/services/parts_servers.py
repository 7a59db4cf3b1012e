"""The server parts of the local platform (part of :mod:`eopde.services.parts`): the STAC API,
the tile server, S3 storage, the workspace service, the ADES and JupyterHub, and where the hub's
programs and configuration are found."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .errors import PlatformError
from .partbase import Part, UvicornPart, http_ok, rclone_path


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
        return http_ok(self.url + "/", accept_status=range(200, 500))


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
        return http_ok(self.url + "/hub/health")


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


