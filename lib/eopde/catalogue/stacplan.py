"""What a STAC API supports, and what a search becomes there (part of
:mod:`eopde.catalogue.stac`): features read from its conformance classes, and a search's
parameters turned into pystac-client's arguments (a cloud-cover bound as CQL2, a `query`
expression or a client-side check; CQL2 text or JSON as the request method needs)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import CatalogueWarning, SearchParameterError, SearchParams
from .params import (
    cloud_cover_cql2,
    cloud_cover_query,
    cloud_cover_text,
    cql2_to_json,
    cql2_to_text,
)

#: Feature name -> the pystac-client ConformanceClasses member(s) that grant it (any of them).
FEATURES: dict[str, tuple[str, ...]] = {
    "core": ("CORE",),
    "item-search": ("ITEM_SEARCH",),
    "filter": ("FILTER",),
    "sort": ("SORT",),
    "fields": ("FIELDS",),
    "query": ("QUERY",),
    "context": ("CONTEXT",),
    "free-text": ("/item-search#free-text",),  # not in ConformanceClasses (yet)
    "collections": ("COLLECTIONS", "FEATURES"),
    "features": ("FEATURES",),
    "transaction": ("TRANSACTION",),
    "collection-search": ("COLLECTION_SEARCH",),
}


def _suffix(name: str) -> str:
    if name.startswith("/"):
        return name
    from pystac_client.conformance import ConformanceClasses

    return ConformanceClasses[name].value


def _pattern(name: str) -> re.Pattern[str]:
    # Any STAC API 1.x release or release candidate: pystac-client's own patterns only accept
    # v1.0.*, so they miss e.g. stac-fastapi's ".../v1.1.0/item-search#sort".
    return re.compile(r"^https?://api\.stacspec\.org/v1\.\d+\.\d+(?:-[\w.]+)?"
                      + re.escape(_suffix(name)) + "$")


def conforms(uris: Iterable[str], feature: str) -> bool:
    """Whether conformance class URIs grant a feature of :data:`FEATURES`."""
    uris = list(uris)
    return any(_pattern(n).match(u) for n in FEATURES[feature] for u in uris)


@dataclass
class Prepared:
    """A search as pystac-client takes it, and what is left to do on this side."""

    kwargs: dict[str, Any]
    max_items: int | None
    client_cloud_cover: tuple[float | None, float | None] | None


def plan_search(params: SearchParams, features: Mapping[str, bool], *, post: bool,
                name: str) -> Prepared:
    """`params` for the API of catalogue `name` with these `features`, searched with POST when
    `post` (else GET). SearchParameterError for what it cannot do; CatalogueWarning (at the
    caller of `search`) for what is done otherwise."""
    def unsupported(what: str, feature: str, instead: str) -> SearchParameterError:
        return SearchParameterError(
            f"catalogue {name!r} does not support {what} (its conformsTo lacks "
            f"item-search#{feature}); {instead}")

    flt, lang, query = params.filter, params.filter_lang, params.query
    if flt is not None and not features["filter"]:
        hint = "use query= instead" if features["query"] else \
            "search with bbox/datetime/collections and filter the results yourself"
        raise unsupported("CQL2 filters", "filter", hint)
    if query is not None and not features["query"]:
        hint = "use filter= (CQL2) instead" if features["filter"] else \
            "search with bbox/datetime/collections and filter the results yourself"
        raise unsupported("the query extension", "query", hint)
    client_cc = None
    if params.cloud_cover is not None:
        if features["filter"]:
            if flt is None:
                flt, lang = cloud_cover_cql2(params.cloud_cover), "cql2-json"
            elif lang == "cql2-json":
                flt = {"op": "and", "args": [flt, cloud_cover_cql2(params.cloud_cover)]}
            else:
                flt = f"({flt}) AND {cloud_cover_text(params.cloud_cover)}"
        elif features["query"]:
            query = dict(query or {})
            ops = dict(query.get("eo:cloud_cover", {}))
            ops.update(cloud_cover_query(params.cloud_cover)["eo:cloud_cover"])
            query["eo:cloud_cover"] = ops
        else:
            client_cc = params.cloud_cover
            warnings.warn(
                f"catalogue {name!r} supports neither CQL2 filters nor the query "
                "extension: cloud_cover is checked on the client side, so every page of "
                "the other criteria's results is fetched", CatalogueWarning, stacklevel=5)
    method = "POST" if post else "GET"
    if flt is not None:
        if method == "POST" and lang == "cql2-text":
            as_json = cql2_to_json(flt)
            if as_json is not None:
                flt, lang = as_json, "cql2-json"
            else:
                method = "GET"
        elif method == "GET" and lang == "cql2-json":
            as_text = cql2_to_text(flt)
            if as_text is not None:
                flt, lang = as_text, "cql2-text"
    sortby = list(params.sortby) if params.sortby else None
    if sortby and not features["sort"]:
        warnings.warn(f"catalogue {name!r} does not support sorting (no "
                      "item-search#sort): sortby is ignored, results come in its own order",
                      CatalogueWarning, stacklevel=5)
        sortby = None
    kwargs = {
        "method": method,
        "limit": params.limit,
        "bbox": list(params.bbox) if params.bbox else None,
        "intersects": params.intersects,
        "datetime": params.datetime,
        "collections": list(params.collections) if params.collections else None,
        "ids": list(params.ids) if params.ids else None,
        "filter": flt,
        "filter_lang": lang if flt is not None else None,
        "query": query,
        "sortby": sortby,
        "max_items": None if client_cc else params.max_items,
    }
    return Prepared({k: v for k, v in kwargs.items() if v is not None}, params.max_items,
                     client_cc)

