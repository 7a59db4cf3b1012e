"""eopde.maps widgets: the Map with footprints, draw control/AOI, time slider, split view,
previews, the search panel, and thousands of footprints. No browser: the events the front end
would send are simulated by calling the widgets' message handlers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from urllib.parse import parse_qsl, urlsplit

import ipyleaflet
import numpy as np
import pytest

from eopde.maps import footprints
from eopde.maps.items import item_date

TRASIMENO_SPRING = "S2B_33TTH_20250416_0_L2A"
TRASIMENO_SUMMER = "S2A_33TTH_20250715_0_L2A"


@pytest.fixture(autouse=True)
def tiles_env(monkeypatch, tmp_path):
    """Inside a hub with the tile service route, as in a user's server of the local platform."""
    for var in ("EOPDE_TILES_URL", "EOPDE_TILES_PUBLIC_PATH", "JUPYTERHUB_BASE_URL",
                "JUPYTERHUB_SERVICE_PREFIX", "EOPDE_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path / "no-platform"))
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "no-platforms.toml"))
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/demo/")
    monkeypatch.setenv("EOPDE_TILES_PUBLIC_PATH", "/services/tiles")
    monkeypatch.setenv("EOPDE_TILES_URL", "http://127.0.0.1:8711")


@pytest.fixture(scope="module")
def demo_items(tmp_path_factory) -> list[dict]:
    """The six demo items as a STAC API returns them (a self link on each)."""
    from eopde.services import demodata

    dest = tmp_path_factory.mktemp("demodata")
    demodata.generate(dest)
    base = "http://127.0.0.1:8701"
    items = demodata.items(dest, f"{base}/data")
    for item in items:
        href = f"{base}/collections/{item['collection']}/items/{item['id']}"
        item["links"].append({"rel": "self", "type": "application/geo+json", "href": href})
    return items


def item_url_of(tile_url: str) -> str:
    return dict(parse_qsl(urlsplit(tile_url).query))["url"]


def ids_in(layers) -> set[str]:
    return {item_url_of(layer.url).rsplit("/", 1)[1] for layer in layers}


def demo_dates(items) -> list[dt.date]:
    return sorted({item_date(i) for i in items})


# --------------------------------------------------------------------------- the map


def test_map_has_footprints_layers_control_and_geoman(demo_items):
    from eopde.maps import Map, show_items

    m = show_items(demo_items)
    assert isinstance(m, Map) and isinstance(m, ipyleaflet.Map)
    assert m.footprints in m.layers
    data = m.footprints.data
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) == 6
    assert {f["id"] for f in data["features"]} == {i["id"] for i in demo_items}
    props = data["features"][0]["properties"]
    assert {"id", "i", "date", "datetime", "eo:cloud_cover", "collection"} <= set(props)
    assert "style" not in props  # the layer style is applied in the browser, not per feature
    kinds = [type(c) for c in m.controls]
    assert ipyleaflet.LayersControl in kinds
    assert ipyleaflet.GeomanDrawControl in kinds
    assert ipyleaflet.DrawControl not in kinds  # deprecated
    assert m.draw_control.polygon and m.draw_control.rectangle
    assert not m.draw_control.circle  # a circle would come back as a Point
    assert m.details_control in m.controls
    # zoomed onto the items (two areas in Italy and the Netherlands)
    lat, lon = m.center
    assert 43 < lat < 53 and 5 < lon < 13 and m.zoom >= 4


@pytest.mark.parametrize("form", ["pystac list", "ItemCollection", "FeatureCollection",
                                  "dict list", "iterator", "SearchResults"])
def test_show_items_accepts_every_form(demo_items, form):
    import pystac

    from eopde.maps import show_items

    if form == "pystac list":
        items = [pystac.Item.from_dict(d) for d in demo_items]
    elif form == "ItemCollection":
        items = pystac.ItemCollection([pystac.Item.from_dict(d) for d in demo_items])
    elif form == "FeatureCollection":
        items = {"type": "FeatureCollection", "features": demo_items}
    elif form == "dict list":
        items = list(demo_items)
    elif form == "iterator":
        items = (pystac.Item.from_dict(d) for d in demo_items)
    else:
        from eopde.catalogue import results
        items = results.SearchResults(lambda: (pystac.Item.from_dict(d) for d in demo_items))
    m = show_items(items, preview="true_color")
    assert sorted(f["id"] for f in m.footprints.data["features"]) == \
        sorted(i["id"] for i in demo_items)
    # previews point at each item's self link through the hub route
    shown = m.time_slider.layer.layers
    assert shown and all(layer.url.startswith("/services/tiles/stac/tiles/") for layer in shown)
    assert item_url_of(shown[0].url).startswith("http://127.0.0.1:8701/collections/")


def test_show_items_rejects_what_is_not_items():
    from eopde.maps import show_items

    with pytest.raises(TypeError, match="not a string"):
        show_items("S2A_33TTH_20250715_0_L2A")
    with pytest.raises(TypeError, match="neither a pystac Item nor a GeoJSON Feature"):
        show_items([1, 2])


def centroid(item: dict) -> list[float]:
    c = item["properties"]["proj:centroid"]
    return [c["lat"], c["lon"]]  # Leaflet's order, as the front end reports events


def test_hover_shows_details_and_click_selects(demo_items):
    from eopde.maps import Map

    m = Map(demo_items, time_slider=False)
    selected = []
    m.on_select(selected.append)
    feature = m.footprints.data["features"][2]
    event = {"feature": feature, "properties": feature["properties"], "id": feature["id"],
             "coordinates": centroid(demo_items[2])}
    m.footprints._handle_mouse_events(None, {"event": "mouseover", **event}, [])
    assert feature["id"] in m.details.value
    assert "3 footprints here" in m.details.value  # three dates of the same area
    m.footprints._handle_mouse_events(None, {"event": "click", **event}, [])
    assert m.selected is demo_items[2]
    assert selected == [demo_items[2]]
    assert "selected" in m.details.value and feature["id"] in m.details.value
    outline = [layer for layer in m.layers if layer.name.startswith("selected:")]
    assert len(outline) == 1 and outline[0].data["id"] == feature["id"]
    # hovering another footprint leaves the pinned details alone
    other = m.footprints.data["features"][4]
    m.footprints._handle_mouse_events(None, {"event": "mouseover", "feature": other,
                                             "properties": other["properties"],
                                             "coordinates": centroid(demo_items[4])}, [])
    assert feature["id"] in m.details.value and other["id"] not in m.details.value
    m.select(None)
    assert m.selected is None and not [la for la in m.layers if la.name.startswith("selected:")]


def test_overlapping_footprints_follow_the_time_slider(demo_items):
    from eopde.maps import show_items

    m = show_items(demo_items, preview="true_color")
    top = m.footprints.data["features"][2]  # October: drawn last of the three, on top
    click = {"event": "click", "feature": top, "properties": top["properties"],
             "coordinates": centroid(demo_items[2])}
    assert [f["id"] for f in m.features_at(*centroid(demo_items[2]))] == \
        [i["id"] for i in demo_items[:3]]
    m.footprints._handle_mouse_events(None, click, [])
    assert m.selected["id"] == TRASIMENO_SPRING  # the slider's date (its first), not the top
    m.time_slider.value = dt.date(2025, 7, 15)
    m.footprints._handle_mouse_events(None, click, [])
    assert m.selected["id"] == TRASIMENO_SUMMER
    m.time_slider.value = dt.date(2025, 7, 21)  # a date of the other area: the top one
    m.footprints._handle_mouse_events(None, click, [])
    assert m.selected["id"] == top["id"]
    assert m.features_at(0.0, 0.0) == []


# --------------------------------------------------------------------------- area of interest

POLYGON = {"type": "Polygon",
           "coordinates": [[[12.0, 43.1], [12.2, 43.1], [12.2, 43.2], [12.0, 43.2], [12.0, 43.1]]]}
RECTANGLE = {"type": "Polygon",
             "coordinates": [[[5.5, 52.4], [5.6, 52.4], [5.6, 52.5], [5.5, 52.5], [5.5, 52.4]]]}


def drawn(geometry: dict) -> dict:
    """A shape as Geoman's front end reports it (style and type in the properties)."""
    return {"type": "Feature", "geometry": geometry,
            "properties": {"style": {"color": "#6a3d9a"}, "type": "polygon"}}


def browser_draws(m, *shapes: dict) -> None:
    """What the front end does on pm:create: an event with the new shape, then the sync of
    every shape on the layer into `data`."""
    m.draw_control._handle_leaflet_event(None, {"event": "pm:create",
                                                "geo_json": drawn(shapes[-1])}, [])
    m.draw_control.data = [drawn(s) for s in shapes]


def test_drawn_shape_is_the_aoi(demo_items):
    from eopde.maps import Map

    m = Map()
    seen = []
    m.on_aoi(seen.append)
    assert m.aoi is None and m.__geo_interface__ is None and m.aoi_bbox is None
    browser_draws(m, POLYGON)
    assert m.aoi == POLYGON
    assert m.__geo_interface__ == POLYGON
    assert m.aoi_bbox == (12.0, 43.1, 12.2, 43.2)
    assert seen == [POLYGON]  # the create event and the data sync: one change
    browser_draws(m, POLYGON, RECTANGLE)  # a second drawing: the last shape wins
    assert m.aoi == RECTANGLE
    from shapely.geometry import shape

    assert shape(m).bounds == (5.5, 52.4, 5.6, 52.5)  # anything reading __geo_interface__
    m.draw_control._handle_leaflet_event(None, {"event": "pm:remove",
                                                "geo_json": drawn(RECTANGLE)}, [])
    m.draw_control.data = [drawn(POLYGON)]  # the rectangle deleted with the eraser
    assert m.aoi == POLYGON
    m.draw_control.data = []
    assert m.aoi is None and seen[-1] is None


def test_aoi_feeds_catalogue_search_parameters():
    from eopde.catalogue import params
    from eopde.catalogue import SearchParameterError
    from eopde.maps import Map

    m = Map()
    with pytest.raises(SearchParameterError, match="nothing drawn"):
        params.normalize_intersects(m)
    browser_draws(m, POLYGON)
    assert params.normalize_intersects(m) == POLYGON


def test_aoi_set_in_code_is_shown_and_replaced_by_a_drawing():
    from eopde.maps import Map

    m = Map()
    m.aoi = (12.0, 43.1, 12.2, 43.2)
    assert m.aoi == POLYGON
    assert [la.name for la in m.layers if la.name == "area of interest"]
    browser_draws(m, RECTANGLE)
    assert m.aoi == RECTANGLE
    assert not [la.name for la in m.layers if la.name == "area of interest"]
    with pytest.raises(TypeError, match="aoi must be"):
        m.aoi = 42


# --------------------------------------------------------------------------- time slider


def test_time_slider_dates_and_layer_swap_with_previews(demo_items):
    from eopde.maps import show_items

    m = show_items(demo_items, preview="true_color")
    slider = m.time_slider.slider
    assert m.time_slider.control in m.controls
    assert list(slider.options) == [(d.isoformat(), d) for d in demo_dates(demo_items)]
    assert [label for label, _ in slider.options] == sorted(label for label, _ in slider.options)
    first = m.time_slider.layer
    assert slider.value == dt.date(2025, 4, 16)
    assert first in m.layers and ids_in(first.layers) == {TRASIMENO_SPRING}
    slider.value = dt.date(2025, 7, 15)
    second = m.time_slider.layer
    assert second is not first
    assert second in m.layers and first not in m.layers
    assert ids_in(second.layers) == {TRASIMENO_SUMMER}
    assert "1 item on 2025-07-15" in m.time_slider.info.value
    slider.value = dt.date(2025, 4, 16)
    assert m.time_slider.layer is first and first in m.layers and second not in m.layers


def test_time_slider_without_preview_highlights_the_dates_footprints(demo_items):
    from eopde.maps import show_items

    m = show_items(demo_items)
    assert m.time_slider is not None  # several dates
    m.time_slider.value = "2025-09-29"
    layer = m.time_slider.layer
    assert layer in m.layers
    assert [f["id"] for f in layer.data["features"]] == ["S2A_31UFU_20250929_0_L2A"]
    # its footprints keep their index in the map's items, so hover and click still work
    feature = layer.data["features"][0]
    layer._handle_mouse_events(None, {"event": "click", "feature": feature,
                                      "properties": feature["properties"]}, [])
    assert m.selected["id"] == "S2A_31UFU_20250929_0_L2A"


def test_no_time_slider_for_a_single_date(demo_items):
    from eopde.maps import show_items

    m = show_items([demo_items[1]])
    assert m.time_slider is None


def test_time_slider_caps_previews_per_date(demo_items):
    from eopde.maps import show_items

    same_day = [dict(demo_items[0], id=f"copy-{n}") for n in range(5)]
    with pytest.warns(UserWarning, match="first 3 of 5"):
        m = show_items(same_day, preview="ndvi", max_previews=3)
    assert len(m.time_slider.layer.layers) == 3


# --------------------------------------------------------------------------- previews and view


def test_add_preview_and_zoom_to(demo_items):
    from eopde.maps import Map

    m = Map(demo_items)
    item = next(i for i in demo_items if i["id"] == TRASIMENO_SUMMER)
    layer = m.add_preview(item, "ndvi")
    assert layer in m.layers and layer in m.previews
    query = dict(parse_qsl(urlsplit(layer.url).query))
    assert query["expression"] == "((b1-1000)-(b2-1000))/((b1-1000)+(b2-1000))"
    assert urlsplit(layer.url).path.startswith("/services/tiles/stac/tiles/WebMercatorQuad/")
    w, s, e, n = item["bbox"]
    assert layer.bounds == [[s, w], [n, e]]  # no tile requests outside the scene
    by_id = m.add_preview(TRASIMENO_SPRING, "B08", colormap_name="magma")
    assert dict(parse_qsl(urlsplit(by_id.url).query))["colormap_name"] == "magma"
    m.zoom_to([item])
    lat, lon = m.center
    assert s < lat < n and w < lon < e
    assert m.zoom >= 12  # a 6 km scene fills the view
    m.clear_previews()
    assert layer not in m.layers and by_id not in m.layers and m.previews == []
    # before the browser reports the map's size, a height given in the layout is used
    tall = Map(layout={"height": "900px"})
    tall.zoom_to([item])
    assert tall.zoom == m.zoom + 1


def test_split_view_compares_two_dates(demo_items):
    from eopde.maps import show_items

    m = show_items(demo_items, preview="true_color")
    control = m.compare("2025-04-16", dt.date(2025, 7, 15))
    assert control in m.controls and isinstance(control, ipyleaflet.SplitMapControl)
    assert ids_in(control.left_layer) == {TRASIMENO_SPRING}
    assert ids_in(control.right_layer) == {TRASIMENO_SUMMER}
    assert m.time_slider.layer is None  # the slider's previews would cover both sides
    again = m.compare(TRASIMENO_SUMMER, TRASIMENO_SPRING, "ndvi")  # by item id, replaces
    assert control not in m.controls and again in m.controls
    assert "expression" in dict(parse_qsl(urlsplit(again.left_layer[0].url).query))
    m.end_compare()
    assert again not in m.controls and m.split_control is None
    with pytest.raises(ValueError, match="no item on 2024-01-01"):
        m.compare("2024-01-01", "2025-04-16")


# --------------------------------------------------------------------------- search panel


class FakeCatalogue:
    """What SearchPanel uses of eopde.catalogue.Catalogue."""

    def __init__(self, features: set[str], items: list[dict]):
        self.features = features
        self.items = items
        self.calls: list[dict] = []

    def conforms_to(self, feature: str) -> bool:
        return feature in self.features

    def collection_ids(self) -> list[str]:
        return ["sentinel-2-l2a"]

    def search(self, **kwargs):
        self.calls.append(kwargs)
        return iter(self.items)


def test_search_panel_offers_filter_only_when_the_catalogue_conforms(demo_items):
    from eopde.maps import Map, SearchPanel

    plain = SearchPanel(FakeCatalogue({"item-search"}, demo_items), Map())
    assert plain.filter is None and plain.sortby is None
    assert not any(isinstance(w, type(None)) for w in plain.children)
    assert "filter" not in [getattr(w, "description", "") for w in plain.children]
    full = SearchPanel(FakeCatalogue({"item-search", "filter", "sort"}, demo_items), Map())
    assert full.filter is not None and full.filter in full.children
    assert full.sortby is not None and full.sortby in full.children


def test_search_panel_searches_the_drawn_area_and_shows_results(demo_items):
    from eopde.maps import Map, SearchPanel

    m = Map()
    catalogue = FakeCatalogue({"item-search", "filter"}, demo_items)
    panel = SearchPanel(catalogue, m)
    browser_draws(m, POLYGON)
    panel.collection.value = "sentinel-2-l2a"
    panel.start.value = dt.date(2025, 6, 1)
    panel.cloud_cover.value = 20
    panel.filter.value = "platform = 'sentinel-2a'"
    panel.button.click()
    assert catalogue.calls == [{
        "intersects": POLYGON, "datetime": (dt.date(2025, 6, 1), None),
        "collections": ["sentinel-2-l2a"], "cloud_cover": 20,
        "filter": "platform = 'sentinel-2a'", "max_items": 100}]
    assert "6 items found" in panel.status.value
    assert len(m.footprints.data["features"]) == 6
    assert "search(intersects=m, datetime=('2025-06-01', None)" in panel.code_text()
    assert "filter=\"platform = 'sentinel-2a'\"" in panel.code_text()


def test_search_panel_shows_errors():
    from eopde.maps import SearchPanel

    class Failing(FakeCatalogue):
        def search(self, **kwargs):
            raise ValueError("bbox: west 200 is out of range")

    panel = SearchPanel(Failing({"item-search"}, []))
    assert panel.search() is None
    assert "west 200 is out of range" in panel.status.value


# --------------------------------------------------------------------------- many footprints


def synthetic_items(n: int, vertices_per_edge: int = 15, seed: int = 7) -> list[dict]:
    """``n`` Sentinel-2-like footprints (1 degree tiles with a jagged data edge: ~60 vertices),
    over 100 dates, as STAC Item dicts with the usual properties."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, vertices_per_edge, endpoint=False)
    items = []
    start = dt.datetime(2025, 1, 1, 10, 30, tzinfo=dt.UTC)
    for k in range(n):
        x0, y0 = rng.uniform(-10, 30), rng.uniform(35, 65)
        edges = [
            np.c_[x0 + t, np.full_like(t, y0)],
            np.c_[np.full_like(t, x0 + 1), y0 + t],
            np.c_[x0 + 1 - t, np.full_like(t, y0 + 1)],
            np.c_[np.full_like(t, x0), y0 + 1 - t],
        ]
        ring = np.vstack(edges) + rng.normal(0, 2e-4, (4 * vertices_per_edge, 2))
        ring = np.vstack([ring, ring[:1]])
        when = start + dt.timedelta(days=int(k % 100) * 3)
        items.append({
            "type": "Feature", "stac_version": "1.0.0", "id": f"S2X_{k:05d}",
            "collection": "sentinel-2-l2a",
            "bbox": [float(v) for v in (*ring.min(axis=0), *ring.max(axis=0))],
            "geometry": {"type": "Polygon", "coordinates": [ring.tolist()]},
            "properties": {"datetime": when.isoformat().replace("+00:00", "Z"),
                           "eo:cloud_cover": float(rng.uniform(0, 100)),
                           "platform": "sentinel-2a", "s2:processing_baseline": "05.10",
                           "s2:product_uri": f"S2X_MSIL2A_{k:05d}.SAFE", "view:sun_azimuth": 150.2},
            "links": [], "assets": {},
        })
    return items


def test_five_thousand_footprints_build_fast_and_small():
    from eopde.maps import show_items

    items = synthetic_items(5000)
    raw = len(json.dumps({"type": "FeatureCollection", "features": items}))
    t0 = time.perf_counter()
    m = show_items(items)
    seconds = time.perf_counter() - t0
    state = m.footprints.get_state()["data"]  # what ipywidgets sends to the browser
    size = len(json.dumps(state, separators=(",", ":")))
    vertices = sum(len(f["geometry"]["coordinates"][0]) for f in state["features"])
    t0 = time.perf_counter()
    footprints.feature_collection(items)
    fc_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    under = m.features_at(50.0, 10.0)  # the first hover builds the spatial index
    first_hover = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert m.features_at(50.0, 10.0) == under
    next_hover = time.perf_counter() - t0
    print(f"\n5000 footprints: Map built in {seconds:.2f} s (feature collection "
          f"{fc_seconds:.2f} s); footprints JSON {size / 1e6:.2f} MB "
          f"(items as GeoJSON: {raw / 1e6:.2f} MB); {vertices / 5000:.1f} vertices per footprint "
          f"(61 before simplification); {len(m.time_slider.dates)} dates on the slider; "
          f"footprints under the pointer: first hover {first_hover * 1000:.0f} ms, then "
          f"{next_hover * 1000:.1f} ms")
    assert len(state["features"]) == 5000
    assert vertices < 5000 * 12  # simplified
    assert size < raw / 3
    assert seconds < 30  # a generous sanity bound, not a benchmark


def test_simplification_keeps_small_footprints_intact():
    # tolerance is relative to each footprint: a 6 km scene keeps its corners
    small = {"type": "Feature", "id": "small", "properties": {}, "bbox": None,
             "geometry": {"type": "Polygon", "coordinates": [[[12.0, 43.0], [12.07, 43.0],
                                                              [12.07, 43.05], [12.0, 43.05],
                                                              [12.0, 43.0]]]}}
    fc = footprints.feature_collection([small])
    assert len(fc["features"][0]["geometry"]["coordinates"][0]) == 5
    no_geometry = {"type": "Feature", "id": "bbox-only", "properties": {}, "geometry": None,
                   "bbox": [1, 2, 3, 4]}
    fc = footprints.feature_collection([no_geometry])
    assert fc["features"][0]["geometry"]["type"] == "Polygon"


def test_import_eopde_maps_does_not_import_ipyleaflet():
    code = ("import sys, eopde.maps; assert 'ipyleaflet' not in sys.modules; "
            "eopde.maps.Map; assert 'ipyleaflet' in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_default_basemap_is_the_platforms_offline_one(monkeypatch):
    from eopde.maps import Map

    assert Map(basemap=False).layers == ()
    (base,) = Map().layers
    assert base.name == "basemap (offline)"
    assert base.url == "/services/tiles/basemap/{z}/{x}/{y}.png"
    assert base.base is True
    # Without a tile server the map falls back to OpenStreetMap.
    for var in ("EOPDE_TILES_URL", "EOPDE_TILES_PUBLIC_PATH"):
        monkeypatch.delenv(var)
    assert [layer.name for layer in Map().layers] == ["OpenStreetMap.Mapnik"]


# --------------------------------------------------------------------------- coverage


class _Backend:
    """A catalogue backend over the demo items (our own interface, in place of a STAC API)."""

    name = "demo"
    url = "http://127.0.0.1:8701"

    def __init__(self, items, extent=None):
        self.items, self.extent = items, extent

    def search_items(self, params):
        import pystac

        found = [pystac.Item.from_dict(i) for i in self.items
                 if not params.collections or i["collection"] in params.collections]
        return iter(found[: params.max_items])

    def collections(self):
        import pystac

        extent = pystac.Extent(pystac.SpatialExtent(self.extent),
                               pystac.TemporalExtent([[None, None]]))
        return [pystac.Collection("sentinel-2-l2a", "demo", extent)]


def test_coverage_is_the_union_of_the_collections_footprints(demo_items):
    import shapely

    from eopde.maps import Map
    from eopde.maps.coverage import coverage_geojson

    data = coverage_geojson("sentinel-2-l2a", catalogue=_Backend(demo_items))
    (feature,) = data["features"]
    assert feature["properties"] == {"collection": "sentinel-2-l2a", "source": "items",
                                     "items": 6}
    shape = shapely.geometry.shape(feature["geometry"])
    # Two places (Trasimeno, Flevoland), three dates each over one footprint: two polygons.
    assert shape.geom_type == "MultiPolygon" and len(shape.geoms) == 2
    for item in demo_items:
        footprint = shapely.geometry.shape(item["geometry"])
        assert shape.buffer(0.002).contains(footprint)
    assert shape.area < 1.01 * shapely.unary_union(
        [shapely.geometry.shape(i["geometry"]) for i in demo_items]).area
    m = Map(basemap=False, coverage=None)
    layer = m.show_coverage("sentinel-2-l2a", catalogue=_Backend(demo_items), zoom=True)
    assert layer in m.layers and m.coverage == {"sentinel-2-l2a": layer}
    assert layer.name == "coverage: sentinel-2-l2a"
    assert 43.0 < m.center[0] < 53.0  # between Umbria and Flevoland


def test_coverage_of_a_large_collection_is_its_extent(demo_items):
    from eopde.maps.coverage import coverage_geojson

    boxes = [[11.0, 42.0, 13.0, 53.0], [11.0, 42.0, 13.0, 44.0], [5.0, 52.0, 6.0, 53.0]]
    data = coverage_geojson("sentinel-2-l2a", catalogue=_Backend(demo_items, boxes),
                            max_items=5)
    (feature,) = data["features"]
    assert feature["properties"]["source"] == "extent"
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert len(feature["geometry"]["coordinates"]) == 2  # the parts, not the overall box


def test_previews_with_a_colormap_get_a_legend(demo_items):
    from eopde.maps import Map

    m = Map(demo_items, time_slider=False, basemap=False)
    m.add_preview(0, "true_color", name="rgb")
    assert m.legend_control is None  # no colormap, no legend
    m.add_preview(0, "ndvi", name="NDVI")
    (legend,) = m.legend_control.widget.children
    assert "NDVI" in legend.value and "<span>-1</span><span>0</span><span>1</span>" in legend.value
    m.add_preview(0, "SCL", name="classes")  # class colours: a table of classes, not a ramp
    assert list(m.legends) == ["NDVI"]
    m.clear_previews()
    assert m.legends == {} and m.legend_control.widget.children == ()


def test_hover_card_follows_the_time_slider(demo_items):
    from eopde.maps import show_items

    m = show_items(demo_items)
    spring = next(f for f in m.footprints.data["features"] if f["id"] == TRASIMENO_SPRING)
    m.footprints._handle_mouse_events(None, {
        "event": "mouseover", "feature": spring, "properties": spring["properties"],
        "coordinates": centroid(demo_items[0])}, [])
    assert TRASIMENO_SPRING in m.details.value
    m.time_slider.value = "2025-07-15"
    assert TRASIMENO_SUMMER in m.details.value and TRASIMENO_SPRING not in m.details.value
