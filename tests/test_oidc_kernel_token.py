"""`eopde.auth` with `EOPDE_TOKEN_SOURCE=auth_state`: the access token is asked from the hub
when needed, kept only until shortly before it expires, and an expired one is never handed out.
The hub's answer is replaced here (`_ask_hub`); tests/test_oidc_platform.py asks a real hub."""

from __future__ import annotations

import base64
import json
import time

import pytest

from eopde import auth


def _jwt(exp: float) -> str:
    body = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


@pytest.fixture
def hub(monkeypatch):
    """The hub's answers, in order; each call takes the next one."""
    monkeypatch.setenv("EOPDE_TOKEN_SOURCE", "auth_state")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:1/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "server-token")
    monkeypatch.delenv("EOPDE_TOKEN", raising=False)
    answers: list[tuple[str, float | None]] = []
    calls: list[int] = []

    def ask() -> tuple[str, float | None]:
        calls.append(1)
        return answers.pop(0)

    monkeypatch.setattr(auth, "_ask_hub", ask)
    auth._cached.clear()
    yield answers, calls
    auth._cached.clear()


def test_token_is_kept_until_shortly_before_it_expires(hub):
    answers, calls = hub
    now = time.time()
    answers += [("first", now + 60), ("second", now + 120)]
    assert auth.get_token() == "first"
    assert auth.get_token() == "first"
    assert len(calls) == 1
    auth._cached["until"] = now - 1  # 15 s before the first one's expiry: ask again
    assert auth.get_token() == "second"
    assert auth.auth_headers() == {"Authorization": "Bearer second"}
    assert len(calls) == 2


def test_an_expired_token_is_never_handed_out(hub):
    answers, _ = hub
    answers.append(("stale", time.time() - 1))
    with pytest.raises(auth.AuthError, match="log in again"):
        auth.get_token()
    assert auth._cached == {}


def test_another_server_token_does_not_reuse_the_cache(hub, monkeypatch):
    answers, calls = hub
    answers += [("mine", time.time() + 60), ("theirs", time.time() + 60)]
    assert auth.get_token() == "mine"
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "another-server-token")
    assert auth.get_token() == "theirs"
    assert len(calls) == 2


def test_jwt_expiry_reads_exp_without_trusting_it():
    assert auth.jwt_expiry(_jwt(1796000000)) == 1796000000.0
    assert auth.jwt_expiry("opaque-token") is None
    assert auth.jwt_expiry("a.!!!.c") is None



def _ades_client(token):
    from eopde.ades.client import Client

    return Client("http://127.0.0.1:9/ades", token=token)


def _workspace_backend(token):
    from eopde.workspace.backends import Backend

    return Backend("http://127.0.0.1:9/workspace", token, "alice")


@pytest.mark.parametrize("make", [_ades_client, _workspace_backend])
def test_clients_ask_for_the_current_token_unless_given_one(make, monkeypatch):
    """The ADES and workspace clients read the token at each request: a client made an hour
    ago sends the token of now; a token given to the client is kept until it is unset."""
    tokens = iter(["first", "renewed", "after-unset"])
    monkeypatch.setattr(auth, "get_token", lambda: next(tokens))
    client = make(None)
    assert (client.token, client.token) == ("first", "renewed")
    given = make("mine")
    assert (given.token, given.token) == ("mine", "mine")
    given.token = None
    assert given.token == "after-unset"
