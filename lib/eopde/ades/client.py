"""Client of an OGC API - Processes server (Part 1 + Part 2 Deploy/Replace/Undeploy): EOEPCA's
ADES (zoo-project-dru) first of all, and eopde's local ADES, which answers the same way.

    from eopde.ades import Client
    ades = Client()                      # endpoint and token from the platform configuration
    ades.deploy("ndvi-package/")         # a package folder, a .cwl file, CWL text/dict or a URL
    job = ades.execute("ndvi", {"scene": items[0], "threshold": 0.3})
    job.wait()                           # progress bar; JobFailed with the message and log links
    job.results().items()                # the result STAC catalog's items (s3:// too)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from urllib.parse import quote, urljoin, urlsplit

from ..auth import TokenSetting
from .errors import (ADESConnectionError, DuplicateProcess, InvalidInput, ProcessesError,
                     from_response)
from .jobs import Job, JobStatus

if TYPE_CHECKING:
    import httpx

CWL_YAML = "application/cwl+yaml"
OGCAPPPKG = "application/ogcapppkg+json"
DEFAULT_TIMEOUT = 60.0


@dataclass
class ProcessSummary:
    """A process summary (list, deploy) or description (describe: ``inputs``/``outputs`` set);
    ``raw`` is the server's document."""

    id: str
    title: str | None = None
    description: str | None = None
    version: str | None = None
    mutable: bool | None = None
    job_control_options: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    links: list[dict] = field(default_factory=list)
    location: str | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, doc: dict, location: str | None = None) -> "ProcessSummary":
        inputs, outputs = doc.get("inputs") or {}, doc.get("outputs") or {}
        if isinstance(inputs, list):  # OGC API Processes 1.0 drafts used lists
            inputs = {i.get("id"): i for i in inputs if isinstance(i, dict)}
        if isinstance(outputs, list):
            outputs = {o.get("id"): o for o in outputs if isinstance(o, dict)}
        return cls(id=str(doc.get("id") or doc.get("processID") or ""),
                   title=doc.get("title"), description=doc.get("description"),
                   version=doc.get("version"), mutable=doc.get("mutable"),
                   job_control_options=list(doc.get("jobControlOptions") or []),
                   inputs=inputs, outputs=outputs, links=list(doc.get("links") or []),
                   location=location, raw=doc)


def _fill_user(url: str, user: str | None) -> str:
    if "{user}" in url:
        if not user:
            from ..config import ConfigError

            raise ConfigError(f"the ADES URL {url} has a {{user}} part: run `eopde login`, "
                              "give --user (user=...), or set JUPYTERHUB_USER")
        url = url.replace("{user}", quote(user, safe=""))
    url = url.rstrip("/")
    if url.endswith("/processes"):  # tolerate the processes URL given for the API root
        url = url[: -len("/processes")]
    return url


class Client:
    """An OGC API - Processes server.

    ``url`` is the API root (``…/{user}/ogc-api`` on EOEPCA; ``{user}`` is filled from ``user``
    or JUPYTERHUB_USER); default: the platform configuration's ``ades_url``
    (EOPDE_ADES_URL). ``token``: bearer token, default `eopde.auth.get_token()`.
    """

    def __init__(self, url: str | None = None, user: str | None = None,
                 token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 transport: "httpx.BaseTransport | None" = None):
        if url is None:
            from ..config import load

            url = load().require("ades_url")
        if not user:
            from ..auth import get_user

            user = get_user()
        self.user = user or None
        self.url = _fill_user(url, self.user)
        self._token = token
        self.timeout = timeout
        self._transport = transport
        self._http: "httpx.Client | None" = None

    def __repr__(self) -> str:
        return f"<eopde.ades.Client {self.url}>"

    #: The token given, else the current one, asked at each request (see TokenSetting).
    token = TokenSetting()

    # -- HTTP ---------------------------------------------------------------------------------

    @property
    def http(self) -> "httpx.Client":
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self.timeout, transport=self._transport,
                                      follow_redirects=True)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _abs(self, path_or_url: str) -> str:
        if "://" in path_or_url:
            return path_or_url
        return f"{self.url}/{path_or_url.lstrip('/')}"

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def request(self, method: str, path_or_url: str, *, headers: Mapping[str, str] | None = None,
                **kwargs: Any) -> "httpx.Response":
        """One request to the server (a path under the API root, or a URL); raises the
        ProcessesError subclass of an error answer, ADESConnectionError if unreachable."""
        import httpx

        url = self._abs(path_or_url)
        all_headers = {"Accept": "application/json"}
        token = self.token if self._same_origin(url) else None  # never to other hosts
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        try:
            response = self.http.request(method, url, headers=all_headers, **kwargs)
        except httpx.TimeoutException as err:
            raise ADESConnectionError(f"no answer within {self.timeout:g} s: {err}",
                                      title="timeout", url=url) from None
        except httpx.HTTPError as err:
            raise ADESConnectionError(f"cannot reach the ADES at {url}: {err}",
                                      title="connection error", url=url) from None
        if response.status_code >= 400:
            raise from_response(response)
        return response

    def _json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        response = self.request(method, path_or_url, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ProcessesError(
                f"expected JSON, got {response.headers.get('content-type')}: "
                f"{response.text[:200]!r}", status=response.status_code,
                url=str(response.request.url)) from None

    def _text(self, path_or_url: str) -> str:
        response = self.request("GET", path_or_url, headers={"Accept": "text/plain, */*"})
        content_type = response.headers.get("content-type", "")
        if "json" in content_type:
            try:
                doc = response.json()
            except ValueError:
                return response.text
            if isinstance(doc, list):  # Weaver's /jobs/{id}/logs: a list of lines
                return "\n".join(str(line) for line in doc)
            if isinstance(doc, dict) and isinstance(doc.get("logs"), (str, list)):
                logs = doc["logs"]
                return logs if isinstance(logs, str) else "\n".join(map(str, logs))
        return response.text

    def _paged(self, path: str, key: str, params: dict | None) -> Iterable[dict]:
        url: str | None = path
        seen: set[str] = set()
        while url:
            doc = self._json("GET", url, params=params or None) or {}
            yield from doc.get(key) or []
            params = None  # a `next` link carries its own query
            url = next((link["href"] for link in doc.get("links") or []
                        if isinstance(link, dict) and link.get("rel") == "next"
                        and link.get("href")), None)
            if url:
                url = urljoin(self._abs(path) + "/", url) if "://" not in url else url
                if url in seen:
                    break
                seen.add(url)

    # -- capabilities -------------------------------------------------------------------------

    def landing(self) -> dict:
        """The landing page (``GET /``)."""
        return self._json("GET", "")

    def conformance(self) -> list[str]:
        """The conformance classes the server declares."""
        return list((self._json("GET", "conformance") or {}).get("conformsTo") or [])

    # -- processes ----------------------------------------------------------------------------

    def processes(self) -> list[ProcessSummary]:
        """Every process visible to this user (follows ``next`` links)."""
        return [ProcessSummary.from_dict(p) for p in self._paged("processes", "processes", {})]

    def describe(self, process_id: str) -> ProcessSummary:
        """The process description (with ``inputs`` and ``outputs``)."""
        doc = self._json("GET", f"processes/{quote(process_id, safe='')}")
        return ProcessSummary.from_dict(doc)

    def package(self, process_id: str) -> str:
        """The deployed CWL of a process (``GET /processes/{id}/package``) as text."""
        response = self.request(
            "GET", f"processes/{quote(process_id, safe='')}/package",
            headers={"Accept": "application/cwl+yaml, application/cwl, "
                               "application/cwl+json;q=0.8, application/ogcapppkg+json;q=0.5, "
                               "application/json;q=0.4"})
        if "json" not in response.headers.get("content-type", ""):
            return response.text
        doc = response.json()
        if isinstance(doc, dict) and "executionUnit" in doc:
            unit = doc["executionUnit"]
            unit = unit[0] if isinstance(unit, list) and unit else unit
            doc = unit.get("value", unit) if isinstance(unit, dict) else unit
        if isinstance(doc, str):
            return doc
        import yaml

        return yaml.safe_dump(doc, sort_keys=False)

    def deploy(self, source: Any, *, workflow_id: str | None = None, media: str = "cwl",
               replace_existing: bool = False) -> ProcessSummary:
        """Deploy an application package: a package folder, a .cwl path, CWL text, a CWL dict,
        or an http(s) URL of a CWL (sent as an OGC application package by reference).

        ``media="cwl"`` sends CWL as ``application/cwl+yaml``; ``"ogcapppkg"`` sends
        ``application/ogcapppkg+json`` with the execution unit by value. ``workflow_id`` becomes
        ``?w=`` (the entry point of a ``$graph``). With ``replace_existing``, a 409 (already
        deployed) is answered by replacing the process (PUT).
        """
        content, content_type, cwl = _deploy_body(source, media)
        params = {"w": workflow_id} if workflow_id else None
        try:
            response = self.request("POST", "processes", content=content, params=params,
                                    headers={"Content-Type": content_type})
        except DuplicateProcess as err:
            if not replace_existing:
                raise
            process_id = (workflow_id or _id_from(err.location, "processes")
                          or _workflow_id(cwl))
            if not process_id:
                raise
            return self.replace(process_id, source, workflow_id=workflow_id, media=media)
        location = response.headers.get("location")
        doc = response.json() if response.content else {}
        if not doc or not isinstance(doc, dict):
            process_id = _id_from(location, "processes") or workflow_id or _workflow_id(cwl)
            if process_id:
                return self.describe(process_id)
            return ProcessSummary(id="", location=location)
        return ProcessSummary.from_dict(doc, location=location)

    def replace(self, process_id: str, source: Any, *, workflow_id: str | None = None,
                media: str = "cwl") -> ProcessSummary:
        """Replace a deployed process (``PUT /processes/{id}``) with a new package (same forms as
        `deploy`); returns the new description."""
        content, content_type, _ = _deploy_body(source, media)
        self.request("PUT", f"processes/{quote(process_id, safe='')}", content=content,
                     params={"w": workflow_id} if workflow_id else None,
                     headers={"Content-Type": content_type})
        return self.describe(process_id)

    def undeploy(self, process_id: str) -> None:
        """Remove a deployed process (``DELETE /processes/{id}``)."""
        self.request("DELETE", f"processes/{quote(process_id, safe='')}")

    # -- execution and jobs -------------------------------------------------------------------

    def execute(self, process_id: str, inputs: Mapping[str, Any] | None = None,
                outputs: Mapping[str, Any] | Iterable[str] | None = None,
                mode: str = "async", *, subscriber: Mapping[str, str] | None = None,
                response: str | None = None) -> Job:
        """Execute a process. Input values may be pystac Items, ItemCollections or search
        results (sent as the items' self-href URLs, as EOEPCA expects for STAC inputs).

        ``mode="async"`` (``Prefer: respond-async``) returns the Job at once; ``"sync"`` waits
        for the server and returns a Job that is already finished with its results.
        ``response="raw"`` asks for the one output's value itself (the local ADES and ZOO give
        the result STAC catalog) instead of the results document.
        """
        if mode not in ("async", "sync"):
            raise ValueError(f"mode must be 'async' or 'sync', not {mode!r}")
        values = {k: to_input_value(v, k) for k, v in (inputs or {}).items()}
        body: dict[str, Any] = {"inputs": values}
        if outputs is not None:
            body["outputs"] = dict(outputs) if isinstance(outputs, Mapping) else \
                {name: {"transmissionMode": "reference"} for name in outputs}
        if subscriber:
            body["subscriber"] = dict(subscriber)
        if response is not None:  # "document" or "raw" (OGC API - Processes 1.0)
            body["response"] = response
        headers = {"Content-Type": "application/json"}
        if mode == "async":
            headers["Prefer"] = "respond-async"
        try:
            answer = self.request("POST", f"processes/{quote(process_id, safe='')}/execution",
                                    content=json.dumps(body), headers=headers)
        except ProcessesError as err:  # a synchronous job that failed: say it as the job's end
            raise _sync_failure(err) from None
        location = answer.headers.get("location")
        doc = answer.json() if answer.content else None
        is_status = isinstance(doc, dict) and "status" in doc and ("jobID" in doc or "id" in doc) \
            and doc.get("type") not in ("Collection", "Catalog", "Feature")
        job_id = _id_from(location, "jobs") or (
            str(doc.get("jobID") or doc.get("id")) if is_status and doc is not None else "")
        if mode == "async" or (answer.status_code == 201 and is_status):
            if not job_id:
                raise ProcessesError("the server accepted the job but gave no Location and no "
                                     "jobID", status=answer.status_code,
                                     url=str(answer.request.url), body=doc)
            return Job(self, job_id, doc if is_status else {"status": "accepted",
                                                            "processID": process_id})
        done = JobStatus.from_dict({"jobID": job_id, "processID": process_id,
                                    "status": "successful", "progress": 100}, job_id)
        return Job(self, job_id, done, results=doc)

    def job(self, job_id: str) -> Job:
        """The job ``job_id`` (its status is fetched: NoSuchJob if unknown)."""
        job = Job(self, job_id)
        job.status()
        return job

    def jobs(self, process_id: str | None = None, status: str | Iterable[str] | None = None,
             limit: int | None = 100) -> list[Job]:
        """Jobs of this user, newest first as the server orders them, filtered by process and
        status (sent to the server and applied here too, as servers differ)."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        params: dict[str, Any] = {}
        if process_id:
            params["processID"] = process_id
        if statuses:
            params["status"] = ",".join(statuses)
        if limit:
            params["limit"] = limit
        out: list[Job] = []
        for doc in self._paged("jobs", "jobs", params):
            info = JobStatus.from_dict(doc)
            if process_id and info.process_id and info.process_id != process_id:
                continue
            if statuses and info.status not in statuses:
                continue
            out.append(Job(self, info.id, info))
            if limit and len(out) >= limit:
                break
        return out


# -- helpers ---------------------------------------------------------------------------------


def _id_from(location: str | None, collection: str) -> str | None:
    """The last path segment of a Location URL ``…/<collection>/<id>``, else None."""
    if not location:
        return None
    path = urlsplit(location).path.rstrip("/")
    head, _, last = path.rpartition("/")
    return last if head.endswith(f"/{collection}") and last else None


def _workflow_id(cwl: Any) -> str | None:
    """The id of the entry Workflow of a CWL document (a `cwlmodel.Package`), by eopde's one
    rule (ZOO-Project-DRU's: the first Workflow), for 409 -> replace."""
    from ..apppkg.cwlmodel import EntryPointError, Package

    if not isinstance(cwl, Package):
        return None
    try:
        return cwl.entry().id or None
    except EntryPointError:
        return None


def _deploy_body(source: Any, media: str) -> tuple[bytes, str, Any]:
    """(body, content type, the CWL's `cwlmodel.Package` or None) for a deploy or replace.

    The CWL is read as cwltool reads it (ruamel.yaml, YAML 1.2) within cwlload's limits, but
    references (`$import` of eoap schemas...) are left to the ADES: the client reads nothing
    they name. A dict is written with PyYAML's safe dumper, which quotes what YAML 1.1 would
    read otherwise (`yes`, `on`...), so ZOO-Project-DRU (PyYAML) and cwltool read the same."""
    import yaml

    from ..apppkg.cwlload import LoadError, load_yaml
    from ..apppkg.cwlmodel import package_of

    if media not in ("cwl", "ogcapppkg"):
        raise ValueError(f"media must be 'cwl' or 'ogcapppkg', not {media!r}")
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        body = {"executionUnit": {"href": source, "type": "application/cwl"}}
        return json.dumps(body).encode(), OGCAPPPKG, None
    if isinstance(source, Mapping):
        cwl = dict(source)
        if "executionUnit" in cwl:  # already an application package
            return json.dumps(cwl).encode(), OGCAPPPKG, None
        text = yaml.safe_dump(cwl, sort_keys=False)
    elif isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                             and "cwlVersion" not in source):
        from ..apppkg.layout import find_cwl

        text = find_cwl(Path(source)).read_text()
        cwl = None
    elif isinstance(source, str):
        text, cwl = source, None
    elif isinstance(source, bytes):
        text, cwl = source.decode(), None
    else:
        raise TypeError(f"cannot deploy a {type(source).__name__}: give a package folder, a .cwl "
                        "path, CWL text, a CWL dict or an http(s) URL")
    try:
        pkg = package_of(load_yaml(text, "the CWL", roundtrip=True) if cwl is None else cwl,
                         text)
    except LoadError as err:
        raise InvalidInput(f"the CWL cannot be read: {err}", title="invalid CWL") from None
    if media == "cwl":
        return text.encode(), CWL_YAML, pkg
    unit: dict[str, Any] = {"value": text, "mediaType": CWL_YAML,
                            "format": {"mediaType": CWL_YAML}}
    return json.dumps({"executionUnit": unit}).encode(), OGCAPPPKG, pkg


def _item_href(item: Any) -> str:
    href = None
    if hasattr(item, "get_self_href"):
        href = item.get_self_href()
    elif isinstance(item, Mapping):
        href = next((link.get("href") for link in item.get("links") or []
                     if isinstance(link, Mapping) and link.get("rel") == "self"), None)
    if not href:
        ident = getattr(item, "id", None) or (item.get("id") if isinstance(item, Mapping) else None)
        raise InvalidInput(f"STAC item {ident!r} has no self link: the ADES needs the URL of "
                           "each item (take items from a STAC API search, or set their self href)",
                           title="STAC item without URL")
    return href


def _is_item(value: Any) -> bool:
    if type(value).__name__ == "Item" and type(value).__module__.startswith("pystac"):
        return True
    return isinstance(value, Mapping) and value.get("type") == "Feature" and \
        "stac_version" in value


def to_input_value(value: Any, name: str = "") -> Any:
    """An execute input value as JSON: pystac Items (and STAC item dicts) become their self-href
    URL strings; ItemCollections, search results and other iterables of items become lists."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if _is_item(value):
        return _item_href(value)
    if isinstance(value, Mapping):
        return {k: to_input_value(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_input_value(v, name) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "items") and callable(value.items) and not isinstance(value, Mapping):
        items = value.items()  # pystac_client ItemSearch, eopde SearchResults
        return [to_input_value(v, name) for v in items]
    if hasattr(value, "__iter__"):
        return [to_input_value(v, name) for v in value]
    raise TypeError(f"input {name!r}: cannot send a {type(value).__name__} to an ADES")


def _sync_failure(err: ProcessesError) -> Exception:
    """A synchronous execute answered with the job's failure (the local ADES's ``job-failed``
    / ``job-dismissed`` exceptions, which name the jobID) -> JobFailed / JobDismissed."""
    from .errors import JobDismissed, JobFailed

    code = (err.type or "").rstrip("/").rsplit("/", 1)[-1].lower()
    job_id = err.body.get("jobID") if isinstance(err.body, dict) else None
    if code == "job-failed":
        return JobFailed(err.detail, job_id=job_id)
    if code == "job-dismissed":
        return JobDismissed(err.detail, job_id=job_id)
    return err
