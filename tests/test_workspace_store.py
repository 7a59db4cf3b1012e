"""The workspace store (users' keys), the storage part's auth proxy and the ADES's choice of keys,
without the platform."""

from __future__ import annotations

import io
import json
import stat
import sys

from eopde.services import storage_auth
from eopde.services.ades.stageout import StageOutTarget
from eopde.services.secrets import load_secrets
from eopde.services.workspace_store import (
    collection_id,
    ensure_keys,
    find_access_key,
    keys_file,
    workspace_name,
)


def test_names_follow_the_bucket_rule():
    assert workspace_name("alice") == "ws-alice"
    assert collection_id("alice") == "ws-alice"
    assert collection_id("alice", "ndvi") == "ws-alice.ndvi"
    assert workspace_name("Alice").startswith("ws-alice--")  # never alice's
    assert workspace_name("alice.x") != workspace_name("alice") and "." not in \
        workspace_name("alice.x")


def test_keys_are_made_once_per_user_and_kept_private(tmp_path):
    path = keys_file(tmp_path)
    alice = ensure_keys(path, "alice", tmp_path / "storage")
    assert ensure_keys(path, "alice") == alice
    bob = ensure_keys(path, "bob", tmp_path / "storage")
    assert (alice.bucket, bob.bucket) == ("user-alice", "user-bob")
    assert len({alice.access, bob.access, alice.secret, bob.secret}) == 4
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (tmp_path / "storage" / "user-bob").is_dir()
    assert find_access_key(path, bob.access) == bob
    assert find_access_key(path, "nope") is None
    assert alice.secret not in repr(alice)


def _ask(monkeypatch, home, user) -> tuple[int, dict]:
    monkeypatch.setenv("EOPDE_HOME", str(home))
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"user": user})))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = storage_auth.main()
    return code, json.loads(out.getvalue())


def test_the_auth_proxy_maps_a_key_to_its_one_bucket(monkeypatch, tmp_path):
    platform = load_secrets(tmp_path / "secrets.json")
    alice = ensure_keys(keys_file(tmp_path), "alice", tmp_path / "storage")
    code, answer = _ask(monkeypatch, tmp_path, alice.access)
    assert code == 0
    assert answer == {"type": "combine", "_root": "", "_secret_access_key": alice.secret,
                      "upstreams": f'"user-alice={tmp_path}/storage/user-alice"'}
    code, answer = _ask(monkeypatch, tmp_path, platform["s3_access_key"])
    assert (code, answer) == (0, {"type": "local", "_root": str(tmp_path / "storage"),
                                  "_secret_access_key": platform["s3_secret_key"]})
    assert _ask(monkeypatch, tmp_path, "EOPDEWSGUESSED") == (1, {})
    assert _ask(monkeypatch, tmp_path, "") == (1, {})


def test_stage_out_uses_the_owners_keys(tmp_path):
    path = keys_file(tmp_path)
    target = StageOutTarget(endpoint="http://127.0.0.1:9", access_key="PLATFORM",
                            secret_key="platform-secret", keys_file=str(path))
    client = target.client_for("alice")
    alice = find_access_key(path, client._request_signer._credentials.access_key)
    assert alice is not None and alice.user == "alice"
    assert client._request_signer._credentials.secret_key == alice.secret
    without = StageOutTarget(endpoint="http://127.0.0.1:9", access_key="PLATFORM",
                             secret_key="platform-secret")
    assert without.client_for("alice")._request_signer._credentials.access_key == "PLATFORM"


def test_workspace_collection_ids_belong_to_their_user():
    import pytest

    from eopde.services.ownership import OwnershipError, check_namespace

    for cid in ("ws-alice", "ws-alice.ndvi", "my-collection", "wsalice"):
        check_namespace("alice", cid)
    for cid in ("ws-bob", "ws-bob.x", "ws-alicex", "ws-alice-x", "ws-"):
        with pytest.raises(OwnershipError) as refused:
            check_namespace("alice", cid)
        assert refused.value.status == 403
    check_namespace("Alice", workspace_name("Alice") + ".x")
    with pytest.raises(OwnershipError):
        check_namespace("Alice", "ws-alice")


def test_register_clients_are_made_once_per_keys_never_shared_between_users(tmp_path):
    """The workspace part keeps one S3 client per user's keys and one TLS context (making them
    was most of a publish's fixed cost); one user never gets a client with another's keys, and
    each catalogue client carries its caller's token."""
    from eopde.services.workspace import WorkspaceSettings, _clients

    settings = WorkspaceSettings(home=tmp_path, s3_endpoint="http://127.0.0.1:9",
                                 public_s3_endpoint="http://127.0.0.1:9",
                                 catalogue_url="http://127.0.0.1:9", hub_api_url="",
                                 service_token="")
    a3, a_cat, a_bucket = _clients(settings, "alice", "tok-a")
    again, a_cat2, _ = _clients(settings, "alice", "tok-a2")
    b3, b_cat, b_bucket = _clients(settings, "bob", "tok-b")
    assert again is a3 and b3 is not a3 and (a_bucket, b_bucket) == ("user-alice", "user-bob")
    keys = {u: ensure_keys(settings.keys_file, u) for u in ("alice", "bob")}
    for client, user in ((a3, "alice"), (b3, "bob")):
        creds = client._request_signer._credentials
        assert (creds.access_key, creds.secret_key) == (keys[user].access, keys[user].secret)
    assert [c.headers["authorization"] for c in (a_cat, a_cat2, b_cat)] == \
        ["Bearer tok-a", "Bearer tok-a2", "Bearer tok-b"]
    for c in (a_cat, a_cat2, b_cat):
        c.close()
