"""Old test runs do not pile up in `eopde-runs/` beside the notebook: starting a run deletes the
oldest finished runs of the same notebook beyond `LocalRuns.keep_per_notebook` (the Jupyter
server's traitlets configuration), and never a run still running. Through a real Jupyter server
and real runs (cwltool, papermill), and on LocalRuns itself for the cases a server cannot show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from traitlets.config import Config

from eopde.server.runs import RUNNING_MARKER, RUNS_DIR, LocalRun, LocalRuns
from test_server_steps import META, call, follow, notebook  # noqa: F401  (fixtures)

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def eopde_server_config():
    return {"LocalRuns": {"keep_per_notebook": 2}}


def _old_run(runs_dir: Path, name: str, *, running: bool = False) -> Path:
    folder = runs_dir / name
    (folder / "run").mkdir(parents=True)
    (folder / "run" / "run.log").write_text("an old run\n")
    if running:
        (folder / RUNNING_MARKER).touch()
    return folder


async def test_a_run_deletes_the_oldest_finished_runs_beyond_the_configured_number(
        jp_fetch, notebook, jp_root_dir):  # noqa: F811  (the fixture)
    runs_dir = jp_root_dir / "survey" / RUNS_DIR
    # the oldest of all, but running (in another server: its folder holds the marker)
    elsewhere = _old_run(runs_dir, "plots-20250101-000000-0a0a", running=True)
    old = [_old_run(runs_dir, f"plots-2025010{d}-120000-abcd") for d in range(2, 6)]
    # another notebook's (plots-v2.ipynb) runs and a file that looks like a run: not ours
    other = _old_run(runs_dir, "plots-v2-20240101-000000-abcd")
    (runs_dir / "plots-20240101-000000-ffff").write_text("not a folder")
    body = {"path": notebook, "metadata": META, "inputs": {"plot": "R-1", "wait_s": "0"}}

    code, first = await call(jp_fetch, "POST", "runs", body)
    assert code == 200, first
    new = jp_root_dir / first["folder"]
    # 2 kept: this run and the newest old one; the one running elsewhere stays on top
    assert sorted(runs_dir.iterdir()) == sorted(
        [elsewhere, old[-1], new, other, runs_dir / "plots-20240101-000000-ffff"])
    end, log, _ = await follow(jp_fetch, first["id"])
    assert end["status"] == "successful", (end, log[-2000:])
    assert not (new / RUNNING_MARKER).exists()  # the marker goes when the run ends

    code, second = await call(jp_fetch, "POST", "runs", body)
    assert code == 200, second
    # this server's first run has ended: it is among the oldest finished now
    assert not old[-1].exists() and new.exists() and elsewhere.exists()
    code, third = await call(jp_fetch, "POST", "runs", body)
    assert code == 200, third
    assert not new.exists() and elsewhere.exists() and other.exists()
    assert (jp_root_dir / second["folder"]).exists()  # still running
    code, gone = await call(jp_fetch, "GET", f"runs/{first['id']}")
    assert code == 404, gone  # a deleted run is forgotten too
    for answer in (second, third):
        end, log, _ = await follow(jp_fetch, answer["id"])
        assert end["status"] == "successful", (end, log[-2000:])


def test_a_run_of_this_server_still_running_is_never_deleted(tmp_path: Path) -> None:
    nb = tmp_path / "ndvi.ipynb"
    nb.write_text("{}")
    runs = LocalRuns(tmp_path, config=Config({"LocalRuns": {"keep_per_notebook": 1}}))
    assert runs.keep_per_notebook == 1
    runs_dir = tmp_path / RUNS_DIR
    oldest = _old_run(runs_dir, "ndvi-20250101-000000-0001")  # no marker: only this server knows
    runs.runs["r1"] = LocalRun(id="r1", folder=oldest)  # status "running"
    finished = [_old_run(runs_dir, f"ndvi-2025010{d}-000000-0001") for d in range(2, 5)]
    deleted = runs.prune(nb)
    assert deleted == finished[:2]
    assert sorted(runs_dir.iterdir()) == [oldest, finished[2]]
    runs.runs["r1"].status = "successful"
    assert runs.prune(nb) == [oldest] and "r1" not in runs.runs


def test_keep_zero_keeps_every_run_and_links_are_not_followed(tmp_path: Path) -> None:
    nb = tmp_path / "ndvi.ipynb"
    nb.write_text("{}")
    runs_dir = tmp_path / RUNS_DIR
    folders = [_old_run(runs_dir, f"ndvi-2025010{d}-000000-0001") for d in range(1, 4)]
    assert LocalRuns(tmp_path, keep_per_notebook=0).prune(nb) == []
    assert all(f.exists() for f in folders)
    # a link named like a run (to a folder of the user's elsewhere) is neither followed nor
    # deleted, and counts for nothing
    target = _old_run(tmp_path / "precious", "data")
    os.symlink(target, runs_dir / "ndvi-20240101-000000-0001")
    assert LocalRuns(tmp_path, keep_per_notebook=2).prune(nb) == [folders[0]]
    assert (target / "run" / "run.log").is_file()
    assert (runs_dir / "ndvi-20240101-000000-0001").is_symlink()


def test_runs_outside_the_server_root_are_left_alone(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    nb = root / "ndvi.ipynb"
    nb.write_text("{}")
    folders = [_old_run(outside, f"ndvi-2025010{d}-000000-0001") for d in range(1, 4)]
    os.symlink(outside, root / RUNS_DIR)  # eopde-runs/ is a link out of the root
    assert LocalRuns(root, keep_per_notebook=1).prune(nb) == []
    assert all(f.exists() for f in folders)
