"""STAC stage-in for local runs: fetch STAC items and their assets into a folder holding a
self-contained STAC catalog (``catalog.json``), the way an ADES stages a ``Directory`` input.

Layouts written (``dest`` is the folder given to :func:`stage_items`)::

    dest/catalog.json                      one catalog with every item (a CWL ``Directory``)
    dest/<item-id>/<item-id>.json
    dest/<item-id>/<asset file>...

or, with ``per_item=True`` (a CWL ``Directory[]``: one catalog folder per item)::

    dest/<item-id>/catalog.json
    dest/<item-id>/<item-id>.json
    dest/<item-id>/<asset file>...

Item and asset URLs may be HTTP(S), ``s3://bucket/key`` (read with boto3 using the usual
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_DEFAULT_REGION`` environment and
``EOPDE_S3_ENDPOINT`` for a non-AWS server such as the platform's local S3 storage; see
:func:`s3_client`) or local paths.

What may be fetched: a service staging in for a user (the ADES) passes a
:class:`~eopde.urlguard.UrlPolicy`: then every item URL, every asset href and every
redirect is checked (public http(s) hosts, the platform's own data server and catalogue, s3:// of
the caller's own bucket; no local paths). Without one (``eopde run`` on the user's own machine)
anything is fetched, except that an item fetched from a URL cannot make its assets local files:
local assets are staged only from an item that is itself a local file the user gave.

Asset hrefs in the written item JSON are relative to the item file. Assets left out by an
``assets`` selection are left out of the staged item too, so every asset of a staged catalog is a
local file.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from eopde.urlguard import UrlPolicy

Progress = Callable[[str], None]

#: The largest STAC item document read (bytes).
MAX_ITEM_BYTES = 16 * 1024 * 1024
#: Report a running download at most this often (seconds).
PROGRESS_EVERY = 2.0
CHUNK = 1 << 20


class StageInError(RuntimeError):
    """A STAC item or one of its assets could not be staged; the message names the URL and why."""


@dataclass
class StagedItem:
    id: str
    source: str  #: URL or path the item came from
    json_path: Path  #: the local item JSON
    assets: dict[str, Path] = field(default_factory=dict)  #: staged asset key -> local file
    bytes: int = 0


@dataclass
class StagedCatalog:
    folder: Path  #: holds catalog.json: the value of the CWL Directory
    items: list[StagedItem]

    @property
    def catalog(self) -> Path:
        return self.folder / "catalog.json"


def _is_url(ref: str) -> bool:
    return urlparse(ref).scheme in ("http", "https")


def _is_s3(ref: str) -> bool:
    return urlparse(ref).scheme == "s3"


def split_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    parsed = urlparse(url)
    return parsed.netloc, unquote(parsed.path.lstrip("/"))


def s3_client(endpoint: str | None = None, access_key: str | None = None,
              secret_key: str | None = None, region: str | None = None):
    """A boto3 S3 client: arguments first, the environment for the rest (:mod:`eopde.storage`)."""
    from eopde.storage import s3_client as make

    return make(endpoint, access_key, secret_key, region)


class _S3:
    """One lazily made S3 client per stage-in: ``make()`` (a service's: the job owner's keys),
    else one from the environment."""

    def __init__(self, make: Callable[[], Any] | None = None):
        self._client = None
        self._make = make or s3_client

    @property
    def client(self):
        if self._client is None:
            self._client = self._make()
        return self._client


def s3_error_code(err: Exception) -> str:
    """The S3 error code of a botocore error (``NoSuchKey``, ``404``...), or ""."""
    response = getattr(err, "response", None)
    return (response or {}).get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def _s3_error(err: Exception) -> str:
    code = s3_error_code(err)
    if code in ("NoSuchBucket", "AccessDenied", "403"):  # another user's bucket, for instance
        return (f"S3 error {code}: not readable with the storage keys of the job's owner, "
                "which read only their own bucket")
    return f"S3 error {code}" if code else f"{type(err).__name__}: {err}"


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _client(headers: dict[str, str] | None = None, timeout: float = 60.0,
            policy: UrlPolicy | None = None):
    import httpx

    if policy is not None:
        from eopde.urlguard import guarded_client

        return guarded_client(policy, timeout=timeout, headers=headers)
    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(timeout, connect=10.0),
                        headers=headers or {})


@contextmanager
def _get(client, url: str, policy: UrlPolicy | None, headers: dict[str, str] | None = None):
    """A streamed GET; with a policy, each redirect is checked (see urlguard.open_guarded)."""
    if policy is None:
        with client.stream("GET", url, headers=headers) as response:
            yield response
        return
    from eopde.urlguard import open_guarded

    with open_guarded(client, url, policy, headers=headers) as response:
        yield response


def _refusal(what: str, err: Exception) -> StageInError:
    """The error of a refused URL: the rule, never what is behind the URL."""
    return StageInError(f"{what}: refused, {getattr(err, 'rule', err)}")


def check_ref(ref: str, policy: UrlPolicy | None, what: str) -> None:
    """Raise :class:`StageInError` when ``policy`` refuses ``ref`` (no policy: nothing to do)."""
    if policy is None:
        return
    from eopde.urlguard import UrlRefused

    try:
        policy.check(ref)
    except UrlRefused as err:
        raise _refusal(what, err) from None


def fetch_item(ref: str, *, client=None, s3=None, policy: UrlPolicy | None = None) -> Any:
    """A ``pystac.Item`` from an item URL (HTTP(S) or s3://) or a local JSON path, with every
    asset href made absolute against where the item came from. ``policy``: what may be fetched
    (see the module doc)."""
    import json

    import httpx
    import pystac

    from eopde.readcap import ResponseTooLarge, read_capped
    from eopde.urlguard import UrlRefused

    check_ref(ref, policy, f"STAC item {ref}")
    try:
        if _is_s3(ref):
            bucket, key = split_s3(ref)
            try:
                body = (s3 or _S3()).client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as err:  # botocore's ClientError, connection errors...
                raise StageInError(f"STAC item {ref}: cannot fetch it ({_s3_error(err)})") from err
            data = json.loads(body)
            href = ref
        elif _is_url(ref):
            own = client is None
            client = client or _client(policy=policy)
            try:
                with _get(client, ref, policy, {"Accept": "application/geo+json, "
                                                          "application/json"}) as response:
                    response.raise_for_status()
                    try:
                        body = read_capped(response, MAX_ITEM_BYTES, chunk_size=CHUNK)
                    except ResponseTooLarge:
                        raise StageInError(
                            f"STAC item {ref}: larger than {MAX_ITEM_BYTES} bytes") from None
                    data = json.loads(body)
            finally:
                if own:
                    client.close()
            href = str(response.url)
        else:
            path = Path(ref[7:] if ref.startswith("file://") else ref).expanduser().resolve()
            if not path.is_file():
                raise StageInError(f"STAC item {ref}: no such file")
            data = json.loads(path.read_text())
            href = str(path)
    except UrlRefused as err:  # a redirect the policy refuses
        raise _refusal(f"STAC item {ref}", err) from None
    except httpx.HTTPStatusError as err:
        raise StageInError(
            f"STAC item {ref}: HTTP {err.response.status_code} {err.response.reason_phrase}") from err
    except httpx.HTTPError as err:
        raise StageInError(f"STAC item {ref}: cannot fetch it ({type(err).__name__}: {err})") from err
    except ValueError as err:
        raise StageInError(f"STAC item {ref}: not JSON ({err})") from err
    if not isinstance(data, dict) or data.get("type") != "Feature":
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise StageInError(
            f"STAC item {ref}: not a STAC Item (type {kind!r}); give the URL of one item, "
            "e.g. <stac-api>/collections/<collection>/items/<item-id>")
    try:
        item = pystac.Item.from_dict(data, href=href, migrate=True, preserve_dict=False)
    except Exception as err:  # pystac raises several kinds on malformed items
        raise StageInError(f"STAC item {ref}: not a valid STAC Item ({err})") from err
    item.set_self_href(href)
    item.make_asset_hrefs_absolute()
    # keep only links that make sense outside the source catalogue, as absolute hrefs
    for link in list(item.links):
        if link.rel in ("self", "root", "parent"):
            item.remove_links(link.rel)
    for link in item.links:
        link.target = link.get_absolute_href() or link.href
    item.set_self_href(None)
    return item


def _filename(key: str, href: str, taken: set[str]) -> str:
    name = unquote(os.path.basename(urlparse(href).path)) or key
    name = name.replace(os.sep, "_")
    if name in taken or name.endswith(".json"):
        stem, ext = os.path.splitext(name)
        name = f"{key}{ext}"
    n = 1
    base = name
    while name in taken:
        stem, ext = os.path.splitext(base)
        name = f"{stem}-{n}{ext}"
        n += 1
    taken.add(name)
    return name


def _download(href: str, target: Path, *, client, progress: Progress | None, label: str,
              s3=None, policy: UrlPolicy | None = None) -> int:
    """Stream one asset to ``target`` (through a temporary name); returns the byte count. The
    href was checked by the caller (:func:`_check_asset`); redirects and the address connected
    to are checked by the client (``policy``)."""
    import httpx

    from eopde.urlguard import UrlRefused

    tmp = target.with_name(target.name + ".part")
    try:
        if _is_s3(href):
            bucket, key = split_s3(href)
            try:
                (s3 or _S3()).client.download_file(bucket, key, str(tmp))
            except Exception as err:
                tmp.unlink(missing_ok=True)
                raise StageInError(
                    f"asset {label} ({href}): cannot download it ({_s3_error(err)})") from err
        elif _is_url(href):
            with _get(client, href, policy) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length") or 0)
                done, last = 0, time.monotonic()
                with open(tmp, "wb") as f:
                    for chunk in response.iter_bytes(CHUNK):
                        f.write(chunk)
                        done += len(chunk)
                        now = time.monotonic()
                        if progress and now - last >= PROGRESS_EVERY:
                            last = now
                            of = f" of {_human(total)}" if total else ""
                            progress(f"  {label}: {_human(done)}{of}")
        else:
            source = Path(href[7:] if href.startswith("file://") else href)
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except UrlRefused as err:  # a redirect the policy refuses
        tmp.unlink(missing_ok=True)
        raise _refusal(f"asset {label} ({href})", err) from None
    except httpx.HTTPStatusError as err:
        tmp.unlink(missing_ok=True)
        raise StageInError(
            f"asset {label} ({href}): HTTP {err.response.status_code} "
            f"{err.response.reason_phrase}") from err
    except (httpx.HTTPError, OSError) as err:
        tmp.unlink(missing_ok=True)
        raise StageInError(f"asset {label} ({href}): cannot download it ({err})") from err
    return target.stat().st_size


def _check_asset(href: str, ref: str, policy: UrlPolicy | None, label: str) -> None:
    """Refuse an asset the policy refuses; without a policy, refuse a local asset of an item that
    did not come from a local file (a remote item cannot make us copy this machine's files)."""
    check_ref(href, policy, f"asset {label} ({href})")
    if policy is None and not (_is_url(href) or _is_s3(href)) and (_is_url(ref) or _is_s3(ref)):
        raise StageInError(f"asset {label} ({href}): refused, a local file named by an item "
                           f"fetched from {ref}; only items that are local files may have "
                           "local assets")


def _select_assets(item, assets: Sequence[str] | None, ref: str) -> list[str]:
    if not assets:
        return list(item.assets)
    missing = [a for a in assets if a not in item.assets]
    if missing:
        raise StageInError(
            f"STAC item {ref}: no asset {', '.join(missing)}; it has {', '.join(item.assets) or 'none'}")
    return list(assets)


def stage_items(refs: Iterable[str], dest: str | os.PathLike[str], *,
                assets: Sequence[str] | None = None, per_item: bool = False,
                progress: Progress | None = None, headers: dict[str, str] | None = None,
                catalog_id: str = "stage-in", policy: UrlPolicy | None = None,
                make_s3: Callable[[], Any] | None = None) -> list[StagedCatalog]:
    """Fetch the STAC items ``refs`` (http(s):// or s3:// URLs, or local paths) and their assets (all, or only the
    keys in ``assets``) into ``dest``; write self-contained STAC catalog(s) there.

    Returns one :class:`StagedCatalog` (``per_item=False``: the value of a ``Directory`` input) or
    one per item (``per_item=True``: a ``Directory[]``). ``policy``: what may be fetched (see the
    module doc). ``make_s3()``: the boto3 client s3:// URLs are read with (a service passes
    one with the job owner's keys; default: the environment's). Raises :class:`StageInError`."""
    import pystac

    refs = list(refs)
    if not refs:
        raise StageInError("no STAC item to stage in")
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda message: None)
    catalogs: list[StagedCatalog] = []
    shared: pystac.Catalog | None = None
    shared_items: list[StagedItem] = []
    seen: set[str] = set()
    s3 = _S3(make_s3)
    for ref in refs:  # refuse before fetching anything
        check_ref(ref, policy, f"STAC item {ref}")
    with _client(headers, policy=policy) as client:
        for ref in refs:
            item = fetch_item(ref, client=client, s3=s3, policy=policy)
            if item.id in seen:
                raise StageInError(f"STAC item {item.id} is given twice ({ref})")
            seen.add(item.id)
            keys = _select_assets(item, assets, ref)
            for key in list(item.assets):
                if key not in keys:
                    del item.assets[key]  # the staged catalog holds only local assets
            for key in keys:  # refuse before writing anything of this item
                _check_asset(item.assets[key].href, ref, policy, f"{item.id}/{key}")
            folder = dest / item.id
            folder.mkdir(parents=True, exist_ok=True)
            say(f"stage-in {item.id}: {len(keys)} asset(s) from {ref}")
            staged = StagedItem(id=item.id, source=ref, json_path=folder / f"{item.id}.json")
            taken: set[str] = {"catalog.json"}
            t0 = time.monotonic()
            for key in keys:
                asset = item.assets[key]
                target = folder / _filename(key, asset.href, taken)
                size = _download(asset.href, target, client=client, progress=progress,
                                 label=f"{item.id}/{key}", s3=s3, policy=policy)
                staged.assets[key] = target
                staged.bytes += size
                asset.href = str(target)
            seconds = time.monotonic() - t0
            rate = f", {_human(staged.bytes / seconds)}/s" if seconds > 0 else ""
            say(f"  {item.id}: {len(keys)} asset(s), {_human(staged.bytes)} in {seconds:.1f} s{rate}")
            if per_item:
                cat = pystac.Catalog(id=item.id, description=f"Staged STAC item {item.id} ({ref})")
                cat.set_self_href(str(folder / "catalog.json"))
                cat.add_item(item)
                item.set_self_href(str(staged.json_path))
                cat.make_all_asset_hrefs_relative()
                cat.save(pystac.CatalogType.SELF_CONTAINED)
                catalogs.append(StagedCatalog(folder=folder, items=[staged]))
            else:
                if shared is None:
                    shared = pystac.Catalog(id=catalog_id, description="Staged STAC items")
                    shared.set_self_href(str(dest / "catalog.json"))
                shared.add_item(item)
                item.set_self_href(str(staged.json_path))
                shared_items.append(staged)
    if shared is not None:
        shared.make_all_asset_hrefs_relative()
        shared.save(pystac.CatalogType.SELF_CONTAINED)
        catalogs.append(StagedCatalog(folder=dest, items=shared_items))
    return catalogs
