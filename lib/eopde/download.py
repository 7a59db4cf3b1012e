"""Copy an s3:// or http(s):// object to a local file: one helper for result downloads and map
overlays (the kernel's own reads, with the user's credentials)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


def s3_client_from_env() -> Any:
    """A boto3 S3 client by :mod:`eopde.storage`'s rule (endpoint from ``AWS_ENDPOINT_URL_S3`` /
    ``AWS_ENDPOINT_URL`` / the platform's ``s3_endpoint``, keys from ``AWS_*``)."""
    from eopde.storage import s3_client

    return s3_client()


def download(href: str, path: str | os.PathLike, *, s3: Any = None) -> Path:
    """Write the object at `href` (s3:// or http(s)://) to `path`; other schemes are refused."""
    target = Path(path)
    parts = urlsplit(href)
    if parts.scheme == "s3":
        client = s3 if s3 is not None else s3_client_from_env()
        client.download_file(parts.netloc, unquote(parts.path.lstrip("/")), str(target))
    elif parts.scheme in ("http", "https"):
        import httpx

        with httpx.stream("GET", href, timeout=60, follow_redirects=True) as response:
            response.raise_for_status()
            with open(target, "wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
    else:
        raise ValueError(f"cannot download {href!r}: only s3:// and http(s):// URLs")
    return target
