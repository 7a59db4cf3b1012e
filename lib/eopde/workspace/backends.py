"""Where a workspace's storage keys come from and how its STAC documents get into a catalogue.

- ``eopde``: the local platform's workspace part. ``GET /workspaces/ws-<user>``; ``register``
  answers when the items are in the catalogue, with what was created and updated.
- ``eoepca-1.4``: EOEPCA's Workspace API 1.4 (``rm-workspace-api``): the same ``GET``; the
  collection by value through ``register-json``, its items through ``register`` ``{type:
  "stac-item", url}`` (harvested later by EOEPCA: the answer is a 202 and a message).
- ``stac-api``: no workspace API: keys from the environment (:mod:`eopde.storage`), bucket
  ``EOPDE_S3_BUCKET``, documents written with a STAC API's transactions.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from ..auth import TokenSetting
from .upload import PublishError

KINDS = ("eopde", "eoepca-1.4", "stac-api")


@functools.lru_cache(maxsize=1)
def tls_context() -> Any:
    """One TLS context for every request of the process: a new httpx client otherwise loads
    the CA bundle again (40-200 ms, twice per publish: keys, then registration)."""
    import httpx

    return httpx.create_ssl_context()


class Backend:
    """A workspace service. ``info()`` is the Workspace document (EOEPCA's shape)."""

    kind = ""

    def __init__(self, url: str | None, token: str | None, user: str | None,
                 catalogue_url: str | None = None):
        self.url = (url or "").rstrip("/")
        self._token, self.user, self.catalogue_url = token, user, catalogue_url

    #: The token given, else the current one, asked at each request (see TokenSetting).
    token = TokenSetting()

    def _client(self, base: str | None = None) -> Any:
        import httpx

        token = self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=base or self.url, headers=headers, timeout=300,
                            verify=tls_context())

    def name(self) -> str:
        return f"ws-{self.user}"

    def info(self) -> dict[str, Any]:
        with self._client() as client:
            answer = client.get(f"/workspaces/{self.name()}")
        if answer.status_code != 200:
            raise PublishError(f"the workspace API answered {answer.status_code} for "
                               f"{self.name()}: {_detail(answer)}")
        doc = answer.json()
        if doc.get("status") != "ready":
            raise PublishError(f"workspace {self.name()} is {doc.get('status')!r}, not ready; "
                               "try again in a minute")
        return doc

    def register(self, collection_url: str, collection: dict, items: dict[str, dict],
                 collection_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def remove(self, collection_id: str, ids: list[str]) -> list[str]:
        raise NotImplementedError


class EopdeBackend(Backend):
    kind = "eopde"

    def _call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one of the workspace's actions; anything but 200 is a PublishError."""
        with self._client() as client:
            answer = client.post(f"/workspaces/{self.name()}/{action}", json=body)
        if answer.status_code != 200:
            raise PublishError(f"{action} refused ({answer.status_code}): {_detail(answer)}")
        return answer.json()

    def register(self, collection_url: str, collection: dict, items: dict[str, dict],
                 collection_id: str) -> dict[str, Any]:
        return self._call("register", {"type": "stac-collection", "url": collection_url,
                                       "collection": collection_id})

    def remove(self, collection_id: str, ids: list[str]) -> list[str]:
        answer = self._call("deregister", {"type": "stac-item", "ids": ids,
                                           "collection": collection_id})
        return list(answer.get("removed", []))


class Eoepca14Backend(Backend):
    kind = "eoepca-1.4"

    def register(self, collection_url: str, collection: dict, items: dict[str, dict],
                 collection_id: str) -> dict[str, Any]:
        with self._client() as client:
            first = client.post(f"/workspaces/{self.name()}/register-json", json=collection)
            if first.status_code not in (200, 201, 202):
                raise PublishError(f"register-json refused ({first.status_code}): "
                                   f"{_detail(first)}")
            second = client.post(f"/workspaces/{self.name()}/register",
                                 json={"type": "stac-item", "url": collection_url})
        if second.status_code not in (200, 201, 202):
            raise PublishError(f"register refused ({second.status_code}): {_detail(second)}")
        doc = second.json() if second.content else {}
        return {"status": "accepted" if second.status_code == 202 else "registered",
                "collection": collection_id, "message": doc.get("message", ""),
                "created": doc.get("created", []), "updated": doc.get("updated", [])}

    def remove(self, collection_id: str, ids: list[str]) -> list[str]:
        removed = []
        with self._client() as client:
            for item_id in ids:
                answer = client.post(f"/workspaces/{self.name()}/deregister",
                                     json={"type": "stac-item", "identifier": item_id})
                if answer.status_code in (200, 202, 204):
                    removed.append(item_id)
        return removed


class StacApiBackend(Backend):
    kind = "stac-api"

    def info(self) -> dict[str, Any]:
        from .. import storage

        creds = storage.resolve()
        bucket = os.environ.get("EOPDE_S3_BUCKET")
        if not bucket:
            raise PublishError("set EOPDE_S3_BUCKET to the bucket to publish to")
        return {"name": self.name(), "status": "ready",
                "storage": {"credentials": {"bucketname": bucket, "access": creds.access_key,
                                            "secret": creds.secret_key,
                                            "endpoint": creds.endpoint, "region": creds.region}},
                "catalogue": {"url": self.catalogue_url, "collection": self.name()}}

    def register(self, collection_url: str, collection: dict, items: dict[str, dict],
                 collection_id: str) -> dict[str, Any]:
        created: list[str] = []
        updated: list[str] = []
        with self._client(self.catalogue_url) as client:
            _upsert(client, "/collections", f"/collections/{collection_id}", collection)
            for item_id, item in items.items():
                made = _upsert(client, f"/collections/{collection_id}/items",
                               f"/collections/{collection_id}/items/{item_id}", item)
                (created if made else updated).append(item_id)
        return {"status": "registered", "collection": collection_id, "created": created,
                "updated": updated}

    def remove(self, collection_id: str, ids: list[str]) -> list[str]:
        removed = []
        with self._client(self.catalogue_url) as client:
            for item_id in ids:
                answer = client.delete(f"/collections/{collection_id}/items/{item_id}")
                if answer.status_code in (200, 204):
                    removed.append(item_id)
        return removed


def _upsert(client: Any, create: str, replace: str, doc: dict) -> bool:
    """POST, or PUT when it exists; True when created."""
    answer = client.post(create, json=doc)
    if answer.status_code == 409:
        answer = client.put(replace, json=doc)
        if answer.status_code in (200, 201, 204):
            return False
    if answer.status_code not in (200, 201):
        raise PublishError(f"the STAC API refused {doc.get('id')!r} ({answer.status_code}): "
                           f"{_detail(answer)}")
    return True


def _detail(answer: Any) -> str:
    try:
        doc = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(doc.get("detail") or doc.get("description") or doc.get("message") or doc)[:300]


def backend(kind: str | None, url: str | None, token: str | None, user: str | None,
            catalogue_url: str | None) -> Backend:
    kind = kind or os.environ.get("EOPDE_WORKSPACE_API") or "eopde"
    classes = {"eopde": EopdeBackend, "eoepca-1.4": Eoepca14Backend, "stac-api": StacApiBackend}
    if kind not in classes:
        raise PublishError(f"unknown workspace API {kind!r}; one of {', '.join(KINDS)}")
    if kind != "stac-api" and not url:
        raise PublishError("no workspace URL: set EOPDE_WORKSPACE_URL or start the local "
                           "platform (`eopde up`)")
    return classes[kind](url, token, user, catalogue_url)
