"""The result of a search: items fetched page by page as they are iterated, kept once fetched."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from .params import cloud_cover_value

if TYPE_CHECKING:  # pragma: no cover
    import pystac

__all__ = ["CATALOGUE_PROPERTY", "SearchResults"]

#: Property that federated search sets on every item: the name of the catalogue it came from.
CATALOGUE_PROPERTY = "eopde:catalogue"
#: Rows shown by the notebook table; the rest are summarised.
HTML_ROWS = 50
#: Largest thumbnail (bytes) inlined into the table when the browser cannot fetch it itself.
THUMBNAIL_INLINE_MAX = 256 * 1024


class SearchResults:
    """Items found by a search.

    Iterating fetches pages only as far as it goes (and keeps what it fetched, so a second
    iteration asks nothing); `.items` fetches up to `max_items`. `len()` is the number of items
    up to `max_items` (fetched if need be); `matched()` the catalogue's own count of all matches.
    """

    def __init__(
        self,
        source: Callable[[], Iterator[pystac.Item]],
        *,
        max_items: int | None = None,
        catalogues: Sequence[str] = (),
        federated: bool = False,
        matched: Callable[[], int | None] | None = None,
        failures: dict[str, str] | None = None,
    ):
        self._source = source
        self._live: Iterator[pystac.Item] | None = None
        self._cache: list[pystac.Item] = []
        self._done = False
        self._item_collection: pystac.ItemCollection | None = None
        self._matched = matched
        self.max_items = max_items
        #: Names of the catalogues searched (that answered, for a federated search).
        self.catalogues = list(catalogues)
        self.federated = federated
        #: Federated search: catalogue name -> why it gave no results.
        self.failures: dict[str, str] = dict(failures or {})

    # ------------------------------------------------------------------ fetching

    def _pull(self) -> bool:
        """Fetch one more item into the cache; False when there are no more."""
        if self._done:
            return False
        if self._live is None:
            self._live = islice(self._source(), self.max_items)
        try:
            item = next(self._live)
        except StopIteration:
            self._done = True
            self._live = None
            return False
        self._cache.append(item)
        return True

    def __iter__(self) -> Iterator[pystac.Item]:
        i = 0
        while i < len(self._cache) or self._pull():
            yield self._cache[i]
            i += 1

    def _load(self) -> list[pystac.Item]:
        while self._pull():
            pass
        return self._cache

    @property
    def loaded(self) -> int:
        """How many items have been fetched so far (no network)."""
        return len(self._cache)

    @property
    def items(self) -> pystac.ItemCollection:
        """All the items (up to max_items) as a pystac ItemCollection."""
        if self._item_collection is None or len(self._item_collection) != len(self._load()):
            import pystac

            self._item_collection = pystac.ItemCollection(self._cache, clone_items=False)
        return self._item_collection

    def __len__(self) -> int:
        return len(self._load())

    def __getitem__(self, index: int) -> pystac.Item:
        return self._load()[index]

    def __bool__(self) -> bool:
        return bool(self._cache) or self._pull()

    def matched(self) -> int | None:
        """The number of matching items the catalogue reports (None when it does not say)."""
        return self._matched() if self._matched else None

    # ------------------------------------------------------------------ conveniences

    def ids(self) -> list[str]:
        """The item ids, in order."""
        return [item.id for item in self._load()]

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON FeatureCollection of the items (STAC Item dicts)."""
        return {
            "type": "FeatureCollection",
            "features": [item.to_dict(transform_hrefs=False) for item in self._load()],
        }

    def least_cloudy(self) -> pystac.Item | None:
        """The item with the lowest eo:cloud_cover (the newest of equals); None if none has one."""
        best = None
        for item in self._load():
            cover = cloud_cover_value(item.properties)
            if cover is None:
                continue
            key = (cover, -(_timestamp(item) or 0.0))
            if best is None or key < best[0]:
                best = (key, item)
        return best[1] if best else None

    def show(self, **kwargs: Any) -> Any:
        """The items' footprints on a map (eopde.maps.show_items)."""
        from eopde.maps import show_items

        return show_items(self, **kwargs)

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        where = ", ".join(self.catalogues) or "?"
        state = "" if self._done else (" so far" if self._cache else ", not fetched yet")
        return f"<SearchResults: {len(self._cache)} items{state} from {where}>"

    def _repr_html_(self) -> str:
        items = self._load()
        columns = ["", "id", "collection", "datetime", "cloud cover"]
        if self.federated:
            columns.append("catalogue")
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        rows = [_row(item, self.federated) for item in items[:HTML_ROWS]]
        where = ", ".join(self.catalogues) or "?"
        caption = f"{len(items)} item{'s' if len(items) != 1 else ''} from {where}"
        if self.max_items is not None and len(items) >= self.max_items:
            caption += f" (stopped at max_items={self.max_items})"
        if self.failures:
            caption += "; no answer from " + ", ".join(self.failures)
        more = ""
        if len(items) > HTML_ROWS:
            more = (f'<tr><td colspan="{len(columns)}">... and {len(items) - HTML_ROWS} more '
                    "(iterate, or use .items / .to_geojson())</td></tr>")
        return (
            '<table class="eopde-search-results">'
            f"<caption style=\"text-align:left\">{html.escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}{more}</tbody></table>"
        )


def _timestamp(item: pystac.Item) -> float | None:
    dt = item.datetime or item.common_metadata.start_datetime
    return dt.timestamp() if dt else None


def _thumbnail_href(item: pystac.Item) -> str | None:
    assets = item.assets
    candidates = [assets["thumbnail"]] if "thumbnail" in assets else []
    candidates += [a for a in assets.values() if "thumbnail" in (a.roles or [])]
    candidates += [a for a in assets.values() if "overview" in (a.roles or [])]
    for asset in candidates:
        href = asset.href or ""
        if href.startswith(("http://", "https://", "data:image/")):
            return href
    return None


def _browser_src(href: str) -> str:
    """An <img> src the user's browser can load: a loopback URL (a local platform's data
    server) is only reachable by the kernel, so the kernel fetches it and inlines it."""
    from urllib.parse import urlsplit

    if urlsplit(href).hostname not in ("127.0.0.1", "localhost", "::1"):
        return href
    import base64

    import httpx

    try:
        response = httpx.get(href, timeout=5)
    except httpx.HTTPError:
        return href
    media = response.headers.get("content-type", "image/png").split(";")[0]
    if response.status_code != 200 or len(response.content) > THUMBNAIL_INLINE_MAX:
        return href
    return f"data:{media};base64,{base64.b64encode(response.content).decode()}"


def _row(item: pystac.Item, federated: bool) -> str:
    thumb = _thumbnail_href(item)
    thumb = _browser_src(thumb) if thumb else thumb
    img = (f'<img src="{html.escape(thumb, quote=True)}" alt="" loading="lazy" '
           'style="height:48px;max-width:64px;object-fit:cover">') if thumb else ""
    dt = item.datetime or item.common_metadata.start_datetime
    when = dt.strftime("%Y-%m-%d %H:%M:%SZ") if dt else ""
    cover = cloud_cover_value(item.properties)
    cells = [img, html.escape(item.id), html.escape(item.collection_id or ""), when,
             f"{cover:.1f} %" if cover is not None else ""]
    if federated:
        cells.append(html.escape(str(item.properties.get(CATALOGUE_PROPERTY, ""))))
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
