"""In a real browser: while tutorial 03's `job.wait()` runs, JupyterLab says the kernel is busy
and the progress text under the bar is not cut at the cell's edge."""

from __future__ import annotations

import re
import time

import pytest

from browser import browser_page, cell_errors, hub_login, open_notebook, start_run_all
from conftest import ARTIFACTS

pytestmark = pytest.mark.platform

# The kernel's status, whether the cell calling job.wait() runs (the cell before it has run,
# it has not) and the progress text under the bar with whether it overflows its box.
_STATE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    let wait = -1;
    for (let i = 0; i < cells.length; i++) {
        const c = cells.get(i);
        if (c.type === 'code' && c.sharedModel.getSource().includes('job.wait(') && wait < 0) wait = i;
    }
    const session = panel.sessionContext.session;
    const kernel = session && session.kernel ? session.kernel.status : 'none';
    if (wait < 0) return {kernel, waiting: false, done: false, text: null, cut: null};
    let before = null;
    for (let i = wait - 1; i >= 0; i--) {
        if (cells.get(i).type === 'code') { before = cells.get(i); break; }
    }
    // Run-all marks every queued cell "running" at once: the wait runs once the cell before
    // it is done and it is not.
    const cell = cells.get(wait);
    const waiting = !!before && before.executionState !== 'running'
        && cell.executionState === 'running';
    const done = cell.executionState !== 'running' && !!cell.executionCount;
    const widget = panel.content.widgets[wait];
    const label = widget ? widget.node.querySelector('.widget-html-content div') : null;
    return {
        kernel,
        waiting, done,
        text: label ? label.textContent : null,
        cut: label ? label.scrollWidth > label.clientWidth + 1 : null,
    };
}"""


def test_job_wait_keeps_the_kernel_busy_and_its_text_whole(platform):
    samples, seen = [], []
    with browser_page(ARTIFACTS, "03-job-wait") as page:
        hub_login(page, platform.hub_url, "demo", platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, "demo", "tutorials/03-deploy-and-execute.ipynb")
        start_run_all(page)  # not awaited: the loop below samples the page while cells run
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline:
            state = page.evaluate(_STATE)
            seen.append((state["kernel"], state["waiting"], state["done"]))
            if state["waiting"]:
                samples.append(state)
            if state["done"]:
                break
            page.wait_for_timeout(250)
        errors = cell_errors(page)
        # The later cells would still run when the next browser test opens another notebook of
        # the same user: stop this kernel so that nothing of this test runs on.
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")

    assert not errors, errors
    assert len(samples) > 8, f"job.wait() ran too briefly to watch: {seen[:80]}"
    # Idle for two samples in a row (0.5 s) is not the gap between two cells: it is the bug.
    idle_runs = [i for i in range(1, len(samples))
                 if samples[i]["kernel"] == samples[i - 1]["kernel"] == "idle"]
    assert not idle_runs, [s["kernel"] for s in samples]
    texts = [s["text"] for s in samples if s["text"]]
    # What the bar says depends on when wait() polls (1 s, growing): the ADES's progress
    # itself is followed cell by cell in tests/test_ades_executor.py.
    assert any(re.search(r": running \d+%", t) for t in texts), texts
    assert not any(s["cut"] for s in samples if s["text"]), texts
