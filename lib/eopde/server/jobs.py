"""The jobs panel's REST API under `<base_url>/eopde/jobs`: the user's jobs on each configured
ADES, a job's status, log and results, dismissing it; through `eopde.ades` (the client a
notebook uses).

Whose jobs: the ADES decides, from the token. The platform's token (`eopde.auth`) goes only to
the platform's ADES (`EOPDE_ADES_URL`, `{user}` filled); an ADES the user added in the settings is
asked without a token, so it is never handed to a third party."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.web

from eopde.ades import errors as ades_errors

from .errors import RequestError
from .handlers import _Handler

JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_ENDPOINTS = 8
MAX_JOBS = 500
#: The status fields the panel shows (the whole statusInfo stays on the ADES).
FIELDS = ("status", "message", "progress", "created", "started", "finished", "updated")


def _platform_url() -> str | None:
    from eopde.config import ConfigError, load

    try:
        return load().ades_url
    except ConfigError:
        return None


def _client(url: Any) -> Any:
    """The library's client of the ADES at `url` (default and "": the platform's)."""
    from eopde.ades.client import Client
    from eopde.catalogue.stac import _same_endpoint
    from eopde.config import ConfigError

    platform = _platform_url()
    if url in (None, "") or (isinstance(url, str) and _same_endpoint(url, platform)):
        if not platform:
            raise RequestError(400, "no platform ADES is configured (EOPDE_ADES_URL): add an "
                                    "ADES by its OGC API - Processes URL.", field="ades")
        try:
            return Client(platform)
        except ConfigError as err:
            raise RequestError(400, str(err), field="ades") from None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or "{" in url:
        raise RequestError(400, "ades: give an OGC API - Processes http(s) URL.", field="ades")
    return Client(url, token="")


def _error(err: Exception) -> RequestError:
    """The ADES's answer as the REST API's: its 4xx kept, the rest a 502 (its fault)."""
    if isinstance(err, ades_errors.NoSuchJob):
        return RequestError(404, str(err))
    if isinstance(err, ades_errors.Unauthorized):
        return RequestError(403, str(err))
    if isinstance(err, ades_errors.ResultNotReady):
        return RequestError(409, str(err))
    if isinstance(err, (ades_errors.JobFailed, ades_errors.JobDismissed)):
        return RequestError(409, str(err))
    status = getattr(err, "status", None)
    if isinstance(status, int) and 400 <= status < 500:
        return RequestError(status, str(err))
    return RequestError(502, f"the ADES did not answer as expected: {err}")


def _job_id(value: str) -> str:
    if not JOB_ID.fullmatch(value):
        raise RequestError(400, "a job id is letters, digits, '.', '_' and '-' (at most 128).")
    return value


def _summary(info: Any, ades: str, platform: bool) -> dict[str, Any]:
    doc = {"id": info.id, "process": info.process_id, "ades": ades, "platform": platform}
    doc.update({key: getattr(info, key) for key in FIELDS})
    if isinstance(info.raw.get("inputs"), dict):
        doc["inputs"] = info.raw["inputs"]
    doc["logs"] = [link.get("title") or link.get("href") for link in info.log_links]
    return doc


def _list_one(url: str | None) -> list[dict[str, Any]]:
    with _client(url) as client:
        platform = url in (None, "")
        return [_summary(job.last_status, client.url, platform)
                for job in client.jobs(limit=MAX_JOBS)]


def jobs(endpoints: list[str]) -> dict[str, Any]:
    """Jobs of every endpoint (the platform's first), newest first; an endpoint that fails is
    named in `failures` and the others still answer."""
    if len(endpoints) > MAX_ENDPOINTS:
        raise RequestError(400, f"at most {MAX_ENDPOINTS} ADES endpoints at once.", field="ades")
    urls: list[str | None] = [None] if _platform_url() else []
    urls += [u for u in dict.fromkeys(endpoints) if u]
    found: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        futures = {url: pool.submit(_list_one, url) for url in urls}
        for url, future in futures.items():
            try:
                found += future.result()
            except RequestError as err:
                failures[url or "platform"] = err.message
            except Exception as err:  # noqa: BLE001 - one endpoint down must not hide the rest
                failures[url or "platform"] = _error(err).message
    found.sort(key=lambda job: job.get("created") or "", reverse=True)
    return {"jobs": found, "failures": failures}


def _with_job(url: Any, job_id: str, work: Any) -> dict[str, Any]:
    job_id = _job_id(job_id)
    client = _client(url)
    try:
        with client:
            return dict(work(client, job_id))
    except RequestError:
        raise
    except Exception as err:  # noqa: BLE001 - sorted by _error
        raise _error(err) from None


def status(url: Any, job_id: str) -> dict[str, Any]:
    return _with_job(url, job_id, lambda c, j: _summary(c.job(j).last_status, c.url,
                                                         url in (None, "")))


def log(url: Any, job_id: str) -> dict[str, Any]:
    return _with_job(url, job_id, lambda c, j: {"id": j, "text": c.job(j).logs()})


def results(url: Any, job_id: str) -> dict[str, Any]:
    """The job's outputs and the items of its result catalog as GeoJSON (the map's footprints)."""
    def read(client: Any, job: str) -> dict[str, Any]:
        found = client.job(job).results()
        features = []
        for item in found.items():
            features.append({"type": "Feature", "id": item.id, "geometry": item.geometry,
                             "bbox": item.bbox, "properties": {
                                 k: item.properties.get(k) for k in ("datetime", "title")
                                 if k in item.properties},
                             "assets": sorted(item.assets)})
        return {"id": job, "outputs": found.outputs, "catalog": found.catalog_url,
                "features": features}
    return _with_job(url, job_id, read)


def dismiss(url: Any, job_id: str) -> dict[str, Any]:
    return _with_job(url, job_id, lambda c, j: {"id": j, "status": c.job(j).dismiss().status})


class JobsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        endpoints = self.get_query_arguments("ades")
        await self.run(lambda: jobs(endpoints))


class JobHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        url = self.get_query_argument("ades", None)
        await self.run(lambda: status(url, job_id))

    @tornado.web.authenticated
    async def delete(self, job_id: str) -> None:
        url = self.get_query_argument("ades", None)
        await self.run(lambda: dismiss(url, job_id))


class LogHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        url = self.get_query_argument("ades", None)
        await self.run(lambda: log(url, job_id))


class ResultsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        url = self.get_query_argument("ades", None)
        await self.run(lambda: results(url, job_id))


ROUTES = [("jobs", JobsHandler), (r"jobs/([^/]+)", JobHandler), (r"jobs/([^/]+)/log", LogHandler),
          (r"jobs/([^/]+)/results", ResultsHandler)]
