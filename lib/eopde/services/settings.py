"""Settings of the local platform: state folder, ports, demo login.

Every option is a traitlet whose default comes from an environment variable, so
`eopde up`, the hub configuration and the tests all read one source of truth.
"""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Int, Unicode, default
from traitlets.config import Configurable

#: Environment variable of each port option, named in "port in use" errors.
PORT_ENV = {
    "hub": "EOPDE_HUB_PORT",
    "hub_api": "EOPDE_HUB_API_PORT",
    "proxy_api": "EOPDE_PROXY_API_PORT",
    "postgres": "EOPDE_POSTGRES_PORT",
    "catalogue": "EOPDE_CATALOGUE_PORT",
    "tiles": "EOPDE_TILES_PORT",
    "storage": "EOPDE_S3_PORT",
    "data": "EOPDE_DATA_PORT",
    "ades": "EOPDE_ADES_PORT",
    "workspace": "EOPDE_WORKSPACE_PORT",
}

#: Offsets from `base_port` of the ports that are not the hub's public one.
_PORT_OFFSETS = {
    "hub_api": 1,
    "proxy_api": 2,
    "postgres": 3,
    "catalogue": 10,
    "tiles": 11,
    "storage": 12,
    "data": 13,
    "ades": 14,
    "workspace": 15,
}


def _env_int(name: str, fallback: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return fallback
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a port number; set it to an integer") from None


#: File in the state folder where `eopde up` records the ports it used, so that later commands
#: (from any terminal, without the same environment) find the running platform.
RECORDED_FILE = "settings.json"


class PlatformSettings(Configurable):
    """Where the local platform keeps its state and which ports it listens on."""

    _recorded: dict | None = None  # settings.json of the state folder, read once

    home = Unicode(
        help="""State folder of the local platform (database cluster, object storage, demo data,
        logs, secrets). Environment: EOPDE_HOME. Default: `$XDG_STATE_HOME/eopde`, i.e.
        `~/.local/state/eopde`, whatever the current folder.""",
    ).tag(config=True)

    @default("home")
    def _home_default(self) -> str:
        from ..paths import default_home

        return str(default_home())

    host = Unicode(
        "127.0.0.1",
        help="""Address the platform's services listen on. Loopback by default: users reach
        them through the hub, never directly. Environment: EOPDE_BIND_HOST.""",
    ).tag(config=True)

    @default("host")
    def _host_default(self) -> str:
        return os.environ.get("EOPDE_BIND_HOST", "127.0.0.1")

    base_port = Int(
        help="""First port of the block used by the internal services (hub API, proxy API,
        PostgreSQL, catalogue, tiles, storage, data, ADES at fixed offsets). Environment:
        EOPDE_BASE_PORT. Default 8700.""",
    ).tag(config=True)

    @default("base_port")
    def _base_port_default(self) -> int:
        return _env_int("EOPDE_BASE_PORT", self.recorded().get("base_port", 8700))

    hub_port = Int(
        help="Public port of JupyterHub (its proxy). Environment: EOPDE_HUB_PORT. Default 8000.",
    ).tag(config=True)

    @default("hub_port")
    def _hub_port_default(self) -> int:
        return _env_int(PORT_ENV["hub"], self.recorded().get("ports", {}).get("hub", 8000))

    demo_user = Unicode(
        help="Name of the demo user. Environment: EOPDE_DEMO_USER. Default `demo`.",
    ).tag(config=True)

    @default("demo_user")
    def _demo_user_default(self) -> str:
        return os.environ.get("EOPDE_DEMO_USER", "demo")

    demo_password = Unicode(
        help="""Password of the demo user. Environment: EOPDE_DEMO_PASSWORD. Default: a random
        password generated at the first `eopde up` and kept in the state folder's secrets.""",
    ).tag(config=True)

    @default("demo_password")
    def _demo_password_default(self) -> str:
        return os.environ.get("EOPDE_DEMO_PASSWORD", "")

    # -- derived values -------------------------------------------------------------------

    def port(self, part: str) -> int:
        """The port of `part` (one of PORT_ENV's keys)."""
        if part == "hub":
            return self.hub_port
        recorded = self.recorded()
        # The recorded ports hold while the block is the recorded one (however it was set).
        if recorded.get("base_port") == self.base_port and part in recorded.get("ports", {}):
            return _env_int(PORT_ENV[part], recorded["ports"][part])
        return _env_int(PORT_ENV[part], self.base_port + _PORT_OFFSETS[part])

    def recorded(self) -> dict:
        """What `eopde up` recorded in the state folder (`record()`), or {}; read once."""
        if self._recorded is None:
            import json

            try:
                data = json.loads((Path(self.home) / RECORDED_FILE).read_text())
            except (OSError, ValueError):
                data = {}
            self._recorded = data if isinstance(data, dict) else {}
        return self._recorded

    def record(self) -> None:
        """Write the ports in use to the state folder, for commands run without this
        environment (another terminal, another folder)."""
        import json

        data = {"base_port": self.base_port,
                "ports": {part: self.port(part) for part in PORT_ENV}}
        (Path(self.home) / RECORDED_FILE).write_text(json.dumps(data, indent=1))
        self._recorded = data

    def url(self, part: str) -> str:
        """The loopback URL of an HTTP part."""
        return f"http://{self.host}:{self.port(part)}"

    def endpoints(self) -> dict[str, str]:
        """Loopback URLs of the services, as given to the parts and to users' servers."""
        return {
            "EOPDE_HUB_URL": self.url("hub"),
            "EOPDE_HUB_API_URL": f"{self.url('hub_api')}/hub/api",
            "EOPDE_CATALOGUE_URL": self.url("catalogue"),
            "EOPDE_TILES_URL": self.url("tiles"),
            "EOPDE_S3_ENDPOINT": self.url("storage"),
            "EOPDE_DATA_URL": self.url("data"),
            # EOEPCA's layout: one prefix per user; clients fill in {user}.
            "EOPDE_ADES_URL": f"{self.url('ades')}/{{user}}/ogc-api",
            "EOPDE_WORKSPACE_URL": self.url("workspace"),
        }

    def s3_env(self, secrets: dict[str, str], *, access: str = "s3_access_key",
               secret: str = "s3_secret_key") -> dict[str, str]:
        """What boto3, s3fs and GDAL read to reach the platform's object storage (with the
        platform's key pair, or the pair named ``access``/``secret`` of ``secrets``)."""
        return {
            "AWS_ENDPOINT_URL_S3": self.url("storage"),
            "AWS_ACCESS_KEY_ID": secrets[access],
            "AWS_SECRET_ACCESS_KEY": secrets[secret],
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def run_dir(self) -> Path:
        """Pid records of the parts."""
        return self.home_path / "run"

    @property
    def log_dir(self) -> Path:
        return self.home_path / "logs"

    @property
    def storage_dir(self) -> Path:
        """The folder behind the S3 server: one sub-folder per bucket."""
        return self.home_path / "storage"

    @property
    def data_dir(self) -> Path:
        """Demo data (COGs, thumbnails) served over HTTP by the `data` part."""
        return self.home_path / "data"

    @property
    def hub_dir(self) -> Path:
        """JupyterHub's working folder (its database and cookie secret)."""
        return self.home_path / "hub"

    @property
    def users_dir(self) -> Path:
        """Home folders of the hub's users, one per user."""
        return self.home_path / "users"

    @property
    def secrets_file(self) -> Path:
        return self.home_path / "secrets.json"
