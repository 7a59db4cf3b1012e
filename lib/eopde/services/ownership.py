"""Who may write to a catalogue collection: its owner, recorded in the collection itself.

The rule, used by the catalogue's transactions (and meant for anything else that lets users
write collections, e.g. workspaces):

- A collection created by a user carries ``"eopde:owner": "<user>"``. The server sets it at
  creation; a client cannot choose it (a different value is refused, the same value is fine).
- Only the owner may change the collection or its items (create, replace, patch, delete).
- A collection without an owner belongs to the platform (the demo data, loaded straight into
  the database): it is read-only to every user.
- Replacing a collection keeps its owner: a body without the field keeps it, a body naming
  someone else is refused.

The owner is always read from the database at the time of the write (see `stored_collection`),
never from a cache a user could outrun.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The property of a collection's JSON that names its owner.
OWNER_KEY = "eopde:owner"

_HOW_TO_FIX = ("create a collection of your own (POST /collections) and write your items "
               "there")


class OwnershipError(Exception):
    """A write the ownership rule refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description

    def body(self) -> dict[str, str]:
        """The JSON error body (STAC API style: code and description)."""
        return {"code": self.code, "description": self.description}


def owner_of(collection: Mapping[str, Any] | None) -> str | None:
    """The owner recorded in a collection's JSON, or None (platform collection or missing)."""
    if not collection:
        return None
    owner = collection.get(OWNER_KEY)
    return owner if isinstance(owner, str) and owner else None


def require_user(user: str | None) -> str:
    """`user`, or OwnershipError 401 when the request carries no user (fail closed)."""
    if not user:
        raise OwnershipError(401, "Unauthorized", "writing to the catalogue needs a user's token")
    return user


#: Collection ids that belong to workspaces: ``ws-<name>`` and ``ws-<name>.<x>`` are created
#: only by the user whose workspace ``ws-<name>`` is (`eopde.services.workspace_store`).
WORKSPACE_PREFIX = "ws-"


def check_namespace(user: str, collection_id: str) -> None:
    """Refuse a new collection in another user's workspace namespace (squatting ``ws-alice``
    would block alice's publishing)."""
    if not collection_id.startswith(WORKSPACE_PREFIX):
        return
    from .workspace_store import workspace_name

    mine = workspace_name(user)
    if collection_id != mine and not collection_id.startswith(mine + "."):
        raise OwnershipError(
            403, "Forbidden",
            f"collection ids starting with {WORKSPACE_PREFIX!r} belong to workspaces; yours are "
            f"{mine!r} and '{mine}.<name>' (or choose an id without that prefix)")


def check_write(user: str | None, collection_id: str,
                stored: Mapping[str, Any] | None) -> None:
    """Raise OwnershipError unless `user` may write to the collection `stored` (as in the
    database; None if it does not exist)."""
    require_user(user)
    if stored is None:
        raise OwnershipError(404, "NotFoundError",
                             f"collection {collection_id!r} does not exist; {_HOW_TO_FIX}")
    owner = owner_of(stored)
    if owner is None:
        raise OwnershipError(
            403, "Forbidden",
            f"collection {collection_id!r} belongs to the platform and is read-only; "
            f"{_HOW_TO_FIX}")
    if owner != user:
        raise OwnershipError(
            403, "Forbidden",
            f"collection {collection_id!r} belongs to another user; only its owner can "
            f"change it or its items; {_HOW_TO_FIX}")


def claim(collection: dict[str, Any], user: str) -> dict[str, Any]:
    """Mark a new collection as owned by `user` (in place); refuse a client-chosen other owner."""
    _refuse_other_owner(collection, user)
    collection[OWNER_KEY] = user
    return collection


def keep_owner(collection: dict[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Give a replacement of `stored` the stored owner (in place); refuse one naming another."""
    owner = owner_of(stored)
    if owner is None:  # check_write refuses platform collections before this is reached
        raise OwnershipError(403, "Forbidden", "platform collections are read-only")
    _refuse_other_owner(collection, owner)
    collection[OWNER_KEY] = owner
    return collection


def _refuse_other_owner(collection: Mapping[str, Any], owner: str) -> None:
    if OWNER_KEY in collection and collection[OWNER_KEY] != owner:
        raise OwnershipError(
            403, "Forbidden",
            f"{OWNER_KEY!r} is set by the catalogue to the collection's owner ({owner!r}) and "
            f"cannot be changed; leave it out of the body")


async def stored_collection(conn: Any, collection_id: str) -> dict[str, Any] | None:
    """The collection's JSON as stored in pgstac (asyncpg connection), or None."""
    content = await conn.fetchval(
        "SELECT content FROM pgstac.collections WHERE id = $1", collection_id)
    if isinstance(content, (str, bytes)):  # a connection without the jsonb codec
        import json

        content = json.loads(content)
    return content
