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
    """Open a notebook in the user's JupyterLab and wait for its kernel to be idle."""
    page.goto(f"{hub_url}/user/{username}/lab/tree/{path}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    wait_kernel_idle(page, timeout=90)


def wait_kernel_idle(page, timeout: float) -> None:
    """Wait until the notebook's kernel reports idle in the toolbar indicator."""
    deadline = time.monotonic() + timeout
    selector = ".jp-NotebookPanel-toolbar .jp-Toolbar-kernelStatus, [data-status]"
    while time.monotonic() < deadline:
        busy = page.locator(".jp-NotebookPanel [data-status='busy'], "
                            ".jp-NotebookPanel [data-status='starting']").count()
        idle = page.locator(".jp-NotebookPanel [data-status='idle']").count()
        if idle and not busy:
            return
        time.sleep(0.5)
    raise AssertionError(f"kernel not idle after {timeout} s ({selector})")


def run_all_cells(page, timeout: float = 300) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running."""
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item[data-command='notebook:run-all-cells']")
    deadline = time.monotonic() + timeout
    time.sleep(1)
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()
        if prompts and not any("*" in p for p in prompts):
            return
        time.sleep(0.5)
    raise AssertionError(f"cells still running after {timeout} s")


def cell_errors(page) -> list[str]:
    """Tracebacks shown in the notebook's outputs."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                        ", .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
                        ).all_inner_texts()
