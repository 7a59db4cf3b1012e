"""cwltool in this process (eopde.apppkg.cwlexec.run_in_process) puts a folder first on the PATH
of the tools it runs, and on nothing else's: this process's own PATH, which every thread reads
(the Jupyter server's, the ADES's, other runs'), stays as it was while the run lasts."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from eopde.apppkg import cwlexec

#: A package-shaped document: a Workflow whose step runs a tool from the same `$graph`. The tool
#: writes the PATH it got, then waits a little so that the run lasts while PATH is watched.
CWL = """\
cwlVersion: v1.2
$graph:
- class: Workflow
  id: main
  inputs: {}
  outputs:
    path: {type: File, outputSource: show/path}
  steps:
    show: {run: "#show", in: {}, out: [path]}
- class: CommandLineTool
  id: show
  baseCommand: [sh, -c, 'printf "%s" "$PATH" > path.txt; sleep 1']
  inputs: {}
  outputs:
    path: {type: File, outputBinding: {glob: path.txt}}
"""


def test_in_process_run_changes_only_its_tools_path(tmp_path: Path) -> None:
    first = tmp_path / "first-bin"
    first.mkdir()
    cwl = tmp_path / "app.cwl"
    cwl.write_text(CWL)
    job = tmp_path / "job.json"
    job.write_text("{}")
    out = tmp_path / "out"
    args = ["--no-container", "--outdir", str(out), "--tmpdir-prefix", f"{tmp_path}/tmp/",
            f"{cwl}#main", str(job)]
    before = os.environ.get("PATH")
    changed: list[str | None] = []
    done = threading.Event()

    def watch() -> None:  # another thread of this process, reading PATH as a spawn would
        while not done.is_set():
            now = os.environ.get("PATH")
            if now != before:
                changed.append(now)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with open(tmp_path / "run.log", "w") as log:
            ran = cwlexec.run_in_process(args, log, cwlexec.LogProgress(lambda m: None, "main"),
                                         str(first))
    finally:
        done.set()
        watcher.join()

    assert ran is not None, "another in-process run held cwltool"
    rc, output = ran
    assert rc == 0, (tmp_path / "run.log").read_text()[-2000:]
    seen = Path(json.loads(output)["path"]["path"]).read_text()
    assert seen == cwlexec.with_first_on_path(str(first), before)
    assert seen.split(os.pathsep)[0] == str(first)
    assert changed == [], f"PATH changed for the whole process during the run: {changed[:1]}"
    assert os.environ.get("PATH") == before


def test_with_first_on_path() -> None:
    sep = os.pathsep
    assert cwlexec.with_first_on_path("/a", f"/b{sep}/c") == f"/a{sep}/b{sep}/c"
    assert cwlexec.with_first_on_path("/a", f"/a{sep}/b") == f"/a{sep}/b"  # already first
    assert cwlexec.with_first_on_path("/a", None) == "/a"
    assert cwlexec.with_first_on_path("/a", "") == "/a"
