"""How a STAC API's failures read (part of :mod:`eopde.catalogue.stac`): which requests are
retried, and pystac-client's errors turned into eopde's catalogue errors that say what to do."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlparse

from .base import (
    CatalogueAuthError,
    CatalogueError,
    CatalogueUnreachableError,
    NotACatalogueError,
    SearchParameterError,
)


def retry() -> Any:
    """urllib3 retries for pystac-client: few and quick."""
    from urllib3 import Retry

    # Few, quick retries: a refused connection or a 502/503/504 is retried twice, not five
    # times (pystac-client's default), so an unreachable catalogue fails fast.
    return Retry(total=2, backoff_factor=0.1, status_forcelist=(502, 503, 504),
                 allowed_methods=None, raise_on_status=False)


def reason(err: BaseException) -> str:
    """The gist of a connection error (errno, timeout, name resolution), or its text shortened."""
    text = str(err)
    for pattern in (r"\[Errno -?\d+\][^'\")]*", r"Read timed out[^'\")]*",
                    r"Connection to \S+ timed out[^'\")]*", r"Name or service not known",
                    r"Failed to resolve[^'\")]*"):
        found = re.search(pattern, text)
        if found:
            return found.group(0).strip().rstrip(".")
    return text if len(text) < 300 else text[:297] + "..."


def server_detail(text: str) -> str:
    """The message of an error body (JSON `description`, `detail` or `message`), shortened."""
    try:
        body = json.loads(text)
    except (ValueError, TypeError):
        return text.strip()[:300]
    if isinstance(body, dict):
        detail = body.get("description") or body.get("detail") or body.get("message") or body
        if isinstance(detail, list):
            parts = []
            for d in detail:
                if isinstance(d, dict):
                    loc = ".".join(str(x) for x in d.get("loc", [])[1:])
                    parts.append(f"{loc}: {d.get('msg')}" if loc else str(d.get("msg")))
                else:
                    parts.append(str(d))
            return "; ".join(parts[:3]) + (f" (and {len(parts) - 3} more)" if len(parts) > 3
                                            else "")
        return str(detail)
    return str(body)[:300]


def default_name(url: str) -> str:
    """A catalogue's name when none is given: its host and path."""
    parsed = urlparse(url)
    return (parsed.netloc + parsed.path.rstrip("/")) or url


def api_error(err: Exception, doing: str, *, name: str, url: str) -> CatalogueError:
    """The catalogue error for pystac-client's `err` (an APIError: a status, or none when
    unreachable), raised while `doing` something with the catalogue `name` at `url`."""
    status = getattr(err, "status_code", None)
    where = f"catalogue {name!r} ({url})" if name != default_name(url) else f"catalogue {url}"
    if status is None:
        return CatalogueUnreachableError(
            f"{where} is unreachable while {doing}: {reason(err)}. Check the URL, your "
            "network, and that the service runs (`eopde status` for the local platform)")
    detail = server_detail(str(err))
    if status in (401, 403):
        return CatalogueAuthError(
            f"{where} refused access while {doing} (HTTP {status}: {detail}); pass token= "
            "or set EOPDE_TOKEN to a token it accepts")
    if status == 404 and doing == "opening it":
        return NotACatalogueError(
            f"{where} answered 404 Not Found: there is no STAC API landing page at this "
            "URL; check the path (the API root, e.g. https://host/stac)")
    if status in (502, 503, 504):
        return CatalogueUnreachableError(
            f"{where} is unavailable while {doing} (HTTP {status}: {detail}); try again later")
    if status >= 500:
        return CatalogueError(
            f"{where} failed while {doing} (HTTP {status}: {detail}). If it persists, "
            "simplify the search: e.g. a filter comparing a number property with a string "
            "makes some catalogues fail this way")
    return SearchParameterError(f"{where} rejected the search (HTTP {status}): {detail}")
