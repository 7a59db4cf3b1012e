"""Object storage for the kernel library, the CLI and the platform's services: one place that
builds boto3 S3 clients, with one rule for where the endpoint and keys come from.

Endpoint, first match wins:

1. the ``endpoint`` argument;
2. ``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL`` (what boto3, GDAL and s3fs read themselves);
3. the platform configuration's ``s3_endpoint`` (:func:`eopde.config.load`: ``EOPDE_S3_ENDPOINT``,
   the named platform of the TOML file, the local platform's ``endpoints.json``);
4. none: AWS itself.

Keys: the arguments, else ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, else boto3's own
chain (profiles, instance roles). Region: the argument, ``AWS_DEFAULT_REGION``, ``AWS_REGION``,
else ``us-east-1``. A non-AWS endpoint gets path-style addressing (bucket in the path, so the
bucket need not be a host name).

Importing this module is light: boto3 is imported when a client is made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlparse

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Credentials:
    """Where an S3 service is and the keys to use; ``bucket``: the one bucket they are for, when
    they are a workspace's. ``None`` keys: boto3's own chain."""

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str = DEFAULT_REGION
    bucket: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return (f"S3Credentials(endpoint={self.endpoint!r}, access_key={self.access_key!r}, "
                f"region={self.region!r}, bucket={self.bucket!r})")


def configured_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """The S3 endpoint by the module's rule (steps 2-4); ``env`` other than the process's own:
    no configuration file is read."""
    own = env is None
    env = os.environ if env is None else env
    found = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if found:
        return found
    if own:
        from .config import ConfigError, load

        try:
            return load().s3_endpoint or None
        except (ConfigError, OSError, ValueError):
            pass  # a broken configuration file: the variable alone
    return env.get("EOPDE_S3_ENDPOINT") or None


def resolve(endpoint: str | None = None, access_key: str | None = None,
            secret_key: str | None = None, region: str | None = None,
            env: Mapping[str, str] | None = None) -> S3Credentials:
    """Credentials by the module's rule: arguments first, then the environment."""
    found = endpoint or configured_endpoint(env)
    env = os.environ if env is None else env
    return S3Credentials(
        endpoint=found,
        access_key=access_key or env.get("AWS_ACCESS_KEY_ID") or None,
        secret_key=secret_key or env.get("AWS_SECRET_ACCESS_KEY") or None,
        region=region or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_REGION,
    )


def client(credentials: S3Credentials | None = None, *, max_pool: int = 10,
           own_checksums: bool = False, sign_bodies: bool = True, **overrides: Any) -> Any:
    """A boto3 S3 client for ``credentials`` (default: :func:`resolve`); keyword ``overrides``
    (endpoint, access_key, secret_key, region) replace single fields. ``max_pool``: HTTP
    connections kept (raise it for parallel transfers). ``own_checksums``: the caller checks
    integrity itself (Content-MD5), so botocore adds its CRC32 only where an operation
    requires one. ``sign_bodies=False``: no SHA-256 of request bodies in the signature
    (``UNSIGNED-PAYLOAD``); botocore does it over plain http only, where it reads and hashes
    every body once more, and servers such as rclone do not check it: for a client whose every
    upload carries its Content-MD5 (the headers stay signed)."""
    import boto3
    from botocore.config import Config

    creds = credentials or resolve()
    given = {k: v for k, v in overrides.items() if v}
    if given:
        creds = replace(creds, **given)
    s3_options: dict[str, Any] = {"addressing_style": "path"} if creds.endpoint else {}
    if not sign_bodies:
        s3_options["payload_signing_enabled"] = False
    config = Config(s3=s3_options,
                    retries={"max_attempts": 3, "mode": "standard"},
                    max_pool_connections=max_pool,
                    **({"request_checksum_calculation": "when_required"} if own_checksums
                       else {}))
    return boto3.client("s3", endpoint_url=creds.endpoint, region_name=creds.region,
                        config=config, aws_access_key_id=creds.access_key,
                        aws_secret_access_key=creds.secret_key)


def s3_client(endpoint: str | None = None, access_key: str | None = None,
              secret_key: str | None = None, region: str | None = None) -> Any:
    """A boto3 S3 client: arguments first, the environment for the rest (the module's rule)."""
    return client(resolve(endpoint, access_key, secret_key, region))


def split_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    parsed = urlparse(url)
    return parsed.netloc, unquote(parsed.path.lstrip("/"))


def s3_error_code(err: Exception) -> str:
    """The S3 error code of a botocore error (``NoSuchKey``, ``404``...), or ""."""
    response = getattr(err, "response", None)
    return (response or {}).get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def ensure_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` unless it exists (an error names the S3 error code)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except Exception:
        pass
    try:
        s3.create_bucket(Bucket=bucket)
    except Exception as err:
        code = s3_error_code(err)
        if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise RuntimeError(f"cannot create the bucket {bucket} ({code or err})") from err


__all__ = ["S3Credentials", "resolve", "client", "s3_client", "configured_endpoint", "split_s3",
           "s3_error_code", "ensure_bucket", "DEFAULT_REGION"]
