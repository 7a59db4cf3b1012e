"""Which catalogue a panel request names, opened through the kernel library: the platform's STAC
API, or a STAC API, CSW or OpenSearch endpoint the user added (lab settings).

Everything a user-added endpoint makes this server fetch goes through `eopde.urlguard`: every
connection (the endpoint, the redirects it answers, the operation URLs a CSW capabilities
document or an OpenSearch description names) goes only to public addresses, the platform's own
catalogue, or the origins an administrator allows (`CatalogueGuard.allowed_origins`). The
platform's token goes only to the platform's STAC API (`token_for`); CSW and OpenSearch
endpoints are asked without one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from traitlets import List, Unicode
from traitlets.config import Configurable

from eopde import catalogue as cat
from eopde.catalogue.base import Reused
from eopde.catalogue.stac import (open_catalogue, platform_catalogue_url, same_endpoint,
                                  token_for)

from .errors import RequestError

if TYPE_CHECKING:  # pragma: no cover
    from contextlib import AbstractContextManager

    from eopde.urlguard import Guarded, UrlPolicy

#: The kinds of catalogue the panel searches, and the library class of each ("stac": Catalogue).
KINDS = ("stac", "csw", "opensearch")
#: Seconds an opened CSW/OpenSearch endpoint (its capabilities or description) is reused.
CACHE_SECONDS = 300.0


class CatalogueGuard(Configurable):
    """What the panels may fetch for a user-added catalogue."""

    allowed_origins = List(
        Unicode(), config=True,
        help="Origins (scheme://host:port) of non-public catalogues users may add to the panel, "
             "e.g. an institute's CSW on a private network. Public hosts and the platform's own "
             "catalogue are always allowed; nothing else on a private, loopback or link-local "
             "address is fetched.")

    def policy(self, platform: str | None) -> UrlPolicy:
        """The UrlPolicy of a user-added catalogue (`platform`: the platform catalogue's URL)."""
        from eopde.urlguard import UrlPolicy

        return UrlPolicy.of([platform or "", *self.allowed_origins])


def platform_url() -> str | None:
    from eopde.config import ConfigError

    try:
        return platform_catalogue_url()
    except ConfigError:
        return None


def errors(err: Exception) -> RequestError:
    """A library error as the REST API's 4xx (the catalogue's fault: 502)."""
    if isinstance(err, cat.SearchParameterError):
        return RequestError(400, str(err))
    if isinstance(err, cat.UnknownCollectionError):
        return RequestError(404, str(err), field="collections")
    if isinstance(err, cat.CatalogueAuthError):
        return RequestError(403, str(err))
    if isinstance(err, (cat.CatalogueUnreachableError, cat.NotACatalogueError,
                        cat.CatalogueError)):
        return RequestError(502, str(err), field="url")
    # a third-party catalogue's answer that the library cannot read: its fault, not the user's
    return RequestError(502, f"the catalogue's answer could not be read ({type(err).__name__}: "
                             f"{str(err)[:300]})", field="url")


def _refused(err: Exception) -> RequestError:
    return RequestError(
        400, f"url: {err} An administrator can allow a private catalogue's origin "
             "(CatalogueGuard.allowed_origins in the Jupyter server's configuration).",
        field="url")


@dataclass
class Source:
    """An opened catalogue: the library object and what reproduces it in a notebook."""

    url: str
    kind: str
    backend: Any  #: an eopde.catalogue Catalogue, CSWCatalogue or OpenSearchCatalogue
    #: what it may fetch (eopde.urlguard.UrlPolicy), made once when it is opened (a kept search
    #: pages without reading the platform configuration again); None: the platform's own
    #: catalogue, fetched unguarded
    policy: UrlPolicy | None

    @contextmanager
    def fetching(self) -> Iterator[None]:
        """Run library calls that fetch from this catalogue: guarded, errors as RequestErrors."""
        from eopde.urlguard import UrlRefused, guarded_requests

        guarded: AbstractContextManager[Guarded | None] = (
            nullcontext() if self.policy is None else guarded_requests(self.policy))
        try:
            with guarded as seen:
                try:
                    yield
                except RequestError:
                    raise
                except Exception as err:  # noqa: BLE001 - a refusal, else sorted by errors()
                    if seen is not None:
                        refusal = seen.refused or (err if isinstance(err, UrlRefused) else None)
                        if refusal is not None:
                            raise _refused(refusal) from None
                    raise errors(err) from None
        except UrlRefused as err:  # only a guarded fetch refuses
            raise _refused(err) from None

    def code_url(self) -> tuple[str, str | None]:
        """(import names, the `url=` argument) of `eopde.catalogue.search(...)` for it."""
        if self.kind == "csw":
            return "CSWCatalogue, search", f"CSWCatalogue({self.url!r})"
        if self.kind == "opensearch":
            return "OpenSearchCatalogue, search", f"OpenSearchCatalogue({self.url!r})"
        return "search", None if self.policy is None else repr(self.url)

    def search(self, limit: int, kwargs: dict[str, Any]) -> Any:
        """The library's lazy SearchResults (nothing fetched for CSW/OpenSearch yet)."""
        if self.kind == "stac":
            return self.backend.search(limit=limit, **kwargs)
        return cat.search(url=self.backend, limit=limit, **kwargs)


_opened: Reused[Any] = Reused(CACHE_SECONDS)


def _backend(kind: str, url: str) -> Any:
    """A CSW/OpenSearch backend, reused for a few minutes (it keeps its capabilities)."""
    make: Callable[[str], Any] = cat.CSWCatalogue if kind == "csw" else cat.OpenSearchCatalogue
    return _opened.get((kind, url), lambda: make(url))


def open_source(url: Any, kind: Any, guard: CatalogueGuard) -> Source:
    """The catalogue at `url` (default: the platform's) of `kind` (default "stac")."""
    kind = kind or "stac"
    if kind not in KINDS:
        raise RequestError(400, f"kind: one of {', '.join(KINDS)}, not {str(kind)[:40]!r}.",
                           field="kind")
    platform = platform_url()  # read once per request: fetching() does not read it again
    if url in (None, ""):
        url = platform
        if not url or kind != "stac":
            raise RequestError(400, "url: give the catalogue's URL (no platform catalogue is "
                                    "configured, or the platform's is a STAC API).", field="url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        example = {"stac": "https://earth-search.aws.element84.com/v1",
                   "csw": "https://catalogue.example.org/csw",
                   "opensearch": "https://catalogue.example.org/opensearch/description.xml"}
        raise RequestError(400, f"url: give a {kind} endpoint's http(s) URL, e.g. "
                                f"{example[kind]}", field="url")
    mine = kind == "stac" and same_endpoint(url, platform)  # as token_for compares them
    source = Source(url, kind, None, None if mine else guard.policy(platform))
    if kind == "stac":
        with source.fetching():  # pystac-client reads the landing page here
            source.backend = open_catalogue(url, token_for(url, None))
    else:
        source.backend = _backend(kind, url)
    return source


def describe(source: Source) -> dict[str, Any]:
    """Ask a CSW/OpenSearch endpoint what it is (capabilities, description): its errors come
    when the user picks it, not at the first search. What the panel can search it with, and
    what it cannot do, in words; an OpenSearch endpoint's declared parameters."""
    with source.fetching():
        if source.kind == "csw":
            schema = source.backend.schema  # GetCapabilities
            return {"parameters": [], "notes": _csw_notes(schema)}
        names = source.backend.template.names()  # the description document
    return {"parameters": names, "notes": _opensearch_notes(names)}


_NONE = ("lists no collections and has no queryables for filters (CQL2): those are STAC API "
         "features.")


def _csw_notes(schema: str) -> str:
    if schema == "iso":
        return (f"A CSW catalogue {_NONE} It is searched by area (its bounding box; a drawn "
                "polygon is checked on the records), dates and cloud cover (read from the ISO "
                "records, checked on them).")
    return (f"A CSW catalogue {_NONE} This one serves Dublin Core records only: searched by "
            "area and dates; they carry no cloud cover (a cloud-cover bound finds nothing).")


def _opensearch_notes(names: list[str]) -> str:
    cloud = ("sent as eo:cloudCover and checked on the records" if "eo:cloudCover" in names
             else "not declared: checked on the records, which must carry it")
    return (f"An OpenSearch catalogue {_NONE} It cannot sort. Its description declares: "
            f"{', '.join(names)}. The panel sends the area (geo:box), the dates (time:start, "
            f"time:end) and the cloud cover ({cloud}).")
