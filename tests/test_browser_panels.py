"""The catalogue and jobs panels in a real browser, in the JupyterLab the demo user gets through
the hub of the local platform.

Catalogue: draw a rectangle on the panel's map around Lake Trasimeno, search, see the scenes'
footprints (hover highlights them), a true-colour preview tile with real pixels through the
hub's tile route; insert the search as code into a notebook and run it: the same items.
Jobs: nothing is polled before the jobs panel is shown; a job started with the Python client
appears in it and reaches "successful" without a reload (a notification says so; later polls
are 304s); its log, opened while it runs, follows it to the end, then a step's log; its inputs;
its results as a catalog tree and on the map; published to the workspace; re-run with the same
inputs (notified, also after a reload that closed the panel, and nothing polled once no job
runs); dismissed. Screenshots: test-artifacts/panels-*.png."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import nbformat
import pytest
from shapely.geometry import box

from browser import browser_page, hub_login, open_notebook, run_all_cells
from conftest import ARTIFACTS
from extension_install import install_for_user
from security.ades_jobs import deploy, publish_image, sh_process
from security.conftest import User
from workspace_helpers import drop_collections

pytestmark = pytest.mark.platform

USER = "demo"
NOTEBOOK = "panels/search.ipynb"
# the Trasimeno scenes' area, with a margin (the Flevoland scenes are 9 degrees north)
AOI = (11.0, 42.0, 13.5, 44.5)


@pytest.fixture(scope="module")
def demo_user(platform) -> Iterator[User]:
    token = platform.eopde("token", USER).stdout.strip()
    install_for_user(platform, USER, token)
    yield User(USER, token, platform)
    # JupyterLab would restore the layout these tests leave (a panel in place of the file
    # browser) for the next test of the same user: back to the default layout
    for saved in (platform.settings().users_dir / USER / ".jupyter" / "lab" / "workspaces"
                  ).glob("*.jupyterlab-workspace"):
        saved.unlink()


@pytest.fixture(scope="module")
def expected(platform) -> list[str]:
    """The demo scenes the AOI meets, newest first (the catalogue's order)."""
    from eopde.services import demodata

    items = [i for i in demodata.items(platform.home / "data", platform.url("data"))
             if box(*i["bbox"]).intersects(box(*AOI))]
    items.sort(key=lambda i: i["properties"]["datetime"], reverse=True)
    return [i["id"] for i in items]


def _open_panel(page, panel_id: str) -> None:
    """Show a panel of the left sidebar (once JupyterLab has restored its layout, which would
    otherwise show the panel it remembers instead)."""
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")
    page.evaluate("id => window.jupyterapp.shell.activateById(id)", panel_id)
    page.locator(f"#{panel_id}").wait_for(state="visible", timeout=30_000)


def _point(page, lon: float, lat: float) -> dict:
    """Page coordinates of (lon, lat) on the catalogue panel's map."""
    return page.evaluate("""([lon, lat]) => {
        const node = document.querySelector('#eopde-catalogue .eopde-Map');
        const p = node.eopdeMap.map.latLngToContainerPoint([lat, lon]);
        const r = node.getBoundingClientRect();
        return {x: r.left + p.x, y: r.top + p.y};
    }""", [lon, lat])


# For each loaded preview tile: its opaque pixels and how many colours they have.
_TILE_PIXELS = """() => [...document.querySelectorAll(
        '#eopde-catalogue .eopde-Map-preview img.leaflet-tile-loaded')].map(img => {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let opaque = 0; const colours = new Set();
    for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0) { opaque++; colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); }
    }
    return {opaque, total: d.length / 4, colours: colours.size};
})"""


def _new_notebook(platform) -> None:
    path = platform.settings().users_dir / USER / NOTEBOOK
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("")]
    notebook.metadata["kernelspec"] = {"name": "eopde", "display_name": "EO Python (eopde)",
                                       "language": "python"}
    nbformat.write(notebook, path)


def test_search_by_drawing_an_aoi_preview_and_insert_as_code(platform, demo_user, expected):
    assert len(expected) == 3
    sentinel_2b = [i for i in expected if i.startswith("S2B_")]
    assert len(sentinel_2b) == 2
    _new_notebook(platform)
    with browser_page(ARTIFACTS, "panels-catalogue-last") as page:
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, USER, NOTEBOOK)
        _open_panel(page, "eopde-catalogue")
        panel = page.locator("#eopde-catalogue")
        # chosen by itself when it is the catalogue's one collection; earlier tests on the shared
        # platform may have published workspace collections beside it, so choose it
        panel.locator(".eopde-Collections option[value='sentinel-2-l2a']").wait_for(
            state="attached", timeout=30_000)
        panel.locator(".eopde-Collections").select_option("sentinel-2-l2a")
        page.wait_for_function("""() => document.querySelector(
            '#eopde-catalogue .eopde-Collections').value === 'sentinel-2-l2a'""")
        panel.locator("[data-queryable=platform]").wait_for(state="attached", timeout=30_000)

        # draw the AOI: a drag on the map in rectangle mode
        page.evaluate("""() => document.querySelector('#eopde-catalogue .eopde-Map')
            .eopdeMap.map.setView([46, 11], 5, {animate: false})""")
        panel.get_by_role("button", name="Draw a rectangle").click()
        start, end = _point(page, AOI[0], AOI[3]), _point(page, AOI[2], AOI[1])
        page.mouse.move(start["x"], start["y"])
        page.mouse.down()
        page.mouse.move((start["x"] + end["x"]) / 2, (start["y"] + end["y"]) / 2, steps=4)
        page.mouse.move(end["x"], end["y"], steps=4)
        page.mouse.up()
        typed = [float(v) for v in panel.locator("#eopde-bbox").input_value().split(",")]
        assert typed == pytest.approx(AOI, abs=0.2)

        panel.get_by_role("button", name="Search").click()
        rows = panel.locator(".eopde-Results-row")
        rows.nth(len(expected) - 1).wait_for(timeout=60_000)
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == expected
        assert panel.locator(".eopde-Catalogue-status").inner_text() == "3 items of 3 matched"
        footprints = panel.locator(".eopde-Map path.leaflet-interactive")
        assert footprints.count() == 3

        # hovering a row highlights its footprint
        rows.nth(1).hover()
        assert panel.locator(".eopde-Map path[stroke='#ff9800']").count() == 1
        assert "eopde-mod-hovered" in rows.nth(1).get_attribute("class")

        # sorting by cloud cover, then the preview of the selected item
        panel.get_by_role("columnheader", name="Cloud %").click()
        covers = rows.evaluate_all("rs => rs.map(r => parseFloat(r.children[3].innerText))")
        assert covers == sorted(covers)
        rows.first.click()
        page.wait_for_function("""() => document.querySelectorAll(
            '#eopde-catalogue .eopde-Map-preview img.leaflet-tile-loaded').length > 0""",
                               timeout=60_000)
        page.wait_for_timeout(1500)  # the other tiles in view
        tiles = page.evaluate(_TILE_PIXELS)
        best = max(tiles, key=lambda t: t["opaque"])
        assert best["opaque"] > best["total"] // 4, tiles
        assert best["colours"] > 100, tiles  # a landscape, not a flat fill
        page.screenshot(path=str(ARTIFACTS / "panels-catalogue.png"))

        # insert as code, run it: the same items in the same order
        panel.get_by_role("button", name="Insert as code").click()
        page.wait_for_function("""() => window.jupyterapp.shell.currentWidget.content.model
            .cells.get(0).sharedModel.getSource().startsWith('from eopde.catalogue import')""")
        code = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.model
            .cells.get(0).sharedModel.getSource()""")
        assert code == ("from eopde.catalogue import search\n\n"
                        "found = search(collections=['sentinel-2-l2a'], bbox="
                        f"{tuple(typed)!r}, max_items=100)\nfound")
        page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.model.sharedModel
            .insertCell(1, {cell_type: 'code',
                            source: 'import json\\nprint(json.dumps(found.ids()))'})""")
        run_all_cells(page, timeout=120)
        printed = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.model
            .cells.get(1).outputs.get(0).toJSON().text""")
        assert json.loads("".join(printed)) == expected
        # a second insertion replaces the first cell instead of adding one
        _open_panel(page, "eopde-catalogue")
        panel.get_by_role("button", name="Insert as code").click()
        assert page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.model
            .cells.length""") == 2
        page.screenshot(path=str(ARTIFACTS / "panels-insert-code.png"))

        # a queryable's widget (an enum: a choice) becomes a CQL2 filter
        panel.locator(".eopde-Catalogue-more summary").click()
        panel.get_by_label("Platform").select_option("sentinel-2b")
        panel.get_by_role("button", name="Search").click()
        page.wait_for_function("""(n) => document.querySelectorAll(
            '#eopde-catalogue .eopde-Results-row').length === n""", arg=len(sentinel_2b))
        # (still sorted by cloud cover, as the user asked above)
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.id)")) == sorted(sentinel_2b)
        # no kernel left running into the next tests of this user
        page.evaluate("""async () => {
            const panel = window.jupyterapp.shell.widgets('main')
                .find(w => w.context && w.context.path === 'panels/search.ipynb');
            await panel.sessionContext.shutdown();
            await panel.context.save();
        }""")


def _jobs_requests(page) -> list[str]:
    """Every request the page makes to the jobs routes, as `path?query` (kept as it goes)."""
    seen: list[str] = []

    def record(req) -> None:
        url = urlsplit(req.url)
        if "/eopde/jobs" in url.path:
            seen.append(f"{url.path.split('/eopde/', 1)[1]}?{url.query}")
    page.on("request", record)
    return seen


def _listings(seen: list[str]) -> list[str]:
    return [r for r in seen if r.startswith("jobs?")]


def test_a_job_followed_in_the_jobs_panel(platform, demo_user, tmp_path, request):
    """Start a job, watch it reach successful without a reload (a poll without change is a
    304), follow its log while it runs and open a step's log, see its results as a tree and
    on the map, publish them, re-run it (notified even after a reload that closed the panel,
    with nothing asked once no job runs), dismiss it."""
    from eopde.ades import Client

    request.addfinalizer(lambda: drop_collections(platform.url("catalogue"),
                                                  {demo_user.token: [f"ws-{USER}"]}))
    publish_image(platform, tmp_path)
    deploy(demo_user, sh_process("panel-sleeper", "echo start; sleep 6; echo panel job says $1",
                                 ("word",)))
    client = Client(f"{platform.url('ades')}/{{user}}/ogc-api", user=USER,
                    token=demo_user.token)
    lab = f"{platform.hub_url}/user/{USER}/lab"
    with browser_page(ARTIFACTS, "panels-jobs-last") as page:
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        asked = _jobs_requests(page)
        page.goto(f"{lab}?reset")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                               timeout=90_000)
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        page.wait_for_timeout(7000)
        assert asked == []  # the panel never shown, no job watched: nothing is polled

        _open_panel(page, "eopde-jobs")
        panel = page.locator("#eopde-jobs")
        panel.get_by_role("button", name="Refresh").wait_for(timeout=30_000)
        started = time.monotonic()
        job = client.execute("panel-sleeper", {"word": "hello"}, mode="async")
        row = panel.locator(f"[data-job='{job.id}']")
        row.wait_for(timeout=30_000)
        assert row.locator(".eopde-Job-process").inner_text() == "panel-sleeper"

        # its log, opened while it runs, follows it to the end
        row.get_by_role("button", name="Log").click()
        view = page.locator(f".eopde-JobLog-body[data-job='{job.id}']")
        view.wait_for(timeout=30_000)
        state = view.locator(".eopde-JobLog-state")
        assert state.get_attribute("data-status") in ("accepted", "running")
        view.locator("pre", has_text="panel job says hello").wait_for(timeout=120_000)
        view.locator(".eopde-JobLog-state[data-status='successful']").wait_for(timeout=30_000)
        reads = [r for r in asked if f"jobs/{job.id}/logs?" in r]
        assert len(reads) >= 2 and "offset=0" in reads[0] and "offset=0" not in reads[-1], reads
        log_text = view.locator("pre").inner_text()
        assert log_text.index("start") < log_text.index("panel job says hello")
        # the steps' logs appear once it ended: one of them
        step = view.get_by_role("tab", name=re.compile("^Tool log"))
        step.first.wait_for(timeout=30_000)
        step.first.click()
        page.wait_for_function("""() => {
            const pre = document.querySelector('.eopde-JobLog-body pre');
            return pre && pre.getAttribute('aria-label').startsWith('Log: Tool log')
                && pre.innerText.includes('panel job says hello');
        }""", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "panels-job-log.png"))

        # the panel saw it end without a reload; the notification said so
        _open_panel(page, "eopde-jobs")
        panel.locator(f"[data-job='{job.id}'][data-status='successful']").wait_for(
            timeout=60_000)
        took = time.monotonic() - started
        page.locator(".Toastify__toast", has_text=f"{job.id[:8]} successful").wait_for(
            timeout=10_000)
        assert panel.locator(".eopde-Job").first.get_attribute("data-job") == job.id
        # polls with nothing new: 304s, no body
        statuses: list[int] = []
        page.on("response", lambda r: urlsplit(r.url).path.endswith("/eopde/jobs")
                and statuses.append(r.status))
        page.wait_for_timeout(7000)
        assert 304 in statuses, statuses
        page.screenshot(path=str(ARTIFACTS / "panels-jobs.png"))

        # its inputs, its results as a tree and on the map, published
        row.locator(".eopde-Job-inputs summary").click()
        row.locator(".eopde-Job-inputs dd", has_text='"hello"').wait_for(timeout=30_000)
        row.get_by_role("button", name="Results").click()
        results = panel.locator(".eopde-Jobs-results")
        results.wait_for(timeout=30_000)
        assert results.locator(".eopde-Jobs-items").inner_text() == "1 item: loot"
        tree = results.locator(".eopde-Tree")
        tree.locator("[data-node='loot'] summary").first.wait_for(timeout=10_000)
        item = tree.locator("[data-item='loot']")
        item.locator("summary").click()
        asset = item.locator("[data-asset='loot']")
        assert re.fullmatch(r"loot\s+\(text/plain\)\s+s3://\S+loot\.txt",
                            asset.inner_text().strip()), asset.inner_text()
        results.locator(".eopde-Map path.leaflet-interactive").wait_for(timeout=10_000)
        results.get_by_role("button", name="Publish to workspace").click()
        published = results.locator(".eopde-Jobs-published")
        published.wait_for(timeout=120_000)
        assert published.inner_text().startswith(f"Published to ws-{USER}: ")
        assert httpx.get(f"{platform.url('catalogue')}/collections/ws-{USER}/items/loot",
                         timeout=30).status_code == 200
        page.screenshot(path=str(ARTIFACTS / "panels-job-results.png"))

        # re-run: a new job with the same inputs, at the top, followed to its end
        row.get_by_role("button", name="Re-run").click()
        page.wait_for_function("""(id) => {
            const first = document.querySelector('#eopde-jobs .eopde-Job');
            return first && first.dataset.job !== id;
        }""", arg=job.id, timeout=60_000)
        again = panel.locator(".eopde-Job").first.get_attribute("data-job")
        assert client.job(again).inputs().inputs == {"word": "hello"}
        panel.locator(f"[data-job='{again}'][data-status='successful']").wait_for(
            timeout=120_000)
        page.locator(".Toastify__toast", has_text=f"{again[:8]} successful").wait_for(
            timeout=10_000)

        # a re-run, then a reload that closes the panel: the job is still watched (its status
        # only, never the listing) and its end notified; then nothing is asked
        row.get_by_role("button", name="Re-run").click()
        page.wait_for_function("""(ids) => {
            const first = document.querySelector('#eopde-jobs .eopde-Job');
            return first && !ids.includes(first.dataset.job);
        }""", arg=[job.id, again], timeout=60_000)
        third = panel.locator(".eopde-Job").first.get_attribute("data-job")
        page.goto(f"{lab}?reset")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                               timeout=90_000)
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        asked.clear()
        page.locator(".Toastify__toast", has_text=f"{third[:8]} successful").wait_for(
            timeout=120_000)
        assert not page.locator("#eopde-jobs").is_visible()
        assert asked and all(r.startswith(f"jobs/{third}?") for r in asked), asked
        page.screenshot(path=str(ARTIFACTS / "panels-job-notified.png"))
        asked.clear()
        page.wait_for_timeout(7000)
        assert asked == []

        # dismissed: the ADES lists no dismissed jobs, so the row goes
        _open_panel(page, "eopde-jobs")
        row.wait_for(timeout=30_000)
        row.get_by_role("button", name="Dismiss").click()
        row.wait_for(state="detached", timeout=30_000)
        assert client.job(job.id).last_status.status == "dismissed"
    print(f"job seen successful in the panel {took:.1f} s after it was started")
