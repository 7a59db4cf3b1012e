"""Platform configuration and token lookup of the kernel library."""

from __future__ import annotations

import json

import pytest

from eopde import auth, config
from import_checks import heavy_after


@pytest.fixture(autouse=True)
def no_eopde_env(monkeypatch, tmp_path):
    for var in list(config.ENV_VARS.values()) + ["EOPDE_PLATFORM", "EOPDE_TOKEN",
                                                  "EOPDE_TOKEN_SOURCE", "JUPYTERHUB_API_TOKEN"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "platforms.toml"))
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path / "no-platform"))


def test_import_eopde_is_light():
    assert heavy_after("import eopde, eopde.config, eopde.auth, eopde.cli",
                       ("pystac", "pystac_client", "rasterio", "ipyleaflet", "cwltool", "numpy",
                        "httpx", "jupyterhub")) == []


def test_nothing_configured_says_how_to_fix():
    cfg = config.load()
    assert cfg.catalogue_url is None
    with pytest.raises(config.ConfigError, match="EOPDE_CATALOGUE_URL"):
        cfg.require("catalogue_url")


def test_local_platform_endpoints_file(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "endpoints.json").write_text(json.dumps({
        "EOPDE_CATALOGUE_URL": "http://127.0.0.1:1/", "EOPDE_TILES_URL": "http://127.0.0.1:2"}))
    monkeypatch.setenv("EOPDE_HOME", str(home))
    cfg = config.load()
    assert cfg.catalogue_url == "http://127.0.0.1:1/" and cfg.tiles_url == "http://127.0.0.1:2"


def test_named_platform_from_toml_and_env_override(tmp_path, monkeypatch):
    (tmp_path / "platforms.toml").write_text(
        'default = "remote"\n'
        '[platforms.remote]\ncatalogue_url = "https://cat.example/stac"\n'
        'ades_url = "https://zoo.example/{user}/ogc-api"\n'
        '[platforms.other]\ncatalogue_url = "https://other.example/stac"\n'
    )
    assert config.load().catalogue_url == "https://cat.example/stac"
    assert config.load().ades_url == "https://zoo.example/{user}/ogc-api"
    assert config.load("other").catalogue_url == "https://other.example/stac"
    monkeypatch.setenv("EOPDE_CATALOGUE_URL", "http://override")
    cfg = config.load()
    assert cfg.catalogue_url == "http://override" and cfg.name == "remote"


def test_bad_toml_and_unknown_names(tmp_path):
    path = tmp_path / "platforms.toml"
    path.write_text("[platforms.x]\ncatalogue_url = \n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load()
    path.write_text('[platforms.x]\ncatalog_url = "typo"\n')
    with pytest.raises(config.ConfigError, match="unknown keys.*catalog_url"):
        config.load("x")
    with pytest.raises(config.ConfigError, match="known: x"):
        config.load("y")


def test_token_order(monkeypatch):
    assert auth.get_token() is None and auth.auth_headers() == {}
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token")
    assert auth.get_token() == "hub-token"
    monkeypatch.setenv("EOPDE_TOKEN", "explicit")
    assert auth.auth_headers() == {"Authorization": "Bearer explicit"}


def test_auth_state_source_outside_hub_is_explained(monkeypatch):
    monkeypatch.setenv("EOPDE_TOKEN_SOURCE", "auth_state")
    monkeypatch.delenv("JUPYTERHUB_API_URL", raising=False)
    with pytest.raises(auth.AuthError, match="JUPYTERHUB_API_URL"):
        auth.get_token()
