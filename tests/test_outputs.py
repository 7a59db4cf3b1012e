"""eopde.outputs: results as a STAC catalog, staged inputs read back."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from eopde import outputs


def write_tif(path, crs="EPSG:32632", size=8, origin=(500000, 5000000), res=10.0):
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                       dtype="float32", crs=crs, transform=from_origin(*origin, res, res)) as ds:
        ds.write(np.arange(size * size, dtype="float32").reshape(1, size, size))
    return path


def test_save_geotiff_writes_a_self_contained_catalog(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    tif = write_tif(work / "ndvi.tif")
    out = tmp_path / "out"
    item = outputs.save(tif, output_dir=out, datetime="2024-05-01T10:20:30Z",
                        properties={"eopde:threshold": 0.3}, title="NDVI")
    assert item.id == "ndvi"
    cat = pystac.Catalog.from_file(str(out / "catalog.json"))
    items = list(cat.get_items())
    assert [i.id for i in items] == ["ndvi"]
    it = items[0]
    assert it.datetime == dt.datetime(2024, 5, 1, 10, 20, 30, tzinfo=dt.timezone.utc)
    assert it.properties["eopde:threshold"] == 0.3
    expected = transform_bounds("EPSG:32632", "EPSG:4326", 500000, 4999920, 500080, 5000000,
                                densify_pts=21)
    assert it.bbox == pytest.approx(list(expected))
    assert it.geometry["type"] == "Polygon"
    ring = np.array(it.geometry["coordinates"][0])
    assert ring[:, 0].min() == pytest.approx(expected[0]) and ring[:, 1].max() == pytest.approx(
        expected[3])
    asset = it.assets["ndvi"]
    assert asset.media_type.startswith("image/tiff; application=geotiff")
    assert asset.roles == ["data"]
    assert asset.extra_fields["proj:code"] == "EPSG:32632"
    # self-contained: relative links and hrefs only, the file copied beside the item
    raw = json.loads((out / "ndvi" / "ndvi.json").read_text())
    assert raw["assets"]["ndvi"]["href"] == "./ndvi.tif"
    assert all(not link["href"].startswith(("/", "file:")) for link in raw["links"])
    assert (out / "ndvi" / "ndvi.tif").exists()
    raw_cat = json.loads((out / "catalog.json").read_text())
    assert all(not link["href"].startswith(("/", "file:")) for link in raw_cat["links"])


def test_save_defaults_to_cwd_and_accumulates_items(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tif(tmp_path / "a.tif")
    write_tif(tmp_path / "b.tif", crs="EPSG:4326", origin=(10, 50), res=0.01)
    (tmp_path / "quicklook.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    outputs.save("a.tif")
    outputs.save({"data": "b.tif", "overview": "quicklook.png"}, id="second",
                 datetime=dt.date(2024, 1, 2))
    outputs.save("a.tif", properties={"again": True})  # same id: replaced, not duplicated
    cat = pystac.Catalog.from_file(str(tmp_path / "catalog.json"))
    items = {i.id: i for i in cat.get_items()}
    assert sorted(items) == ["a", "second"]
    assert items["a"].properties["again"] is True
    second = items["second"]
    assert second.bbox == pytest.approx([10, 49.92, 10.08, 50])
    assert second.assets["overview"].media_type == "image/png"
    assert second.assets["overview"].roles == ["overview"]
    assert second.datetime == dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    # files already in the output folder stay where they are, linked relatively
    assert json.loads((tmp_path / "a" / "a.json").read_text())["assets"]["a"]["href"] == "../a.tif"


def test_save_needs_geometry_for_non_rasters(tmp_path):
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(outputs.OutputsError, match="geometry="):
        outputs.save(tmp_path / "table.csv", output_dir=tmp_path)
    g = {"type": "Point", "coordinates": [9.1, 45.2]}
    item = outputs.save(tmp_path / "table.csv", output_dir=tmp_path, geometry=g)
    assert item.bbox == [9.1, 45.2, 9.1, 45.2]
    assert item.assets["table"].media_type == "text/csv"


def test_save_missing_file(tmp_path):
    with pytest.raises(outputs.OutputsError, match="does not exist"):
        outputs.save(tmp_path / "nope.tif", output_dir=tmp_path)


def make_staged(folder, n=2):
    cat = pystac.Catalog("staged", "staged input")
    for i in range(n):
        it = pystac.Item(f"s{i}", {"type": "Point", "coordinates": [9, 45]}, [9, 45, 9, 45],
                         dt.datetime(2024, 5, i + 1, tzinfo=dt.timezone.utc), {})
        (folder / f"s{i}").mkdir(parents=True, exist_ok=True)
        (folder / f"s{i}" / "B04.tif").write_text("x")
        it.add_asset("B04", pystac.Asset(f"./B04.tif", media_type="image/tiff"))
        it.add_asset("remote", pystac.Asset("https://example.org/B08.tif"))
        cat.add_item(it)
    cat.normalize_hrefs(str(folder))
    cat.save(pystac.CatalogType.SELF_CONTAINED)


def test_load_items_resolves_local_assets(tmp_path):
    make_staged(tmp_path / "in")
    items = outputs.load_items(str(tmp_path / "in"))
    assert [i.id for i in items] == ["s0", "s1"]
    href = items[0].assets["B04"].href
    assert href == str(tmp_path / "in" / "s0" / "B04.tif")
    assert items[0].assets["remote"].href == "https://example.org/B08.tif"
    # a catalog file given directly works too
    assert len(outputs.load_items(tmp_path / "in" / "catalog.json")) == 2


def test_load_items_without_catalog(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(outputs.OutputsError, match="no catalog.json.*x.json"):
        outputs.load_items(tmp_path)


def test_markers_are_strings():
    assert isinstance(outputs.StacItem("a"), str)
    assert issubclass(outputs.StacCollection, str)


def test_geotiffs_are_saved_as_cogs_with_overviews(tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from eopde import outputs

    path = tmp_path / "ndvi.tif"
    profile = dict(driver="GTiff", width=1500, height=1200, count=1, dtype="float32",
                   crs="EPSG:32633", transform=from_origin(300000, 4800000, 10, 10), nodata=-9999)
    data = np.linspace(-1, 1, 1500 * 1200, dtype="float32").reshape(1200, 1500)
    with rasterio.open(path, "w", **profile) as dst:  # striped, no overviews: not a COG
        dst.write(data, 1)
    item = outputs.save(path, output_dir=tmp_path)
    with rasterio.open(path) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.overviews(1) == [2, 4]
        assert ds.profile["tiled"] and ds.nodata == -9999
        np.testing.assert_array_equal(ds.read(1), data)
    assert item.assets["ndvi"].media_type == outputs.COG_MEDIA_TYPE
    assert outputs.make_cog(path) is False  # already one: left alone


# --- catalog_from_folder: the result catalog of a notebook that only writes files --------------

def only_item(folder):
    cat = pystac.Catalog.from_file(str(folder / "catalog.json"))
    [item] = list(cat.get_items(recursive=True))
    return item


def test_catalog_from_folder_one_item_an_asset_per_file(tmp_path):
    tif = write_tif(tmp_path / "water.tif", crs="EPSG:32633")
    with rasterio.open(tif, "r+") as ds:
        ds.update_tags(TIFFTAG_DATETIME="2024:06:02 10:30:00")
    (tmp_path / "stats.csv").write_text("class,pixels\nwater,12\n")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "map.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "cube.zarr").mkdir()
    (tmp_path / "cube.zarr" / ".zgroup").write_text('{"zarr_format": 2}')
    (tmp_path / "series.nc").write_bytes(b"CDF\x01 not really")
    (tmp_path / "notes").write_text("no extension")
    (tmp_path / "app.ipynb").write_text("{}")
    (tmp_path / "parameters.yaml").write_text('{"threshold": 0.2}')
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "link.csv").symlink_to("/etc/hostname")

    path = outputs.catalog_from_folder(tmp_path, notebook="app.ipynb",
                                       parameters="parameters.yaml")
    assert path == tmp_path / "catalog.json"
    item = only_item(tmp_path)
    assert item.id == "app"
    media = {k: a.media_type for k, a in item.assets.items()}
    assert media == {
        "water": "image/tiff; application=geotiff", "stats": "text/csv", "map": "image/png",
        "cube": "application/vnd+zarr", "series": "application/x-netcdf", "notes": None,
        "notebook": "application/x-ipynb+json"}
    assert item.assets["notebook"].roles == ["metadata"]
    assert item.assets["map"].roles == ["overview"] and item.assets["stats"].roles == ["data"]
    assert item.assets["cube"].get_absolute_href() == str(tmp_path / "cube.zarr")
    for asset in item.assets.values():
        assert not asset.href.startswith("/")  # relative: the folder can move
    west, south, east, north = transform_bounds("EPSG:32633", "EPSG:4326", 500000, 4999920,
                                                500080, 5000000, densify_pts=21)
    assert item.bbox == pytest.approx([west, south, east, north])
    assert item.geometry["type"] == "Polygon"
    assert item.datetime == dt.datetime(2024, 6, 2, 10, 30, tzinfo=dt.timezone.utc)
    assert item.assets["water"].extra_fields["proj:code"] == "EPSG:32633"


def test_catalog_from_folder_falls_back_to_the_inputs_then_the_world(tmp_path):
    staged = tmp_path / "in"
    cat = pystac.Catalog("in", "staged")
    for i, day in enumerate((1, 3)):
        item = pystac.Item(f"s{i}", {"type": "Point", "coordinates": [9 + i, 45]},
                           [9 + i, 45, 9.5 + i, 45.5],
                           dt.datetime(2024, 5, day, tzinfo=dt.timezone.utc), {})
        cat.add_item(item)
    cat.normalize_hrefs(str(staged))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    out = tmp_path / "out"
    out.mkdir()
    (out / "table.csv").write_text("a\n1\n")
    (out / "parameters.yaml").write_text(json.dumps({"scenes": str(staged), "n": 1.0}))
    outputs.catalog_from_folder(out, parameters="parameters.yaml")
    item = only_item(out)
    assert item.bbox == [9, 45, 10.5, 45.5]
    assert item.datetime is None
    assert item.properties["start_datetime"] == "2024-05-01T00:00:00+00:00"
    assert item.properties["end_datetime"] == "2024-05-03T00:00:00+00:00"

    bare = tmp_path / "bare"
    (bare / "result").mkdir(parents=True)  # a folder named like the item: its files stay
    (bare / "result" / "result.json").write_text("{}")
    (bare / "table.csv").write_text("a\n1\n")
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    outputs.catalog_from_folder(bare)
    item = only_item(bare)
    assert item.id == "result-result" and item.bbox == outputs.WORLD_BBOX
    assert (bare / "result" / "result.json").read_text() == "{}"
    assert set(item.assets) == {"table", "result"}
    assert item.datetime >= before


def test_catalog_from_folder_keeps_a_catalog_the_notebook_wrote(tmp_path):
    tif = write_tif(tmp_path / "ndvi.tif")
    outputs.save(tif, output_dir=tmp_path, datetime="2024-05-01T00:00:00Z")
    before = (tmp_path / "catalog.json").read_text()
    (tmp_path / "extra.csv").write_text("a\n")
    outputs.catalog_from_folder(tmp_path, notebook="x.ipynb")
    assert (tmp_path / "catalog.json").read_text() == before


def test_python_m_eopde_outputs_builds_the_catalog(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import eopde

    write_tif(tmp_path / "a.tif")
    (tmp_path / "run.ipynb").write_text("{}")
    env = {**os.environ, "PYTHONPATH": str(Path(eopde.__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-m", "eopde.outputs", "--notebook", "run.ipynb"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(only_item(tmp_path).assets) == {"a", "notebook"}
