"""Benchmark: the catalogue and jobs panels' server routes, on a throw-away local platform.

    PYTHONPATH=lib .venv/bin/python bench/panels.py [--repeat N] [--items N] [--jobs N]

Starts a platform (ports from EOPDE_BENCH_BASE_PORT, default 19800) and a Jupyter server with the
eopde server extension, as a user's server has it; loads ITEMS synthetic items (bench/catalogue.py)
and JOBS finished job records of one user into the ADES's store. Prints, median of REPEAT runs:
1. what the catalogue panel waits for before drawing footprints: `POST /eopde/catalogue/search`
   (first page: footprints with their preview templates, as JSON over HTTP) against pystac-client
   fetching the same items and turning them into GeoJSON, and the ratio; for 100 and 500 items;
2. the jobs panel's polls with JOBS jobs (ms and bytes per poll): the full listing (the first
   poll, Refresh), a later poll (the ADES asked for its unfinished jobs only), and a later poll
   when nothing changed (the ETag sent back: a 304 without a body);
3. in Chromium (JupyterLab served by that server, a fresh page each run, median of
   BROWSER_REPEAT): the catalogue panel's first render, from showing it to the collections
   listed, and a search of the bench collection from the click to its first page of footprints
   (100) drawn on the panel's map (Leaflet paths in the page), with the time the rows take;
   and the jobs panel's first render, from showing it to its JOBS jobs listed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _platform import BIN, running_platform  # noqa: E402
from catalogue import BENCH_COLLECTION, load  # noqa: E402

USER = "bench"
CHROMIUM = os.environ.get("EOPDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: In the page: show the panel, wait (frame by frame) for the collection to be listed.
OPEN_PANEL_JS = """async (collection) => {
    await window.jupyterapp.restored;
    const t0 = performance.now();
    window.jupyterapp.shell.activateById('eopde-catalogue');
    const sel = `#eopde-catalogue .eopde-Collections option[value="${collection}"]`;
    while (!document.querySelector(sel)) await new Promise(r => requestAnimationFrame(r));
    return performance.now() - t0;
}"""
#: In the page: click Search, wait for the rows and for `n` footprints drawn on the map.
SEARCH_JS = """async (n) => {
    const panel = document.querySelector('#eopde-catalogue');
    const t0 = performance.now();
    panel.querySelector('.eopde-Catalogue-search').click();
    let rows = null;
    while (panel.querySelectorAll('.eopde-Map path.leaflet-interactive').length < n) {
        if (rows === null && panel.querySelector('.eopde-Results-row')) {
            rows = performance.now() - t0;
        }
        await new Promise(r => requestAnimationFrame(r));
    }
    const drawn = performance.now() - t0;
    return [rows === null ? drawn : rows, drawn];
}"""
#: In the page: show the jobs panel, wait until its list holds `n` jobs (the first listing drawn).
OPEN_JOBS_JS = """async (n) => {
    const t0 = performance.now();
    window.jupyterapp.shell.activateById('eopde-jobs');
    while (document.querySelectorAll('#eopde-jobs li.eopde-Job').length < n) {
        await new Promise(r => requestAnimationFrame(r));
    }
    return performance.now() - t0;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, settings, token: str) -> tuple[subprocess.Popen, str, str]:
    """A Jupyter server with the eopde server extension and the user's environment."""
    port, secret = free_port(), secrets.token_hex(16)
    server_env = {**env, "EOPDE_CATALOGUE_URL": settings.url("catalogue"),
                  "EOPDE_TILES_URL": settings.url("tiles"),
                  "EOPDE_ADES_URL": f"{settings.url('ades')}/{{user}}/ogc-api",
                  "EOPDE_TOKEN": token, "JUPYTERHUB_USER": USER,
                  "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [str(BIN / "jupyter"), "server", f"--port={port}", "--no-browser",
         f"--IdentityProvider.token={secret}", "--ServerApp.root_dir=/tmp",
         "--ServerApp.jpserver_extensions=eopde.server=True", "--allow-root",
         "--LabApp.expose_app_in_browser=True"],  # window.jupyterapp, as the hub's servers
        env=server_env, stdout=subprocess.DEVNULL, stderr=open(os.environ.get("EOPDE_BENCH_SERVER_LOG", os.devnull), "w"))
    return proc, f"http://127.0.0.1:{port}", secret


def wait_ready(http, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http.get(f"{base}/eopde/version").status_code == 200:
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)
    raise SystemExit("the Jupyter server did not start")


def median_ms(run, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        out = run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), out


def browser_render(url: str, secret: str, repeat: int, jobs: int, page_size: int = 100) -> None:
    """The panels in Chromium: the catalogue panel's first render and search to footprints, the
    jobs panel's first render with `jobs` jobs (see the doc)."""
    from playwright.sync_api import sync_playwright

    opened, rows, drawn, listed = [], [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(f"{url}/lab?reset&token={secret}")
                page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                                       timeout=120_000)
                opened.append(page.evaluate(OPEN_PANEL_JS, BENCH_COLLECTION))
                page.select_option("#eopde-catalogue .eopde-Collections", BENCH_COLLECTION)
                page.fill("#eopde-max", str(page_size))
                first_row, footprints = page.evaluate(SEARCH_JS, page_size)
                rows.append(first_row)
                drawn.append(footprints)
                listed.append(page.evaluate(OPEN_JOBS_JS, jobs))
                context.close()
        finally:
            browser.close()
    print(f"catalogue panel in Chromium, median of {repeat} fresh pages (ms)")
    print(f"  shown -> collections listed: {statistics.median(opened):.0f}")
    print(f"  Search -> first rows: {statistics.median(rows):.0f}; -> {page_size} footprints "
          f"drawn: {statistics.median(drawn):.0f}")
    print(f"jobs panel in Chromium, median of {repeat} fresh pages (ms)")
    print(f"  shown -> {jobs} jobs listed: {statistics.median(listed):.0f}")


def add_jobs(home: Path, count: int) -> None:
    from eopde.services.ades.store import JobStore

    store = JobStore(f"sqlite:///{home / 'ades' / 'ades.db'}")
    for i in range(count):
        job = store.create_job(USER, f"bench-process-{i % 7}", {"n": i}, None, "async")
        store.update_job(job.id, status="successful", progress=100, message="done",
                         started=job.created, finished=job.created)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--browser-repeat", type=int, default=5,
                        help="fresh Chromium pages for the first-render figures (0: none)")
    args = parser.parse_args()

    import httpx
    from pystac_client import Client

    from eopde.services.platform import Platform
    from eopde.services.settings import PlatformSettings

    base = int(os.environ.get("EOPDE_BENCH_BASE_PORT", "19800"))
    with running_platform(base) as (env, home):
        hub = int(os.environ.get("EOPDE_BENCH_HUB_PORT", base - 700))
        settings = PlatformSettings(home=str(home), base_port=base, hub_port=hub)
        load(Platform(settings).part("postgres").dsn(), args.items)  # type: ignore[attr-defined]
        token = subprocess.run([str(BIN / "eopde"), "token", USER], env=env, text=True,
                               capture_output=True, check=True).stdout.strip()
        add_jobs(home, args.jobs)
        proc, url, secret = start_server(env, settings, token)
        try:
            with httpx.Client(headers={"Authorization": f"token {secret}"}, timeout=120) as http:
                wait_ready(http, url)
                plain = Client.open(settings.url("catalogue"))
                print(f"search to footprints, median of {args.repeat} runs (ms)")
                print(f"  {'items':>5} {'pystac-client':>13} {'panel route':>11} {'ratio':>6}")
                for n in (100, 500):
                    body = {"collections": [BENCH_COLLECTION], "max_items": n, "limit": n}
                    http.post(f"{url}/eopde/catalogue/search", json=body)  # warm
                    ours, answer = median_ms(lambda: http.post(
                        f"{url}/eopde/catalogue/search", json=body).json(), args.repeat)
                    theirs, fc = median_ms(lambda: plain.search(
                        collections=[BENCH_COLLECTION], max_items=n, limit=n
                    ).item_collection().to_dict(), args.repeat)
                    assert len(answer["features"]) == len(fc["features"]) == n  # type: ignore
                    print(f"  {n:>5} {theirs:>13.1f} {ours:>11.1f} {ours / theirs:>6.2f}")
                jobs_url = f"{url}/eopde/jobs"
                http.get(jobs_url)
                full, listed = median_ms(lambda: http.get(jobs_url, params={"full": "1"}),
                                         args.repeat)
                jobs = listed.json()["jobs"]  # type: ignore[attr-defined]
                assert len(jobs) == args.jobs, len(jobs)
                print(f"jobs panel with {len(jobs)} jobs, median of {args.repeat} polls:")
                print(f"  full listing (first poll, Refresh): {full:.1f} ms, "
                      f"{len(listed.content) / 1024:.0f} KiB")  # type: ignore[attr-defined]
                # later polls: the ADES asked for its unfinished jobs only (none here)
                poll, again = median_ms(lambda: http.get(jobs_url), args.repeat)
                assert len(again.json()["jobs"]) == args.jobs  # type: ignore[attr-defined]
                print(f"  a later poll: {poll:.1f} ms, "
                      f"{len(again.content) / 1024:.0f} KiB")  # type: ignore[attr-defined]
                # the panel sends back the listing's ETag: nothing changed, no body
                tag = {"If-None-Match": again.headers["etag"]}  # type: ignore[attr-defined]
                poll, same = median_ms(lambda: http.get(jobs_url, headers=tag), args.repeat)
                assert same.status_code == 304, same.status_code  # type: ignore[attr-defined]
                print(f"  a later poll, unchanged (If-None-Match -> 304): {poll:.1f} ms, "
                      f"{len(same.content)} bytes")  # type: ignore[attr-defined]
            if args.browser_repeat:
                browser_render(url, secret, args.browser_repeat, args.jobs)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
