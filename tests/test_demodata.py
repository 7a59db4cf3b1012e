"""Tests for eopde.services.demodata: the synthetic Sentinel-2 L2A demo scenes."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from pystac.extensions.classification import ClassificationExtension
from pystac.extensions.eo import EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension
from pystac.validation.stac_validator import JsonSchemaSTACValidator
from rasterio.warp import transform as warp_transform

from eopde.services import demodata
from import_checks import heavy_after

BASE_URL = "http://127.0.0.1:8123/demo"
ITEM_ID = re.compile(r"^S2[AB]_\d{2}[C-X][A-Z]{2}_\d{8}_\d_L2A$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    dest = tmp_path_factory.mktemp("demodata")
    t0 = time.perf_counter()
    files = demodata.generate(dest)
    seconds = time.perf_counter() - t0
    print(f"\ndemodata.generate: {seconds:.2f} s")  # shown with -s; the figure is in the report
    return {"dest": dest, "files": files, "seconds": seconds}


@pytest.fixture(scope="module")
def stac_items(demo: dict) -> list[dict]:
    return demodata.items(demo["dest"], BASE_URL)


def _folder(demo: dict, scene: demodata.Scene) -> Path:
    return demo["dest"] / demodata.COLLECTION_ID / scene.item_id


def _reflectance(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1).astype(np.float64) * demodata.SCALE + demodata.OFFSET


def _ndvi_and_scl(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """NDVI at 10 m (with the L2A offset) and the SCL resampled to 10 m (nearest)."""
    red = _reflectance(folder / "B04.tif")
    nir = _reflectance(folder / "B08.tif")
    with rasterio.open(folder / "SCL.tif") as ds:
        scl = ds.read(1)
    scl10 = np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1)
    assert scl10.shape == red.shape
    return (nir - red) / (nir + red), scl10


def _by_area() -> dict[str, list[demodata.Scene]]:
    groups: dict[str, list[demodata.Scene]] = defaultdict(list)
    for s in demodata.scenes():
        groups[s.area.key].append(s)
    return groups


# --------------------------------------------------------------------------- definitions


def test_scene_definitions_cover_two_areas_and_three_seasons() -> None:
    groups = _by_area()
    assert len(groups) >= 2
    epsgs = {scenes[0].area.epsg for scenes in groups.values()}
    assert len(epsgs) == len(groups)
    for scenes in groups.values():
        assert len(scenes) >= 3
        assert sorted(s.season for s in scenes) == [0, 1, 2]
        assert len({s.date for s in scenes}) == len(scenes)
        area = scenes[0].area
        # true UTM north zone, matching the MGRS tile's zone
        assert 32601 <= area.epsg <= 32660
        assert area.epsg - 32600 == int(area.mgrs_tile[:2])
        # origin on the 60 m grid, so the 10/20 m pixel edges coincide like in real tiles
        assert all(v % 60 == 0 for v in area.origin)
    ids = [s.item_id for s in demodata.scenes()]
    assert len(set(ids)) == len(ids)
    assert all(ITEM_ID.match(i) for i in ids), ids


def test_window_lies_in_its_mgrs_utm_zone() -> None:
    for scene in demodata.scenes():
        area = scene.area
        x0, y0 = area.origin
        lons, lats = warp_transform(area.crs, "EPSG:4326", [x0, x0 + 6000], [y0, y0 - 6000])
        zone = int(area.mgrs_tile[:2])
        west, east = -180 + (zone - 1) * 6, -180 + zone * 6
        assert all(west <= lon < east for lon in lons), (area.key, lons)
        band = "CDEFGHJKLMNPQRSTUVWX"[int((lats[0] + 80) // 8)]
        assert band == area.mgrs_tile[2]


def test_import_is_light() -> None:
    code = "import eopde.services.demodata as d\nassert d.COLLECTION_ID == 'sentinel-2-l2a'"
    assert heavy_after(code, ("numpy", "rasterio", "pystac")) == []


# --------------------------------------------------------------------------- files


def test_generate_writes_all_files_small(demo: dict) -> None:
    files = demo["files"]
    n = len(demodata.scenes())
    assert len(files) == n * len(demodata.ASSET_KEYS) + n + 1
    assert all(f.is_file() and f.stat().st_size > 0 for f in files)
    for scene in demodata.scenes():
        for name in ("B02.tif", "B03.tif", "B04.tif", "B08.tif", "SCL.tif", "thumbnail.png"):
            assert _folder(demo, scene) / name in files
    on_disk = {p for p in demo["dest"].rglob("*") if p.is_file()}
    marker = demo["dest"] / demodata.COLLECTION_ID / demodata.MARKER_NAME
    assert on_disk == set(files) | {marker}  # no .part / .aux.xml leftovers
    total = sum(f.stat().st_size for f in files)
    assert total < 25 * 1024 * 1024, total


def test_generation_is_deterministic(demo: dict, tmp_path: Path) -> None:
    again = demodata.generate(tmp_path)
    rel_a = [f.relative_to(demo["dest"]) for f in demo["files"]]
    rel_b = [f.relative_to(tmp_path) for f in again]
    assert rel_a == rel_b
    for a, b in zip(demo["files"], again, strict=True):
        digest_a = hashlib.sha256(a.read_bytes()).hexdigest()
        digest_b = hashlib.sha256(b.read_bytes()).hexdigest()
        assert digest_a == digest_b, a.name


def test_generate_is_idempotent_and_force_rewrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = demodata.scenes()[:1]  # one scene keeps the four generations quick
    monkeypatch.setattr(demodata, "scenes", lambda: first)
    files = demodata.generate(tmp_path)
    assert len(files) == len(demodata.ASSET_KEYS) + 2
    b04 = files[2]
    assert b04.name == "B04.tif"
    stamp = b04.stat().st_mtime_ns
    t0 = time.perf_counter()
    assert demodata.generate(tmp_path) == files
    assert time.perf_counter() - t0 < 0.5
    assert b04.stat().st_mtime_ns == stamp

    b04.unlink()  # an incomplete set is regenerated
    assert demodata.generate(tmp_path) == files
    assert b04.is_file()

    marker = tmp_path / demodata.COLLECTION_ID / demodata.MARKER_NAME
    meta = json.loads(marker.read_text())
    meta["version"] = "0"  # another generator version: regenerate
    marker.write_text(json.dumps(meta))
    stamp = files[0].stat().st_mtime_ns
    time.sleep(0.01)
    demodata.generate(tmp_path)
    assert files[0].stat().st_mtime_ns != stamp
    assert json.loads(marker.read_text())["version"] == demodata.GENERATOR_VERSION

    stamp = files[0].stat().st_mtime_ns
    time.sleep(0.01)
    demodata.generate(tmp_path, force=True)
    assert files[0].stat().st_mtime_ns != stamp


def test_rasters_are_cogs_in_the_utm_crs(demo: dict) -> None:
    for scene in demodata.scenes():
        for name in ("B02", "B03", "B04", "B08", "SCL"):
            path = _folder(demo, scene) / f"{name}.tif"
            with rasterio.open(path) as ds:
                assert ds.driver == "GTiff"
                assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
                assert ds.profile.get("tiled") is True
                assert ds.block_shapes == [(256, 256)]
                assert ds.overviews(1) == [2, 4]
                assert ds.compression == rasterio.enums.Compression.deflate
                assert ds.crs.to_epsg() == scene.area.epsg
                assert ds.nodata == 0
                assert ds.count == 1
                if name == "SCL":
                    assert ds.dtypes == ("uint8",)
                    assert (ds.width, ds.height) == (300, 300)
                    assert ds.res == (20.0, 20.0)
                else:
                    assert ds.dtypes == ("uint16",)
                    assert (ds.width, ds.height) == (600, 600)
                    assert ds.res == (10.0, 10.0)
                    assert ds.scales == (0.0001,) and ds.offsets == (-0.1,)
                assert (ds.transform.c, ds.transform.f) == scene.area.origin
                assert ds.descriptions == (name,)
                # overviews are readable and the data has no holes (nodata 0 never occurs)
                ov = ds.read(1, out_shape=(ds.height // 4, ds.width // 4))
                assert ov.min() > 0
                assert ds.read(1).min() > 0


def test_reflectances_follow_the_l2a_offset_convention(demo: dict) -> None:
    for scene in demodata.scenes():
        for band in ("B02", "B03", "B04", "B08"):
            with rasterio.open(_folder(demo, scene) / f"{band}.tif") as ds:
                dn = ds.read(1)
            refl = dn * 0.0001 - 0.1
            if band == "B08":
                # BOA_ADD_OFFSET -1000: water's NIR reflectance ~0.01 is DN ~1100 (not ~100)
                assert 1000 <= int(np.percentile(dn, 1)) < 1300, scene.item_id
            assert refl.min() > -0.01 and refl.max() < 1.0


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_thumbnails_are_small_true_colour_pngs(demo: dict) -> None:
    means = {}
    for scene in demodata.scenes():
        with rasterio.open(_folder(demo, scene) / "thumbnail.png") as ds:
            assert ds.driver == "PNG"
            assert (ds.count, ds.width, ds.height) == (3, 256, 256)
            assert ds.dtypes == ("uint8",) * 3
            rgb = ds.read()
        assert rgb.std() > 10  # not blank
        means[scene.item_id] = rgb.mean()
    # clouds make the cloudiest scene of each area brighter than its clearest one
    for scenes in _by_area().values():
        ordered = sorted(scenes, key=lambda s: s.cloud_fraction)
        assert means[ordered[-1].item_id] > means[ordered[0].item_id] + 10


# --------------------------------------------------------------------------- pixel semantics


def test_scl_uses_esa_codes_consistently(demo: dict) -> None:
    for scene in demodata.scenes():
        with rasterio.open(_folder(demo, scene) / "SCL.tif") as ds:
            scl = ds.read(1)
        codes = set(np.unique(scl).tolist())
        assert codes <= {3, 4, 5, 6, 8, 9}, codes
        assert {4, 5, 6} <= codes, (scene.item_id, codes)
        if scene.cloud_fraction >= 0.1:
            assert {3, 8, 9} <= codes, (scene.item_id, codes)

        blue = _reflectance(_folder(demo, scene) / "B02.tif")
        scl10 = np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1)
        if (scl10 == 9).any():
            assert blue[scl10 == 9].mean() > 0.3  # high-probability cloud is bright
            assert blue[scl10 == 9].mean() > 4 * blue[np.isin(scl10, (4, 5, 6))].mean()


def test_ndvi_is_negative_over_water_and_high_over_vegetation(demo: dict) -> None:
    for scene in demodata.scenes():
        ndvi, scl = _ndvi_and_scl(_folder(demo, scene))
        water, veg, bare = ndvi[scl == 6], ndvi[scl == 4], ndvi[scl == 5]
        assert water.size > 1000 and veg.size > 1000 and bare.size > 1000
        assert water.mean() < 0, scene.item_id
        assert np.percentile(water, 95) < 0, scene.item_id
        assert veg.mean() > 0.5, scene.item_id
        assert np.percentile(veg, 5) > 0.45, scene.item_id
        assert 0.05 < np.median(bare) < 0.35, scene.item_id


def test_vegetation_is_greener_in_summer_than_in_spring(demo: dict) -> None:
    for key, scenes in _by_area().items():
        spring = next(s for s in scenes if s.season == 0)
        summer = next(s for s in scenes if s.season == 1)
        ndvi_sp, scl_sp = _ndvi_and_scl(_folder(demo, spring))
        ndvi_su, scl_su = _ndvi_and_scl(_folder(demo, summer))
        same = (scl_sp == 4) & (scl_su == 4)
        assert same.sum() > 10_000, key
        assert ndvi_su[same].mean() > ndvi_sp[same].mean() + 0.03, key


def _fraction_cloudy_at(cloud: np.ndarray, shadow: np.ndarray, d_row: int, d_col: int) -> float:
    """Fraction of shadow pixels p whose pixel p - (d_row, d_col) is cloud."""
    rows, cols = np.nonzero(shadow)
    r, c = rows - d_row, cols - d_col
    inside = (r >= 0) & (r < cloud.shape[0]) & (c >= 0) & (c < cloud.shape[1])
    return float(cloud[r[inside], c[inside]].mean())


def test_cloud_shadows_are_dark_and_cast_away_from_the_sun(
    demo: dict, stac_items: list[dict]
) -> None:
    props = {i["id"]: i["properties"] for i in stac_items}
    checked = 0
    for scenes in _by_area().values():
        clear = min(scenes, key=lambda s: s.cloud_fraction)
        nir_clear = _reflectance(_folder(demo, clear) / "B08.tif")
        for scene in scenes:
            if scene.cloud_fraction < 0.1:
                continue
            folder = _folder(demo, scene)
            with rasterio.open(folder / "SCL.tif") as ds:
                scl = ds.read(1)
            shadow = scl == 3
            assert shadow.sum() > 200, scene.item_id
            # darker than the same ground on the clear date
            nir = _reflectance(folder / "B08.tif")
            s10 = np.repeat(np.repeat(shadow, 2, axis=0), 2, axis=1)
            assert nir[s10].mean() < 0.6 * nir_clear[s10].mean()
            # a shadow pixel has its cloud up-sun: displacement = height / tan(elevation)
            az = math.radians(props[scene.item_id]["view:sun_azimuth"])
            el = math.radians(props[scene.item_id]["view:sun_elevation"])
            length = scene.cloud_height_m / math.tan(el) / 20  # in 20 m pixels
            d_row, d_col = round(length * math.cos(az)), round(-length * math.sin(az))
            cloud = np.isin(scl, (8, 9))
            up_sun = _fraction_cloudy_at(cloud, shadow, d_row, d_col)
            down_sun = _fraction_cloudy_at(cloud, shadow, -d_row, -d_col)
            assert up_sun > 0.5 and up_sun > 3 * down_sun, (scene.item_id, up_sun, down_sun)
            checked += 1
    assert checked == sum(1 for s in demodata.scenes() if s.cloud_fraction >= 0.1)


# --------------------------------------------------------------------------- STAC


def test_items_have_the_expected_stac_content(demo: dict, stac_items: list[dict]) -> None:
    scenes = demodata.scenes()
    assert [i["id"] for i in stac_items] == [s.item_id for s in scenes]
    validator = JsonSchemaSTACValidator()  # core schemas are bundled with pystac: offline
    for scene, d in zip(scenes, stac_items, strict=True):
        # extension schemas would be fetched from the internet: core only, then read back
        validator.validate_core(d, pystac.STACObjectType.ITEM, d["stac_version"], d["id"])
        json.dumps(d)  # plain JSON
        item = pystac.Item.from_dict(d)
        assert item.collection_id == demodata.COLLECTION_ID
        assert item.get_single_link("collection").href == (
            f"{BASE_URL}/{demodata.COLLECTION_ID}/collection.json"
        )
        assert item.datetime == scene.datetime
        p = item.properties
        assert p["platform"] == scene.platform
        assert p["constellation"] == "sentinel-2" and p["instruments"] == ["msi"]
        assert p["grid:code"] == f"MGRS-{scene.area.mgrs_tile}"
        assert d["id"].split("_")[1] == scene.area.mgrs_tile
        for ext in (EOExtension, ProjectionExtension, RasterExtension, ClassificationExtension):
            assert ext.has_extension(item), ext
        assert ProjectionExtension.ext(item).code == f"EPSG:{scene.area.epsg}"
        assert 0 <= EOExtension.ext(item).cloud_cover <= 100

        assert set(item.assets) == set(demodata.ASSET_KEYS)
        for key, asset in item.assets.items():
            name = "thumbnail.png" if key == "thumbnail" else f"{key}.tif"
            assert asset.href == f"{BASE_URL}/{demodata.COLLECTION_ID}/{scene.item_id}/{name}"
            if key == "thumbnail":
                assert asset.media_type == "image/png" and asset.roles == ["thumbnail"]
                continue
            assert asset.media_type == "image/tiff; application=geotiff; profile=cloud-optimized"
            assert asset.roles == ["data"]
            with rasterio.open(_folder(demo, scene) / name) as ds:
                proj = ProjectionExtension.ext(asset)
                assert proj.shape == [ds.height, ds.width]
                assert proj.transform == list(ds.transform)[:6]
                assert proj.bbox == list(ds.bounds)
                assert proj.code == f"EPSG:{ds.crs.to_epsg()}"  # inherited from the item
                assert "proj:code" not in asset.extra_fields  # no asset-level override
            bands = RasterExtension.ext(asset).bands
            assert bands is not None and len(bands) == 1
            band = bands[0]
            assert band.nodata == 0
            if key == "SCL":
                assert band.data_type == "uint8" and band.spatial_resolution == 20
                assert band.scale is None and band.offset is None
                classes = ClassificationExtension.ext(asset).classes
                assert {c.value: c.name for c in classes}[6] == "water"
                assert EOExtension.ext(asset).bands is None
            else:
                assert band.data_type == "uint16" and band.spatial_resolution == 10
                assert band.scale == 0.0001 and band.offset == -0.1
                (eo_band,) = EOExtension.ext(asset).bands
                common, centre, _, _ = demodata.BANDS[key]
                assert eo_band.name == key and eo_band.common_name == common
                assert eo_band.center_wavelength == centre


def test_item_footprint_is_the_utm_window_in_wgs84(stac_items: list[dict]) -> None:
    for scene, d in zip(demodata.scenes(), stac_items, strict=True):
        west, south, east, north = d["bbox"]
        ring = d["geometry"]["coordinates"][0]
        assert d["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
        for lon, lat in ring:
            assert west <= lon <= east and south <= lat <= north
        # the corners go back to the UTM window (to well below a pixel)
        xs, ys = warp_transform("EPSG:4326", scene.area.crs, *zip(*ring[:4], strict=True))
        x0, y0 = scene.area.origin
        assert min(xs) == pytest.approx(x0, abs=1) and max(xs) == pytest.approx(x0 + 6000, abs=1)
        assert max(ys) == pytest.approx(y0, abs=1) and min(ys) == pytest.approx(y0 - 6000, abs=1)
        assert 0.05 < east - west < 0.15 and 0.04 < north - south < 0.07  # ~6 km


def test_cloud_cover_matches_the_scl(demo: dict, stac_items: list[dict]) -> None:
    covers = {}
    for scene, d in zip(demodata.scenes(), stac_items, strict=True):
        with rasterio.open(_folder(demo, scene) / "SCL.tif") as ds:
            scl = ds.read(1)
        expected = 100.0 * np.isin(scl, (8, 9, 10)).sum() / (scl != 0).sum()
        assert d["properties"]["eo:cloud_cover"] == pytest.approx(expected, abs=0.01)
        covers[scene.item_id] = expected
    for scenes in _by_area().values():
        values = [covers[s.item_id] for s in scenes]
        assert min(values) < 5, values  # one nearly clear date
        assert any(20 <= v <= 40 for v in values), values  # one quite cloudy date


def test_collection(demo: dict, stac_items: list[dict]) -> None:
    d = demodata.collection(BASE_URL + "/")
    validator = JsonSchemaSTACValidator()
    validator.validate_core(d, pystac.STACObjectType.COLLECTION, d["stac_version"], d["id"])
    json.dumps(d)
    coll = pystac.Collection.from_dict(d)
    assert coll.id == "sentinel-2-l2a" == demodata.COLLECTION_ID
    assert "synthetic" in coll.description.lower() and coll.license
    for ext in (EOExtension, ProjectionExtension, RasterExtension):
        assert ext.has_extension(coll), ext

    (union, *parts) = coll.extent.spatial.bboxes
    assert len(parts) == len(_by_area())
    for item in stac_items:
        w, s, e, n = item["bbox"]
        assert union[0] <= w and union[1] <= s and e <= union[2] and n <= union[3]
        assert any(b[0] <= w and b[1] <= s and e <= b[2] and n <= b[3] for b in parts)
    start, end = coll.extent.temporal.intervals[0]
    assert start == min(s.datetime for s in demodata.scenes())
    assert end == max(s.datetime for s in demodata.scenes())

    covers = [i["properties"]["eo:cloud_cover"] for i in stac_items]
    cc = EOExtension.summaries(coll).cloud_cover
    assert (cc.minimum, cc.maximum) == (min(covers), max(covers))
    assert set(coll.summaries.get_list("platform")) == {"sentinel-2a", "sentinel-2b"}
    assert set(coll.item_assets) == set(demodata.ASSET_KEYS)
    thumb = coll.assets["thumbnail"].href
    assert thumb.startswith(f"{BASE_URL}/{demodata.COLLECTION_ID}/") and "//sentinel" not in thumb

    # from the files or recomputed in memory: the same document
    assert demodata.collection(BASE_URL, demo["dest"]) == d


def test_static_stac_collection_on_disk(demo: dict) -> None:
    path = demo["dest"] / demodata.COLLECTION_ID / "collection.json"
    assert str(demo["dest"]) not in path.read_text()  # relative hrefs only: relocatable
    coll = pystac.Collection.from_file(str(path))
    items = list(coll.get_items())
    assert [i.id for i in items] == [s.item_id for s in demodata.scenes()]
    for item in items:
        assert str(demo["dest"]) not in Path(item.get_self_href()).read_text()
        for asset in item.assets.values():
            assert Path(asset.get_absolute_href()).is_file()
    assert Path(coll.assets["thumbnail"].get_absolute_href()).is_file()


def test_items_need_generated_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="generate"):
        demodata.items(tmp_path, BASE_URL)
