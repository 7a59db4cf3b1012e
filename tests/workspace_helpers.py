"""Shapes the workspace tests publish: a small NDVI-like result catalog (COGs + items), as a
notebook or a job writes it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def ndvi_catalog(folder: Path, count: int = 3, size: int = 64, prefix: str = "ndvi") -> Path:
    """A self-contained STAC catalog of `count` single-band float32 GeoTIFFs; returns folder."""
    import numpy as np
    import pystac
    import rasterio
    from rasterio.transform import from_origin

    folder.mkdir(parents=True, exist_ok=True)
    catalog = pystac.Catalog(f"{prefix}-results", "NDVI of a test job")
    rng = np.random.default_rng(7)
    for i in range(count):
        path = folder / f"{prefix}-{i}.tif"
        west, north, step = 10.0 + i, 45.0, 0.01
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                           dtype="float32", crs="EPSG:4326",
                           transform=from_origin(west, north, step, step)) as out:
            out.write(rng.random((1, size, size), dtype="float32"))
        east, south = west + size * step, north - size * step
        item = pystac.Item(
            f"{prefix}-{i}",
            {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north],
                                                 [west, north], [west, south]]]},
            [west, south, east, north], dt.datetime(2024, 6, 1 + i, tzinfo=dt.timezone.utc),
            {"platform": "sentinel-2a"})
        item.add_asset("ndvi", pystac.Asset(f"../{path.name}", media_type=pystac.MediaType.COG,
                                            roles=["data"], title="NDVI"))
        catalog.add_item(item)
    catalog.normalize_hrefs(str(folder))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return folder


def drop_collections(catalogue_url: str, owners: dict[str, list[str]]) -> None:
    """Delete collections (and their items) the tests published, with each owner's token
    (`{token: [collection ids]}`): other tests search the whole catalogue."""
    import httpx

    refused = []
    for token, ids in owners.items():
        for cid in ids:
            answer = httpx.delete(f"{catalogue_url}/collections/{cid}",
                                  headers={"Authorization": f"Bearer {token}"}, timeout=60)
            # 404: the test ended before publishing it. Anything else would leave it behind.
            if answer.status_code not in (200, 204, 404):
                refused.append(f"{cid}: HTTP {answer.status_code} {answer.text[:200]}")
    assert not refused, f"published collections left in the catalogue: {refused}"
