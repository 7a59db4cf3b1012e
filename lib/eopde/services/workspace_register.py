"""Registration of a workspace's STAC documents into the catalogue, answered when it is done.

EOEPCA's Workspace API queues a harvest and answers 202 with no way to know when (or whether) it
finished; here ``register`` reads the documents, writes them through the catalogue's transactions
and answers with what was created and updated.

What may be read: only ``s3://<the user's bucket>/<key>`` URLs, read with **the user's own
storage keys** (so nothing outside their bucket is readable whatever the URL says), item links
resolved against the collection's URL and held to the same bucket. What is written: through the
catalogue's transaction API **with the user's own token**, so the catalogue's ownership rule
decides (another user's collection is refused there). Collection ids are kept in the user's
namespace: ``ws-alice`` and ``ws-alice.<name>``; any other id ``x`` becomes ``ws-alice.x``.
"""

from __future__ import annotations

import json
import posixpath
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Largest STAC document read from the bucket, and most items in one registration.
MAX_DOCUMENT = 16 * 1024 * 1024
MAX_ITEMS = 20000
_CHUNK = 500
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class RegisterError(Exception):
    """A registration refused; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class Outcome:
    collection: str
    collection_created: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        made = "created" if self.collection_created else "updated"
        return {"status": "registered", "collection": self.collection,
                "collection_status": made, "created": self.created, "updated": self.updated,
                "message": f"collection {self.collection!r} {made}; {len(self.created)} item(s) "
                           f"created, {len(self.updated)} updated"}


def own_key(url: str, bucket: str) -> str:
    """The key of ``url`` if it is ``s3://<bucket>/<canonical key>``; else RegisterError 400."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or parts.netloc != bucket or parts.query or parts.fragment:
        raise RegisterError(400, f"register documents of your workspace: an s3://{bucket}/... "
                                 "URL (upload them with eopde.workspace first)")
    key = parts.path.lstrip("/")
    if not key or key != posixpath.normpath(key) or key.startswith(("/", "../")) or "\\" in key:
        raise RegisterError(400, "the object key must be a plain path inside the bucket "
                                 "(no '..', '.', '//' or leading '/')")
    return key


def _resolve(href: str, base_url: str, bucket: str) -> str:
    if "://" in href:
        own_key(href, bucket)
        return href
    base_key = own_key(base_url, bucket)
    key = posixpath.normpath(posixpath.join(posixpath.dirname(base_key), href))
    return f"s3://{bucket}/{key}"


def read_json(s3: Any, url: str, bucket: str) -> dict[str, Any]:
    """A STAC document of the bucket (with the user's client)."""
    from eopde.storage import s3_error_code

    key = own_key(url, bucket)
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)  # one request: size from its headers
        if obj.get("ContentLength", 0) > MAX_DOCUMENT:
            obj["Body"].close()
            raise RegisterError(413, f"{key}: larger than {MAX_DOCUMENT} bytes")
        data = json.loads(obj["Body"].read(), parse_constant=_no_constant)
    except RegisterError:
        raise
    except ValueError:
        raise RegisterError(400, f"{key}: not JSON (NaN and Infinity are not JSON numbers)") \
            from None
    except Exception as err:
        code = s3_error_code(err) or type(err).__name__
        status = 404 if code in ("NoSuchKey", "404", "NoSuchBucket") else 502
        raise RegisterError(status, f"{key}: cannot be read from your bucket ({code})") from None
    if not isinstance(data, dict):
        raise RegisterError(400, f"{key}: not a STAC document (not an object)")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def collection_in_namespace(wanted: str | None, user: str) -> str:
    """The user's collection for ``wanted`` (their default when None)."""
    from .workspace_store import collection_id

    base = collection_id(user)
    if not wanted or wanted == base:
        return base
    if wanted.startswith(base + "."):
        wanted = wanted[len(base) + 1:]
    if not _ID.fullmatch(wanted):
        raise RegisterError(400, "a collection name is 1-128 letters, digits, '.', '_' or '-'")
    return collection_id(user, wanted)


def gather(s3: Any, kind: str, url: str, bucket: str,
           user: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str]:
    """(collection document or None, items, target collection id) of a registration."""
    source = read_json(s3, url, bucket)
    if source.get("type") == "Feature":
        return None, [source], collection_in_namespace(source.get("collection"), user)
    if source.get("type") not in ("Collection", "Catalog"):
        raise RegisterError(400, "the document is neither a STAC Item, Collection nor Catalog")
    # EOEPCA harvests a catalog registered as "stac-item" into the default collection
    doc = None if kind == "stac-item" and source.get("type") == "Catalog" else source
    links = source.get("links") or []
    if not isinstance(links, list):
        raise RegisterError(400, "links must be a list")
    urls = [_resolve(str(link["href"]), url, bucket) for link in links
            if isinstance(link, dict) and link.get("rel") == "item" and link.get("href")]
    if len(urls) > MAX_ITEMS:
        raise RegisterError(413, f"more than {MAX_ITEMS} items in one registration")
    with ThreadPoolExecutor(8) as pool:  # many small reads: in parallel
        items = list(pool.map(lambda u: read_json(s3, u, bucket), urls))
    target = collection_in_namespace(doc.get("id") if doc else None, user)
    return doc, items, target


def _fail(response: Any, what: str) -> RegisterError:
    try:
        detail = response.json().get("description") or response.json().get("detail")
    except ValueError:
        detail = None
    status = response.status_code if response.status_code in (400, 401, 403, 404, 409, 413) \
        else 502
    return RegisterError(status, f"the catalogue refused {what}: {detail or response.status_code}")


def write(catalogue: Any, collection: dict[str, Any] | None, items: list[dict[str, Any]],
          target: str) -> Outcome:
    """Upsert ``collection`` (as ``target``) and ``items`` through the catalogue (an httpx
    client carrying the user's token)."""
    outcome = Outcome(target)
    for item in items:
        if item.get("type") != "Feature" or not isinstance(item.get("id"), str) \
                or not _ID.fullmatch(item["id"]):
            raise RegisterError(400, "every item must be a STAC Item (type Feature) whose id "
                                     "is 1-128 letters, digits, '.', '_' or '-'")
        if not isinstance(item.get("links", []), list):
            raise RegisterError(400, f"item {item['id']}: links must be a list")
    if collection is not None and not isinstance(collection.get("links", []), list):
        raise RegisterError(400, "the collection's links must be a list")
    stored = catalogue.get(f"/collections/{target}")
    if stored.status_code not in (200, 404):
        raise _fail(stored, f"reading collection {target}")
    if collection is not None or stored.status_code == 404:
        body = _collection_body(collection, target, items)
        if stored.status_code == 404:
            answer = catalogue.post("/collections", json=body)
            outcome.collection_created = True
        else:
            body.pop("eopde:owner", None)
            _widen_extent(body, stored.json())  # a merge adds to the collection's extent
            answer = catalogue.put(f"/collections/{target}", json=body)
        if answer.status_code not in (200, 201):
            raise _fail(answer, f"collection {target}")
    for item in items:
        item["collection"] = target
        item["links"] = [link for link in item.get("links") or []
                         if isinstance(link, dict) and link.get("rel") not in
                         ("self", "root", "parent", "collection")]
    ids = [str(item.get("id")) for item in items]
    existing = set() if outcome.collection_created else _existing(catalogue, target, ids)
    for start in range(0, len(items), _CHUNK):
        chunk = items[start:start + _CHUNK]
        answer = catalogue.post(f"/collections/{target}/bulk_items",
                                json={"items": {str(i["id"]): i for i in chunk},
                                      "method": "upsert"})
        if answer.status_code not in (200, 201):
            raise _fail(answer, f"items of {target}")
    outcome.created = [i for i in ids if i not in existing]
    outcome.updated = [i for i in ids if i in existing]
    return outcome


def _existing(catalogue: Any, target: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        answer = catalogue.post("/search", json={"collections": [target], "ids": chunk,
                                                 "limit": len(chunk),
                                                 "fields": {"include": ["id"]}})
        if answer.status_code != 200:
            raise _fail(answer, f"a search of {target}")
        found.update(str(f.get("id")) for f in answer.json().get("features", []))
    return found


def _collection_body(doc: dict[str, Any] | None, target: str,
                     items: list[dict[str, Any]]) -> dict[str, Any]:
    """A STAC Collection for ``target``: ``doc`` with its id set, or a new one around ``items``."""
    body = dict(doc or {})
    body.update(type="Collection", id=target, stac_version=body.get("stac_version", "1.0.0"))
    body.setdefault("description", f"Workspace collection {target}")
    body.setdefault("license", "other")
    body.setdefault("extent", {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                               "temporal": {"interval": [[None, None]]}})
    body["links"] = [link for link in body.get("links") or []
                     if isinstance(link, dict) and link.get("rel") not in
                     ("self", "root", "parent", "child", "item", "items")]
    return body


def _widen_extent(body: dict[str, Any], stored: dict[str, Any]) -> None:
    """Make ``body``'s extent cover ``stored``'s too (first bbox and first interval)."""
    try:
        new, old = body["extent"], stored["extent"]
        a, b = new["spatial"]["bbox"][0], old["spatial"]["bbox"][0]
        new["spatial"]["bbox"][0] = [min(a[0], b[0]), min(a[1], b[1]),
                                     max(a[2], b[2]), max(a[3], b[3])]
        x, y = new["temporal"]["interval"][0], old["temporal"]["interval"][0]
        starts = [t for t in (x[0], y[0]) if t]
        ends = [t for t in (x[1], y[1]) if t]
        new["temporal"]["interval"][0] = [min(starts) if starts else None,
                                          max(ends) if ends else None]
    except (KeyError, IndexError, TypeError):
        pass  # a partial extent is left as the body says


def delete_items(catalogue: Any, target: str, ids: list[str]) -> list[str]:
    """Delete the items ``ids`` of ``target``; returns those that were there."""
    removed = []
    for item_id in ids:
        answer = catalogue.delete(f"/collections/{target}/items/{item_id}")
        if answer.status_code in (200, 204):
            removed.append(item_id)
        elif answer.status_code != 404:
            raise _fail(answer, f"deleting {item_id}")
    return removed
