"""Searching EO catalogues: STAC APIs (pystac-client), several at once, CSW and OpenSearch.

    >>> from eopde.catalogue import search
    >>> found = search(bbox=(12.0, 43.0, 12.3, 43.2), datetime="2025-06-01/..", cloud_cover=20)
    >>> found              # a table in a notebook
    >>> found.show()       # footprints on a map
    >>> found.least_cloudy()

Importing this package is cheap: pystac, pystac-client and shapely load at the first search.
"""

from .base import (
    CatalogueAuthError,
    CatalogueBackend,
    CatalogueError,
    CatalogueUnreachableError,
    CatalogueWarning,
    NotACatalogueError,
    SearchParameterError,
    SearchParams,
    UnknownCollectionError,
)
from .csw import CSWCatalogue
from .federated import federated_search
from .opensearch import OpenSearchCatalogue
from .params import (
    BBoxLike,
    CloudCoverLike,
    CollectionsLike,
    DatetimeLike,
    FilterLike,
    IDsLike,
    IntersectsLike,
    QueryLike,
    SortbyLike,
    build_params,
)
from .results import CATALOGUE_PROPERTY, SearchResults
from .stac import Catalogue, CatalogueLike, open_catalogue, search

__all__ = [
    "CATALOGUE_PROPERTY",
    "BBoxLike",
    "CSWCatalogue",
    "OpenSearchCatalogue",
    "Catalogue",
    "CatalogueAuthError",
    "CatalogueBackend",
    "CatalogueError",
    "CatalogueLike",
    "CatalogueUnreachableError",
    "CatalogueWarning",
    "CloudCoverLike",
    "CollectionsLike",
    "DatetimeLike",
    "FilterLike",
    "IDsLike",
    "IntersectsLike",
    "NotACatalogueError",
    "QueryLike",
    "SearchParameterError",
    "SearchParams",
    "SearchResults",
    "SortbyLike",
    "UnknownCollectionError",
    "build_params",
    "federated_search",
    "open_catalogue",
    "search",
]
