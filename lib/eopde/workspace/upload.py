"""Uploads of a publication: keys that stay inside the workspace, parallel transfers (one
PutObject per file up to :data:`SINGLE_MAX`, multipart through boto3's transfer manager above),
integrity checked against the S3 server's own MD5 of what it stored, a progress bar (tqdm: a
widget in notebooks, a line in terminals).

Integrity costs one MD5 pass over each byte, made while the byte is sent (in the thread
sending it: hashlib releases the GIL, so files and parts hash in parallel), and nothing more:

- every PutObject (a file up to :data:`SINGLE_MAX`) and UploadPart (a part of a larger file) is
  hashed as botocore reads it and the digest compared with the ETag the server answers, its MD5
  of what it stored (S3, MinIO, rclone; not SSE-KMS or SSE-C buckets): hashing first, for a
  Content-MD5, would hold back the first byte until the whole file or part is read. A mismatch
  fails the publish (a PutObject's object is deleted, a multipart upload aborted);
- files up to :data:`SINGLE_MAX` go in one PutObject because rclone streams it to disk hashing
  once, where it keeps a multipart upload in memory and hashes it twice (parts, then whole);
- documents carry their Content-MD5 (small: hashing first costs nothing);
- the upload client does not also SHA-256 every body for the signature (see
  :func:`eopde.storage.client`, ``sign_bodies``).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import posixpath
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Files up to this size go in one PutObject; larger ones multipart in parts of :data:`PART`.
#: Large because rclone holds a multipart upload in memory and hashes it twice (parts, then the
#: whole), where it streams a PutObject to disk hashing once; far below S3's 5 GiB, and small
#: enough that a retry of one file costs little.
SINGLE_MAX = 256 * 1024 * 1024
PART = 8 * 1024 * 1024  # boto3's default: parts are hashed as sent, size does not hold them back
_SEGMENT = re.compile(r"[^\x00-\x1f\\]+")


class PublishError(RuntimeError):
    """A publication failed; the message names the file or document and the reason. Nothing
    was registered: the catalogue is as it was."""


def safe_key(*parts: str) -> str:
    """Join key parts, refusing what could leave the workspace prefix: empty, ``.`` or ``..``
    segments, absolute paths, backslashes and control characters."""
    key = "/".join(p.strip("/") for p in parts if p)
    segments = key.split("/")
    if not key or any(s in ("", ".", "..") or not _SEGMENT.fullmatch(s) for s in segments):
        raise PublishError(f"{key!r} is not a key inside the workspace (no '..', '.', '//', "
                           "leading '/', backslash or control characters)")
    return key


def safe_name(name: str) -> str:
    """A file or item name usable as one key segment."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return cleaned[:128]


@dataclass
class Upload:
    """One local file to put at ``key`` of the bucket."""

    path: Path
    key: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class Copy:
    """One object of the workspace bucket to copy to ``key`` (a job's result)."""

    source_key: str
    key: str


def _progress(total: int, show: bool) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="publish")


def transfer(s3: Any, bucket: str, uploads: list[Upload], copies: list[Copy], *,
             workers: int = 16, progress: bool = True, verify: bool = True,
             single_max: int = SINGLE_MAX, part: int = PART) -> None:
    """Upload and copy everything, in parallel; PublishError naming the first file that failed
    (the others are still let finish, so a re-run has less to do).

    Files up to ``single_max`` bytes go in one PutObject, larger ones multipart in parts of
    ``part`` bytes (boto3's transfer manager). Integrity (``verify``), see the module doc: the
    bytes of each PutObject and UploadPart hashed as they are sent and checked against the ETag
    the server answers."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=single_max + 1, multipart_chunksize=part,
                            max_concurrency=workers, use_threads=True)
    if verify:  # for this transfer only: the client may be used without checks next
        s3.meta.events.register("before-call.s3.UploadPart", _hash_part, "eopde-hash-part")
        s3.meta.events.register("after-call.s3.UploadPart", _check_part, "eopde-check-part")
    try:
        _transfer(s3, bucket, uploads, copies, config, workers, progress, verify, single_max)
    finally:
        s3.meta.events.unregister("before-call.s3.UploadPart", unique_id="eopde-hash-part")
        s3.meta.events.unregister("after-call.s3.UploadPart", unique_id="eopde-check-part")


def _transfer(s3: Any, bucket: str, uploads: list[Upload], copies: list[Copy], config: Any,
              workers: int, progress: bool, verify: bool, single_max: int) -> None:
    from s3transfer.manager import TransferManager

    bar = _progress(sum(u.size for u in uploads), progress)
    callbacks = [_Callback(bar)] if bar is not None else []
    single = [u for u in uploads if u.size <= single_max]
    large = [u for u in uploads if u.size > single_max]
    failures: list[tuple[str, Exception]] = []
    with TransferManager(s3, config) as manager, ThreadPoolExecutor(workers) as pool:
        jobs = []
        for up in large:
            future = manager.upload(str(up.path), bucket, up.key,
                                    extra_args={"ContentType": _kind(up.path)},
                                    subscribers=callbacks)
            jobs.append((up.path.name, future))
        for copy in copies:
            future = manager.copy({"Bucket": bucket, "Key": copy.source_key}, bucket, copy.key)
            jobs.append((posixpath.basename(copy.source_key), future))
        for up in single:
            jobs.append((up.path.name, pool.submit(_put_file, s3, bucket, up, bar, verify)))
        for name, future in jobs:
            try:
                future.result()
            except Exception as err:  # keep going: report the first, let the rest finish
                failures.append((name, err))
    if bar is not None:
        bar.close()
    if failures:
        _raise(failures)


def _hash_part(params: dict, context: dict, **kwargs: Any) -> None:
    """An UploadPart's body (s3transfer's reader of the part) hashed as it is sent."""
    if params.get("body") is not None:
        params["body"] = context["eopde_part"] = _Hashing(params["body"])


def _check_part(parsed: dict, context: dict, **kwargs: Any) -> None:
    """The part's MD5 against the ETag the server answers (its MD5 of the part)."""
    body = context.get("eopde_part")
    if body is not None and "Error" not in parsed:
        _compare(str(parsed.get("ETag", "")), body.hexdigest(len(body)))


def _compare(etag: str, sent: str | None) -> None:
    stored = etag.strip('"')
    if stored != sent:
        raise PublishError("the server's MD5 of the stored bytes differs from the file's "
                           f"({'incomplete read' if sent is None else 'ETag'} "
                           f"{stored or 'missing'}): a corrupted upload (or a bucket whose "
                           "ETags are not MD5s: publish with verify=False)")


def _kind(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _put_file(s3: Any, bucket: str, up: Upload, bar: Any, verify: bool) -> None:
    """One PutObject, the file streamed from disk (moving the bar as it goes). With ``verify``
    the bytes are hashed as they are sent and the MD5 compared with the ETag the server
    answers, the MD5 of what it stored (S3, MinIO, rclone; not SSE-KMS/SSE-C buckets): hashing
    before sending, for a Content-MD5, would hold back the first byte until the whole file is
    read. A mismatch deletes the object and fails."""
    from s3transfer.utils import ReadFileChunk

    moved = [] if bar is None else [  # s3transfer's reader: moves back on a retry
        lambda bytes_transferred, **_: bar.update(bytes_transferred)]
    with ReadFileChunk.from_filename(str(up.path), 0, up.size, callbacks=moved) as chunk:
        body = _Hashing(chunk) if verify else chunk
        answer = s3.put_object(Bucket=bucket, Key=up.key, Body=body, ContentType=_kind(up.path))
    if isinstance(body, _Hashing):
        try:
            _compare(str(answer.get("ETag", "")), body.hexdigest(up.size))
        except PublishError:
            s3.delete_object(Bucket=bucket, Key=up.key)
            raise


class _Hashing:
    """A body hashed (MD5) as botocore reads it; re-reads after a rewind (a retry) are hashed
    once."""

    def __init__(self, chunk: Any):
        self._chunk, self._md5, self._done = chunk, hashlib.md5(), 0

    def read(self, amount: int | None = None) -> bytes:
        start = self._chunk.tell()
        data = self._chunk.read(amount)
        if start <= self._done < start + len(data):
            self._md5.update(memoryview(data)[self._done - start:])
            self._done = start + len(data)
        return data

    def hexdigest(self, size: int) -> str | None:
        """The MD5 of the ``size`` bytes read, or None when they were not all read in order."""
        return self._md5.hexdigest() if self._done == size else None

    def seek(self, where: int, whence: int = 0) -> int:
        return self._chunk.seek(where, whence)

    def tell(self) -> int:
        return self._chunk.tell()

    def __len__(self) -> int:
        return len(self._chunk)

    def __getattr__(self, name: str) -> Any:  # s3transfer's signal_transferring and co.
        return getattr(self._chunk, name)


def _raise(failures: list[tuple[str, Exception]]) -> None:
    from ..storage import s3_error_code

    name, err = failures[0]
    reason = str(err) if isinstance(err, PublishError) \
        else s3_error_code(err) or type(err).__name__
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    raise PublishError(f"upload of {name} failed: {reason}{more}; nothing was registered, "
                       "publish again to complete") from err


class _Callback:
    """s3transfer subscriber moving the progress bar."""

    def __init__(self, bar: Any):
        self.bar = bar

    def on_progress(self, bytes_transferred: int, **kwargs: Any) -> None:
        self.bar.update(bytes_transferred)

    def on_queued(self, **kwargs: Any) -> None:
        pass

    def on_done(self, **kwargs: Any) -> None:
        pass


def put_json(s3: Any, bucket: str, documents: dict[str, dict], workers: int = 8) -> None:
    """Write STAC documents (key -> JSON), in parallel, each with its Content-MD5."""
    import json

    from ..storage import s3_error_code

    def put(item: tuple[str, dict]) -> None:
        key, doc = item
        try:
            body = json.dumps(doc, indent=1).encode()
            s3.put_object(Bucket=bucket, Key=key, ContentType="application/json", Body=body,
                          ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode())
        except Exception as err:
            raise PublishError(f"writing {posixpath.basename(key)} failed: "
                               f"{s3_error_code(err) or type(err).__name__}; nothing was "
                               "registered, publish again to complete") from err

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, documents.items()))
