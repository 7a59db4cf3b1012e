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

from . import wizard
from .errors import RequestError

#: Bumped when a route or a JSON shape changes; the front end says so when it differs.
API_VERSION = 1
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

    def notebook(self, data: dict[str, Any]) -> tuple[Any, str]:
        cm = self.contents_manager
        path = wizard.resolve_notebook(cm.root_dir, data.get("path"),
                                       hidden_ok=bool(getattr(cm, "allow_hidden", False)))
        return path, str(data.get("path"))

    async def run(self, work: Callable[[], dict[str, Any]]) -> None:
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, work)
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return
        self.answer(200, result)

    async def call(self, fn: Callable[..., dict[str, Any]], with_notebook: bool = True) -> None:
        try:
            data = self.body()
            args = (*self.notebook(data), data) if with_notebook else (data.get("cwl"),)
        except RequestError as err:
            self.answer(err.status, err.to_dict())
            return
        await self.run(lambda: fn(*args))


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


ROUTES = [("version", VersionHandler), ("parameters", ParametersHandler),
          ("package", PackageHandler), ("validate", ValidateHandler)]


def setup_handlers(web_app: Any) -> None:
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base, "eopde", name), handler)
                                 for name, handler in ROUTES])
