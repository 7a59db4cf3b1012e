"""`eopde login` credentials: where the CLI finds a user and a token in a new terminal."""

from __future__ import annotations

import stat

import pytest

from eopde import auth, credentials
from eopde.ades.client import Client
from eopde.cli import main


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for var in ("EOPDE_TOKEN", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER", "EOPDE_TOKEN_SOURCE",
                "EOPDE_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_CREDENTIALS", str(tmp_path / "cfg" / "credentials.json"))
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "none.toml"))
    return tmp_path


def test_login_with_a_token_is_used_by_auth_and_client(clean, capsys):
    assert main(["login", "ada", "--token", "t0k"]) == 0
    path = credentials.credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.get_token() == "t0k" and auth.get_user() == "ada"
    client = Client("http://ades.example/{user}/ogc-api")
    assert client.url == "http://ades.example/ada/ogc-api" and client.token == "t0k"


def test_environment_wins_over_the_saved_login(clean, monkeypatch):
    credentials.save("local", "ada", "saved")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "from-hub")
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    assert auth.get_token() == "from-hub" and auth.get_user() == "bob"


def test_logout_forgets_only_that_platform(clean, monkeypatch):
    credentials.save("local", "ada", "a")
    credentials.save("remote", "ada", "b")
    assert main(["logout"]) == 0
    assert auth.get_token() is None
    monkeypatch.setenv("EOPDE_PLATFORM", "remote")
    assert credentials.saved("remote") == {"user": "ada", "token": "b"}


def test_token_without_user_is_refused(clean, capsys):
    assert main(["login", "--token", "x"]) == 2
    assert "needs the user name" in capsys.readouterr().err


def test_no_user_says_to_log_in(clean):
    from eopde.config import ConfigError

    with pytest.raises(ConfigError, match="eopde login"):
        Client("http://ades.example/{user}/ogc-api")


def test_cli_401_says_how_to_log_in(clean, capsys):
    import httpx

    from eopde.ades import cli as ades_cli

    def handler(request):
        return httpx.Response(401, json={"type": "unauthorized", "title": "Unauthorized",
                                         "status": 401, "detail": "no token"})

    original = ades_cli._client

    def fake_client(args):
        return Client(args.url, user="ada", token=None, transport=httpx.MockTransport(handler))

    ades_cli._client = fake_client
    try:
        code = main(["processes", "--url", "http://ades.example/{user}/ogc-api"])
    finally:
        ades_cli._client = original
    assert code == 1
    assert "eopde login" in capsys.readouterr().err


@pytest.mark.parametrize("status, body, words", [
    (409, {"type": "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/duplicated-process",
           "title": "Duplicated process", "status": 409,
           "detail": "process 'ndvi' exists; replace it with PUT /x or undeploy it first"},
     "--replace"),
    (404, {"type": "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-process",
           "title": "No such process", "status": 404,
           "detail": "no process 'x' is deployed for you; GET /processes lists yours"},
     "eopde processes"),
])
def test_cli_errors_speak_cli_not_http(clean, capsys, status, body, words):
    import httpx

    from eopde.ades import cli as ades_cli

    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    original = ades_cli._client
    ades_cli._client = lambda args: Client(args.url, user="ada", token="t", transport=transport)
    try:
        code = main(["processes", "x", "--url", "http://ades.example/{user}/ogc-api"])
    finally:
        ades_cli._client = original
    err = capsys.readouterr().err
    assert code == 1 and words in err
    assert "GET /" not in err and "PUT /" not in err
