"""Rasters the tile server must not (or cannot) read, shown as one PNG overlay rendered in the
kernel: a job's results in the user's own S3 bucket, a file on the user's disk.

The kernel reads the raster with the user's credentials and hands the browser a `data:` URL,
so it works behind JupyterHub without any route, and nobody else's credentials are involved.
For large rasters prefer tiles (`Map.add_preview`); this renders one picture of at most
`max_size` pixels.
"""

from __future__ import annotations

import base64
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit


@contextmanager
def local_copy(href: str) -> Iterator[str]:
    """A local path for `href`: a path as is; s3:// fetched with boto3 (the environment's
    AWS_* and AWS_ENDPOINT_URL_S3 / EOPDE_S3_ENDPOINT); http(s) fetched with httpx."""
    parts = urlsplit(href)
    if parts.scheme in ("", "file"):
        yield parts.path if parts.scheme == "file" else href
        return
    suffix = Path(parts.path).suffix or ".tif"
    with tempfile.TemporaryDirectory(prefix="eopde-overlay-") as folder:
        target = Path(folder) / f"raster{suffix}"
        if parts.scheme not in ("s3", "http", "https"):
            raise ValueError(f"cannot read {href!r}: use a path, an s3:// or an http(s):// URL")
        from ..download import download

        download(href, target)
        yield str(target)


def render_png(path: str, *, rescale: tuple[float, float] | None = None,
               colormap_name: str | None = "viridis", band: int = 1,
               max_size: int = 1024) -> tuple[bytes, tuple[float, float, float, float]]:
    """One band of a raster as a PNG (nodata transparent) and its WGS84 bounds (w, s, e, n)."""
    png, bounds, _ = render(path, rescale=rescale, colormap_name=colormap_name, band=band,
                            max_size=max_size)
    return png, bounds


def render(path: str, *, rescale: tuple[float, float] | None = None,
           colormap_name: str | None = "viridis", band: int = 1, max_size: int = 1024,
           ) -> tuple[bytes, tuple[float, float, float, float], tuple[float, float]]:
    """`render_png`, and the (low, high) values mapped to the colormap's ends (``rescale``, or
    the band's range when not given): what the legend says."""
    from rio_tiler.colormap import cmap
    from rio_tiler.io import Reader

    import warnings

    from rio_tiler.errors import NoOverviewWarning

    with warnings.catch_warnings():
        # A preview of a small or non-COG raster is fine; the warning would show as a red
        # block under the map, which users read as an error.
        warnings.simplefilter("ignore", NoOverviewWarning)
        with Reader(path) as src:
            image = src.preview(indexes=band, max_size=max_size, dst_crs="epsg:4326")
    if rescale is None:
        data = image.array.compressed()
        rescale = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
    image.rescale(in_range=(rescale,))
    colormap = cmap.get(colormap_name) if colormap_name else None
    west, south, east, north = image.bounds
    return (image.render(img_format="PNG", colormap=colormap), (west, south, east, north),
            (float(rescale[0]), float(rescale[1])))


def raster_overlay(href: str, *, name: str | None = None, rescale: tuple[float, float] | None = None,
                   colormap_name: str | None = "viridis", band: int = 1, opacity: float = 1.0,
                   max_size: int = 1024) -> Any:
    """An ipyleaflet ImageOverlay of one band of the raster at `href` (path, s3:// or http)."""
    import ipyleaflet

    with local_copy(href) as path:
        png, (west, south, east, north), value_range = render(
            path, rescale=rescale, colormap_name=colormap_name, band=band, max_size=max_size)
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    layer = ipyleaflet.ImageOverlay(url=url, bounds=((south, west), (north, east)),
                                    name=name or Path(urlsplit(href).path).name, opacity=opacity)
    layer.value_range = value_range  # for the legend (Map.add_raster)
    return layer
