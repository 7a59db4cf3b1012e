"""What the tile server's tests share (tests/test_tiles_*.py, tests/test_maps_tiles.py,
tests/security/test_tiles_ssrf.py): the app in fastapi's TestClient, and the VRT an attacker
names to read a local file through GDAL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def tiles_client(*allowed: str, root_path: str | None = None) -> Iterator[Any]:
    """The tile server app (eopde.services.tiles.create_app) allowed to read the URL prefixes
    `allowed` (and mounted under `root_path`, as behind the hub), in a TestClient that answers a
    server error as a response rather than raising it (the tests check the answer)."""
    from fastapi.testclient import TestClient

    from eopde.services import tiles

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(tiles.ALLOWED_URLS_ENV, ",".join(allowed))
        if root_path is not None:
            mp.setenv(tiles.ROOT_PATH_ENV, root_path)
        app = tiles.create_app()
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def raw_file_vrt(path: str, geotransform: str) -> str:
    """A GDAL VRT (64 x 16 pixels in EPSG:4326 at `geotransform`) whose one band is the raw
    bytes of the local file `path` (a VRTRawRasterBand)."""
    return f"""<VRTDataset rasterXSize="64" rasterYSize="16">
  <SRS>EPSG:4326</SRS><GeoTransform>{geotransform}</GeoTransform>
  <VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">
    <SourceFilename relativetoVRT="0">{path}</SourceFilename>
    <ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset><LineOffset>64</LineOffset>
  </VRTRasterBand>
</VRTDataset>
"""
