"""Settings of the local platform and the PostgreSQL helpers."""

from __future__ import annotations

import os
import pwd
import tempfile
from pathlib import Path

import pytest

from eopde.services import postgres
from eopde.services.settings import PORT_ENV, PlatformSettings


def test_ports_from_base_and_overrides(monkeypatch):
    for var in PORT_ENV.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_BASE_PORT", "9100")
    monkeypatch.setenv("EOPDE_TILES_PORT", "9999")
    s = PlatformSettings()
    assert s.port("catalogue") == 9110 and s.port("tiles") == 9999 and s.port("hub") == 8000
    assert s.url("storage") == "http://127.0.0.1:9112"
    assert len({s.port(k) for k in PORT_ENV}) == len(PORT_ENV)  # no two parts share a port


def test_bad_port_setting_is_explained(monkeypatch):
    monkeypatch.setenv("EOPDE_BASE_PORT", "eighty")
    with pytest.raises(ValueError, match="EOPDE_BASE_PORT='eighty' is not a port number"):
        PlatformSettings().base_port


def test_home_does_not_follow_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EOPDE_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    expected = str(tmp_path / "me" / ".local" / "state" / "eopde")
    assert PlatformSettings().home == expected
    monkeypatch.chdir(tmp_path / "..")
    assert PlatformSettings().home == expected


def test_home_follows_xdg_state_home_and_eopde_home(monkeypatch, tmp_path):
    monkeypatch.delenv("EOPDE_HOME", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert PlatformSettings().home == str(tmp_path / "state" / "eopde")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EOPDE_HOME", "relative")
    assert PlatformSettings().home == str(tmp_path / "relative")


def test_kernel_config_finds_the_local_platform_from_any_folder(monkeypatch, tmp_path):
    import json

    from eopde import config

    monkeypatch.delenv("EOPDE_HOME", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "none.toml"))
    for var in config.ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "state" / "eopde"
    home.mkdir(parents=True)
    (home / "endpoints.json").write_text(json.dumps({"EOPDE_CATALOGUE_URL": "http://c"}))
    monkeypatch.chdir(tmp_path)
    assert config.load().catalogue_url == "http://c"


def test_postgres_bindir_has_postgis():
    bindir = postgres.find_bindir()
    assert (bindir / "initdb").exists() and (bindir / "postgres").exists()


def test_postgres_account_is_never_root():
    user = postgres.run_user()
    if os.geteuid() == 0:
        assert user is not None and pwd.getpwnam(user).pw_uid != 0
    else:
        assert user is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another account")
def test_private_state_folder_gets_a_reachable_cluster_dir(tmp_path):
    home = tmp_path / "private" / "home"
    home.mkdir(parents=True)
    (tmp_path / "private").chmod(0o700)
    assert not postgres.traversable_by(home, "postgres")
    outside = postgres.cluster_dir(home, "postgres")
    try:
        assert outside != home / "postgres"
        assert postgres.traversable_by(outside, "postgres")
        assert (home / "postgres").resolve() == outside.resolve()
    finally:
        outside.rmdir()
    # pytest's own temporary folders are private (0700): take one the account can reach.
    open_home = Path(tempfile.mkdtemp(prefix="eopde-open-", dir="/tmp"))
    try:
        open_home.chmod(0o755)
        assert postgres.traversable_by(open_home, "postgres")
        assert postgres.cluster_dir(open_home, "postgres") == open_home / "postgres"
    finally:
        open_home.rmdir()


def test_dsn_quotes_password():
    assert postgres.dsn("127.0.0.1", 5, "a/b@c") == "postgresql://eopde:a%2Fb%40c@127.0.0.1:5/eopde"


def test_ports_recorded_by_up_are_found_without_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path))
    monkeypatch.setenv("EOPDE_BASE_PORT", "19900")
    monkeypatch.setenv("EOPDE_HUB_PORT", "19800")
    monkeypatch.setenv("EOPDE_TILES_PORT", "19999")
    PlatformSettings().record()
    for var in ("EOPDE_BASE_PORT", "EOPDE_HUB_PORT", "EOPDE_TILES_PORT"):
        monkeypatch.delenv(var)
    later = PlatformSettings()
    assert (later.port("hub"), later.port("catalogue"), later.port("tiles")) == (19800, 19910,
                                                                                  19999)
    monkeypatch.setenv("EOPDE_BASE_PORT", "20000")  # an explicit setting still wins
    assert PlatformSettings().port("catalogue") == 20010


def test_a_configured_block_wins_over_the_recorded_one(monkeypatch, tmp_path):
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path))
    monkeypatch.delenv("EOPDE_BASE_PORT", raising=False)
    PlatformSettings(base_port=19900).record()
    assert PlatformSettings(base_port=30000).port("ades") == 30014
    assert PlatformSettings().port("ades") == 19914
