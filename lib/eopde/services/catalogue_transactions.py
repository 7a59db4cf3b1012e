"""The catalogue's transactions with the ownership rule of `eopde.services.ownership`.

stac-fastapi-pgstac's transaction clients write whatever they are given. These subclasses check,
before every write, that the request's user (set by `HubTokenMiddleware`) owns the collection
being written, reading the owner from the database (the writer's pool, a connection of its own:
the check and the write are two statements, not one transaction); they stamp the owner on new
collections and keep it on replacements and patches.
"""

from __future__ import annotations

from typing import Any

import attr
from fastapi import HTTPException, Request
from stac_fastapi.pgstac.transactions import BulkTransactionsClient, TransactionsClient
from stac_pydantic import Collection

from . import ownership


def request_user(request: Request) -> str | None:
    """The user the token middleware identified for this request (None: no user token)."""
    return getattr(request.state, "user", None)


async def _check(request: Request, collection_id: str) -> dict[str, Any]:
    """The stored collection, if the request's user may write to it; else OwnershipError."""
    async with request.app.state.get_connection(request, "w") as conn:
        stored = await ownership.stored_collection(conn, collection_id)
    ownership.check_write(request_user(request), collection_id, stored)
    assert stored is not None  # check_write refuses a missing collection
    return stored


def _same_id(path_id: str, body_id: Any) -> None:
    # pgstac writes the collection named in the body, whatever the path says: a PUT to one's
    # own collection must not replace another.
    if body_id != path_id:
        raise HTTPException(
            status_code=400,
            detail=f"the collection id in the body ({body_id!r}) must equal the one in the "
                   f"path ({path_id!r}); a collection's id cannot be changed")


def check_geometry(geometry: Any, depth: int = 0) -> None:
    """Refuse geometries PostGIS stores but cannot give back as GeoJSON: a GeometryCollection
    inside another. Stored, such an item made every search that matched it fail, for all
    users."""
    if isinstance(geometry, dict) and geometry.get("type") == "GeometryCollection":
        if depth:
            raise HTTPException(
                status_code=400,
                detail="a GeometryCollection cannot hold another GeometryCollection (RFC 7946 "
                       "3.1.8); put its members in the outer collection")
        for member in geometry.get("geometries") or []:
            check_geometry(member, depth + 1)


class _ItemChecks:
    """Item checks added to stac-fastapi-pgstac's (`_validate_item` runs for every item
    written: create, replace, patch, bulk)."""

    def _validate_item(self, request: Request, item: Any, collection_id: str,
                       expected_item_id: str | None = None) -> None:
        # a mixin: the next class in the MRO (a pgstac transactions client) has the method
        super()._validate_item(  # type: ignore[misc]
            request, item, collection_id, expected_item_id)
        check_geometry(item.get("geometry"))


@attr.s
class OwnedTransactionsClient(_ItemChecks, TransactionsClient):
    """Transactions that only the owner of a collection may make."""

    async def create_collection(self, collection: Collection, request: Request,
                                **kwargs: Any) -> Any:
        user = ownership.require_user(request_user(request))
        ownership.check_namespace(user, collection.id)
        data = ownership.claim(collection.model_dump(mode="json"), user)
        return await super().create_collection(Collection.model_validate(data), request,
                                               **kwargs)

    async def update_collection(self, collection: Collection, request: Request,
                                **kwargs: Any) -> Any:
        collection_id = kwargs["collection_id"]  # the path's; the body names its own
        _same_id(collection_id, collection.id)
        stored = await _check(request, collection_id)
        data = ownership.keep_owner(collection.model_dump(mode="json"), stored)
        return await super().update_collection(Collection.model_validate(data), request,
                                                **kwargs)

    async def patch_collection(self, collection_id: str, patch: Any, request: Request,
                               **kwargs: Any) -> Any:
        stored = await _check(request, collection_id)
        patched = _apply_patch(stored, patch)
        _same_id(collection_id, patched.get("id"))
        ownership.keep_owner(patched, stored)
        data = _valid_collection(patched)
        return await super().update_collection(data, request, collection_id=collection_id)

    async def delete_collection(self, collection_id: str, request: Request,
                                **kwargs: Any) -> Any:
        await _check(request, collection_id)
        return await super().delete_collection(collection_id, request, **kwargs)

    async def create_item(self, collection_id: str, item: Any, request: Request,
                          **kwargs: Any) -> Any:
        await _check(request, collection_id)
        return await super().create_item(collection_id, item, request, **kwargs)

    async def update_item(self, request: Request, collection_id: str, item_id: str, item: Any,
                          **kwargs: Any) -> Any:
        await _check(request, collection_id)
        return await super().update_item(request, collection_id, item_id, item, **kwargs)

    async def patch_item(self, collection_id: str, item_id: str, patch: Any, request: Request,
                         **kwargs: Any) -> Any:
        await _check(request, collection_id)
        return await super().patch_item(collection_id, item_id, patch, request, **kwargs)

    async def delete_item(self, item_id: str, collection_id: str, request: Request,
                          **kwargs: Any) -> Any:
        await _check(request, collection_id)
        return await super().delete_item(item_id, collection_id, request, **kwargs)


@attr.s
class OwnedBulkTransactionsClient(_ItemChecks, BulkTransactionsClient):
    """Bulk item inserts that only the owner of the collection may make."""

    async def bulk_item_insert(self, items: Any, **kwargs: Any) -> Any:
        request = kwargs["request"]
        await _check(request, request.path_params["collection_id"])
        return await super().bulk_item_insert(items, **kwargs)


def _valid_collection(data: dict[str, Any]) -> Collection:
    """A patched collection must still be a valid one: 400 saying why otherwise."""
    from pydantic import ValidationError

    try:
        return Collection.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in err.errors()[:5])
        raise HTTPException(status_code=400,
                            detail=f"the patched collection is not valid: {problems}") from None


def _apply_patch(stored: dict[str, Any], patch: Any) -> dict[str, Any]:
    """`stored` with a JSON Patch (list of operations) or a JSON Merge Patch applied."""
    import copy

    import jsonpatch
    from json_merge_patch import merge

    if isinstance(patch, list):
        operations = [op.model_dump(mode="json") for op in patch]
        # A patch that does not apply raises jsonpatch's errors: 400 (install_error_handlers).
        return jsonpatch.JsonPatch(operations).apply(copy.deepcopy(stored))
    return merge(copy.deepcopy(stored), patch.model_dump(mode="json"))
