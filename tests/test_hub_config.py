"""The local hub's configuration and the demo authenticator."""

from __future__ import annotations

import asyncio
import os
import re
import stat

import pytest
from traitlets.config import Config

from eopde.hub.authenticator import DemoAuthenticator
from eopde.hub.local import PLATFORM_SERVICE, bucket_name, configure
from eopde.services.secrets import load_secrets
from eopde.services.settings import PlatformSettings


@pytest.fixture
def settings(tmp_path):
    return PlatformSettings(home=str(tmp_path), base_port=28700, hub_port=28000,
                            demo_user="ada", demo_password="s3cret")


def test_configure_fills_hub_config(settings):
    c = Config()
    configure(c, settings)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:28000"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:28701"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:28702"
    assert c.DemoAuthenticator.users == {"ada": "s3cret"}
    assert "local demo" in c.JupyterHub.template_vars["announcement_login"]
    assert c.SimpleLocalProcessSpawner.home_dir_template.endswith("/users/{username}")
    env = c.Spawner.environment
    assert env["EOPDE_CATALOGUE_URL"] == "http://127.0.0.1:28710"
    assert env["EOPDE_TILES_URL"] == "http://127.0.0.1:28711"
    assert env["EOPDE_S3_ENDPOINT"] == "http://127.0.0.1:28712"
    assert ("--allow-root" in c.Spawner.args) == (os.geteuid() == 0)
    service, tiles, ades, workspace = c.JupyterHub.services
    assert ades == {"name": "ades", "url": "http://127.0.0.1:28714", "display": False,
                    "timeout": 2}
    assert workspace == {"name": "workspace", "url": "http://127.0.0.1:28715", "display": False,
                    "timeout": 2}
    assert env["EOPDE_WORKSPACE_URL"] == "http://127.0.0.1:28715"
    assert service["name"] == PLATFORM_SERVICE and len(service["api_token"]) == 64
    assert tiles == {"name": "tiles", "url": "http://127.0.0.1:28711", "display": False,
                    "timeout": 2}
    assert env["EOPDE_TILES_PUBLIC_PATH"] == "/services/tiles"
    assert c.JupyterHub.load_roles[0]["services"] == [PLATFORM_SERVICE]


def test_each_user_gets_their_own_storage_keys(settings):
    """Users' servers get their workspace's keys, never the platform's."""
    from types import SimpleNamespace

    c = Config()
    configure(c, settings)
    env = c.Spawner.environment
    platform = load_secrets(settings.secrets_file)
    told = {}
    for name in ("ada", "bob"):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name))
        told[name] = (env["AWS_ACCESS_KEY_ID"](spawner), env["AWS_SECRET_ACCESS_KEY"](spawner))
        assert told[name] == (env["AWS_ACCESS_KEY_ID"](spawner),
                              env["AWS_SECRET_ACCESS_KEY"](spawner))  # stable
    assert told["ada"] != told["bob"]
    assert platform["s3_access_key"] not in {told["ada"][0], told["bob"][0]}
    assert platform["s3_secret_key"] not in {told["ada"][1], told["bob"][1]}
    keys = settings.home_path / "workspace" / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert (settings.storage_dir / "user-ada").is_dir()


def test_secrets_are_private_and_stable(tmp_path):
    path = tmp_path / "secrets.json"
    first = load_secrets(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secrets(path) == first
    assert len({first["s3_secret_key"], first["service_token"], first["demo_password"]}) == 3


_S3_BUCKET = re.compile(r"(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@pytest.mark.parametrize("name, bucket", [
    ("demo", "user-demo"), ("ada-lovelace", "user-ada-lovelace"), ("x" * 58, "user-" + "x" * 58),
])
def test_canonical_names_keep_their_readable_bucket(name, bucket):
    assert bucket_name(name) == bucket


@pytest.mark.parametrize("name, readable", [
    ("Ada.Lovelace", "user-ada-lovelace--"), ("x" * 59, "user-" + "x" * 40 + "--"),
    ("émile@lab", "user-mile-lab--"), ("alice_", "user-alice--"), ("Alice", "user-alice--"),
    ("-alice", "user-alice--"), ("al--ice", "user-al-ice--"), ("_", "user--"), ("", "user--"),
    ("a-s3alias", "user-a-s3alias--"),
])
def test_other_names_get_a_hash_of_the_exact_name(name, readable):
    bucket = bucket_name(name)
    assert bucket.startswith(readable) and re.fullmatch(r"[0-9a-f]{16}", bucket[len(readable):])


def test_bucket_names_are_injective_and_valid_s3():
    """Names that normalise alike (the issue's `alice_` and `Alice`) never share a bucket."""
    names = ["alice", "alice_", "Alice", "ALICE", "alice-", "-alice", "al_ice", "al-ice", "al.ice",
             "al--ice", "alice--" + bucket_name("Alice").rsplit("--", 1)[1], "a", "ab", "x" * 58,
             "x" * 59, "x" * 200, "x" * 201, "émile@lab", "émile@lab ", "", "_", "a-s3alias",
             "user", "user-alice"]
    buckets = [bucket_name(name) for name in names]
    assert len(set(buckets)) == len(names)
    for bucket in buckets:
        assert _S3_BUCKET.fullmatch(bucket) and ".." not in bucket, bucket
        assert not bucket.endswith(("-s3alias", "--ol-s3", "--x-s3")), bucket


def test_spawner_tells_each_user_their_own_bucket(settings):
    """`alice`, `alice_` and `Alice` are told three different buckets, each the one
    `bucket_name` (which the ADES's stage-out also calls) gives."""
    from types import SimpleNamespace

    c = Config()
    configure(c, settings)
    told = {}
    for name in ("alice", "alice_", "Alice"):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name))
        told[name] = c.Spawner.environment["EOPDE_S3_BUCKET"](spawner)
        assert told[name] == bucket_name(name)
    assert told["alice"] == "user-alice" and len(set(told.values())) == 3


@pytest.mark.parametrize("username, password, expected", [
    ("ada", "s3cret", "ada"),
    ("ada", "wrong", None),
    ("ada", "", None),
    ("bob", "s3cret", None),
    ("", "", None),
])
def test_demo_authenticator(username, password, expected):
    authenticator = DemoAuthenticator(users={"ada": "s3cret"})
    result = asyncio.run(authenticator.authenticate(None, {"username": username,
                                                           "password": password}))
    assert result == expected


def test_tutorials_copied_without_overwriting(tmp_path, monkeypatch):
    from eopde.hub.local import copy_tutorials

    source = tmp_path / "notebooks"
    source.mkdir()
    (source / "01-a.ipynb").write_text("{}")
    (source / "02-b.ipynb").write_text("{}")
    (source / "README.md").write_text("not a notebook")
    (source / "apps").mkdir()
    (source / "apps" / "app.ipynb").write_text("{}")
    monkeypatch.setenv("EOPDE_TUTORIALS_DIR", str(source))
    home = tmp_path / "home"
    home.mkdir()
    (home / "tutorials").mkdir()
    (home / "tutorials" / "01-a.ipynb").write_text("user's edits")
    copied = copy_tutorials(home)
    assert [p.relative_to(home / "tutorials").as_posix() for p in copied] == [
        "02-b.ipynb", "apps/app.ipynb"]
    assert (home / "tutorials" / "01-a.ipynb").read_text() == "user's edits"
    assert not (home / "tutorials" / "README.md").exists()


def test_users_jupyterlab_is_offline_and_keeps_widget_messages_on_the_main_shell(settings):
    """The Extension Manager never offers PyPI; the settings folder is the checkout's, whose
    overrides turn the news feed off and keep comms off kernel subshells (their busy/idle
    messages made the status bar say "Idle" while `job.wait()` ran)."""
    import json
    from pathlib import Path

    c = Config()
    configure(c, settings)
    args = c.Spawner.args
    assert "--LabApp.extension_manager=readonly" in args
    (folder,) = [a.split("=", 1)[1] for a in args if a.startswith("--LabApp.app_settings_dir=")]
    assert Path(folder) == Path(__file__).resolve().parent.parent / "hub_config" / "lab-settings"
    overrides = json.loads((Path(folder) / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:kernels-settings"] == {
        "commsOverSubshells": "disabled"}
    assert overrides["@jupyterlab/apputils-extension:notification"]["checkForUpdates"] is False
