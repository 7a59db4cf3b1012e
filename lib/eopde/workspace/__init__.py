"""Your workspace: your bucket and your catalogue collections, and publishing results into them.

    >>> from eopde.workspace import Workspace
    >>> ws = Workspace()                    # the current user's (JUPYTERHUB_USER / eopde login)
    >>> done = ws.publish(job)              # or a STAC folder, item files, pystac objects
    >>> done.collection, done.created
    >>> ws.items(); ws.remove(["item-1"]); ws.show()

``publish`` uploads every local asset in parallel (multipart above 256 MiB, the server checking
the MD5 of every request's bytes), copies a job's results out of its results folder, rewrites
the hrefs to ``s3://<your bucket>/published/<collection>/<item>/...``, adds provenance links
(``via`` the job, ``processing-software`` its process, ``derived_from`` the input items that
`Job.inputs()` names), writes the item and collection JSON, and registers them **only when all
of that succeeded**: an interrupted publish leaves the catalogue as it was, names the file that
failed, and running it again completes it (same keys, same ids: an upsert, never a duplicate).

``merge=True`` (default) puts the items in your workspace collection (``ws-<you>``, or the one
named by ``collection``); ``merge=False`` makes a collection of the source's own (the job id, the
catalog's id). Which API is spoken: see :mod:`eopde.workspace.backends`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .backends import KINDS, Backend, backend
from .upload import PublishError

__all__ = ["Workspace", "PublishResult", "PublishError", "KINDS"]

PUBLISHED = "published"


@dataclass
class PublishResult:
    """What a publication did."""

    collection: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    uploaded: int = 0
    copied: int = 0
    url: str = ""  #: s3:// URL of the collection document in the bucket
    answer: dict[str, Any] = field(default_factory=dict)  #: the workspace API's answer
    timings: dict[str, float] = field(default_factory=dict)  #: seconds: upload, documents, register

    def __repr__(self) -> str:
        return (f"<published to {self.collection}: {len(self.created)} created, "
                f"{len(self.updated)} updated, {self.uploaded} files uploaded>")


class Workspace:
    """The workspace of ``user`` (default: the current user) on the configured platform."""

    def __init__(self, user: str | None = None, *, url: str | None = None,
                 api: str | None = None, token: str | None = None,
                 catalogue_url: str | None = None):
        from ..auth import get_user
        from ..config import load

        config = load()
        self.user = user or get_user()
        if not self.user:
            raise PublishError("who are you? set JUPYTERHUB_USER or run `eopde login`")
        self.backend: Backend = backend(api, url or config.workspace_url, token or None,
                                        self.user, catalogue_url or config.catalogue_url)
        self._info: dict[str, Any] | None = None
        self._s3: Any = None
        self._upload_s3: Any = None

    def __repr__(self) -> str:
        return f"<Workspace ws-{self.user} ({self.backend.kind})>"

    # -- what the workspace API says ------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        """The Workspace document (asked once)."""
        if self._info is None:
            self._info = self.backend.info()
        return self._info

    @property
    def bucket(self) -> str:
        return self.info["storage"]["credentials"]["bucketname"]

    @property
    def collection(self) -> str:
        """Your workspace collection's id."""
        return (self.info.get("catalogue") or {}).get("collection") or self.backend.name()

    @property
    def catalogue_url(self) -> str | None:
        return (self.info.get("catalogue") or {}).get("url") or self.backend.catalogue_url

    @property
    def s3(self) -> Any:
        """A boto3 client with the workspace's own keys."""
        if self._s3 is None:
            self._s3 = self._client(sign_bodies=True)
        return self._s3

    @property
    def _uploader(self) -> Any:
        """The client publish uploads with: every body it sends carries its Content-MD5, so
        bodies are not SHA-256 signed as well (:func:`eopde.storage.client`)."""
        if self._upload_s3 is None:
            self._upload_s3 = self._client(sign_bodies=False)
        return self._upload_s3

    def _client(self, sign_bodies: bool) -> Any:
        from .. import storage

        creds = self.info["storage"]["credentials"]
        return storage.client(storage.S3Credentials(
            creds.get("endpoint"), creds.get("access"), creds.get("secret"),
            creds.get("region") or storage.DEFAULT_REGION, creds.get("bucketname")),
            max_pool=32, own_checksums=True, sign_bodies=sign_bodies)

    def collection_id(self, name: str | None = None) -> str:
        """Your collection ``name`` (``ws-you.name``), or your workspace collection."""
        if not name or name == self.collection or name.startswith(self.collection + "."):
            return name or self.collection
        if self.backend.kind == "stac-api":
            return name
        return f"{self.collection}.{name}"

    # -- publish ----------------------------------------------------------------------------

    def publish(self, source: Any, *, collection: str | None = None, merge: bool = True,
                title: str | None = None, description: str | None = None, workers: int = 16,
                progress: bool | None = None, verify: bool = True) -> PublishResult:
        """Publish ``source`` (a job or job id, a STAC catalog folder, item files, pystac
        objects, or a list of these) to your workspace; see the module doc. ``verify=False``
        sends no Content-MD5: the files' bytes are then not checked at all."""
        from .collect import items_of, plan
        from .upload import put_json, safe_key, transfer

        source = self._job(source)
        items, provenance, own_name = items_of(source)
        if not items:
            raise PublishError("the source holds no STAC items: nothing to publish")
        target = self.collection_id(collection if (merge or collection) else own_name)
        base = safe_key(PUBLISHED, target)
        work = plan(items, self.bucket, base, provenance)
        show = _interactive() if progress is None else progress
        clock = [time.monotonic()]
        transfer(self._uploader, self.bucket, work.uploads, work.copies, workers=workers,
                 progress=show, verify=verify)
        clock.append(time.monotonic())
        collection_doc, item_docs, documents = _documents(work, target, base, title,
                                                          description)
        put_json(self._uploader, self.bucket, documents, workers)
        clock.append(time.monotonic())
        url = f"s3://{self.bucket}/{base}/collection.json"
        answer = self.backend.register(url, collection_doc, item_docs, target)
        clock.append(time.monotonic())
        timings = dict(zip(("upload", "documents", "register"),
                           (b - a for a, b in zip(clock, clock[1:]))))
        return PublishResult(answer.get("collection", target), list(answer.get("created", [])),
                             list(answer.get("updated", [])), len(work.uploads),
                             len(work.copies), url, answer, timings)

    def _job(self, source: Any) -> Any:
        """A job id given as a string that is neither a path nor a URL: the job of that id."""
        import os

        if (isinstance(source, str) and "/" not in source and not source.endswith(".json")
                and not os.path.exists(source)):
            from ..ades import Client

            return Client().job(source)
        return source

    # -- read back, remove, show ------------------------------------------------------------

    def items(self, collection: str | None = None, limit: int = 1000) -> list[Any]:
        """Your published items (pystac), from the catalogue."""
        import pystac_client

        if not self.catalogue_url:
            raise PublishError("no catalogue URL: set EOPDE_CATALOGUE_URL")
        catalogue = pystac_client.Client.open(self.catalogue_url)
        search = catalogue.search(collections=[self.collection_id(collection)],
                                  max_items=limit)
        return list(search.items())

    def remove(self, ids: list[str] | str, collection: str | None = None) -> list[str]:
        """Remove items: their records, then their objects. Returns the ids removed."""
        from .upload import safe_key, safe_name

        ids = [ids] if isinstance(ids, str) else list(ids)
        target = self.collection_id(collection)
        removed = self.backend.remove(target, ids)
        for item_id in removed:
            prefix = safe_key(PUBLISHED, target, safe_name(item_id)) + "/"
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=prefix)
            for page in pages:
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        return removed

    def show(self, collection: str | None = None, *, raster: str | None = None) -> Any:
        """Your items on a map; rasters rendered in this kernel with your own keys (the shared
        tiler never reads private data). ``raster``: the asset key to show (default: the first
        GeoTIFF of each item, at most 5 items)."""
        from ..maps import show_items

        found = self.items(collection)
        m = show_items(found)
        for item in found[:5]:
            href = _raster_href(item, raster)
            if href:
                m.add_raster(href, zoom=False)
        return m


def _raster_href(item: Any, key: str | None) -> str | None:
    for name, asset in item.assets.items():
        if (key and name == key) or (not key and "tiff" in (asset.media_type or "")):
            return asset.href
    return None


def _documents(work: Any, target: str, base: str, title: str | None,
               description: str | None) -> tuple[dict, dict[str, dict], dict[str, dict]]:
    """(collection JSON, item id -> item JSON, key -> JSON to write)."""
    import posixpath

    import pystac

    extent = _extent(work.items)
    collection = pystac.Collection(target, description or f"Published items of {target}",
                                   extent, title=title, license="other")
    item_docs: dict[str, dict] = {}
    documents: dict[str, dict] = {}
    links = []
    for item in work.items:
        item.collection_id = target
        doc = item.to_dict(include_self_link=False, transform_hrefs=False)
        doc["collection"] = target
        key = work.item_keys[item.id]
        rel = posixpath.relpath(key, base)
        doc["links"].append({"rel": "collection", "href": posixpath.relpath(
            f"{base}/collection.json", posixpath.dirname(key)), "type": "application/json"})
        item_docs[item.id] = doc
        documents[key] = doc
        links.append({"rel": "item", "href": f"./{rel}", "type": "application/geo+json"})
    doc = collection.to_dict(include_self_link=False, transform_hrefs=False)
    doc["links"] = [link for link in doc["links"] if link.get("rel") not in ("root", "self")]
    doc["links"] += links
    documents[f"{base}/collection.json"] = doc
    return doc, item_docs, documents


def _extent(items: list[Any]) -> Any:
    """The items' extent; the whole world where no item has a bbox, open where none has a time."""
    import math

    import pystac

    extent = pystac.Extent.from_items(items)
    if not all(math.isfinite(v) for v in extent.spatial.bboxes[0]):
        extent.spatial = pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]])
    return extent


def _interactive() -> bool:
    import sys

    return "ipykernel" in sys.modules or sys.stderr.isatty()
