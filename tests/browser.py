"""Driving JupyterLab behind the hub in a real browser (Playwright + Debian's Chromium).

Playwright cannot download its own browser here, so tests use /usr/bin/chromium with the
flags that keep it from reaching out to the network.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("EOPDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@contextmanager
def browser_page(artifacts: Path, name: str):
    """A fresh Chromium page; on exit a screenshot is kept as `artifacts/<name>.png`."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does)")
    from playwright.sync_api import sync_playwright

    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        try:
            yield page
        finally:
            try:
                page.screenshot(path=str(artifacts / f"{name}.png"), full_page=False)
            finally:
                browser.close()


def hub_login(page, hub_url: str, username: str, password: str) -> None:
    """Log in with the hub's form, as a person would."""
    page.goto(f"{hub_url}/hub/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/user/**", timeout=90_000)


def open_notebook(page, hub_url: str, username: str, path: str) -> None:
    """Open a notebook in the user's JupyterLab and wait until it is the current tab and its
    kernel is idle (a workspace left by an earlier test restores other notebooks, whose cells
    and idle kernel would otherwise be taken for this one's)."""
    page.goto(f"{hub_url}/user/{username}/lab/tree/{path}")
    page.wait_for_function(
        """(path) => {
            const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            return !!(panel && panel.context && panel.context.path === path
                      && panel.content && panel.content.widgets.length);
        }""", arg=path, timeout=90_000)
    wait_kernel_idle(page, timeout=90)


_NOTEBOOK_STATE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
    const cells = panel.content.model.cells;
    let code = 0, done = 0;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        code++;
        if (cell.executionCount) done++;
    }
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return {cells: cells.length, code, done, kernel: kernel ? kernel.status : 'none'};
}"""


def notebook_state(page) -> dict | None:
    """Cells, code cells, executed code cells and kernel status of the current notebook."""
    return page.evaluate(_NOTEBOOK_STATE)


def wait_kernel_idle(page, timeout: float) -> None:
    """Wait until the current notebook's kernel is connected and idle."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = notebook_state(page)
        if state and state["kernel"] == "idle":
            return
        time.sleep(0.5)
    raise AssertionError(f"kernel not idle after {timeout} s: {state}")


def start_run_all(page) -> None:
    """Start running every cell of the shown notebook (JupyterLab's own command), not awaited."""
    # The command acts on the notebook tracker's current notebook, the last one *activated*:
    # a notebook restored from an earlier test's workspace may hold that place while another is
    # the shell's current tab. Activating the shown one first makes them the same.
    page.evaluate("""() => {
        const shell = window.jupyterapp.shell;
        shell.activateById(shell.currentWidget.id);
        window.jupyterapp.commands.execute('notebook:run-all-cells');
    }""")


def run_all_cells(page, timeout: float = 300) -> dict:
    """Run every cell and wait until each code cell has run."""
    start_run_all(page)
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = notebook_state(page)
        if state and state["done"] == state["code"] and state["kernel"] == "idle":
            return state
        time.sleep(0.5)
    raise AssertionError(f"cells still running after {timeout} s: {state}")


def show_every_cell(page, pause_ms: int = 800) -> None:
    """Scroll each cell into view: JupyterLab renders only what is near the viewport, and
    maps request their tiles once they are on screen."""
    count = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.length")
    for index in range(count):
        page.evaluate("i => window.jupyterapp.shell.currentWidget.content.scrollToItem(i, 'center')",
                      index)
        page.wait_for_timeout(pause_ms)


def cell_errors(page) -> list[str]:
    """Tracebacks shown in the notebook's outputs."""
    return page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
                        ).all_inner_texts()
