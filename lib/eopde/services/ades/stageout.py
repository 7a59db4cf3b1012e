"""Stage-out of a job's results: the STAC catalog that the application wrote in its result
``Directory`` is copied to the user's S3 bucket, the way EOEPCA's ADES does it.

Where: bucket ``user-<name>`` (:func:`eopde.hub.local.bucket_name`, created when missing), prefix
``processing-results/<job-id>/`` (EOEPCA's ``processing-results/<jobId>``). With several
``Directory`` outputs, each goes under ``processing-results/<job-id>/<output-id>/`` and the first
is the ``StacCatalogUri``. A ``Directory[]`` output is a list of result folders: each goes under
``processing-results/<job-id>/<output-id>/<index>/`` and the output's result is the array of
their catalogs, ``[{"href": ...}, ...]`` (as the process description says).

What is uploaded: every file of the result folder, at the same relative path (so the executed
notebook and any side file travel too), with the STAC documents (catalog.json and every child
catalog/collection/item reachable from it) rewritten:

- links between the documents (``root``, ``parent``, ``child``, ``item``, ``collection``) stay
  **relative**: the uploaded catalog is self-contained and valid where it is; ``self`` links are
  dropped (as in pystac's SELF_CONTAINED catalogs);
- asset hrefs become **absolute** ``s3://<bucket>/<key>`` URLs (what EOEPCA's stage-out writes):
  a client handed one item JSON alone still finds its data. Assets that were already remote
  (http(s)://, s3://) are left as they are; a local asset outside the result folder is uploaded
  under ``_assets/<item-id>/``.

All or nothing: data files first, STAC documents next, the catalog.json the results point to
last; a failed upload deletes what was uploaded. :func:`delete_results` removes a job's results
(the ADES does it when a finished job is dismissed).

Reading it back: :func:`eopde.ades.results.S3StacIO` is a pystac ``StacIO`` that reads (and
writes) ``s3://`` hrefs with boto3, e.g.
``pystac.Catalog.from_file(uri, stac_io=S3StacIO(target.client()))``.
"""

from __future__ import annotations

import json
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from eopde.ades.results import S3StacIO
from eopde.storage import ensure_bucket as _ensure_bucket
from eopde.storage import s3_client, s3_error_code

RESULTS_PREFIX = "processing-results"
_DOC_LINKS = ("root", "parent", "child", "item", "collection", "items")


class StageOutError(RuntimeError):
    """The results could not be copied to S3; the message says which file and why."""


@dataclass
class StageOutTarget:
    """The S3 service results go to. ``None`` fields fall back to the environment:
    ``EOPDE_S3_ENDPOINT``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``."""

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None
    prefix: str = RESULTS_PREFIX  #: key prefix under the user's bucket
    #: The workspaces' key file (``EOPDE_WORKSPACE_KEYS_PATH``): when set, each user's results
    #: are written with that user's own storage keys, as EOEPCA's ADES does with the keys of
    #: ``GET /workspaces/ws-<user>``; the keys above serve only when it is not.
    keys_file: str | None = None

    @classmethod
    def from_env(cls) -> StageOutTarget:
        from ..workspace_store import KEYS_FILE_ENV

        return cls(keys_file=os.environ.get(KEYS_FILE_ENV) or None)

    def client(self):
        return s3_client(self.endpoint, self.access_key, self.secret_key, self.region)

    def client_for(self, user: str):
        """A client with ``user``'s own keys (made on first use), or :meth:`client`."""
        if not self.keys_file:
            return self.client()
        access, secret = self.keys_for(user)
        return s3_client(self.endpoint, access, secret, self.region)

    def keys_for(self, user: str) -> tuple[str, str]:
        """``user``'s own (access, secret) keys from the ``keys_file``, made on first use (its
        callers use the target's keys when there is no keys file: :meth:`client_for`)."""
        from ..workspace_store import ensure_keys

        assert self.keys_file, "keys_for needs a keys file"
        path = Path(self.keys_file)
        keys = ensure_keys(path, user, path.parent.parent / "storage")
        return keys.access, keys.secret


def ensure_bucket(client, bucket: str) -> None:
    """Create ``bucket`` unless it exists."""
    try:
        _ensure_bucket(client, bucket)
    except RuntimeError as err:
        raise StageOutError(str(err)) from err


def _is_remote(href: str) -> bool:
    return "://" in href and not href.startswith("file://")


def _local(href: str, base: Path) -> Path:
    if href.startswith("file://"):
        href = urlparse(href).path
    path = Path(href)
    return (path if path.is_absolute() else base / path).resolve()


def _rewrite(folder: Path, bucket: str, prefix: str,
             within: Path) -> tuple[dict[Path, dict], list[tuple[Path, str]]]:
    """The STAC documents reachable from ``folder/catalog.json`` rewritten for S3, and the extra
    local files (assets outside ``folder`` but inside ``within``, the job's own folder) with their
    keys. Nothing outside ``within`` is ever read: a link or an asset leading out (a path, a
    symlink) fails the stage-out, and messages name paths relative to ``folder`` only."""
    docs: dict[Path, dict] = {}
    extra: list[tuple[Path, str]] = []
    todo = [(folder / "catalog.json").resolve()]
    while todo:
        path = todo.pop()
        if path in docs:
            continue
        if not path.is_relative_to(folder):
            raise StageOutError("a STAC link leads out of the result folder")
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise StageOutError(f"{_show(path, folder)}: not a readable STAC document "
                                f"({type(err).__name__})") from err
        if not isinstance(doc, dict):
            raise StageOutError(f"{_show(path, folder)}: not a STAC document (not an object)")
        docs[path] = doc
        links = []
        for link in doc.get("links", []):
            rel, href = link.get("rel"), str(link.get("href", ""))
            if rel == "self":
                continue
            if rel in _DOC_LINKS and href and not _is_remote(href):
                target = _local(href, path.parent)
                if target.is_relative_to(folder):
                    link = {**link, "href": _relhref(target, path.parent)}
                    if rel in ("child", "item") and target.is_file():
                        todo.append(target)
            links.append(link)
        doc["links"] = links
        for key, asset in (doc.get("assets") or {}).items():
            href = str(asset.get("href", ""))
            if not href or _is_remote(href):
                continue
            local = _local(href, path.parent)
            if not local.is_relative_to(within):
                raise StageOutError(f"{_show(path, folder)}: asset {key} lies outside the "
                                    "job's folder; results must be files the job wrote")
            if not local.is_file() and not (local.is_dir() and local.is_relative_to(folder)):
                # a folder asset (a Zarr store) is uploaded with the result folder's files
                raise StageOutError(f"{_show(path, folder)}: asset {key} is not a file "
                                    f"({_show(local, folder)})")
            if local.is_relative_to(folder):
                rel_key = local.relative_to(folder).as_posix()
            else:
                rel_key = f"_assets/{doc.get('id', path.stem)}/{local.name}"
                extra.append((local, rel_key))
            asset["href"] = f"s3://{bucket}/{prefix}{rel_key}"
    return docs, extra


def _show(path: Path, folder: Path) -> str:
    """A path as a message may show it: relative to the result folder (no server paths)."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def _relhref(target: Path, base: Path) -> str:
    rel = Path(os.path.relpath(target, base)).as_posix()
    return rel if rel.startswith("../") else f"./{rel}"


def upload_catalog(folder: str | os.PathLike[str], bucket: str, prefix: str, *, client,
                   within: str | os.PathLike[str] | None = None) -> str:
    """Copy the result folder ``folder`` (holding catalog.json) to ``s3://bucket/prefix``
    (``prefix`` ends with ``/``), rewriting the STAC documents as the module says. Returns the
    ``s3://`` URL of the uploaded catalog.json.

    ``within``: the only folder files may be read from (default ``folder``). The data files go
    first, then the STAC documents, the root catalog.json last: a reader never finds a catalog
    whose files are not all there."""
    folder = Path(folder).resolve()
    within = Path(within).resolve() if within else folder
    if not (folder / "catalog.json").is_file():
        raise StageOutError("the result folder holds no catalog.json: nothing to stage out")
    docs, extra = _rewrite(folder, bucket, prefix, within)
    root = (folder / "catalog.json").resolve()
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
             and p.resolve().is_relative_to(folder)]  # nothing through a symlinked folder
    plain = [p for p in files if p not in docs]
    ordered = [p for p in files if p in docs and p != root] + [root]
    try:
        for path in plain:
            key = prefix + path.relative_to(folder).as_posix()
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": kind})
        for path, rel_key in extra:
            client.upload_file(str(path), bucket, prefix + rel_key)
        for path in ordered:
            key = prefix + path.relative_to(folder).as_posix()
            client.put_object(Bucket=bucket, Key=key, ContentType="application/json",
                              Body=json.dumps(docs[path], indent=1).encode())
    except Exception as err:
        code = s3_error_code(err)
        raise StageOutError(f"cannot upload the results to s3://{bucket}/{prefix} "
                            f"({code or type(err).__name__})") from err
    return f"s3://{bucket}/{prefix}catalog.json"


def delete_prefix(client, bucket: str, prefix: str) -> int:
    """Delete every object under ``s3://bucket/prefix``; returns how many. A missing bucket is
    nothing to delete."""
    count = 0
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for i in range(0, len(keys), 1000):
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000],
                                                             "Quiet": True})
                count += len(keys[i:i + 1000])
    except Exception as err:
        code = s3_error_code(err)
        if code in ("NoSuchBucket", "404"):
            return count
        raise StageOutError(f"cannot delete s3://{bucket}/{prefix} "
                            f"({code or type(err).__name__})") from err
    return count


def job_prefix(user: str, job_id: str, target: StageOutTarget | None = None) -> tuple[str, str]:
    """(bucket, prefix) of a job's results."""
    from eopde.hub.local import bucket_name

    target = target or StageOutTarget.from_env()
    return bucket_name(user), f"{target.prefix.strip('/')}/{job_id}/"


def delete_results(user: str, job_id: str, *, target: StageOutTarget | None = None,
                   client=None) -> int:
    """Delete a job's results from the user's bucket (dismiss of a finished job)."""
    target = target or StageOutTarget.from_env()
    bucket, prefix = job_prefix(user, job_id, target)
    return delete_prefix(client or target.client_for(user), bucket, prefix)


def stage_out(outputs: dict[str, Path | list[Path]], *, user: str, job_id: str,
              target: StageOutTarget | None = None, client=None,
              within: Path | None = None) -> dict[str, Any]:
    """Upload each result folder of ``outputs`` (``{output-id: folder}``, in the CWL's order; a
    ``Directory[]`` output: a list of folders) to the user's bucket; returns the results
    document of the contract (a ``Directory[]`` output: a list of such links)::

        {"<output-id>": {"href": "s3://<bucket>/processing-results/<job>/catalog.json",
                         "type": "application/json", "rel": "stac-catalog"},
         "StacCatalogUri": "s3://<bucket>/processing-results/<job>/catalog.json"}

    ``within``: the job's folder, the only place files are read from (default: each result
    folder). All or nothing: when any upload fails, what was uploaded is deleted again (and the
    first output's catalog.json, the one the results point to, is always written last).
    """
    if not outputs:
        raise StageOutError("the job has no Directory output to stage out")
    target = target or StageOutTarget.from_env()
    client = client or target.client_for(user)
    bucket, base = job_prefix(user, job_id, target)
    ensure_bucket(client, bucket)
    doc: dict[str, Any] = {}
    names = list(outputs)
    try:
        for name in names[1:] + names[:1]:  # the first (StacCatalogUri) last
            folders = outputs[name]
            if isinstance(folders, list):  # Directory[]: one catalog per folder
                doc[name] = [_link(upload_catalog(f, bucket, f"{base}{name}/{i}/", client=client,
                                                  within=within)) for i, f in enumerate(folders)]
                continue
            prefix = base if len(outputs) == 1 else f"{base}{name}/"
            uri = upload_catalog(folders, bucket, prefix, client=client, within=within)
            doc[name] = _link(uri)
    except StageOutError:
        try:  # all or nothing: what was written under the job's prefix goes again
            delete_prefix(client, bucket, base)
        except StageOutError:
            pass
        raise
    doc = {name: doc[name] for name in names}
    first = [v for name in names for v in (doc[name] if isinstance(doc[name], list)
                                            else [doc[name]])]
    if not first:
        raise StageOutError("the job's Directory[] outputs hold no result folder")
    doc["StacCatalogUri"] = first[0]["href"]
    return doc


def _link(uri: str) -> dict[str, str]:
    return {"href": uri, "type": "application/json", "rel": "stac-catalog"}


def read_catalog(uri: str, *, target: StageOutTarget | None = None, client=None):
    """The pystac Catalog at an ``s3://`` URL (reads through :func:`S3StacIO`)."""
    import pystac

    client = client or (target or StageOutTarget.from_env()).client()
    return pystac.read_file(uri, stac_io=S3StacIO(client))


__all__ = ["StageOutTarget", "StageOutError", "S3StacIO", "stage_out", "upload_catalog",
           "ensure_bucket", "read_catalog", "delete_results", "delete_prefix", "RESULTS_PREFIX"]
