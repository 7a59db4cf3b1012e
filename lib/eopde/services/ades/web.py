"""Request helpers of the local ADES app: JSON bodies read within limits, and the bases its links
are built from (configured, never the request's Host header)."""

from __future__ import annotations

from typing import Any

from .errors import bad_request

MAX_JSON_DEPTH = 64  # nesting of an execute body (inputs are shallow; deep ones are attacks)


def load_json(raw: bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON body within limits (cwlload.loads_json: no recursion on hostile nesting);
    400 when it is not JSON or nests deeper than ``max_depth``."""
    from eopde.apppkg.cwlload import LoadError, loads_json

    if not raw.strip():
        return {}
    try:
        return loads_json(raw, what, max_depth=max_depth)
    except UnicodeDecodeError as err:
        raise bad_request(f"{what} is not UTF-8 text: {err}", "BadRequest") from None
    except LoadError as err:
        fix = f"; fix: {err.fix}" if getattr(err, "fix", None) else ""
        raise bad_request(f"{err}{fix}", "BadRequest") from None


def public_bases(env: dict, base_url: str | None = None) -> tuple[str, str | None]:
    """(base of links for direct requests, base for requests through the hub's proxy)."""
    direct = base_url or env.get("EOPDE_ADES_SELF_URL")
    if not direct and env.get("EOPDE_ADES_URL"):
        direct = env["EOPDE_ADES_URL"].split("/{user}", 1)[0]
    if not direct:
        from ..settings import PlatformSettings

        direct = PlatformSettings().url("ades")
    prefix = (env.get("EOPDE_ADES_PUBLIC_PATH") or "").rstrip("/")
    proxied = env.get("EOPDE_ADES_PUBLIC_URL")
    if not proxied and prefix:
        hub = env.get("EOPDE_HUB_URL")
        if not hub:
            from ..settings import PlatformSettings

            hub = PlatformSettings().url("hub")
        proxied = hub.rstrip("/") + prefix
    return direct.rstrip("/"), proxied.rstrip("/") if proxied else None
