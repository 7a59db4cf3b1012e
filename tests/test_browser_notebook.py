"""In a real browser: log in to the hub, open the search tutorial in JupyterLab, run it, and
check that map tiles were requested through the hub and came back as real images."""

from __future__ import annotations

import pytest

from browser import (
    browser_page,
    cell_errors,
    hub_login,
    open_notebook,
    run_all_cells,
    show_every_cell,
)
from conftest import ARTIFACTS

pytestmark = pytest.mark.platform


def _png_pixels(body: bytes):
    from rasterio.io import MemoryFile

    with MemoryFile(body) as memfile, memfile.open() as png:
        return png.read()


def test_search_notebook_shows_tiles_behind_the_hub(platform):
    tile_responses = []
    with browser_page(ARTIFACTS, "01-search-and-preview") as page:
        page.on("response", lambda r: tile_responses.append(r)
                if "/services/tiles/" in r.url and ".png" in r.url else None)
        hub_login(page, platform.hub_url, "demo", platform.secrets["demo_password"])
        open_notebook(page, platform.hub_url, "demo", "tutorials/01-search-and-preview.ipynb")
        state = run_all_cells(page, timeout=300)
        show_every_cell(page)
        page.wait_for_timeout(2000)
        errors = cell_errors(page)
        maps = page.locator(".leaflet-container").count()
        loaded_tiles = page.locator("img.leaflet-tile-loaded[src*='/services/tiles/']").count()
        bodies = [(r.url, r.status, r.headers.get("content-type"), r.body())
                  for r in tile_responses[:40]]

    assert state["done"] == state["code"] > 0
    assert not errors, errors
    assert maps >= 3  # AOI map, footprints map, least-cloudy map
    assert tile_responses, "no tile was requested through /services/tiles/"
    assert loaded_tiles > 0
    assert all(url.startswith(platform.hub_url + "/services/tiles/") for url, *_ in bodies)
    ok = [(url, body) for url, status, kind, body in bodies if status == 200]
    assert len(ok) == len(bodies), [(u, s) for u, s, *_ in bodies if s != 200]
    assert all(kind == "image/png" for _, _, kind, _ in bodies)
    varied = [url for url, body in ok if len(set(_png_pixels(body)[:3].ravel().tolist())) > 20]
    assert varied, "every tile was blank"
