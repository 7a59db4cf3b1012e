"""Results of a job, in every form ADESs give them, and reading the result STAC catalog.

Forms understood:

* a STAC Collection (or Catalog) document — what EOEPCA's ``GET /jobs/{id}/results`` returns; the
  result catalog is its ``rel: root`` link (else its ``self`` link);
* ``{"StacCatalogUri": "s3://…/catalog.json"}`` — the zoo-project-dru chart's generic form (also
  ``s3_catalog_output``);
* the OGC form ``{output_id: {"href": …}}`` or ``{output_id: value}`` (a value may itself be one
  of the forms above).

``s3://`` hrefs are read with boto3 and the environment's credentials (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` / ``EOPDE_S3_ENDPOINT``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pystac

    from .client import Client

CATALOG_KEYS = ("StacCatalogUri", "stac_catalog_uri", "s3_catalog_output")


def _is_stac(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("type") in ("Collection", "Catalog") and \
        "links" in doc


def _link(doc: dict, rel: str) -> str | None:
    for link in doc.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == rel and link.get("href"):
            return link["href"]
    return None


def find_catalog_url(doc: Any) -> str | None:
    """The result STAC catalog's URL in a results document of any known form, or None."""
    if isinstance(doc, str):
        return doc if doc.endswith(".json") else None
    if isinstance(doc, list):
        for value in doc:
            found = find_catalog_url(value)
            if found:
                return found
        return None
    if not isinstance(doc, dict):
        return None
    if _is_stac(doc):
        return _link(doc, "root") or _link(doc, "self")
    for key in CATALOG_KEYS:
        if isinstance(doc.get(key), str):
            return doc[key]
    if isinstance(doc.get("href"), str):  # {"href": …} (an output by reference)
        return doc["href"]
    if "value" in doc and len(doc) <= 3:  # {"value": …, "mediaType": …}
        return find_catalog_url(doc["value"])
    for value in doc.values():  # {output_id: …}
        if isinstance(value, (dict, list)):
            found = find_catalog_url(value)
            if found:
                return found
    return None


class JobResults:
    """The results document of a job (``raw``), with the result catalog's URL (``catalog_url``)
    and its items (``items()``)."""

    def __init__(self, doc: Any, client: "Client | None" = None):
        self.raw = doc
        self.client = client
        self._io = S3StacIO()
        self._catalog: Any = None

    def __repr__(self) -> str:
        return f"<JobResults form={self.form!r} catalog_url={self.catalog_url!r}>"

    @property
    def form(self) -> str:
        """``"stac"`` (a Collection/Catalog document), ``"catalog-uri"`` (StacCatalogUri) or
        ``"ogc"`` (outputs by id)."""
        if _is_stac(self.raw):
            return "stac"
        if isinstance(self.raw, dict) and any(k in self.raw for k in CATALOG_KEYS):
            return "catalog-uri"
        return "ogc"

    @property
    def collection(self) -> dict | None:
        """The STAC Collection/Catalog document when the results are one."""
        return self.raw if _is_stac(self.raw) else None

    @property
    def catalog_url(self) -> str | None:
        """URL of the result STAC catalog (often ``s3://…/catalog.json``)."""
        return find_catalog_url(self.raw)

    @property
    def outputs(self) -> dict[str, Any]:
        """Output id -> value or href (the OGC form); the whole document for the other forms."""
        if self.form != "ogc" or not isinstance(self.raw, dict):
            return {"result": self.raw}
        out = {}
        for key, value in self.raw.items():
            out[key] = value["href"] if isinstance(value, dict) and "href" in value else value
        return out

    def catalog(self) -> "pystac.Catalog":
        """The result catalog read with pystac (s3:// through boto3); read once."""
        if self._catalog is None:
            import pystac

            url = self.catalog_url
            if url:
                self._catalog = pystac.read_file(url, stac_io=self._io)
            elif self.collection is not None:
                self._catalog = pystac.read_dict(self.collection, stac_io=self._io)
            else:
                raise ValueError(f"no STAC catalog in these results: {str(self.raw)[:200]}")
        return self._catalog

    def items(self) -> list["pystac.Item"]:
        """Every item of the result catalog (recursively)."""
        catalog: Any = self.catalog()
        if hasattr(catalog, "get_items"):
            return list(catalog.get_items(recursive=True))
        return [catalog]

    def download(self, directory: str | os.PathLike,
                 progress: "Callable[[str], None]" = lambda line: None) -> Path:
        """Copy the result catalog and every asset (s3:// and http(s):// only) into
        `directory`, as a self-contained STAC catalog; return the path of its catalog.json."""
        import pystac

        target = Path(directory).expanduser().absolute()
        target.mkdir(parents=True, exist_ok=True)
        source = self.catalog()
        if not isinstance(source, pystac.Catalog):
            raise ValueError("the results are a single item, not a catalog")
        catalog = pystac.Catalog(id=source.id, description=source.description or "results",
                                 title=source.title)
        folders: set[str] = set()
        for original in source.get_items(recursive=True):
            item = original.clone()
            folder = target / _unique(_safe_name(item.id), folders)
            folder.mkdir(parents=True, exist_ok=True)
            names: set[str] = set()
            for key, asset in item.assets.items():
                href = original.assets[key].get_absolute_href() or asset.href
                name = _safe_name(Path(urlsplit(href).path).name or key)
                local = folder / _unique(name, names, prefix=_safe_name(key))
                _fetch_to(href, local, self._io)
                progress(f"{item.id}/{local.name}")
                asset.href = str(local)
            catalog.add_item(item)
        catalog.normalize_hrefs(str(target))
        catalog.make_all_asset_hrefs_relative()
        catalog.save(pystac.CatalogType.SELF_CONTAINED)
        return target / "catalog.json"


def _unique(name: str, taken: set[str], prefix: str = "") -> str:
    """`name`, or a variant of it not in `taken` (two assets named `data.tif` in different
    folders of the source must not overwrite each other); the result is added to `taken`."""
    candidate, n = name, 1
    while candidate in taken:
        candidate = f"{prefix}-{name}" if prefix and n == 1 else f"{n}-{name}"
        n += 1
    taken.add(candidate)
    return candidate


def _safe_name(name: str) -> str:
    """A file name that stays inside its folder, whatever a (hostile) catalog says."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip(".")
    return cleaned[:200] or "asset"


def _fetch_to(href: str, path: Path, io: Any) -> None:
    from ..download import download

    download(href, path, s3=io.s3 if href.startswith("s3://") else None)


def _s3_client():
    """A boto3 S3 client from the environment (:func:`eopde.download.s3_client_from_env`)."""
    from ..download import s3_client_from_env

    return s3_client_from_env()


def S3StacIO(client: Any = None, **kwargs: Any):
    """A pystac StacIO that reads and writes ``s3://`` hrefs with boto3 (the rest as pystac's
    DefaultStacIO does). ``client``: the boto3 S3 client to use (default: one made from the
    environment when first needed); ``kwargs`` go to DefaultStacIO."""
    from pystac.stac_io import DefaultStacIO

    from eopde.apppkg.stagein import split_s3

    class _S3StacIO(DefaultStacIO):
        _client = client

        @property
        def s3(self):
            if self._client is None:
                self._client = _s3_client()
            return self._client

        def read_text_from_href(self, href: str) -> str:
            if href.startswith("s3://"):
                bucket, key = split_s3(href)
                try:
                    body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except Exception as err:
                    raise OSError(f"cannot read {href}: {err} (S3 endpoint and credentials "
                                  "come from AWS_ENDPOINT_URL_S3 / EOPDE_S3_ENDPOINT and "
                                  "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)") from err
                return body.decode("utf-8")
            return super().read_text_from_href(href)

        def write_text_to_href(self, href: str, txt: str) -> None:
            if href.startswith("s3://"):
                bucket, key = split_s3(href)
                self.s3.put_object(Bucket=bucket, Key=key, Body=txt.encode("utf-8"),
                                   ContentType="application/json")
                return
            super().write_text_to_href(href, txt)

    return _S3StacIO(**kwargs)
