"""What the ADES fetches because a user named it (issue 8, item 4).

Stage-in and deploy by href go through :mod:`eopde.urlguard`: public http(s) hosts, the
platform's own data server and catalogue (``EOPDE_DATA_URL``, ``EOPDE_CATALOGUE_URL``; more with
``EOPDE_ADES_FETCH_ORIGINS``, comma-separated), and for stage-in the caller's own bucket
(:func:`eopde.hub.local.bucket_name`). Nothing local: no ``file:`` URLs, no paths.

:func:`check_inputs` refuses an execute request up front (400, before any job exists) when an
input that names data (a ``File``/``Directory`` input, i.e. a ``format: uri`` string, or a CWL
``File``/``Directory`` object anywhere in a value) points where the policy refuses. Stage-in
checks again (every asset href, every redirect, the address connected to).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from eopde.urlguard import UrlPolicy, UrlRefused

from .errors import OGCError, P1

def platform_origins(env: Mapping[str, str] | None = None) -> list[str]:
    """The platform's own base URLs a user may name: data server, catalogue, extras."""
    env = os.environ if env is None else env
    extra = [u.strip() for u in (env.get("EOPDE_ADES_FETCH_ORIGINS") or "").split(",")]
    return [u for u in (env.get("EOPDE_DATA_URL"), env.get("EOPDE_CATALOGUE_URL"), *extra) if u]


def policy_for(user: str | None, origins: list[str]) -> UrlPolicy:
    """The policy for ``user`` (their bucket for s3://), or for no bucket (deploy by href)."""
    from eopde.hub.local import bucket_name

    return UrlPolicy.of(origins, bucket=bucket_name(user) if user else None)


def _is_uri_schema(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("format") == "uri":
        return True
    # arrays of URLs (`{"type": "array", "items": {"format": "uri"}}`, how Directory[] is described)
    alts = (schema.get("oneOf") or []) + (schema.get("anyOf") or []) + [schema.get("items")]
    return any(_is_uri_schema(s) for s in alts if isinstance(s, dict))


def _cwl_locations(value: Any, depth: int = 0) -> Iterator[str]:
    """``location``/``path`` of CWL File/Directory objects in a JSON value."""
    if depth > 64:
        return
    if isinstance(value, list):
        for v in value:
            yield from _cwl_locations(v, depth + 1)
    elif isinstance(value, dict):
        if value.get("class") in ("File", "Directory"):
            for key in ("location", "path"):
                if isinstance(value.get(key), str):
                    yield value[key]
        for v in value.values():
            if isinstance(v, (list, dict)):
                yield from _cwl_locations(v, depth + 1)


def _refs(value: Any, uri: bool) -> Iterator[str]:
    """URLs an input value names for the ADES or cwltool to fetch."""
    yield from _cwl_locations(value)
    if not uri:
        return
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, dict) and v.get("class") not in ("File", "Directory"):
            v = v.get("href", v.get("value"))
        if isinstance(v, str):
            yield v


def check_inputs(inputs: Mapping[str, Any], description: Mapping[str, Any],
                 policy: UrlPolicy) -> None:
    """Raise a 400 :class:`OGCError` naming the input and the rule when ``policy`` refuses a URL
    an input names (see the module doc)."""
    declared = description.get("inputs") or {}
    for iid, value in (inputs or {}).items():
        spec = declared.get(iid) or {}
        for url in _refs(value, _is_uri_schema(spec.get("schema"))):
            try:
                policy.check(url, unresolved_ok=True)
            except UrlRefused as err:
                raise OGCError(400, P1 + "invalid-parameter-value", "InvalidParameterValue",
                               f"input {iid!r}: {err}. Data inputs are STAC item URLs on "
                               "public http(s) hosts, the platform's own catalogue or data "
                               "server, or s3:// URLs of your own bucket") from None
