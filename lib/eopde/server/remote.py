"""What the wizard's steps 6-9 and its item picker ask of the platform: the configured ADES
endpoints, deploy (with what changes against the deployed version), execute, a job's status,
per-step logs, results and dismiss, publish to the workspace, a catalogue search. Each calls the
library the CLI uses (`eopde.ades.Client`, `eopde.workspace.Workspace`, `eopde.catalogue`).

An ADES is chosen by the *name* of a configured platform (`eopde.config.ades_endpoints`), never
by a URL in the request: the client sends the user's token to the ADES it talks to.
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import RequestError

MAX_ID = 200
MAX_ITEMS = 200
MAX_DIFF_LINES = 400


def endpoints(default: str = "") -> dict[str, Any]:
    """GET /eopde/ades: the configured ADES endpoints ({name, url}) and which one the wizard
    proposes (the `defaultAdes` setting when it names one, else the current platform's)."""
    from eopde.config import ConfigError, ades_endpoints

    try:
        found = ades_endpoints()
    except ConfigError as err:
        return {"endpoints": [], "default": None, "problem": _no_home(str(err))}
    names = [name for name, _ in found]
    urls = {url.rstrip("/"): name for name, url in found}
    chosen = default if default in names else urls.get(default.rstrip("/"))
    return {"endpoints": [{"name": n, "url": u} for n, u in found],
            "default": chosen or (names[0] if names else None)}


def _no_home(message: str) -> str:
    from eopde.config import config_file

    return message.replace(str(config_file()), "your platforms.toml")


@contextmanager
def client_for(name: Any) -> Iterator[Any]:
    """The ADES client of the configured endpoint `name`; every error of the ADES as a 4xx."""
    from eopde.ades import Client
    from eopde.ades.errors import (ADESConnectionError, InvalidInput, NoSuchJob, NoSuchProcess,
                                   ProcessesError)
    from eopde.config import ConfigError, ades_endpoints

    if not isinstance(name, str) or not name:
        raise RequestError(400, "`ades` must name one of the configured ADES endpoints.",
                           field="ades")
    try:
        url = dict(ades_endpoints()).get(name)
        if url is None:
            raise RequestError(400, f"no ADES named `{name[:100]}` is configured; choose one of "
                               "the list.", field="ades")
        client = Client(url)
    except ConfigError as err:
        raise RequestError(400, _no_home(str(err)), field="ades") from None
    try:
        yield client
    except (NoSuchProcess, NoSuchJob) as err:
        raise RequestError(404, f"the ADES `{name}` says: {err}") from None
    except InvalidInput as err:
        raise RequestError(422, f"the ADES `{name}` refused the inputs: {err}",
                           field="inputs") from None
    except ADESConnectionError as err:
        raise RequestError(502, f"cannot reach the ADES `{name}`: {err}; check that it runs "
                           "(`eopde status`) or choose another.", field="ades") from None
    except ProcessesError as err:
        status = err.status if err.status and 400 <= err.status < 500 else 502
        raise RequestError(status, f"the ADES `{name}` answered: {err}") from None
    finally:
        client.close()


def _text_id(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID or "/" in value:
        raise RequestError(400, f"`{key}` must be the id the ADES gave.", field=key)
    return value.strip()


# --- deploy --------------------------------------------------------------------------------


def _changes(old: Any, new: dict[str, Any] | None) -> list[str]:
    """What a replace changes in the process description, in words."""
    if new is None:
        return []
    out = []
    if (old.version or "") != (new.get("version") or ""):
        out.append(f"version {old.version or '(none)'} → {new.get('version') or '(none)'}")
    for kind, before, after in (("input", old.inputs, new.get("inputs") or {}),
                                ("output", old.outputs, new.get("outputs") or {})):
        for name in sorted(set(after) - set(before)):
            out.append(f"new {kind} `{name}`")
        for name in sorted(set(before) - set(after)):
            out.append(f"{kind} `{name}` removed")
        for name in sorted(set(before) & set(after)):
            if before[name].get("schema") != after[name].get("schema"):
                out.append(f"{kind} `{name}`: its type or default changes")
            elif before[name].get("title") != after[name].get("title"):
                out.append(f"{kind} `{name}`: its title changes")
    if (old.title or "") != (new.get("title") or ""):
        out.append("the title changes")
    return out


def preview(notebook: Path, api_path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/deploy/preview: whether the process exists on the chosen ADES and, if so,
    what deploying would change (the description in words, the CWL as a unified diff)."""
    from eopde.ades.errors import NoSuchProcess

    from .wizard import build_package, describe

    with tempfile.TemporaryDirectory(prefix="eopde-deploy-") as tmp:
        pkg = build_package(notebook, api_path, body, Path(tmp))
        new_cwl = pkg.cwl_path.read_text(encoding="utf-8")
    answer: dict[str, Any] = {"id": pkg.app_id, "version": pkg.version, "exists": False,
                              "changes": [], "diff": ""}
    with client_for(body.get("ades")) as client:
        try:
            old = client.describe(pkg.app_id)
        except NoSuchProcess:
            return answer
        old_cwl = client.package(pkg.app_id)
    diff = list(difflib.unified_diff(old_cwl.splitlines(), new_cwl.splitlines(),
                                     "deployed", "new", lineterm="", n=2))
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"… {len(diff) - MAX_DIFF_LINES} more lines"]
    answer.update(exists=True, deployed_version=old.version, diff="\n".join(diff),
                  changes=_changes(old, describe(new_cwl)))
    return answer


def deploy(notebook: Path, api_path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/deploy: the package deployed (`replace`: true replaces the deployed one), as
    `eopde ades deploy [--replace]` does; answers the ADES's process description."""
    from eopde.ades.errors import DuplicateProcess
    from eopde.apppkg.images import stand_in_if_needed

    from .wizard import build_package

    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise RequestError(400, "`replace` must be true or false.", field="replace")
    with tempfile.TemporaryDirectory(prefix="eopde-deploy-") as tmp:
        pkg = build_package(notebook, api_path, body, Path(tmp))
        with client_for(body.get("ades")) as client:
            stand_in_if_needed(pkg.directory)
            try:
                client.deploy(pkg.directory, replace_existing=replace)
            except DuplicateProcess:
                raise RequestError(409, f"`{pkg.app_id}` is already deployed there; look at what "
                                   "changes, then choose Replace.", field="replace") from None
            summary = client.describe(pkg.app_id)
    return {"id": summary.id, "version": summary.version, "replaced": replace,
            "process": summary.raw}


# --- execute and monitor --------------------------------------------------------------------


def process(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/process: the deployed process's description (the Execute step's form)."""
    with client_for(body.get("ades")) as client:
        return client.describe(_text_id(body, "process")).raw


def execute(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/execute: an asynchronous job of the process with `inputs`; empty values are
    left out (the input's default applies)."""
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, Mapping) or not all(isinstance(k, str) for k in inputs):
        raise RequestError(400, "`inputs` must map the process's inputs to values.",
                           field="inputs")
    values = {k: v for k, v in inputs.items() if v not in (None, "", [])}
    with client_for(body.get("ades")) as client:
        job = client.execute(_text_id(body, "process"), values)
        return _status(job.last_status, job.id)


def _status(status: Any, job_id: str) -> dict[str, Any]:
    return {"id": job_id, "status": status.status if status else "accepted",
            "progress": status.progress if status else None,
            "message": status.message if status else None,
            "created": status.created if status else None,
            "finished": status.finished if status else None}


def job(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/job: a job's status; with `logs`, its per-step logs too."""
    from eopde.ades import Job

    with client_for(body.get("ades")) as client:
        one = Job(client, _text_id(body, "job"))
        answer = _status(one.status(), one.id)
        if body.get("logs"):
            answer["logs"] = [{"title": t, "text": x[-100_000:]} for t, x in one.step_logs()]
        return answer


def dismiss(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/dismiss: stop the job (`DELETE /jobs/{id}`)."""
    from eopde.ades import Job

    with client_for(body.get("ades")) as client:
        one = Job(client, _text_id(body, "job"))
        return _status(one.dismiss(), one.id)


def _item(item: Any) -> dict[str, Any]:
    return {"id": item.id, "datetime": item.properties.get("datetime"),
            "bbox": list(item.bbox) if item.bbox else None,
            "collection": item.collection_id,
            "href": item.get_self_href(),
            "cloud_cover": item.properties.get("eo:cloud_cover"),
            "assets": sorted(item.assets)}


def results(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/results: the items of a finished job's result catalog."""
    from eopde.ades import Job

    with client_for(body.get("ades")) as client:
        found = Job(client, _text_id(body, "job")).results()
        try:
            items = found.items()
        except (ValueError, OSError) as err:
            raise RequestError(502, f"the job's result catalog cannot be read: {err}") from None
        return {"catalog": found.catalog_url, "items": [_item(i) for i in items[:MAX_ITEMS]]}


def publish(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/publish: the job's results into the user's workspace, as
    `Workspace().publish(job)` does."""
    from eopde.ades import Job
    from eopde.workspace import Workspace
    from eopde.workspace.upload import PublishError

    collection = body.get("collection") or None
    if collection is not None and (not isinstance(collection, str) or len(collection) > 100):
        raise RequestError(400, "`collection` must be a short name.", field="collection")
    with client_for(body.get("ades")) as client:
        one = Job(client, _text_id(body, "job"))
        one.status()
        try:
            done = Workspace().publish(one, collection=collection, progress=False)
        except PublishError as err:
            raise RequestError(422, f"publishing failed: {err}") from None
    return {"collection": done.collection, "created": done.created, "updated": done.updated,
            "uploaded": done.uploaded, "url": done.url}


# --- the item picker ------------------------------------------------------------------------


def search(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/search: STAC items of the platform's catalogue (`eopde.catalogue.search`)."""
    from eopde.catalogue import CatalogueError, search as catalogue_search
    from eopde.config import ConfigError

    args: dict[str, Any] = {}
    for key in ("collections", "bbox", "datetime"):
        if body.get(key) not in (None, "", []):
            args[key] = body[key]
    limit = body.get("limit", 20)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ITEMS:
        raise RequestError(400, f"`limit` must be from 1 to {MAX_ITEMS}.", field="limit")
    try:
        found = catalogue_search(max_items=limit, **args)
        items = list(found)[:limit]
    except (CatalogueError, ConfigError, ValueError, TypeError) as err:
        raise RequestError(422 if not isinstance(err, CatalogueError) else 502,
                           f"the catalogue search failed: {_no_home(str(err))}",
                           field="search") from None
    return {"items": [_item(i) for i in items]}
