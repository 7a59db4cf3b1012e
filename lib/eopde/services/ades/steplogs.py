"""Per-step logs of a job, cut out of cwltool's combined log (as ZOO's ADES links one log per
CWL step). cwltool runs steps one after another unless told otherwise, and marks each with
`[job <name>] ...` lines, from the command line to `[job <name>] completed <status>`."""

from __future__ import annotations

import re
from pathlib import Path

_JOB_LINE = re.compile(r"^(?:\S+ )?\[job ([^\]]+)\] (.*)$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: Folder beside the job log that holds one `<step>.log` per step.
STEPS_DIR = "steps"


def split_step_logs(text: str) -> dict[str, str]:
    """{job name: its lines}, from the first `[job NAME]` line to `[job NAME] completed ...`."""
    logs: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _JOB_LINE.match(line)
        if match:
            current = match.group(1).strip()
            logs.setdefault(current, []).append(line)
            if match.group(2).startswith("completed"):
                current = None
        elif current is not None:
            logs[current].append(line)
    return {name: "\n".join(lines) + "\n" for name, lines in logs.items()}


def write_step_logs(job_log: str | Path) -> list[Path]:
    """Write `steps/<name>.log` beside `job_log`; returns the files (none if no log)."""
    job_log = Path(job_log)
    try:
        text = job_log.read_text(errors="replace")
    except OSError:
        return []
    return write_steps(job_log.parent, split_step_logs(text))


def write_steps(folder: Path, logs: dict[str, str]) -> list[Path]:
    """Write each step's log text as `folder/steps/<name>.log` (the step's name made a safe
    file name); returns the files."""
    written = []
    for name, content in logs.items():
        (folder / STEPS_DIR).mkdir(exist_ok=True)
        path = folder / STEPS_DIR / f"{_SAFE.sub('_', name).strip('._') or 'step'}.log"
        path.write_text(content)
        written.append(path)
    return written


def step_log_files(job_log: str | Path | None) -> list[Path]:
    """The per-step logs written for a job, sorted by name."""
    if not job_log:
        return []
    return sorted((Path(job_log).parent / STEPS_DIR).glob("*.log"))


# -- progress while the tool runs ------------------------------------------------------------

def notebook_cells(app_dir: str | Path | None) -> int | None:
    """Cells papermill will run for the one notebook in ``app_dir`` (its cells plus the cell of
    injected parameters); None when there is not exactly one notebook or it cannot be read."""
    import json

    if app_dir is None:
        return None
    notebooks = sorted(Path(app_dir).glob("*.ipynb"))
    if len(notebooks) != 1:
        return None
    try:
        cells = json.loads(notebooks[0].read_text()).get("cells")
    except (OSError, ValueError, AttributeError):
        return None
    return len(cells) + 1 if isinstance(cells, list) and cells else None


class ToolProgress:
    """Percent done of a cwltool run between ``start`` and ``end``, from what the tool says:
    each completed step of the workflow moves it on by its share; within a step, the tool's
    command starting takes it to a tenth of the share, and the cells papermill starts move it
    from a fifth to nine tenths (by their count when known, else halfway there at each cell,
    never reaching it); what runs after the last cell (eopde.outputs) fills the rest."""

    TOOL_STARTED, FIRST_CELL, LAST_CELL = 0.1, 0.2, 0.9

    def __init__(self, steps: int, start: int, end: int, cells: int | None = None) -> None:
        self.steps = max(1, steps)
        self.start, self.end = start, end
        self.cells = cells
        self.done = 0
        self.within = 0.0

    def _percent(self) -> int:
        fraction = min(1.0, (self.done + self.within) / self.steps)
        return self.start + int((self.end - self.start) * fraction)

    def step_done(self) -> int:
        self.done = min(self.done + 1, self.steps)
        self.within = 0.0
        return self._percent()

    def tool_started(self) -> int:
        """The step's command line started (the tool's own start-up comes next)."""
        self.within = max(self.within, self.TOOL_STARTED)
        return self._percent()

    def cell_started(self, number: int) -> int:
        """Cell ``number`` (from 1) started: the cells before it are done."""
        if self.cells:
            share = min(number - 1, self.cells) / self.cells
        else:
            share = 1.0 - 0.5 ** (number - 1)
        within = self.FIRST_CELL + (self.LAST_CELL - self.FIRST_CELL) * share
        self.within = max(self.within, within)
        return self._percent()
