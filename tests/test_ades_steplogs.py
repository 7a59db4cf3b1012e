"""Per-step logs cut out of cwltool's combined log."""

from __future__ import annotations

import json

from eopde.services.ades.steplogs import split_step_logs, step_log_files, write_step_logs

LOG = """INFO [workflow ] start
INFO [workflow ] starting step stage
INFO [step stage] start
INFO [job stage] /tmp/out-1$ python \\
    stage.py
staging one
INFO [job stage] completed success
INFO [step stage] completed success
INFO [workflow ] starting step notebook
INFO [step notebook] start
INFO [job notebook] /tmp/out-2$ papermill \\
    app.ipynb
Executing Cell 1---
Traceback: boom
INFO [job notebook] completed permanentFail
WARNING [step notebook] completed permanentFail
INFO [workflow ] completed permanentFail
"""


def test_split_by_job_markers():
    steps = split_step_logs(LOG)
    assert list(steps) == ["stage", "notebook"]
    assert "staging one" in steps["stage"] and "papermill" not in steps["stage"]
    assert steps["notebook"].splitlines()[-1] == "INFO [job notebook] completed permanentFail"
    assert "Traceback: boom" in steps["notebook"]
    assert "[workflow ]" not in steps["notebook"]


def test_written_beside_the_job_log(tmp_path):
    log = tmp_path / "job.log"
    log.write_text(LOG)
    assert [p.name for p in write_step_logs(log)] == ["stage.log", "notebook.log"]
    assert [p.name for p in step_log_files(log)] == ["notebook.log", "stage.log"]
    assert step_log_files(None) == [] and write_step_logs(tmp_path / "missing.log") == []


def test_unsafe_job_names_stay_in_the_folder(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("INFO [job ../../evil] x\nINFO [job ../../evil] completed success\n")
    [path] = write_step_logs(log)
    assert path.parent == tmp_path / "steps"


def test_progress_follows_steps_and_notebook_cells(tmp_path):
    from eopde.services.ades.steplogs import ToolProgress, notebook_cells

    # One step, papermill runs 4 cells: the command starting, then each started cell (the ones
    # before it are done) move it on; what follows the last cell takes it to the step's end.
    one = ToolProgress(1, 20, 90, cells=4)
    assert one.tool_started() == 27
    assert [one.cell_started(n) for n in (1, 2, 3, 4)] == [34, 46, 58, 70]
    assert one.step_done() == 90
    # Two steps, cells unknown: within a step each cell goes halfway to the last cell's share.
    two = ToolProgress(2, 20, 90)
    assert two.tool_started() == 23
    assert [two.cell_started(n) for n in (1, 2, 3)] == [27, 39, 45]
    assert two.step_done() == 55
    assert two.cell_started(2) == 74  # the second step's cells, from its start
    assert two.step_done() == 90 and two.step_done() == 90  # never past the end
    # Cells come from the one notebook of the app folder, plus papermill's parameters cell.
    (tmp_path / "app.ipynb").write_text(json.dumps({"cells": [{}, {}, {}], "nbformat": 4}))
    assert notebook_cells(tmp_path) == 4
    (tmp_path / "other.ipynb").write_text("{}")
    assert notebook_cells(tmp_path) is None  # which one runs is not known
    assert notebook_cells(None) is None
