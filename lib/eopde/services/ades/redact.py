"""What of a job's recorded inputs is never served back: credentials (`redact_inputs`).

The inputs document (``GET /jobs/{id}/inputs``) goes to the job's owner only, but it is made to
be copied: into a re-run form, a notebook, a log, and into the provenance links of results
published to a shared catalogue (`eopde.workspace`). A credential that rode along in an input
would outlive the job it was given for and reach whoever reads any of those. So what can only be
a credential is replaced by ``REDACTED`` and the input named in the document's ``redacted``
list (a re-run asks the user for those again; the owner still has them where they came from):

- the whole value of an input whose id names a secret (``token``, ``password``, ``api_key``...)
  or whose schema says ``format: password`` (OpenAPI's mark of a secret string);
- in any URL anywhere in a value: the user-info part (``https://user:pass@host/``), and the
  values of query parameters that carry signatures or keys (presigned S3/GCS/Azure URLs,
  ``?token=``, ``?access_token=``, ``?api_key=``...).

Everything else (STAC item URLs, numbers, bounding boxes) is served as it was recorded.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
MAX_DEPTH = 64

#: Input ids (and query parameter names) that name a secret.
_SECRET_NAME = re.compile(
    r"(passw(or)?d|passwd|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|"
    r"credential|signature|auth(?!or))", re.IGNORECASE)
#: Query parameters of signed URLs whose short names the pattern above does not catch.
_SECRET_PARAMS = {"sig", "key", "code"}


def _secret_param(name: str) -> bool:
    return name.lower() in _SECRET_PARAMS or bool(_SECRET_NAME.search(name))


def redact_url(text: str) -> str:
    """``text`` with the user-info and credential query values of a URL replaced (any other
    string is returned as it is)."""
    if "://" not in text or len(text) > 65536:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if not parts.scheme or not parts.netloc:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if _secret_param(k) else v) for k, v in pairs],
                              safe="/:")
    if netloc == parts.netloc and query == parts.query:
        return text
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _walk(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return REDACTED  # deeper than any execute body the ADES accepts
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, list):
        return [_walk(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_NAME.search(k)
                    and isinstance(v, str) else _walk(v, depth + 1))
                for k, v in value.items()}
    return value


def _secret_schema(spec: Any) -> bool:
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return isinstance(schema, dict) and schema.get("format") == "password"


def redact_inputs(inputs: dict[str, Any],
                  declared: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(the inputs with credentials replaced, the ids of the inputs that changed).
    ``declared``: the process description's ``inputs`` (for ``format: password``)."""
    declared = declared or {}
    out: dict[str, Any] = {}
    changed: list[str] = []
    for iid, value in inputs.items():
        if _SECRET_NAME.search(iid) or _secret_schema(declared.get(iid)):
            new: Any = REDACTED
        else:
            new = _walk(value)
        out[iid] = new
        if new != value:
            changed.append(iid)
    return out, changed
