"""A real pycsw 2.6.2 (CSW 2.0.2 and 3.0, OpenSearch) for the catalogue tests.

`serve_pycsw(records, folder)` writes a pycsw configuration, creates a SQLite repository in
`folder`, loads the given metadata records (XML strings) with pycsw's own parser and serves pycsw's
WSGI application with wsgiref on 127.0.0.1 (a free port), in a thread of this process. It yields a
`PycswServer` whose `requests` list records every request the server received (method and CSW
operation), so tests can count GetRecords round trips. `iso_record(item)` turns a STAC Item dict
(the demo items of `eopde.services.demodata`) into an ISO 19139 record.

pycsw 2.6.2 and SQLAlchemy 2.x
------------------------------
pycsw 2.6.2 was written for SQLAlchemy 1.x. With the SQLAlchemy 2.x installed here its default
repository (`pycsw.core.repository.Repository`) fails while it is being built
(`declarative_base(bind=...)`, `"autoload": True` and `sqlalchemy.orm.create_session` are gone),
and so do `pycsw-admin.py -c setup_db` / `load_records`, which use the same calls. The smallest fix,
with no patch to pycsw and no other package version:

* pycsw's own extension point, `[repository] source = module.Class`, loads `CompatRepository`:
  pycsw's repository class with only its constructor rewritten for SQLAlchemy 2 (the query
  methods use the legacy `Query` API, which 2.x still provides);
* pycsw builds the SQL of a filter with Django-style `%s` parameters whenever a custom repository
  is configured (`Csw.orm` stays "django"); the WSGI wrapper sets `Csw.orm = "sqlalchemy"` so the
  filter uses the `:pvalueN` binds that the SQLAlchemy repository executes;
* the records table is created with plain SQL from pycsw's own column mappings
  (`StaticContext.md_core_model`), and records are parsed by `pycsw.core.metadata.parse_record`
  and inserted through `CompatRepository`, exactly what `load_records` does.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.sax.saxutils import escape, quoteattr

with warnings.catch_warnings():  # pycsw 2.6 imports shapely's deprecated ReadingError
    warnings.simplefilter("ignore", FutureWarning)
    from pycsw.core.repository import Repository

TABLE = "records"

# ------------------------------------------------------------------ the repository (SQLAlchemy 2)


class CompatRepository(Repository):
    """pycsw's SQLAlchemy repository, constructed the SQLAlchemy 2 way.

    pycsw calls a custom repository as ``cls(context, repo_filter)``, without the database URL:
    `_repository_source` makes a subclass per database with the URL as a class attribute.
    """

    database: str = ""

    def __init__(self, context: Any, repo_filter: str | None = None, *,
                 database: str | None = None, table: str = TABLE) -> None:
        from sqlalchemy.orm import Session, declarative_base

        self.context = context
        self.filter = repo_filter
        self.fts = False
        self.postgis_geometry_column = None
        # memoised per URL; registers pycsw's SQL functions (query_spatial...) on SQLite connections
        self.engine = Repository.create_engine(database or self.database)
        base = declarative_base()
        self.dataset = type("dataset", (base,), {
            "__tablename__": table, "__table_args__": {"autoload_with": self.engine},
        })
        self.dbtype = self.engine.name
        self.session = Session(self.engine, autoflush=False, expire_on_commit=False)

        # the queryables, as pycsw's own constructor builds them
        self.queryables = {}
        for tname in self.context.model["typenames"]:
            for qname, qdef in self.context.model["typenames"][tname]["queryables"].items():
                self.queryables.setdefault(qname, {}).update(qdef)
        self.queryables["_all"] = {}
        for qbl in list(self.queryables):
            self.queryables["_all"].update(self.queryables[qbl])
        self.queryables["_all"].update(self.context.md_core_model["mappings"])

    def insert(self, record: Any, source: str, insert_date: str) -> None:
        # pycsw's insert calls session.begin(), which SQLAlchemy 2 refuses inside the
        # transaction its sessions begin on their own
        if isinstance(record.xml, bytes):
            record.xml = record.xml.decode()
        self.session.add(record)
        self.session.commit()


def _repository_source(database: str) -> str:
    """A `CompatRepository` subclass bound to `database`, as the dotted name pycsw imports."""
    name = "CompatRepository_" + hashlib.sha1(database.encode()).hexdigest()[:12]
    globals()[name] = type(name, (CompatRepository,), {"database": database})
    return f"{__name__}.{name}"


def create_repository(db_path: Path) -> str:
    """Create the pycsw records table in a new SQLite file; return the SQLAlchemy URL."""
    from pycsw.core.config import StaticContext

    columns = sorted(set(StaticContext().md_core_model["mappings"].values()) - {"identifier"})
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute(
            f"CREATE TABLE {TABLE} (identifier TEXT PRIMARY KEY, "
            + ", ".join(f"{c} TEXT" for c in columns) + ")"
        )
    return f"sqlite:///{db_path}"


def load_records(database: str, records: Iterable[str | bytes]) -> list[str]:
    """Parse and insert metadata records (any format pycsw reads); return their identifiers."""
    from pycsw.core import metadata, util
    from pycsw.core.config import StaticContext
    from pycsw.core.etree import etree

    context = StaticContext()
    repo = CompatRepository(context, database=database)
    ids = []
    with warnings.catch_warnings():  # OWSLib's FutureWarnings on every ISO record parsed
        warnings.simplefilter("ignore", FutureWarning)
        for xml in records:
            data = xml.encode() if isinstance(xml, str) else xml
            for rec in metadata.parse_record(context, etree.fromstring(data, context.parser),
                                             repo):
                repo.insert(rec, "local", util.get_today_and_now())
                ids.append(rec.identifier)
    repo.session.close()
    return ids


# ------------------------------------------------------------------ the server


@dataclass(frozen=True)
class Request:
    method: str
    operation: str  #: CSW request (GetRecords, GetCapabilities...) from the KVP or the XML root
    mode: str  #: "csw" or "opensearch"
    query: dict[str, str]  #: the KVP of a GET (keys lower-cased)


@dataclass
class PycswServer:
    url: str  #: the CSW endpoint, http://127.0.0.1:PORT/csw
    database: str
    ids: list[str]
    seconds_to_start: float
    requests: list[Request] = field(default_factory=list)

    @property
    def opensearch_url(self) -> str:
        """pycsw's OpenSearch description document (CSW 2.0.2 flavour: Atom results)."""
        return f"{self.url}?mode=opensearch&service=CSW&version=2.0.2&request=GetCapabilities"

    def count(self, operation: str, mode: str | None = None) -> int:
        return sum(1 for r in self.requests
                   if r.operation == operation and (mode is None or r.mode == mode))


def _config(url: str, database: str) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_dict({
        "server": {
            "home": ".",
            "url": url,
            "mimetype": "application/xml; charset=UTF-8",
            "encoding": "UTF-8",
            "language": "en-US",
            # the server's page size cap: smaller than the 6 demo records, so paging is real
            "maxrecords": "4",
            "pretty_print": "false",
            "domainquerytype": "list",
            "domaincounts": "false",
            "profiles": "apiso",
            # no loglevel/logfile: pycsw would call logging.basicConfig in the test process
        },
        "manager": {"transactions": "false", "allowed_ips": "127.0.0.1"},
        "metadata:main": {
            "identification_title": "eopde demo catalogue (pycsw)",
            "identification_abstract": "Synthetic Sentinel-2 L2A demo scenes, for tests",
            "identification_keywords": "eopde,demo,sentinel-2",
            "identification_keywords_type": "theme",
            "identification_fees": "None",
            "identification_accessconstraints": "None",
            "provider_name": "eopde tests",
            "provider_url": url,
            "contact_name": "eopde tests",
            "contact_position": "none",
            "contact_address": "none",
            "contact_city": "none",
            "contact_stateorprovince": "none",
            "contact_postalcode": "none",
            "contact_country": "none",
            "contact_phone": "none",
            "contact_fax": "none",
            "contact_email": "tests@eopde.invalid",
            "contact_url": url,
            "contact_hours": "none",
            "contact_instructions": "none",
            "contact_role": "pointOfContact",
        },
        "repository": {
            "database": database,
            "table": TABLE,
            "source": _repository_source(database),
        },
    })
    return cfg


def _describe(environ: dict, body: bytes) -> Request:
    method = environ["REQUEST_METHOD"]
    query = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING", ""),
                                                keep_blank_values=True)}
    operation = query.get("request", "")
    if method == "POST" and body:
        from lxml import etree

        try:
            operation = etree.QName(etree.fromstring(body)).localname
        except etree.XMLSyntaxError:
            operation = "(not XML)"
    return Request(method, operation, query.get("mode", "csw"), query)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _application(config: configparser.ConfigParser, log: list[Request]):
    def app(environ: dict, start_response: Any) -> list[bytes]:
        from pycsw import server

        body = b""
        if environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
        log.append(_describe(environ, body))
        csw = server.Csw(config, environ)
        csw.orm = "sqlalchemy"  # see the module docstring
        try:
            status, contents = csw.dispatch_wsgi()
        finally:
            # a SQLAlchemy 2 session keeps its connection until closed (pycsw 2.6's sessions,
            # in autocommit mode, gave it back after each query): without this the pool runs dry
            repository = getattr(csw, "repository", None)
            if repository is not None:
                repository.session.close()
        start_response(status, [("Content-Type", str(csw.contenttype)),
                                ("Content-Length", str(len(contents)))])
        return [contents]

    return app


@contextmanager
def serve_pycsw(records: Iterable[str | bytes], folder: Path) -> Iterator[PycswServer]:
    """pycsw with `records` loaded, served on 127.0.0.1 until the context ends."""
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    database = create_repository(folder / "records.db")
    ids = load_records(database, records)

    log: list[Request] = []
    httpd = make_server("127.0.0.1", 0, None, server_class=WSGIServer,
                        handler_class=_QuietHandler)
    url = f"http://127.0.0.1:{httpd.server_port}/csw"
    httpd.set_app(_application(_config(url, database), log))  # the config needs the port
    thread = threading.Thread(target=httpd.serve_forever, name="pycsw", daemon=True)
    thread.start()
    try:
        yield PycswServer(url=url, database=database, ids=ids,
                          seconds_to_start=time.perf_counter() - t0, requests=log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        engine = Repository._engines.pop(database, None)  # pycsw memoises engines per URL
        if engine is not None:
            engine.dispose()


# ------------------------------------------------------------------ ISO 19139 records


def _codelist(element: str, value: str) -> str:
    return (f'<gmd:{element} codeList="http://standards.iso.org/iso/19139/resources/'
            f'gmxCodelists.xml#{element}" codeListValue="{value}">{value}</gmd:{element}>')


def _text(value: Any) -> str:
    return f"<gco:CharacterString>{escape(str(value))}</gco:CharacterString>"


def _online(url: str, protocol: str, name: str, description: str, function: str) -> str:
    # pycsw keeps links as "name,description,protocol,url" strings split on ",": no commas here
    assert "," not in name + description + protocol, (name, description, protocol)
    return (
        "<gmd:onLine><gmd:CI_OnlineResource>"
        f"<gmd:linkage><gmd:URL>{escape(url)}</gmd:URL></gmd:linkage>"
        f"<gmd:protocol>{_text(protocol)}</gmd:protocol>"
        f"<gmd:name>{_text(name)}</gmd:name>"
        f"<gmd:description>{_text(description)}</gmd:description>"
        f"<gmd:function>{_codelist('CI_OnLineFunctionCode', function)}</gmd:function>"
        "</gmd:CI_OnlineResource></gmd:onLine>"
    )


def iso_record(item: dict[str, Any], item_url: str | None = None) -> str:
    """An ISO 19139 `gmd:MD_Metadata` record describing a STAC Item (dict).

    fileIdentifier = item id; parentIdentifier = its collection; title, abstract; keywords
    (platform, constellation, instruments, MGRS grid code); bounding box = item bbox; temporal
    extent = the item's datetime (or start/end); `dateStamp` and the citation's creation date =
    the acquisition time as well (product metadata written with the product; pycsw's Dublin Core
    and Atom outputs carry no other date); cloud cover in `MD_ImageDescription`; one online
    resource per asset (data assets as downloads, named by asset key) and, with `item_url`, a link
    to the STAC Item JSON; the thumbnail asset as `graphicOverview` and as an online resource
(protocol WWW:LINK-1.0-http--image-thumbnail).
    """
    props = item["properties"]
    start = props.get("start_datetime") or props["datetime"]
    end = props.get("end_datetime") or props["datetime"]
    west, south, east, north = item["bbox"][:4] if len(item["bbox"]) == 4 else (
        item["bbox"][0], item["bbox"][1], item["bbox"][3], item["bbox"][4])
    keywords = [props.get("platform"), props.get("constellation"), *props.get("instruments", []),
                props.get("grid:code")]
    keywords_xml = "".join(f"<gmd:keyword>{_text(k)}</gmd:keyword>" for k in keywords if k)
    online = []
    overview = ""
    for key, asset in item.get("assets", {}).items():
        roles = asset.get("roles", [])
        if "thumbnail" in roles:
            # the browse graphic also as an online resource: pycsw 2.6 keeps no graphicOverview
            # in its Dublin Core and Atom outputs, only online resources (as references/links)
            online.append(_online(asset["href"], "WWW:LINK-1.0-http--image-thumbnail", key,
                                  "Browse graphic", "information"))
            overview = (
                "<gmd:graphicOverview><gmd:MD_BrowseGraphic>"
                f"<gmd:fileName>{_text(asset['href'])}</gmd:fileName>"
                f"<gmd:fileDescription>{_text(key)}</gmd:fileDescription>"
                f"<gmd:fileType>{_text(asset.get('type', 'image/png'))}</gmd:fileType>"
                "</gmd:MD_BrowseGraphic></gmd:graphicOverview>"
            )
            continue
        online.append(_online(asset["href"], "WWW:DOWNLOAD-1.0-http--download", key,
                              asset.get("title", key), "download"))
    if item_url:
        online.append(_online(item_url, "WWW:LINK-1.0-http--link", "stac-item",
                              "STAC Item (JSON)", "information"))
    cloud = props.get("eo:cloud_cover")
    content = "" if cloud is None else (
        "<gmd:contentInfo><gmd:MD_ImageDescription>"
        "<gmd:attributeDescription><gco:RecordType>reflectance</gco:RecordType>"
        "</gmd:attributeDescription>"
        f"<gmd:contentType>{_codelist('MD_CoverageContentTypeCode', 'image')}</gmd:contentType>"
        f"<gmd:cloudCoverPercentage><gco:Real>{float(cloud)}</gco:Real></gmd:cloudCoverPercentage>"
        "</gmd:MD_ImageDescription></gmd:contentInfo>"
    )
    parent = item.get("collection")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd"
    xmlns:gco="http://www.isotc211.org/2005/gco" xmlns:gml="http://www.opengis.net/gml">
  <gmd:fileIdentifier>{_text(item["id"])}</gmd:fileIdentifier>
  <gmd:language>{_text("eng")}</gmd:language>
  {f"<gmd:parentIdentifier>{_text(parent)}</gmd:parentIdentifier>" if parent else ""}
  <gmd:hierarchyLevel>{_codelist("MD_ScopeCode", "dataset")}</gmd:hierarchyLevel>
  <gmd:contact><gmd:CI_ResponsibleParty>
    <gmd:organisationName>{_text("eopde (synthetic data generator)")}</gmd:organisationName>
    <gmd:role>{_codelist("CI_RoleCode", "originator")}</gmd:role>
  </gmd:CI_ResponsibleParty></gmd:contact>
  <gmd:dateStamp><gco:DateTime>{escape(start)}</gco:DateTime></gmd:dateStamp>
  <gmd:identificationInfo><gmd:MD_DataIdentification>
    <gmd:citation><gmd:CI_Citation>
      <gmd:title>{_text(props.get("title") or item["id"])}</gmd:title>
      <gmd:date><gmd:CI_Date>
        <gmd:date><gco:DateTime>{escape(start)}</gco:DateTime></gmd:date>
        <gmd:dateType>{_codelist("CI_DateTypeCode", "creation")}</gmd:dateType>
      </gmd:CI_Date></gmd:date>
    </gmd:CI_Citation></gmd:citation>
    <gmd:abstract>{_text(props.get("description") or item["id"])}</gmd:abstract>
    {overview}
    <gmd:descriptiveKeywords><gmd:MD_Keywords>{keywords_xml}</gmd:MD_Keywords></gmd:descriptiveKeywords>
    <gmd:language>{_text("eng")}</gmd:language>
    <gmd:topicCategory><gmd:MD_TopicCategoryCode>imageryBaseMapsEarthCover</gmd:MD_TopicCategoryCode></gmd:topicCategory>
    <gmd:extent><gmd:EX_Extent>
      <gmd:geographicElement><gmd:EX_GeographicBoundingBox>
        <gmd:westBoundLongitude><gco:Decimal>{west}</gco:Decimal></gmd:westBoundLongitude>
        <gmd:eastBoundLongitude><gco:Decimal>{east}</gco:Decimal></gmd:eastBoundLongitude>
        <gmd:southBoundLatitude><gco:Decimal>{south}</gco:Decimal></gmd:southBoundLatitude>
        <gmd:northBoundLatitude><gco:Decimal>{north}</gco:Decimal></gmd:northBoundLatitude>
      </gmd:EX_GeographicBoundingBox></gmd:geographicElement>
      <gmd:temporalElement><gmd:EX_TemporalExtent><gmd:extent>
        <gml:TimePeriod gml:id={quoteattr("T_" + item["id"])}>
          <gml:beginPosition>{escape(start)}</gml:beginPosition>
          <gml:endPosition>{escape(end)}</gml:endPosition>
        </gml:TimePeriod>
      </gmd:extent></gmd:EX_TemporalExtent></gmd:temporalElement>
    </gmd:EX_Extent></gmd:extent>
  </gmd:MD_DataIdentification></gmd:identificationInfo>
  {content}
  <gmd:distributionInfo><gmd:MD_Distribution>
    <gmd:transferOptions><gmd:MD_DigitalTransferOptions>
      {"".join(online)}
    </gmd:MD_DigitalTransferOptions></gmd:transferOptions>
  </gmd:MD_Distribution></gmd:distributionInfo>
</gmd:MD_Metadata>
"""
