"""The jobs panel's REST API under `<base_url>/eopde/jobs`: the user's jobs on the configured
ADES endpoints, a job's status, logs (one log followed from an offset), results (items and the
catalog tree), dismiss, publish to the workspace, its inputs, re-run with the same inputs.
Thin: each route calls the server extension's one ADES layer (`ades.py`), which the wizard's
steps use too.

`?ades=<name>` names a configured ADES (`eopde.config.ades_endpoints`; default: the current
platform's); a URL names nothing configured and is refused before any connection.

The listing is polled: between two full listings (`?full=1`, or every `ades.FULL_EVERY` s) the
ADES is asked only for its unfinished jobs; tornado answers a GET with an ETag and a request
that sends it back in If-None-Match gets a 304 without a body when nothing changed."""

from __future__ import annotations

from typing import Any

import tornado.web

from . import ades
from .errors import RequestError
from .handlers import _Handler, _count

MAX_ENDPOINTS = 8


class _JobHandler(_Handler):
    def ades_name(self) -> str | None:
        return self.get_query_argument("ades", None)

    async def answer_with(self, work: Any) -> None:
        await self.run(work, remote=True)


class _JobGet(_JobHandler):
    """GET: `operation(ades, job)` of the ADES layer, the ADES named by `?ades=`."""

    def operation(self, name: str | None, job_id: str) -> dict[str, Any]:
        raise NotImplementedError

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        name = self.ades_name()
        await self.answer_with(lambda: self.operation(name, job_id))


class _JobPost(_JobHandler):
    """POST {ades?, ...}: `operation(body, job)` of the ADES layer."""

    def operation(self, body: dict[str, Any], job_id: str) -> dict[str, Any]:
        raise NotImplementedError

    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        await self.call(lambda body: self.operation(body, job_id), with_notebook=False,
                        whole_body=True)


class JobsHandler(_JobHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        names = self.get_query_arguments("ades")
        if len(names) > MAX_ENDPOINTS:
            self.answer(400, {"message": f"at most {MAX_ENDPOINTS} ADES endpoints at once.",
                              "field": "ades"})
            return
        full = self.get_query_argument("full", "") not in ("", "0", "false")
        await self.answer_with(lambda: ades.listing(names, full))


class JobHandler(_JobGet):
    def operation(self, name: str | None, job_id: str) -> dict[str, Any]:
        return ades.status(name, job_id)

    @tornado.web.authenticated
    async def delete(self, job_id: str) -> None:
        name = self.ades_name()
        await self.answer_with(lambda: ades.dismiss(name, job_id))


class LogsHandler(_JobHandler):
    """Every log of the job; with `step=<title>`, that one from `offset` on."""

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        name, step = self.ades_name(), self.get_query_argument("step", None)
        if step is None:
            await self.answer_with(lambda: ades.logs(name, job_id))
            return
        try:
            offset = _count(self.get_query_argument("offset", "0"), "offset")
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return
        await self.answer_with(lambda: ades.log(name, job_id, step, offset))


class ResultsHandler(_JobGet):
    def operation(self, name: str | None, job_id: str) -> dict[str, Any]:
        return ades.results(name, job_id)


class PublishHandler(_JobPost):
    """POST {ades?, collection?}: the job's results into the user's workspace."""

    def operation(self, body: dict[str, Any], job_id: str) -> dict[str, Any]:
        return ades.publish(body.get("ades"), job_id, body.get("collection"))


class InputsHandler(_JobGet):
    def operation(self, name: str | None, job_id: str) -> dict[str, Any]:
        return ades.inputs(name, job_id)


class RerunHandler(_JobPost):
    """POST {ades?}: the job's process again with the same inputs; the new job's status."""

    def operation(self, body: dict[str, Any], job_id: str) -> dict[str, Any]:
        return ades.rerun(body.get("ades"), job_id)


ROUTES = [("jobs", JobsHandler), (r"jobs/([^/]+)", JobHandler),
          (r"jobs/([^/]+)/logs", LogsHandler), (r"jobs/([^/]+)/results", ResultsHandler),
          (r"jobs/([^/]+)/publish", PublishHandler), (r"jobs/([^/]+)/inputs", InputsHandler),
          (r"jobs/([^/]+)/rerun", RerunHandler)]
