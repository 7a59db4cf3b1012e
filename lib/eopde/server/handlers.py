"""Tornado handlers of the wizard's REST API under `<base_url>/eopde/`. Thin: parse, check,
call `wizard` in a worker thread (packaging and cwltool's loading take seconds; the server keeps
answering), answer JSON. Bad input is a 4xx {message, field?}; never a 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

import eopde

from . import ades, remote, wizard
from .errors import RequestError
from .runs import LocalRuns

#: Bumped when a route or a JSON shape changes; the front end says so when it differs.
API_VERSION = 3
MAX_BODY = 2_000_000


class _Handler(APIHandler):
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # tornado's errors (405, 403 of xsrf/auth...) as the same JSON shape, without a traceback
        reason = self._reason or "error"
        self.finish(json.dumps({"message": f"{status_code} {reason}"}))

    def answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def body(self) -> dict[str, Any]:
        raw = self.request.body or b""
        if len(raw) > MAX_BODY:
            raise RequestError(413, f"the request is over {MAX_BODY} bytes.")
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise RequestError(400, "the request body must be JSON.") from None
        if not isinstance(data, dict):
            raise RequestError(400, "the request body must be a JSON object.")
        return data

    def body_or_answer(self) -> dict[str, Any] | None:
        """The JSON body, or None once the 4xx saying what is wrong with it was answered."""
        try:
            return self.body()
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return None

    def notebook(self, data: dict[str, Any]) -> tuple[Any, str]:
        cm = self.contents_manager
        path = wizard.resolve_notebook(cm.root_dir, data.get("path"),
                                       hidden_ok=bool(getattr(cm, "allow_hidden", False)))
        return path, str(data.get("path"))

    async def run(self, work: Callable[[], dict[str, Any]], remote: bool = False) -> None:
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, work)
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return
        except Exception as err:
            if not remote:
                raise
            # another service broke in a way the library does not name: say which step, not
            # what it answered (it may carry a server path); the server's log has the rest
            self.log.exception("eopde: %s failed", self.request.path)
            self.answer(502, {"message": f"the request failed ({type(err).__name__}); the "
                                         "Jupyter server's log has the details."})
            return
        self.answer(200, result)

    async def call(self, fn: Callable[..., dict[str, Any]], with_notebook: bool = True,
                   whole_body: bool = False) -> None:
        try:
            data = self.body()
            args: tuple = ((*self.notebook(data), data) if with_notebook else
                           (data,) if whole_body else (data.get("cwl"),))
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return
        await self.run(lambda: fn(*args), remote=whole_body)


class VersionHandler(_Handler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.answer(200, {"version": eopde.__version__, "api": API_VERSION})


class ParametersHandler(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        await self.call(wizard.detect)


class PackageHandler(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        await self.call(wizard.package)


class ValidateHandler(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        await self.call(wizard.check, with_notebook=False)


class RunsHandler(_Handler):
    """POST runs: start a test run; GET runs/<id>: its status and log from an offset; DELETE
    runs/<id>: cancel it."""

    @property
    def runs(self) -> LocalRuns:
        settings = self.settings
        if "eopde_runs" not in settings:
            # parent: the server's traitlets config reaches it (c.LocalRuns.keep_per_notebook)
            settings["eopde_runs"] = LocalRuns(self.contents_manager.root_dir,
                                               parent=settings.get("serverapp"))
        return settings["eopde_runs"]

    @tornado.web.authenticated
    async def post(self, run_id: str = "") -> None:
        if run_id:
            raise tornado.web.HTTPError(405)
        await self.call(self.runs.start)

    @tornado.web.authenticated
    def get(self, run_id: str = "") -> None:
        try:
            messages = _count(self.get_argument("messages", "0"), "messages")
            offset = _count(self.get_argument("offset", "0"), "offset")
            self.answer(200, self.runs.status(run_id, messages, offset))
        except RequestError as err:
            self.answer(err.status, err.to_dict())

    @tornado.web.authenticated
    def delete(self, run_id: str = "") -> None:
        try:
            self.answer(200, self.runs.cancel(run_id))
        except RequestError as err:
            self.answer(err.status, err.to_dict())


def _count(text: str, name: str) -> int:
    if not text.isdigit() or len(text) > 15:
        raise RequestError(400, f"`{name}` must be a whole number.", field=name)
    return int(text)


class AdesHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        default = self.get_argument("default", "")[:500]
        await self.run(lambda: ades.endpoints(default))


def _remote(fn: Callable[..., dict[str, Any]], with_notebook: bool = False) -> type:
    class Handler(_Handler):
        @tornado.web.authenticated
        async def post(self) -> None:
            await self.call(fn, with_notebook=with_notebook, whole_body=True)

    Handler.__name__ = f"{fn.__name__.title()}Handler"
    return Handler


ROUTES = [("version", VersionHandler), ("parameters", ParametersHandler),
          ("package", PackageHandler), ("validate", ValidateHandler),
          ("runs", RunsHandler), (r"runs/([0-9a-f]{1,32})", RunsHandler),
          ("ades", AdesHandler),
          ("deploy/preview", _remote(remote.preview, with_notebook=True)),
          ("deploy", _remote(remote.deploy, with_notebook=True)),
          ("process", _remote(remote.process)), ("execute", _remote(remote.execute)),
          ("job", _remote(remote.job)), ("dismiss", _remote(remote.dismiss)),
          ("results", _remote(remote.results)), ("publish", _remote(remote.publish)),
          ("search", _remote(remote.search))]


def setup_handlers(web_app: Any) -> None:
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base, "eopde", name), handler)
                                 for name, handler in ROUTES])
