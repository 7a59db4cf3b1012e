"""Federated search: several catalogues at once, results merged and tagged with their source.

Each catalogue runs in its own thread. One that fails (unreachable, refuses the query, lacks
the collection) gives a CatalogueWarning naming it and the others' results still come back;
only when every catalogue fails is an error raised.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from .base import (
    CatalogueBackend,
    CatalogueError,
    CatalogueUnreachableError,
    CatalogueWarning,
    SearchParameterError,
    SearchParams,
)
from .params import filter_cloud_cover
from .results import CATALOGUE_PROPERTY, SearchResults

if TYPE_CHECKING:  # pragma: no cover
    import pystac

    from .stac import CatalogueLike

__all__ = ["federated_search", "merge_sorted"]

#: Most catalogues searched at the same time.
MAX_WORKERS = 8


@dataclass
class _Source:
    name: str
    url: str
    open: Callable[[], CatalogueBackend]
    backend: CatalogueBackend | None = None


def _fixed(backend: CatalogueBackend) -> Callable[[], CatalogueBackend]:
    """An opener for a backend that is already open."""
    return lambda: backend


def _sources(entries: Sequence[CatalogueLike] | Mapping[str, CatalogueLike],
             token: str | None) -> list[_Source]:
    from .stac import open_catalogue, token_for
    from .stacerrors import default_name

    pairs = list(entries.items()) if isinstance(entries, Mapping) else [(None, e) for e in entries]
    if not pairs:
        raise SearchParameterError("url=[] names no catalogue; give at least one URL")
    sources: list[_Source] = []
    for name, entry in pairs:
        if isinstance(entry, str):
            url = entry
            label = name or default_name(url)

            def opener(url: str = url, label: str = label) -> CatalogueBackend:
                return open_catalogue(url, token_for(url, token), label)

            sources.append(_Source(label, url, opener))
        elif isinstance(entry, CatalogueBackend):
            # a {name: backend} mapping renames it for this search's tags
            sources.append(_Source(name or entry.name, entry.url, _fixed(entry)))
        else:
            raise SearchParameterError(
                f"url entries must be catalogue URLs, Catalogues or catalogue backends, not "
                f"{type(entry).__name__}")
    seen: dict[str, int] = {}
    for source in sources:  # names tag the items, so they must differ
        n = seen[source.name] = seen.get(source.name, 0) + 1
        if n > 1:
            source.name = f"{source.name} ({n})"
    return sources


def _fetch(source: _Source, params: SearchParams) -> list[pystac.Item]:
    source.backend = source.open()
    # backends without cloud-cover support ignore it: checked here
    items = filter_cloud_cover(source.backend.search_items(params), params.cloud_cover)
    found = list(islice(items, params.max_items))
    for item in found:
        _tag(item, source)
    return found


def _tag(item: pystac.Item, source: _Source) -> None:
    import pystac

    item.properties[CATALOGUE_PROPERTY] = source.name
    item.add_link(pystac.Link("via", source.url, media_type="application/json",
                              title=f"found in catalogue {source.name}"))


def _sort_value(item: pystac.Item, field: str) -> Any:
    name = field.removeprefix("properties.")
    if name == "id":
        return item.id
    if name == "collection":
        return item.collection_id
    if name in ("datetime", "start_datetime", "end_datetime"):
        dt = getattr(item.common_metadata, name, None) if name != "datetime" else (
            item.datetime or item.common_metadata.start_datetime)
        return dt.timestamp() if dt else None
    value = item.properties.get(name)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)


def merge_sorted(items: list[pystac.Item], sortby: Sequence[str] | None) -> list[pystac.Item]:
    """Items in `sortby` order ("+field"/"-field"; default newest first); items lacking a
    field go last for that field."""
    keys = list(sortby) if sortby else ["-datetime"]
    out = list(items)
    for key in reversed(keys):  # stable sorts, least significant key first
        desc, field = key.startswith("-"), key.lstrip("+-")
        values = [(_sort_value(i, field), i) for i in out]
        present = [(v, i) for v, i in values if v is not None]
        missing = [i for v, i in values if v is None]
        rank = {float: 0, str: 1, bool: 2}
        present.sort(key=lambda vi: (rank.get(type(vi[0]), 3), vi[0]), reverse=desc)
        out = [i for _, i in present] + missing
    return out


def _describe(source: _Source, err: BaseException) -> str:
    """The error's message, naming the catalogue if it does not already."""
    text = str(err) or type(err).__name__
    if source.url in text or repr(source.name) in text:
        return text
    return f"catalogue {source.name!r} ({source.url}) failed: {text}"


def _raise_all_failed(failures: list[tuple[_Source, BaseException]]) -> None:
    listing = "\n- ".join(_describe(s, e) for s, e in failures)
    listing = "\n- " + listing
    kinds = {type(e) for _, e in failures}
    unreachable = all(isinstance(e, (CatalogueUnreachableError, ConnectionError, OSError))
                      for _, e in failures)
    if unreachable:
        raise CatalogueUnreachableError(f"none of the catalogues answered:{listing}")
    if len(kinds) == 1 and issubclass(next(iter(kinds)), CatalogueError):
        raise next(iter(kinds))(f"every catalogue failed:{listing}")
    raise CatalogueError(f"every catalogue failed:{listing}")


def federated_search(
    catalogues: Sequence[CatalogueLike] | Mapping[str, CatalogueLike],
    params: SearchParams,
    *,
    token: str | None = None,
) -> SearchResults:
    """Search every catalogue concurrently; merge (sorted by `params.sortby`, else newest
    first), keep at most `params.max_items`, tag each item with
    ``properties["eopde:catalogue"]`` and a ``via`` link to its catalogue."""
    sources = _sources(catalogues, token)
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(sources))) as pool:
        futures = [pool.submit(_fetch, s, params) for s in sources]
    found: list[pystac.Item] = []
    answered: list[_Source] = []
    failed: list[tuple[_Source, BaseException]] = []
    for source, future in zip(sources, futures, strict=True):
        err = future.exception()
        if err is None:
            found.extend(future.result())
            answered.append(source)
        elif isinstance(err, Exception) and not isinstance(err, (TypeError, AttributeError,
                                                                 NameError)):
            failed.append((source, err))
        else:  # a bug, not a catalogue failure
            raise err
    if not answered:
        _raise_all_failed(failed)
    for source, err in failed:
        warnings.warn(f"{_describe(source, err)}; the other catalogues' results are returned",
                      CatalogueWarning, stacklevel=3)
    merged = merge_sorted(found, params.sortby)[: params.max_items]

    def matched() -> int | None:
        total = 0
        for source in answered:
            count = getattr(source.backend, "matched", None)
            value = count(params) if callable(count) else None
            if value is None:
                return None
            total += value
        return total

    return SearchResults(lambda: iter(merged), max_items=params.max_items,
                         catalogues=[s.name for s in answered], federated=True,
                         matched=matched, failures={s.name: str(e) for s, e in failed})
