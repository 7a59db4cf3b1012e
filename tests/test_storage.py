"""eopde.storage: one rule for the S3 endpoint and keys, used by every S3 client of the library."""

from __future__ import annotations

import json

import pytest

from eopde import storage


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "EOPDE_S3_ENDPOINT", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "EOPDE_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "platforms.toml"))
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path / "home"))
    return tmp_path


def test_endpoint_rule_order(clean_env, monkeypatch):
    assert storage.configured_endpoint() is None
    (clean_env / "home").mkdir()
    (clean_env / "home" / "endpoints.json").write_text(
        json.dumps({"EOPDE_S3_ENDPOINT": "http://local:1"}))
    assert storage.configured_endpoint() == "http://local:1"
    (clean_env / "platforms.toml").write_text(
        'default = "x"\n[platforms.x]\ns3_endpoint = "http://toml:2"\n')
    assert storage.configured_endpoint() == "http://toml:2"
    monkeypatch.setenv("EOPDE_S3_ENDPOINT", "http://eopde:3")
    assert storage.configured_endpoint() == "http://eopde:3"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://aws:4")
    assert storage.configured_endpoint() == "http://aws:4"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://awss3:5")
    assert storage.configured_endpoint() == "http://awss3:5"
    assert storage.resolve(endpoint="http://arg:6").endpoint == "http://arg:6"


def test_broken_config_file_falls_back_to_the_variable(clean_env, monkeypatch):
    (clean_env / "platforms.toml").write_text("not = [toml")
    monkeypatch.setenv("EOPDE_PLATFORM", "x")
    assert storage.configured_endpoint() is None
    monkeypatch.setenv("EOPDE_S3_ENDPOINT", "http://eopde:3")
    assert storage.configured_endpoint() == "http://eopde:3"


def test_keys_and_region(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SK")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    creds = storage.resolve()
    assert (creds.access_key, creds.secret_key, creds.region) == ("AK", "SK", "eu-west-2")
    assert "SK" not in repr(creds)
    creds = storage.resolve(access_key="A2", secret_key="S2", region="r")
    assert (creds.access_key, creds.secret_key, creds.region) == ("A2", "S2", "r")


def test_client_uses_path_style_for_a_custom_endpoint(clean_env):
    s3 = storage.client(storage.S3Credentials("http://127.0.0.1:9", "AK", "SK"))
    assert s3.meta.endpoint_url == "http://127.0.0.1:9"
    assert s3.meta.config.s3 == {"addressing_style": "path"}
    assert s3.meta.region_name == "us-east-1"
    aws = storage.client(storage.S3Credentials(None, "AK", "SK", "eu-central-1"))
    assert aws.meta.endpoint_url == "https://s3.eu-central-1.amazonaws.com"


def test_the_library_builders_follow_the_rule(clean_env, monkeypatch):
    from eopde.apppkg.stagein import s3_client
    from eopde.download import s3_client_from_env

    monkeypatch.setenv("EOPDE_S3_ENDPOINT", "http://eopde:3")
    assert s3_client().meta.endpoint_url == "http://eopde:3"
    assert s3_client_from_env().meta.endpoint_url == "http://eopde:3"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://awss3:5")
    assert s3_client().meta.endpoint_url == "http://awss3:5"
    assert s3_client_from_env().meta.endpoint_url == "http://awss3:5"


def test_split_and_error_code():
    assert storage.split_s3("s3://b/a%20b/c.tif") == ("b", "a b/c.tif")
    assert storage.s3_error_code(ValueError()) == ""
