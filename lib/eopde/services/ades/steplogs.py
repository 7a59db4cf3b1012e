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
    folder = job_log.parent / STEPS_DIR
    written = []
    for name, content in split_step_logs(text).items():
        folder.mkdir(exist_ok=True)
        path = folder / f"{_SAFE.sub('_', name).strip('._') or 'step'}.log"
        path.write_text(content)
        written.append(path)
    return written


def step_log_files(job_log: str | Path | None) -> list[Path]:
    """The per-step logs written for a job, sorted by name."""
    if not job_log:
        return []
    return sorted((Path(job_log).parent / STEPS_DIR).glob("*.log"))
