"""Tile URLs of the platform's tile server (TiTiler): the one place that builds them.

Every URL a browser loads for a map preview comes from here, and this module alone knows where
the browser can reach the tile server:

* inside a JupyterHub user server (``JUPYTERHUB_BASE_URL`` or ``JUPYTERHUB_SERVICE_PREFIX`` is
  set) with ``EOPDE_TILES_PUBLIC_PATH`` (``/services/tiles``, the hub service route to the tile
  server): ``{JUPYTERHUB_BASE_URL}services/tiles/...``, a path relative to the page's origin, so
  the browser goes through the hub's proxy and needs no other open port;
* inside a hub without that route, a tile server on a loopback address is reached through
  jupyter-server-proxy of the user's own server (``{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}``)
  when it is installed; a non-loopback ``EOPDE_TILES_URL`` (a platform's public tiler) is used
  as it is;
* outside a hub (plain JupyterLab on one's machine): ``EOPDE_TILES_URL`` (or the configured
  platform's ``tiles_url``, see `eopde.config`);
* ``EOPDE_TILES_PUBLIC_PATH`` may also be a full ``https://`` URL (a tiler browsers reach
  directly); it is then used everywhere.

The kernel itself always talks to ``EOPDE_TILES_URL`` (``tiles_base(browser=False)``). Nothing
here ever falls back to a third-party proxy.

URLs follow titiler.core 2.4 (see `eopde.services.tiles`): ``/stac/tiles/{tms}/{z}/{x}/{y}.png?
url=<item JSON URL>&assets=B04&assets=B03&assets=B02&rescale=...``; the ``.png`` format is
always given; ``{z}/{x}/{y}`` stay as Leaflet placeholders. Presets (`true_color`, `ndvi`,
`single_band`) read the scale and offset of the item's ``raster:bands`` so rescaling and indices
are right for Sentinel-2 L2A digital numbers with the ``BOA_ADD_OFFSET`` of baseline 04.00.

Standard library only at import time.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from eopde.config import ConfigError

from .items import ItemLike, asset_field, asset_raster_band, find_asset, item_id, self_href

__all__ = [
    "PRESETS",
    "RescaleLike",
    "TilesConfigError",
    "TilesWarning",
    "class_colormap",
    "cog_tile_url",
    "dn_offset",
    "in_hub",
    "item_url",
    "ndvi",
    "normalized_difference",
    "preset_title",
    "preset_url",
    "single_band",
    "stac_point_url",
    "stac_tile_url",
    "tiles_base",
    "true_color",
]

PUBLIC_PATH_ENV = "EOPDE_TILES_PUBLIC_PATH"
TILES_URL_ENV = "EOPDE_TILES_URL"
DEFAULT_TMS = "WebMercatorQuad"

#: One (min, max) for all bands, a "min,max" string, or one pair per output band.
RescaleLike = tuple[float, float] | str | Sequence[tuple[float, float]]

#: Reflectance range shown by true colour (0 .. 0.25: a bright but not washed-out scene).
TRUE_COLOR_REFLECTANCE = (0.0, 0.25)
#: Sentinel-2 L1C/L2A digital numbers: reflectance = DN * scale + offset.
DEFAULT_SCALE = 0.0001


class TilesConfigError(ConfigError):
    """No tile server is configured, or the item cannot be tiled; the message says what to do."""


class TilesWarning(UserWarning):
    """The tile URLs may not load in the browser (the message says why and how to fix it)."""


# --------------------------------------------------------------------------- where the server is


def in_hub() -> bool:
    """Whether this kernel runs in a JupyterHub user server."""
    return bool(os.environ.get("JUPYTERHUB_BASE_URL")
                or os.environ.get("JUPYTERHUB_SERVICE_PREFIX"))


def _join_path(*parts: str) -> str:
    return "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))


def _hub_path(path: str) -> str:
    """``path`` under the hub's base URL (JUPYTERHUB_BASE_URL, "/" by default)."""
    return _join_path(os.environ.get("JUPYTERHUB_BASE_URL") or "/", path)


def _kernel_url() -> str:
    from eopde import config

    try:
        url = config.load().tiles_url
    except ConfigError as err:
        raise TilesConfigError(f"cannot find the tile server: {err}") from None
    if not url:
        raise TilesConfigError(
            "no tile server configured: set EOPDE_TILES_URL (e.g. http://127.0.0.1:8711), add "
            "`tiles_url` to your platform in ~/.config/eopde/platforms.toml, or start the local "
            "platform with `eopde up`"
        )
    return url.rstrip("/")


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _server_proxy_installed() -> bool:
    return importlib.util.find_spec("jupyter_server_proxy") is not None


def tiles_base(browser: bool = True) -> str:
    """Base URL of the tile server, without a trailing slash.

    browser=False: the URL the kernel uses (``EOPDE_TILES_URL`` or the platform's tiles_url).
    browser=True: the URL a browser showing this notebook can load, which behind JupyterHub is
    a path on the hub's origin (``/services/tiles``, ``/jhub/services/tiles``), see the module
    docstring. Raises TilesConfigError when nothing is configured.
    """
    if not browser:
        return _kernel_url()
    public = os.environ.get(PUBLIC_PATH_ENV, "").strip()
    if public and urlsplit(public).scheme in ("http", "https"):
        return public.rstrip("/")  # a full URL a browser can reach, as configured
    if in_hub():
        if public:
            return _hub_path(public)
        url = _kernel_url()
        if not _is_loopback(url):
            return url
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
        if prefix and _server_proxy_installed():
            # jupyter-server-proxy of the user's own server: /user/<name>/proxy/<port>/...
            parts = urlsplit(url)
            return _join_path(prefix, "proxy", str(parts.port or 80), parts.path)
        warnings.warn(
            f"the tile server {url} is on a loopback address, which the browser of a JupyterHub "
            f"user cannot reach: set {PUBLIC_PATH_ENV} to the hub's route to it (a hub service, "
            "e.g. /services/tiles) or install jupyter-server-proxy; map previews will not load",
            TilesWarning,
            stacklevel=2,
        )
        return url
    return _kernel_url()


# --------------------------------------------------------------------------- URL building


def _rescale_params(rescale: RescaleLike | None) -> list[tuple[str, str]]:
    if rescale is None:
        return []
    if isinstance(rescale, str):
        return [("rescale", rescale)]
    values: list[Any] = list(rescale)
    pairs: list[tuple[float, float]]
    if len(values) == 2 and all(isinstance(v, (int, float)) for v in values):
        pairs = [(values[0], values[1])]
    else:
        pairs = [(pair[0], pair[1]) for pair in values]
    return [("rescale", f"{_num(lo)},{_num(hi)}") for lo, hi in pairs]


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _render_params(
    *,
    expression: str | None,
    rescale: RescaleLike | None,
    colormap_name: str | None,
    color_formula: str | None,
    nodata: float | str | None,
    resampling: str | None,
    extra: Iterable[tuple[str, Any]] | dict[str, Any] | None,
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if expression:
        params.append(("expression", expression))
    params += _rescale_params(rescale)
    if colormap_name:
        params.append(("colormap_name", colormap_name))
    if color_formula:
        params.append(("color_formula", color_formula))
    if nodata is not None:
        params.append(("nodata", _num(nodata) if not isinstance(nodata, str) else nodata))
    if resampling:
        params.append(("resampling", resampling))
    if extra:
        pairs = extra.items() if isinstance(extra, dict) else extra
        params += [(str(k), str(v)) for k, v in pairs]
    return params


def _query(params: list[tuple[str, str]]) -> str:
    # quote (not quote_plus) with nothing safe: "+" in expressions, "/" and ":" in the item URL
    # and "{" or "}" (which Leaflet would take for placeholders) are all percent-encoded.
    return urlencode(params, quote_via=quote, safe="")


def item_url(item: ItemLike) -> str:
    """The URL (or path) of the item's JSON, for the tile server's ``url=``: its ``self`` link."""
    href = self_href(item)
    if not href:
        raise TilesConfigError(
            f"item {item_id(item)!r} has no self link, so the tile server cannot fetch it: use "
            "items from a STAC API (they carry one), set it (item.set_self_href(url)), or pass "
            "item_url="
        )
    return href


def _stac_params(item: ItemLike, assets: str | Sequence[str],
                 href: str | None) -> list[tuple[str, str]]:
    """``url=`` (``href``, else the item's self link) and one ``assets=`` per asset."""
    names = [assets] if isinstance(assets, str) else list(assets)
    if not names:
        raise ValueError("assets: name at least one asset (the tile server requires it)")
    return [("url", href or item_url(item))] + [("assets", a) for a in names]


def stac_tile_url(
    item: ItemLike,
    assets: str | Sequence[str],
    *,
    expression: str | None = None,
    rescale: RescaleLike | None = None,
    colormap_name: str | None = None,
    color_formula: str | None = None,
    nodata: float | str | None = None,
    resampling: str | None = None,
    tms: str = DEFAULT_TMS,
    item_url: str | None = None,  # noqa: A002 - the tiler's own word
    extra: Iterable[tuple[str, Any]] | dict[str, Any] | None = None,
    browser: bool = True,
) -> str:
    """Leaflet URL template (``{z}/{x}/{y}``) of PNG tiles of a STAC item's ``assets``.

    ``expression`` refers to the listed assets in order as b1, b2, ...; ``rescale`` maps
    (min, max) to 0..255 (needed for uint16 data); ``colormap_name`` colours one-band output.
    """
    params = _stac_params(item, assets, item_url)
    params += _render_params(expression=expression, rescale=rescale, colormap_name=colormap_name,
                             color_formula=color_formula, nodata=nodata, resampling=resampling,
                             extra=extra)
    return f"{tiles_base(browser)}/stac/tiles/{tms}/{{z}}/{{x}}/{{y}}.png?{_query(params)}"


def stac_point_url(
    item: ItemLike,
    lon: float,
    lat: float,
    assets: str | Sequence[str],
    *,
    expression: str | None = None,
    item_url: str | None = None,  # noqa: A002
    browser: bool = False,
) -> str:
    """URL of the pixel values of ``assets`` (or of ``expression``) at a point, for the kernel."""
    params = _stac_params(item, assets, item_url)
    if expression:
        params.append(("expression", expression))
    return f"{tiles_base(browser)}/stac/point/{lon},{lat}?{_query(params)}"


def cog_tile_url(
    href: str,
    *,
    bidx: int | Sequence[int] | None = None,
    expression: str | None = None,
    rescale: RescaleLike | None = None,
    colormap_name: str | None = None,
    color_formula: str | None = None,
    nodata: float | str | None = None,
    resampling: str | None = None,
    tms: str = DEFAULT_TMS,
    extra: Iterable[tuple[str, Any]] | dict[str, Any] | None = None,
    browser: bool = True,
) -> str:
    """Leaflet URL template of PNG tiles of one Cloud Optimized GeoTIFF (path or URL the tile
    server can read); ``bidx`` picks bands, ``expression`` uses b1, b2, ... of the file."""
    params = [("url", href)]
    if bidx is not None:
        params += [("bidx", str(b)) for b in ([bidx] if isinstance(bidx, int) else bidx)]
    params += _render_params(expression=expression, rescale=rescale, colormap_name=colormap_name,
                             color_formula=color_formula, nodata=nodata, resampling=resampling,
                             extra=extra)
    return f"{tiles_base(browser)}/cog/tiles/{tms}/{{z}}/{{x}}/{{y}}.png?{_query(params)}"


# --------------------------------------------------------------------------- presets


def _require_asset(item: ItemLike, band: str) -> str:
    key = find_asset(item, band)
    if key is None:
        from .items import asset_keys

        raise TilesConfigError(
            f"item {item_id(item)!r} has no asset for band {band!r} (assets: "
            f"{', '.join(asset_keys(item)) or 'none'})"
        )
    return key


def _scale_offset(item: ItemLike, key: str) -> tuple[float, float]:
    band = asset_raster_band(item, key)
    scale = band.get("scale")
    offset = band.get("offset")
    return (float(scale) if scale else DEFAULT_SCALE, float(offset) if offset else 0.0)


def dn_offset(item: ItemLike, key: str) -> float:
    """The digital number that means reflectance 0 (1000 for L2A baseline >= 04.00), from the
    asset's raster:bands scale and offset (0 when the item does not give an offset)."""
    scale, offset = _scale_offset(item, key)
    return round(-offset / scale, 6) if offset else 0.0


def _dn(item: ItemLike, key: str, reflectance: float) -> float:
    scale, offset = _scale_offset(item, key)
    return round((reflectance - offset) / scale, 6)


def true_color(
    item: ItemLike,
    *,
    bands: Sequence[str] = ("B04", "B03", "B02"),
    reflectance: tuple[float, float] = TRUE_COLOR_REFLECTANCE,
    rescale: RescaleLike | None = None,
    color_formula: str | None = None,
    **kwargs: Any,
) -> str:
    """True colour (red, green, blue) tiles. The rescale shows ``reflectance`` 0..0.25 using the
    item's scale and offset: DN 1000..3500 for L2A baseline >= 04.00, 0..2500 without offset."""
    keys = [_require_asset(item, b) for b in bands]
    if rescale is None:
        rescale = (_dn(item, keys[0], reflectance[0]), _dn(item, keys[0], reflectance[1]))
    return stac_tile_url(item, keys, rescale=rescale, color_formula=color_formula, **kwargs)


def normalized_difference(item: ItemLike, a: str, b: str) -> tuple[list[str], str]:
    """(assets, expression) of (a - b) / (a + b) in reflectance: DN offsets are removed first."""
    ka, kb = _require_asset(item, a), _require_asset(item, b)
    oa, ob = dn_offset(item, ka), dn_offset(item, kb)
    ta = f"(b1-{_num(oa)})" if oa else "b1"
    tb = f"(b2-{_num(ob)})" if ob else "b2"
    return [ka, kb], f"({ta}-{tb})/({ta}+{tb})"


def ndvi(
    item: ItemLike,
    *,
    colormap_name: str = "rdylgn",
    rescale: RescaleLike = (-1, 1),
    **kwargs: Any,
) -> str:
    """NDVI tiles, (NIR - red) / (NIR + red) over B08 and B04, coloured with ``colormap_name``.
    On L2A baseline >= 04.00 digital numbers the expression is
    ``((b1-1000)-(b2-1000))/((b1-1000)+(b2-1000))``, which is the NDVI of the reflectances."""
    assets, expression = normalized_difference(item, "B08", "B04")
    return stac_tile_url(item, assets, expression=expression, rescale=rescale,
                         colormap_name=colormap_name, **kwargs)


def single_band(
    item: ItemLike,
    band: str,
    colormap_name: str | None = "viridis",
    *,
    rescale: RescaleLike | None = None,
    **kwargs: Any,
) -> str:
    """One band with a colormap. Reflectance bands are rescaled to reflectance 0..0.5 (from the
    item's scale and offset); other assets (classes such as SCL) are shown as they are unless
    ``rescale`` is given."""
    key = _require_asset(item, band)
    if rescale is None:
        classes = class_colormap(item, key)
        if classes and "extra" not in kwargs:
            # a classification (SCL): its own colours, one per class value
            return stac_tile_url(item, [key], extra=[("colormap", classes)], **kwargs)
        raster = asset_raster_band(item, key)
        if raster.get("scale") or raster.get("data_type") in ("uint16", "int16"):
            rescale = (_dn(item, key, 0.0), _dn(item, key, 0.5))
    return stac_tile_url(item, [key], rescale=rescale, colormap_name=colormap_name, **kwargs)


def class_colormap(item: ItemLike, key: str) -> str | None:
    """titiler ``colormap=`` JSON from the asset's ``classification:classes`` colour hints
    (nodata classes transparent), or None when the asset has none."""
    classes = asset_field(item, key, "classification:classes") or []
    cmap: dict[str, list[int]] = {}
    for c in classes:
        hint = c.get("color_hint") or c.get("color-hint")
        if "value" not in c or not hint:
            continue
        hint = hint.lstrip("#")
        rgb = [int(hint[i:i + 2], 16) for i in (0, 2, 4)]
        cmap[str(int(c["value"]))] = rgb + [0 if c.get("nodata") else 255]
    return json.dumps(cmap, separators=(",", ":")) if cmap else None


@dataclass(frozen=True)
class _Preset:
    title: str
    build: Callable[..., str]


#: Named previews for `preset_url` and `Map.add_preview`.
PRESETS: dict[str, _Preset] = {
    "true_color": _Preset("true colour", true_color),
    "ndvi": _Preset("NDVI", ndvi),
}


def basemap_url() -> str:
    """Tile URL template of the platform's offline basemap (coastlines, lakes, borders, places,
    drawn by the tile server from files that Python packages ship); raises TilesConfigError when
    no tile server is configured."""
    return f"{tiles_base()}/basemap/{{z}}/{{x}}/{{y}}.png"


def preset_url(item: ItemLike, preset: str = "true_color", **kwargs: Any) -> str:
    """Tile URL template of a named preset ("true_color", "ndvi") or of one band/asset
    ("B08", "SCL", "nir") shown with a colormap (``colormap_name=``, default viridis)."""
    if preset in PRESETS:
        return PRESETS[preset].build(item, **kwargs)
    return single_band(item, preset, **kwargs)


def preset_title(preset: str) -> str:
    return PRESETS[preset].title if preset in PRESETS else preset
