"""Rasters rendered in the kernel as one PNG overlay (results in the user's S3 bucket)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from eopde.maps.overlay import local_copy, raster_overlay, render_png


@pytest.fixture
def ndvi_tif(tmp_path) -> Path:
    path = tmp_path / "ndvi.tif"
    data = np.linspace(-1, 1, 200 * 200, dtype="float32").reshape(200, 200)
    data[:20, :20] = -9999
    with rasterio.open(path, "w", driver="GTiff", width=200, height=200, count=1, dtype="float32",
                       crs="EPSG:32633", transform=from_origin(300000, 4800000, 10, 10),
                       nodata=-9999) as dst:
        dst.write(data, 1)
    return path


def test_render_png_bounds_and_transparency(ndvi_tif):
    png, (west, south, east, north) = render_png(str(ndvi_tif), rescale=(-1, 1),
                                                 colormap_name="rdylgn")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 12.4 < west < east < 12.6 and 43.3 < south < north < 43.4  # UTM 33N, near 43.3N 12.5E
    with MemoryFile(png) as memfile, memfile.open() as img:
        rgba = img.read()
    assert rgba.shape[0] == 4
    assert (rgba[3] == 0).any() and (rgba[3] == 255).any()  # nodata corner transparent
    assert len(np.unique(rgba[0][rgba[3] == 255])) > 10  # a colour ramp, not one colour


def test_overlay_from_s3(ndvi_tif, tmp_path, monkeypatch):
    import socket
    import sys

    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "rclone"), "serve", "s3",
                               "--addr", f"127.0.0.1:{port}", "--auth-key", "key,secret",
                               str(tmp_path / "s3")], stderr=subprocess.DEVNULL)
    (tmp_path / "s3").mkdir()
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
        s3 = boto3.client("s3")
        for _ in range(50):
            try:
                s3.create_bucket(Bucket="user-ada")
                break
            except Exception:
                time.sleep(0.1)
        s3.upload_file(str(ndvi_tif), "user-ada", "processing-results/j1/ndvi.tif")
        layer = raster_overlay("s3://user-ada/processing-results/j1/ndvi.tif", rescale=(-1, 1),
                               colormap_name="rdylgn")
        assert layer.url.startswith("data:image/png;base64,")
        (south, west), (north, east) = layer.bounds
        assert south < north and west < east and layer.name == "ndvi.tif"
    finally:
        server.terminate()
        server.wait(5)


def test_local_copy_rejects_unknown_schemes():
    with pytest.raises(ValueError, match="s3:// or an http"):
        with local_copy("ftp://example.org/x.tif"):
            pass


def test_map_add_raster_adds_the_overlay_and_zooms(ndvi_tif):
    from eopde.maps import Map

    m = Map(basemap=False)
    layer = m.add_raster(str(ndvi_tif), rescale=(-1, 1), colormap_name="rdylgn", name="ndvi")
    assert layer in m.layers and layer.name == "ndvi"
    (south, west), (north, east) = layer.bounds
    lat, lon = m.center
    assert south <= lat <= north and west <= lon <= east
    # A colormapped raster gets its legend: the colormap's ends and the value range.
    from rio_tiler.colormap import cmap

    (legend,) = m.legend_control.widget.children
    assert m.legends == {"ndvi": legend}
    low, high = cmap.get("rdylgn")[0], cmap.get("rdylgn")[255]
    assert f"rgba({low[0]},{low[1]},{low[2]},1.00) 0.0%" in legend.value
    assert f"rgba({high[0]},{high[1]},{high[2]},1.00) 100.0%" in legend.value
    assert "<span>-1</span><span>0</span><span>1</span>" in legend.value
    # Without rescale the legend says the band's own range (the -1 corner is nodata).
    m.add_raster(str(ndvi_tif), colormap_name="viridis", name="auto")
    assert "<span>-0.999</span><span>0.0005</span><span>1</span>" in m.legends["auto"].value
    assert len(m.legend_control.widget.children) == 2


def test_preview_of_a_raster_without_overviews_warns_nothing(tmp_path, recwarn):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from eopde.maps.overlay import render_png

    path = tmp_path / "plain.tif"
    with rasterio.open(path, "w", driver="GTiff", width=2048, height=2048, count=1,
                       dtype="uint8", crs="EPSG:32633",
                       transform=from_origin(300000, 4800000, 10, 10)) as dst:
        dst.write(np.ones((2048, 2048), dtype="uint8"), 1)
    png, bounds = render_png(str(path), max_size=256)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert [str(w.message) for w in recwarn if "overview" in str(w.message).lower()] == []
