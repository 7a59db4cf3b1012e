"""The catalogue and jobs panels in a real browser, in the JupyterLab the demo user gets through
the hub of the local platform.

Catalogue: draw a rectangle on the panel's map around Lake Trasimeno, search, see the scenes'
footprints (hover highlights them), a true-colour preview tile with real pixels through the
hub's tile route; insert the search as code into a notebook and run it: the same items.
Jobs: a job started with the Python client appears in the jobs panel and reaches "successful"
without a reload (a notification says so); its log and its results on the map open; dismissed.
Screenshots: test-artifacts/panels-*.png."""

from __future__ import annotations

import json
import time

import nbformat
import pytest
from shapely.geometry import box

from browser import browser_page, hub_login, open_notebook, run_all_cells
from conftest import ARTIFACTS
from extension_install import install_for_user
from security.ades_jobs import deploy, publish_image, sh_process
from security.conftest import User

pytestmark = pytest.mark.platform

USER = "demo"
NOTEBOOK = "panels/search.ipynb"
# the Trasimeno scenes' area, with a margin (the Flevoland scenes are 9 degrees north)
AOI = (11.0, 42.0, 13.5, 44.5)


@pytest.fixture(scope="module")
def demo_user(platform) -> User:
    token = platform.eopde("token", USER).stdout.strip()
    install_for_user(platform, USER, token)
    return User(USER, token, platform)


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
        # the platform's one collection, chosen by itself
        panel.locator(".eopde-Collections option[value='sentinel-2-l2a']").wait_for(
            state="attached", timeout=30_000)
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
        assert panel.locator(".eopde-Catalogue-status").inner_text() == "3 items"  # pgstac counts no matches by default
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


def test_a_job_followed_in_the_jobs_panel(platform, demo_user, tmp_path):
    from eopde.ades import Client

    publish_image(platform, tmp_path)
    deploy(demo_user, sh_process("panel-sleeper", "sleep 4; echo panel job says hello"))
    client = Client(f"{platform.url('ades')}/{{user}}/ogc-api", user=USER,
                    token=demo_user.token)
    with browser_page(ARTIFACTS, "panels-jobs-last") as page:
        hub_login(page, platform.hub_url, USER, platform.secrets["demo_password"])
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                               timeout=90_000)
        _open_panel(page, "eopde-jobs")
        panel = page.locator("#eopde-jobs")
        panel.get_by_role("button", name="Refresh").wait_for(timeout=30_000)

        started = time.monotonic()
        job = client.execute("panel-sleeper", {}, mode="async")
        row = panel.locator(f"[data-job='{job.id}']")
        row.wait_for(timeout=30_000)
        assert row.locator(".eopde-Job-process").inner_text() == "panel-sleeper"
        panel.locator(f"[data-job='{job.id}'][data-status='successful']").wait_for(
            timeout=120_000)
        took = time.monotonic() - started
        toast = page.locator(".Toastify__toast", has_text=f"{job.id[:8]} successful")
        toast.wait_for(timeout=10_000)
        assert panel.locator(".eopde-Job").first.get_attribute("data-job") == job.id
        page.screenshot(path=str(ARTIFACTS / "panels-jobs.png"))

        row.get_by_role("button", name="Log").click()
        log = page.locator(".eopde-JobLog-body pre")
        page.wait_for_function("""() => (document.querySelector('.eopde-JobLog-body pre') || {})
            .innerText?.includes('panel job says hello')""", timeout=30_000)
        assert "panel job says hello" in log.inner_text()

        _open_panel(page, "eopde-jobs")
        row.get_by_role("button", name="Results").click()
        results = panel.locator(".eopde-Jobs-results")
        results.wait_for(timeout=30_000)
        assert results.locator(".eopde-Jobs-items").inner_text() == "1 item: loot"
        results.locator(".eopde-Map path.leaflet-interactive").wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "panels-job-results.png"))

        row.get_by_role("button", name="Dismiss").click()
        # the ADES lists no dismissed jobs: the row goes, the job says "dismissed"
        row.wait_for(state="detached", timeout=30_000)
        assert client.job(job.id).last_status.status == "dismissed"
        assert panel.locator(".eopde-Jobs-results").count() == 0
    print(f"job seen successful in the panel {took:.1f} s after it was started")
