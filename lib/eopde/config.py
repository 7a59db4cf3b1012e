"""Platform endpoints for the kernel library, the CLI and the server extension.

Where they come from, first match wins, field by field:

1. environment variables (`EOPDE_CATALOGUE_URL`, `EOPDE_TILES_URL`, `EOPDE_S3_ENDPOINT`,
   `EOPDE_ADES_URL`, `EOPDE_WORKSPACE_URL`, `EOPDE_HUB_API_URL`), which the hub sets in every
   user's server;
2. a named platform in a TOML file (`EOPDE_CONFIG`, default `~/.config/eopde/platforms.toml`)::

       default = "eoepca-demo"
       [platforms.eoepca-demo]
       catalogue_url = "https://resource-catalogue.demo.eoepca.org/stac"
       ades_url = "https://zoo.demo.eoepca.org/{user}/ogc-api"

3. the local platform started by `eopde up` in `$EOPDE_HOME` (default `~/.local/state/eopde`,
   whatever the current folder; its `endpoints.json`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

#: Config field -> environment variable.
ENV_VARS = {
    "catalogue_url": "EOPDE_CATALOGUE_URL",
    "tiles_url": "EOPDE_TILES_URL",
    "s3_endpoint": "EOPDE_S3_ENDPOINT",
    "ades_url": "EOPDE_ADES_URL",
    "workspace_url": "EOPDE_WORKSPACE_URL",
    "hub_api_url": "EOPDE_HUB_API_URL",
}


class ConfigError(ValueError):
    """The platform configuration is missing or malformed; the message says what to fix."""


@dataclass(frozen=True)
class PlatformConfig:
    """Endpoints of one platform. A field is None when the platform does not offer it."""

    name: str = "local"
    catalogue_url: str | None = None
    tiles_url: str | None = None
    s3_endpoint: str | None = None
    ades_url: str | None = None
    workspace_url: str | None = None
    hub_api_url: str | None = None

    def require(self, field: str) -> str:
        """The value of `field`, or a ConfigError saying how to set it."""
        value = getattr(self, field)
        if not value:
            raise ConfigError(
                f"platform {self.name!r} has no {field}: set {ENV_VARS[field]}, add `{field}` to "
                f"[platforms.{self.name}] in {config_file()}, or start the local platform with "
                "`eopde up`"
            )
        return value


def config_file() -> Path:
    return Path(os.environ.get("EOPDE_CONFIG", "~/.config/eopde/platforms.toml")).expanduser()


def _from_file(name: str | None) -> PlatformConfig | None:
    path = config_file()
    if not path.exists():
        if name:
            raise ConfigError(f"no platform {name!r}: {path} does not exist")
        return None
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    platforms = data.get("platforms", {})
    name = name or data.get("default")
    if not name:
        return None
    if name not in platforms:
        known = ", ".join(sorted(platforms)) or "none"
        raise ConfigError(f"no platform {name!r} in {path} (known: {known})")
    known_fields = {f.name for f in fields(PlatformConfig)} - {"name"}
    unknown = set(platforms[name]) - known_fields
    if unknown:
        raise ConfigError(
            f"[platforms.{name}] in {path} has unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(known_fields)}"
        )
    return PlatformConfig(name=name, **platforms[name])


def _from_local_platform() -> PlatformConfig | None:
    from .paths import default_home

    path = default_home() / "endpoints.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    values = {field: data.get(var) for field, var in ENV_VARS.items()}
    return PlatformConfig(name="local", **values)


def load(name: str | None = None) -> PlatformConfig:
    """The configuration of platform `name` (default: EOPDE_PLATFORM, the file's default, or
    the local platform), with environment variables taking precedence field by field."""
    name = name or os.environ.get("EOPDE_PLATFORM") or None
    if name == "local" and not config_file().exists():
        name = None
    base = _from_file(name) or _from_local_platform() or PlatformConfig(name=name or "local")
    overrides = {f: os.environ[v] for f, v in ENV_VARS.items() if os.environ.get(v)}
    return replace(base, **overrides)


def ades_endpoints() -> list[tuple[str, str]]:
    """`(platform name, ADES URL)` of every configured platform that has an ADES: the current
    platform (`load()`) first, then the others of the config file, in its order. Empty when
    none is configured."""
    found: list[tuple[str, str]] = []
    current = load()
    if current.ades_url:
        found.append((current.name, current.ades_url))
    path = config_file()
    if path.exists():
        import tomllib

        try:
            platforms = tomllib.loads(path.read_text()).get("platforms", {})
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: {err}") from None
        for name, values in platforms.items():
            url = values.get("ades_url") if isinstance(values, dict) else None
            if isinstance(url, str) and url and name not in {n for n, _ in found}:
                found.append((name, url))
    return found
