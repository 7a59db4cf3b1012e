"""The ownership rule of catalogue collections (eopde.services.ownership), without a platform."""

from __future__ import annotations

import asyncio

import pytest

from eopde.services.ownership import (
    OWNER_KEY,
    OwnershipError,
    check_write,
    claim,
    keep_owner,
    owner_of,
    require_user,
    stored_collection,
)


def _refused(call, status: int, words: str) -> None:
    with pytest.raises(OwnershipError) as caught:
        call()
    assert caught.value.status == status
    assert words in caught.value.description
    assert caught.value.body() == {"code": caught.value.code,
                                   "description": caught.value.description}


def test_owner_may_write():
    check_write("alice", "c", {"id": "c", OWNER_KEY: "alice"})


def test_others_and_platform_collections_are_refused():
    _refused(lambda: check_write("mallory", "c", {OWNER_KEY: "alice"}), 403,
             "belongs to another user")
    _refused(lambda: check_write("alice", "demo", {"id": "demo"}), 403,
             "belongs to the platform")
    # An empty or non-text owner is no owner: read-only, never writable by everyone.
    for odd in ("", None, 0, ["alice"], {"name": "alice"}):
        _refused(lambda: check_write("alice", "c", {OWNER_KEY: odd}), 403, "platform")
    _refused(lambda: check_write("alice", "gone", None), 404, "does not exist")


def test_a_request_without_user_is_refused():
    _refused(lambda: check_write(None, "c", {OWNER_KEY: "alice"}), 401, "token")
    _refused(lambda: check_write("", "c", {OWNER_KEY: ""}), 401, "token")
    _refused(lambda: require_user(None), 401, "token")
    assert require_user("alice") == "alice"


def test_fix_is_suggested():
    with pytest.raises(OwnershipError) as caught:
        check_write("mallory", "c", {OWNER_KEY: "alice"})
    assert "create a collection of your own" in caught.value.description


def test_claim_sets_the_owner_and_refuses_another():
    assert claim({"id": "c"}, "alice")[OWNER_KEY] == "alice"
    assert claim({"id": "c", OWNER_KEY: "alice"}, "alice")[OWNER_KEY] == "alice"
    _refused(lambda: claim({"id": "c", OWNER_KEY: "bob"}, "alice"), 403, "cannot be changed")
    _refused(lambda: claim({"id": "c", OWNER_KEY: None}, "alice"), 403, "cannot be changed")


def test_keep_owner_on_replacement():
    stored = {"id": "c", OWNER_KEY: "alice"}
    assert keep_owner({"id": "c"}, stored)[OWNER_KEY] == "alice"
    _refused(lambda: keep_owner({"id": "c", OWNER_KEY: "mallory"}, stored), 403, "cannot")
    _refused(lambda: keep_owner({"id": "c"}, {"id": "c"}), 403, "read-only")


def test_owner_of():
    assert owner_of(None) is None
    assert owner_of({}) is None
    assert owner_of({OWNER_KEY: "alice"}) == "alice"


def test_stored_collection_reads_the_database_row():
    class Conn:
        def __init__(self, value):
            self.value, self.calls = value, []

        async def fetchval(self, sql, *args):
            self.calls.append((sql, args))
            return self.value

    conn = Conn({"id": "c", OWNER_KEY: "alice"})
    assert asyncio.run(stored_collection(conn, "c")) == {"id": "c", OWNER_KEY: "alice"}
    assert conn.calls[0][1] == ("c",) and "$1" in conn.calls[0][0]  # a parameter, not text
    assert asyncio.run(stored_collection(Conn('{"id": "c"}'), "c")) == {"id": "c"}
    assert asyncio.run(stored_collection(Conn(None), "c")) is None


def test_nested_geometry_collections_are_refused():
    from fastapi import HTTPException

    from eopde.services.catalogue_transactions import check_geometry

    point = {"type": "Point", "coordinates": [0, 0]}
    check_geometry(point)
    check_geometry({"type": "GeometryCollection", "geometries": [point]})
    check_geometry(None)
    nested = {"type": "GeometryCollection",
              "geometries": [{"type": "GeometryCollection", "geometries": [point]}]}
    with pytest.raises(HTTPException) as caught:
        check_geometry(nested)
    assert caught.value.status_code == 400 and "GeometryCollection" in caught.value.detail
