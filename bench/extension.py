"""Benchmark: JupyterLab's load time to an idle notebook, with and without the eopde extension.

    .venv/bin/python bench/extension.py [--runs N]

Two JupyterLab servers on the same folder (the NDVI notebook): one with this checkout's build
of the extension (labextension + server extension), one with both switched off. Each run is a
fresh browser context (no cache, as a first visit) that opens the notebook and waits until
its cells are shown (`cells`) and its kernel is idle (`idle`); the session is shut down between
runs so that every run starts a kernel. Runs alternate between the two servers. Prints the
medians and the ratio with/without (issue 12 aims at <= 1.1), and the time from a click on the
notebook's Package button to the detected parameters shown. With `--ades URL --token T --user
U` (a running platform's ADES, e.g. `eopde token demo`), also the time from a click on the
wizard's Deploy (or Replace) button to the deployed process's description answered and shown,
`--deploys N` times. Ports: EOPDE_BENCH_LAB_PORT (default 19760) and the next one. Needs `make`
(the build) and Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from browser import CHROMIUM, CHROMIUM_ARGS, wait_kernel_idle  # noqa: E402

TOKEN = "bench-extension"
BUILT = REPO / "lib" / "eopde" / "labextension"


def start_lab(port: int, root: Path, state: Path, with_extension: bool,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A JupyterLab server; `state` holds its own data and config folders."""
    data, config = state / "data", state / "config"
    (config / "labconfig").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "EOPDE_"))}
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(data),
               PYTHONPATH=str(REPO / "lib"), **(extra_env or {}))
    if with_extension:
        shutil.copytree(BUILT, data / "labextensions" / "eopde")
        env["JUPYTER_PATH"] = str(data)
    else:  # off even if the environment has eopde installed
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"eopde": True}}))
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.jpserver_extensions=" + json.dumps({"eopde.server": with_extension})
            .replace("true", "True").replace("false", "False"),
            "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(state / "lab.log", "w"))
    url = f"http://127.0.0.1:{port}/api/status?token={TOKEN}"
    for _ in range(120):
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        proc.terminate()
        raise SystemExit(f"JupyterLab on {port} did not start: {(state / 'lab.log').read_text()}")
    check = httpx.get(f"http://127.0.0.1:{port}/eopde/version?token={TOKEN}", timeout=5)
    if (check.status_code == 200) != with_extension:
        proc.terminate()
        raise SystemExit(f"server on {port}: /eopde/version answered {check.status_code}")
    return proc


def shut_sessions(port: int) -> None:
    base = f"http://127.0.0.1:{port}/api/sessions"
    for session in httpx.get(base, params={"token": TOKEN}, timeout=10).json():
        httpx.delete(f"{base}/{session['id']}", params={"token": TOKEN}, timeout=30)


def one_load(browser, port: int, notebook: str,
             expect_extension: bool) -> tuple[float, float, float | None]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    began = time.monotonic()
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    cells = time.monotonic() - began
    wait_kernel_idle(page, timeout=120)
    idle = time.monotonic() - began
    has_button = page.locator(".eopde-ToolbarButton").count() > 0
    if has_button != expect_extension:
        raise SystemExit(f"port {port}: the extension was {'not ' * expect_extension}loaded")
    wizard = None
    if expect_extension:  # click on Package -> the detected parameters shown
        began = time.monotonic()
        page.locator(".eopde-ToolbarButton").first.click()
        page.wait_for_selector(".eopde-Wizard .eopde-Parameter", timeout=60_000)
        wizard = time.monotonic() - began
    context.close()
    return cells, idle, wizard


DEPLOY_APP = "bench-ndvi"


def deploy_notebook(root: Path) -> str:
    """A copy of the NDVI notebook whose wizard resumes at the Deploy step."""
    nb = json.loads((REPO / "notebooks" / "apps" / "ndvi.ipynb").read_text())
    nb["metadata"]["eopde"] = {"step": 5, "digest": None, "parameters": {},
                               "metadata": {"id": DEPLOY_APP, "version": "1.0.0"},
                               "runtime": {"image": "", "cores": "1", "ram": "2048"}}
    (root / "ndvi-deploy.ipynb").write_text(json.dumps(nb))
    return "ndvi-deploy.ipynb"


def one_deploy(browser, port: int, notebook: str) -> float:
    """Seconds from a click on Deploy/Replace to the deployed description shown."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    page.locator(".eopde-ToolbarButton").first.click()
    button = page.locator(".eopde-Deploy button.jp-mod-accept")
    button.wait_for(timeout=120_000)
    began = time.monotonic()
    button.click()
    page.wait_for_selector(".eopde-Deploy .eopde-valid", timeout=120_000)
    took = time.monotonic() - began
    context.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="loads per server")
    parser.add_argument("--ades", help="a running platform's ADES URL ({user} filled)")
    parser.add_argument("--token", help="a token of --user for the ADES")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--deploys", type=int, default=3)
    args = parser.parse_args()
    ades_env = {"EOPDE_ADES_URL": args.ades, "EOPDE_TOKEN": args.token or "",
                "JUPYTERHUB_USER": args.user, "EOPDE_CONFIG": "/nonexistent/platforms.toml"} \
        if args.ades else {}
    if not (BUILT / "package.json").is_file():
        raise SystemExit("the extension is not built: run `make`")
    port = int(os.environ.get("EOPDE_BENCH_LAB_PORT", "19760"))
    tmp = Path(tempfile.mkdtemp(prefix="eopde-bench-ext-"))
    root = tmp / "root"
    root.mkdir()
    shutil.copyfile(REPO / "notebooks" / "apps" / "ndvi.ipynb", root / "ndvi.ipynb")
    servers = {True: (port, tmp / "with"), False: (port + 1, tmp / "without")}
    procs = [start_lab(p, root, state, flag, ades_env if flag else None)
             for flag, (p, state) in servers.items()]
    times: dict[bool, list[tuple[float, float, float | None]]] = {True: [], False: []}
    deploys: list[float] = []
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for flag in (True, False):  # one unmeasured load each: bundles, kernel spec caches
                one_load(browser, servers[flag][0], "ndvi.ipynb", flag)
                shut_sessions(servers[flag][0])
            for _ in range(args.runs):
                for flag in (True, False):
                    times[flag].append(one_load(browser, servers[flag][0], "ndvi.ipynb", flag))
                    shut_sessions(servers[flag][0])
            if args.ades:
                notebook = deploy_notebook(root)
                for _ in range(args.deploys):
                    deploys.append(one_deploy(browser, servers[True][0], notebook))
                    shut_sessions(servers[True][0])
            browser.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(flag: bool, i: int) -> float:
        return statistics.median(t[i] or 0.0 for t in times[flag])

    print(f"JupyterLab load, {args.runs} runs each, fresh browser context, median:")
    for i, what in ((0, "cells shown"), (1, "kernel idle")):
        with_, without = med(True, i), med(False, i)
        print(f"  {what:12s} with eopde {with_:.2f} s, without {without:.2f} s, "
              f"ratio {with_ / without:.3f}")
    print(f"  wizard open to parameters shown: median {med(True, 2):.2f} s")
    if deploys:
        print(f"  Deploy click to the deployed description shown ({len(deploys)} times, "
              f"the first a deploy, then replaces): median {statistics.median(deploys):.2f} s, "
              "all " + ", ".join(f"{d:.2f}" for d in deploys))
    print("  all (with):    " + ", ".join(f"{c:.2f}/{k:.2f}" for c, k, _ in times[True]))
    print("  all (without): " + ", ".join(f"{c:.2f}/{k:.2f}" for c, k, _ in times[False]))


if __name__ == "__main__":
    main()
