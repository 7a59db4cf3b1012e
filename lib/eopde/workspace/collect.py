"""What a publication holds: the STAC items of a source, and where each asset goes.

Sources: a job (or its id), a local STAC catalog folder (or its catalog.json / collection.json),
item files, pystac objects (Item, ItemCollection, Catalog, Collection), or a list of these.
Items are cloned: the caller's objects are not changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .upload import Copy, PublishError, Upload, safe_key, safe_name


@dataclass
class Provenance:
    """Where published items came from: links added to every item."""

    job_url: str | None = None
    process_url: str | None = None
    inputs: list[str] = field(default_factory=list)

    def links(self) -> list[dict[str, str]]:
        found = []
        if self.job_url:
            found.append({"rel": "via", "href": self.job_url, "type": "application/json",
                          "title": "the job that made this item"})
        if self.process_url:
            found.append({"rel": "processing-software", "href": self.process_url,
                          "type": "application/json", "title": "the process that made it"})
        found += [{"rel": "derived_from", "href": href, "title": "job input"}
                  for href in self.inputs]
        return found


def items_of(source: Any) -> tuple[list[Any], Provenance, str | None]:
    """(items, provenance, a name for a collection of their own) of ``source``."""
    import pystac

    if isinstance(source, (list, tuple)):
        items: list[Any] = []
        for part in source:
            found, _, _ = items_of(part)
            items += found
        return items, Provenance(), None
    if _is_job(source):
        return _job_items(source)
    if isinstance(source, pystac.Item):
        return [_absolute(source.clone())], Provenance(), None
    if isinstance(source, pystac.ItemCollection):
        return [_absolute(i.clone()) for i in source], Provenance(), None
    if isinstance(source, pystac.Catalog):
        return [_absolute(i.clone()) for i in source.get_items(recursive=True)], Provenance(), \
            source.id
    if isinstance(source, (str, os.PathLike)):
        return _path_items(Path(source))
    raise PublishError(f"cannot publish a {type(source).__name__}: give a job, a STAC catalog "
                       "folder, item files or pystac objects")


def _is_job(source: Any) -> bool:
    return hasattr(source, "results") and hasattr(source, "id") and hasattr(source, "client")


def _path_items(path: Path) -> tuple[list[Any], Provenance, str | None]:
    import pystac

    if path.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (path / name).is_file():
                return _path_items(path / name)
        raise PublishError(f"{path.name}: the folder holds no catalog.json or collection.json")
    if not path.is_file():
        raise PublishError(f"{path}: no such file or folder")
    try:
        obj = pystac.read_file(str(path.resolve()))
    except Exception as err:
        raise PublishError(f"{path.name}: not a STAC document ({type(err).__name__})") from None
    if isinstance(obj, pystac.Item):
        return [_absolute(obj)], Provenance(), None
    if isinstance(obj, pystac.Catalog):
        return [_absolute(i) for i in obj.get_items(recursive=True)], Provenance(), obj.id
    raise PublishError(f"{path.name}: a STAC {type(obj).__name__} cannot be published")


def _absolute(item: Any) -> Any:
    item.make_asset_hrefs_absolute()
    return item


def _job_items(job: Any) -> tuple[list[Any], Provenance, str | None]:
    results = job.results()
    items = [i.clone() for i in results.items()]
    base = str(getattr(job.client, "url", "")).rstrip("/")
    process = getattr(job, "process_id", None)
    return items, Provenance(f"{base}/jobs/{job.id}" if base else None,
                             f"{base}/processes/{process}" if base and process else None,
                             job_input_urls(job)), str(job.id)


def job_input_urls(job: Any) -> list[str]:
    """The URLs a job's inputs name (its STAC items...), for ``derived_from`` links: read from
    the ADES (`Job.inputs()`, ``GET /jobs/{id}/inputs``); none from a server that does not give
    a job's inputs (EOEPCA's ADES). Inputs in which the server redacted credentials are left
    out: their URLs are incomplete, and a signed URL is no lasting reference anyway."""
    from ..ades.errors import InputsUnavailable

    reader = getattr(job, "inputs", None)
    if not callable(reader) or not getattr(job, "id", None):
        return []
    try:
        given = reader()
    except InputsUnavailable:
        return []
    found: list[str] = []
    for name, value in given.inputs.items():
        if name not in given.redacted:
            found += _urls(value)
    return list(dict.fromkeys(found))


def _urls(value: Any, depth: int = 0) -> list[str]:
    """http(s):// and s3:// URLs in an input value: strings, ``{"href": ...}`` (OGC qualified
    values), CWL File/Directory ``location``s, lists of these."""
    if depth > 16:
        return []
    if isinstance(value, str):
        try:
            scheme = urlsplit(value).scheme
        except ValueError:
            return []
        return [value] if scheme in ("http", "https", "s3") else []
    if isinstance(value, list):
        return [u for v in value for u in _urls(v, depth + 1)]
    if isinstance(value, dict):
        ref = value.get("href", value.get("location"))
        return _urls(ref, depth + 1) if isinstance(ref, str) else []
    return []


@dataclass
class Plan:
    """Uploads, copies and the STAC documents (key -> JSON) of one publication."""

    uploads: list[Upload]
    copies: list[Copy]
    items: list[Any]  #: pystac Items, hrefs rewritten to ``s3://bucket/key``
    item_keys: dict[str, str]  #: item id -> key of its JSON


def plan(items: list[Any], bucket: str, base: str, provenance: Provenance) -> Plan:
    """Where each asset of ``items`` goes under ``s3://bucket/base/<item-id>/`` and the rewritten
    items. Local files are uploaded, objects of the bucket copied, other URLs left as they are."""
    uploads: list[Upload] = []
    copies: list[Copy] = []
    seen: set[str] = set()
    keys: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise PublishError(f"two items have the id {item.id!r}; ids must be unique")
        seen.add(item.id)
        folder = safe_key(base, safe_name(item.id))
        names: set[str] = set()
        for asset_key, asset in item.assets.items():
            target = _target(asset.href, bucket, folder, asset_key, names, uploads, copies)
            if target:
                asset.href = f"s3://{bucket}/{target}"
        item.links = [link for link in item.links if link.rel not in
                      ("self", "root", "parent", "collection")]
        for link in provenance.links():
            item.add_link(_link(link))
        keys[item.id] = safe_key(folder, f"{safe_name(item.id)}.json")
    return Plan(uploads, copies, items, keys)


def _target(href: str, bucket: str, folder: str, asset_key: str, names: set[str],
            uploads: list[Upload], copies: list[Copy]) -> str | None:
    parts = urlsplit(href)
    if parts.scheme in ("", "file"):
        path = Path(parts.path if parts.scheme == "file" else href)
        if not path.is_file():
            raise PublishError(f"asset {asset_key}: {path.name} is not a file")
        key = safe_key(folder, _unique(safe_name(path.name), names))
        uploads.append(Upload(path, key))
        return key
    if parts.scheme == "s3" and parts.netloc == bucket:
        source = parts.path.lstrip("/")
        key = safe_key(folder, _unique(safe_name(Path(source).name), names))
        if source != key:
            copies.append(Copy(safe_key(source), key))
        return key
    return None  # remote data stays where it is


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.partition(".")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    taken.add(candidate)
    return candidate


def _link(doc: dict[str, str]) -> Any:
    import pystac

    return pystac.Link(doc["rel"], doc["href"], media_type=doc.get("type"),
                       title=doc.get("title"))
