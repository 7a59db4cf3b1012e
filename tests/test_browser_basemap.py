"""In a real browser, offline: the AOI map of the search tutorial shows the platform's basemap
(real pixels, not a grey canvas), and a rectangle drawn with the map's own tool over the demo
area finds the demo scenes."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from browser import browser_page, cell_errors, hub_login, open_notebook, run_all_cells
from conftest import ARTIFACTS

pytestmark = pytest.mark.platform

# Runs in the page: execute code in the notebook's kernel, return what it printed.
_EXECUTE = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({code, store_history: false});
    let out = '';
    future.onIOPub = (msg) => {
        if (msg.header.msg_type === 'stream') out += msg.content.text;
        if (msg.header.msg_type === 'error') out += 'ERROR ' + msg.content.ename + ': ' +
                                                    msg.content.evalue;
    };
    await future.done;
    return out;
}"""

_REPORT = """
import json
from eopde.catalogue import search
_found = search(intersects=m, collections=["sentinel-2-l2a"])
print(json.dumps({"bbox": m.aoi_bbox, "found": sorted(i.id for i in _found),
                  "coverage": sorted(m.coverage)}))
"""


def _image(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def test_aoi_map_has_an_offline_basemap_and_a_drawn_aoi_finds_scenes(platform):
    responses = []
    with browser_page(ARTIFACTS, "basemap-aoi") as page:
        # Offline: anything not served by the platform itself fails.
        page.route("**/*", lambda route: route.continue_()
                   if route.request.url.startswith(platform.hub_url) else route.abort())
        page.on("response", lambda r: responses.append(r)
                if "/services/tiles/basemap/" in r.url else None)
        hub_login(page, platform.hub_url, "demo", platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, "demo", "tutorials/01-search-and-preview.ipynb")
        run_all_cells(page, timeout=300)
        errors = cell_errors(page)
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.scrollToItem(3)")
        aoi_map = page.locator(".leaflet-container").first
        aoi_map.scroll_into_view_if_needed()
        page.wait_for_selector("img.leaflet-tile-loaded[src*='/services/tiles/basemap/']",
                               timeout=30_000)
        page.wait_for_timeout(1500)
        shot = _image(aoi_map.screenshot())
        tiles = [(r.url, r.status, r.headers.get("content-type"), r.body())
                 for r in responses[:16]]

        # Draw a rectangle with Geoman over the map's centre (Lake Trasimeno): click, click.
        box = aoi_map.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        aoi_map.locator(".leaflet-pm-icon-rectangle").click()
        page.mouse.click(cx - 60, cy - 40)
        page.mouse.move(cx + 70, cy + 30, steps=8)
        page.mouse.click(cx + 70, cy + 30)
        page.wait_for_timeout(1500)
        report = page.evaluate(_EXECUTE, _REPORT)

    assert not errors, errors
    assert tiles, "no basemap tile was requested"
    assert all(status == 200 and kind == "image/png" for _, status, kind, _ in tiles), \
        [(u, s, k) for u, s, k, _ in tiles]
    images = [_image(body) for _, _, _, body in tiles]
    assert all(image.shape == (256, 256, 3) for image in images)
    # A tile inside the land is one colour; those with the lake, places or borders are not.
    varied = [url for (url, *_), image in zip(tiles, images)
              if len(np.unique(image.reshape(-1, 3), axis=0)) > 20 and image.std() > 5]
    assert varied, "every basemap tile was flat"
    # What the user sees: land, water and lines, not a grey canvas.
    colours = np.unique(shot.reshape(-1, 3), axis=0)
    assert len(colours) > 200, len(colours)
    assert shot.std() > 10
    data = json.loads(report.strip().splitlines()[-1]), report
    result = data[0]
    west, south, east, north = result["bbox"]
    assert (west, south, east, north) != (12.0, 43.08, 12.2, 43.22), "the drawn AOI was not used"
    assert 11.9 < west < 12.1 < east < 12.3 and 43.0 < south < 43.15 < north < 43.3, result
    assert len(result["found"]) == 3, result  # the three Trasimeno dates of the demo data
    assert result["coverage"] == ["sentinel-2-l2a"]
