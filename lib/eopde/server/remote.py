"""What the wizard's steps 6-9 and its item picker ask of the platform: deploy (with what
changes against the deployed version), execute, a job's status, per-step logs, results and
dismiss, publish to the workspace, a catalogue search. Each calls the library the CLI uses
(`eopde.ades.Client`, `eopde.workspace.Workspace`, `eopde.catalogue`).

The ADES, its errors and the job operations are the server extension's one ADES layer
(`ades.py`, shared with the jobs panel): an ADES is chosen by the *name* of a configured
platform, never by a URL in the request.
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import ades
from .ades import client_for, no_home
from .errors import RequestError

MAX_ID = 200
MAX_ITEMS = 200
MAX_DIFF_LINES = 400


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
    left out (the input's default applies). Answers the job's status (`ades.status_doc`)."""
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, Mapping) or not all(isinstance(k, str) for k in inputs):
        raise RequestError(400, "`inputs` must map the process's inputs to values.",
                           field="inputs")
    values = {k: v for k, v in inputs.items() if v not in (None, "", [])}
    with client_for(body.get("ades")) as client:
        job = client.execute(_text_id(body, "process"), values)
        return ades.status_doc(job.last_status, body["ades"], job.id)


# The monitor and publish steps: the jobs panel's operations (`ades.py`), the ADES and job
# named in the body.

def job(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/job: a job's status; with `logs`, its logs too (`step_logs`)."""
    ades.named(body.get("ades"))
    if body.get("logs"):
        return ades.logs(body["ades"], _text_id(body, "job"))
    return ades.status(body["ades"], _text_id(body, "job"))


def dismiss(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/dismiss: stop the job (`DELETE /jobs/{id}`)."""
    ades.named(body.get("ades"))
    return ades.dismiss(body["ades"], _text_id(body, "job"))


def results(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/results: a finished job's results (its items, the catalog tree)."""
    ades.named(body.get("ades"))
    return ades.results(body["ades"], _text_id(body, "job"))


def publish(body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/publish: the job's results into the user's workspace."""
    ades.named(body.get("ades"))
    return ades.publish(body["ades"], _text_id(body, "job"), body.get("collection"))


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
                           f"the catalogue search failed: {no_home(str(err))}",
                           field="search") from None
    return {"items": [ades.item_doc(i) for i in items]}
