"""JupyterHub configuration of the local platform (`hub_config/jupyterhub_config.py` calls this).

One machine, one OS account: every hub user's server runs as the account that ran `eopde up`,
each with a home folder of its own under `$EOPDE_HOME/users/`. The servers and their kernels
share one Python environment (this one), so widget front ends always match their kernel side.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

from ..services.process import INSTANCE_ENV, instance_id
from ..services.secrets import load_secrets, read_secret
from ..services.settings import PlatformSettings

#: Name of the hub-registered service the platform tools (`eopde token`, the catalogue's token
#: check) act as.
PLATFORM_SERVICE = "eopde-platform"

#: Hub service name of the tile server; its public route is `{hub base}/services/tiles/`.
TILES_SERVICE = "tiles"

#: Scopes of that service: create users and tokens for them, read users to check tokens.
PLATFORM_SCOPES = ["admin:users", "tokens", "list:users", "read:users"]


#: A user name that is its own bucket suffix: lowercase letters and digits in hyphen-separated
#: runs (so never "--", which only hashed names carry).
_CANONICAL = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
#: Suffixes S3 refuses at the end of a bucket name.
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3")


def bucket_name(username: str) -> str:
    """The S3 bucket of a user; every part of the platform calls this one function.

    One user, one bucket, never two users in one: a canonical name (lowercase `[a-z0-9-]`, no
    leading, trailing or doubled hyphen) keeps its readable form, `user-alice`; any other name
    gets the readable slug, a `--` no canonical name can contain and 64 bits of SHA-256 of the
    exact name: `Alice` -> `user-alice--<16 hex>`. Always a valid S3 bucket name (3-63 chars).
    """
    bucket = f"user-{username}"
    if (_CANONICAL.fullmatch(username) and len(bucket) <= 63
            and not bucket.endswith(_RESERVED_SUFFIXES)):
        return bucket
    slug = re.sub(r"[^a-z0-9]+", "-", username.lower()).strip("-")[:40].rstrip("-")
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"user-{slug}--{digest}" if slug else f"user--{digest}"


def configure(c, settings: PlatformSettings | None = None) -> None:
    """Fill a JupyterHub config object `c` for the local platform."""
    settings = settings or PlatformSettings()
    secrets = load_secrets(settings.secrets_file)
    host = settings.host
    hub_dir = settings.hub_dir

    # -- network: public proxy port, hub and proxy APIs on loopback -------------------------
    public_ip = os.environ.get("EOPDE_HUB_IP", "127.0.0.1")
    c.JupyterHub.bind_url = f"http://{public_ip}:{settings.port('hub')}"
    c.JupyterHub.hub_bind_url = f"http://{host}:{settings.port('hub_api')}"
    c.ConfigurableHTTPProxy.api_url = f"http://{host}:{settings.port('proxy_api')}"
    c.ConfigurableHTTPProxy.auth_token = secrets["proxy_auth_token"]
    c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")
    if os.environ.get("EOPDE_PROXY_COMMAND"):
        c.ConfigurableHTTPProxy.command = [os.environ["EOPDE_PROXY_COMMAND"]]

    # -- state ------------------------------------------------------------------------------
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub_dir / "jupyterhub_cookie_secret")

    # -- who logs in ------------------------------------------------------------------------
    c.JupyterHub.authenticator_class = "eopde.hub.authenticator.DemoAuthenticator"
    password = (settings.demo_password or read_secret("EOPDE_DEMO_PASSWORD")
                or secrets["demo_password"])
    c.DemoAuthenticator.users = {settings.demo_user: password}
    # Only configured users get past authenticate(); everyone who does is allowed.
    c.Authenticator.allow_all = True
    c.JupyterHub.template_vars = {
        "announcement_login": (
            "<b>eopde local demo</b>: this hub runs on this machine only. "
            f"Log in as <code>{settings.demo_user}</code> with the password printed by "
            "<code>make demo</code> (also shown by <code>eopde status</code>)."
        ),
    }

    # -- the platform's own service: makes tokens, checks tokens ----------------------------
    # The hub waits `timeout` seconds for each external service at start-up (30 by default) and
    # adds its route either way: the parts start before the hub, so 2 s is plenty, and a part
    # that is down no longer holds the hub back 30 s each (three of them: past its health check).
    waits = {"display": False, "timeout": 2}
    c.JupyterHub.services = [
        {"name": PLATFORM_SERVICE, "api_token": secrets["service_token"]},
        # Browsers reach the tile server through the hub's proxy at /services/tiles/, so
        # maps in JupyterLab show tiles without any other port being open to users.
        {"name": TILES_SERVICE, "url": settings.url("tiles"), **waits},
        # The ADES, for clients outside this machine: {hub}/services/ades/{user}/ogc-api/
        # (every request still needs the user's token).
        {"name": "ades", "url": settings.url("ades"), **waits},
        # The workspace API likewise: {hub}/services/workspace/workspaces/ws-{user}.
        {"name": "workspace", "url": settings.url("workspace"), **waits},
    ]
    c.JupyterHub.load_roles = [
        {"name": PLATFORM_SERVICE, "scopes": PLATFORM_SCOPES, "services": [PLATFORM_SERVICE]},
    ]

    # -- users' servers ---------------------------------------------------------------------
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(settings.users_dir / "{username}")
    c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
    args = [
        "--MultiKernelManager.default_kernel_name=eopde",
        # Offline-friendly: no news feed or update checks fetched from the internet.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # window.jupyterapp, as Galata uses it: browser tests drive JupyterLab's commands.
        "--LabApp.expose_app_in_browser=True",
        # The Extension Manager lists what is installed but never offers to fetch from PyPI:
        # the demo runs offline, and users' servers share the platform's environment.
        "--LabApp.extension_manager=readonly",
    ]
    if (settings_dir := lab_settings_dir()) is not None:
        # The checkout's JupyterLab defaults (hub_config/lab-settings/overrides.json), read
        # where they are kept rather than from a copy in the environment that can go stale.
        args.append(f"--LabApp.app_settings_dir={settings_dir}")
    if os.geteuid() == 0:
        args.append("--allow-root")
    c.Spawner.args = args
    c.Spawner.default_url = "/lab"
    c.Spawner.http_timeout = 60
    c.Spawner.start_timeout = 120
    c.Spawner.environment = user_environment(settings, secrets)
    # Users' servers start from an empty environment plus these few variables of the hub's
    # (JupyterHub's default list, said here so that no platform secret is ever added to it).
    c.Spawner.env_keep = ["PATH", "PYTHONPATH", "CONDA_ROOT", "CONDA_DEFAULT_ENV", "VIRTUAL_ENV",
                          "LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP"]
    c.Spawner.pre_spawn_hook = pre_spawn_hook


def user_environment(settings: PlatformSettings, secrets: dict[str, str]) -> dict:
    """Environment of every user's server and kernels: the platform endpoints and credentials.

    The token the local services accept is the server's own `JUPYTERHUB_API_TOKEN`, which the
    hub sets; `eopde.auth` finds it there. No platform secret (service token, database
    password, proxy token, the platform's S3 keys) is given: the S3 keys are the user's own,
    from their workspace (`services/workspace_store.py`), which see only their bucket.
    """
    env: dict = settings.endpoints()
    del env["EOPDE_HUB_URL"]  # users' servers run behind the hub already
    ades = env["EOPDE_ADES_URL"]
    env.update(settings.s3_env(secrets))  # boto3, s3fs and GDAL read these
    env["AWS_ACCESS_KEY_ID"] = lambda spawner: _user_keys(settings, spawner).access
    env["AWS_SECRET_ACCESS_KEY"] = lambda spawner: _user_keys(settings, spawner).secret
    env.update({
        "EOPDE_PLATFORM": "local",
        # Marks the server and its kernels as this platform's: `eopde down` stops them even
        # when the hub that started them died.
        INSTANCE_ENV: instance_id(settings.home_path),
        # Path of the tile server behind the hub's proxy, for URLs that browsers load.
        "EOPDE_TILES_PUBLIC_PATH": f"/services/{TILES_SERVICE}",
        # Stand-ins for container images where no engine runs (eopde.apppkg.images).
        "EOPDE_IMAGES_DIR": str(settings.home_path / "images"),
        "EOPDE_ADES_URL": lambda spawner: ades.format(user=spawner.user.name),
        # The bucket is per user (see pre_spawn_hook).
        "EOPDE_S3_BUCKET": lambda spawner: bucket_name(spawner.user.name),
    })
    return env


def _user_keys(settings: PlatformSettings, spawner):
    """The user's workspace keys (and bucket folder), made on first use."""
    from ..services.workspace_store import ensure_keys, keys_file

    return ensure_keys(keys_file(settings.home_path), spawner.user.name, settings.storage_dir)


def pre_spawn_hook(spawner) -> None:
    """Make the user's home folder (with the tutorials) before their server starts (their
    bucket and keys come with the environment: `_user_keys`)."""
    home = spawner.home_dir
    os.makedirs(home, mode=0o700, exist_ok=True)
    copy_tutorials(home)


def lab_settings_dir() -> Path | None:
    """The checkout's JupyterLab settings folder (overrides.json: no news feed or update check
    offline; widget messages not on kernel subshells, whose busy/idle messages made the status
    bar say "Idle" while a cell still ran); None outside a checkout (``make`` then installed the
    same file into the environment)."""
    from ..services.parts import repo_root

    root = repo_root()
    folder = root / "hub_config" / "lab-settings" if root else None
    return folder if folder is not None and (folder / "overrides.json").is_file() else None


def tutorials_dir() -> Path | None:
    """The tutorial notebooks: EOPDE_TUTORIALS_DIR, or the checkout's notebooks/ folder."""
    override = os.environ.get("EOPDE_TUTORIALS_DIR")
    if override:
        return Path(override)
    from ..services.parts import repo_root

    root = repo_root()
    return root / "notebooks" if root else None


def copy_tutorials(home: str | os.PathLike) -> list[Path]:
    """Copy the tutorial notebooks into `home`/tutorials, never overwriting a user's copy."""
    source = tutorials_dir()
    if source is None or not source.is_dir():
        return []
    target = Path(home) / "tutorials"
    target.mkdir(exist_ok=True)
    copied = []
    for notebook in sorted(source.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in notebook.parts:
            continue
        destination = target / notebook.relative_to(source)
        if not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, destination)
            copied.append(destination)
    return copied


def ensure_bucket(name: str, settings: PlatformSettings | None = None) -> None:
    """Create an S3 bucket on the local storage if it does not exist."""
    from .. import storage

    settings = settings or PlatformSettings()
    secrets = load_secrets(settings.secrets_file)
    storage.ensure_bucket(storage.client(storage.S3Credentials(
        settings.url("storage"), secrets["s3_access_key"], secrets["s3_secret_key"])), name)
