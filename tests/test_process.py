"""Detached processes, their records, port checks."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

import pytest

from eopde.services.errors import PortInUseError
from eopde.services.process import (
    ProcessRecord,
    group_alive,
    pid_alive,
    port_in_use,
    start_detached,
    stop_group,
    tail,
)

SLEEPER = [sys.executable, "-c", "import subprocess, sys, time; "
           "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
           "print('started', flush=True); time.sleep(60)"]


def test_start_record_and_stop_whole_group(tmp_path):
    record = start_detached("sleeper", SLEEPER, log=tmp_path / "logs" / "s.log",
                            run_dir=tmp_path / "run")
    try:
        loaded = ProcessRecord.load(tmp_path / "run", "sleeper")
        assert loaded == record and loaded.alive()
        deadline = time.monotonic() + 10
        while "started" not in tail(record.log) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "starting sleeper" in tail(record.log) and "started" in tail(record.log)
    finally:
        assert stop_group(record.pgid, timeout=5) is True
    assert not group_alive(record.pgid)  # the grandchild went with it
    assert not record.alive()
    assert stop_group(record.pgid) is False


def test_killed_leader_leaves_orphans_that_stop_group_clears(tmp_path):
    record = start_detached("sleeper", SLEEPER, log=tmp_path / "s.log", run_dir=tmp_path)
    time.sleep(0.5)
    os.kill(record.pid, signal.SIGKILL)
    time.sleep(0.3)
    assert not record.alive()
    assert group_alive(record.pgid)  # the grandchild is still there
    stop_group(record.pgid, timeout=5)
    assert not group_alive(record.pgid)


def test_recycled_pid_is_not_taken_for_ours():
    # This process began moments ago: a record written an hour ago cannot be about it.
    assert pid_alive(os.getpid(), started=time.time())
    assert not pid_alive(os.getpid(), started=time.time() - 3600)


def test_broken_record_reads_as_none(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    assert ProcessRecord.load(tmp_path, "x") is None
    assert ProcessRecord.load(tmp_path, "missing") is None


def test_port_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)


def test_port_in_use_error_names_port_and_setting():
    err = PortInUseError("catalogue", 8710, "EOPDE_CATALOGUE_PORT")
    assert "8710" in str(err) and "EOPDE_CATALOGUE_PORT" in str(err) and "catalogue" in str(err)


def test_tail_of_missing_file_is_empty(tmp_path):
    assert tail(tmp_path / "none.log") == ""
    (tmp_path / "a.log").write_text("\n".join(str(i) for i in range(100)))
    assert tail(tmp_path / "a.log", 3) == "97\n98\n99"


def test_purge_deletes_the_state_folder_and_an_outside_cluster(tmp_path):
    from eopde.services.platform import Platform
    from eopde.services.settings import PlatformSettings

    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    outside = tmp_path / "elsewhere" / "cluster"
    (outside / "data").mkdir(parents=True)
    (home / "postgres").symlink_to(outside)
    platform = Platform(PlatformSettings(home=str(home), base_port=29700, hub_port=29000))
    removed = platform.purge()
    assert not home.exists() and not outside.exists()
    assert set(removed) == {home, outside}
    assert platform.purge() == []


def test_stale_postgres_lock_of_a_zombie_is_removed(tmp_path):
    """A killed postmaster not yet reaped keeps its pid: its lock file must not block a restart."""
    import subprocess

    from eopde.services.parts import PostgresPart

    zombie = subprocess.Popen(["true"])
    time.sleep(0.3)  # exited, not waited for: a zombie
    live = os.getpid()
    part = PostgresPart.__new__(PostgresPart)
    part._found = (tmp_path / "bin", None, tmp_path)
    (tmp_path / "data").mkdir()
    lock = tmp_path / "data" / "postmaster.pid"
    lock.write_text(f"{live}\n/data\n")
    part._remove_stale_lock()
    assert lock.exists()  # a live pid: PostgreSQL's own check decides
    lock.write_text(f"{zombie.pid}\n/data\n")
    part._remove_stale_lock()
    assert not lock.exists()
    zombie.wait()
