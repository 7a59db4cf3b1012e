"""Deploy / replace bodies of the local ADES -> a checked application package.

`read_package(body, content_type, w=..., max_bytes=..., href_dirs=...)` turns a request body
(`application/cwl+yaml`, `application/cwl`, `application/cwl+json`, or `application/ogcapppkg+json`
/ `application/json` with an `executionUnit` by value or by href) into a `Package`: the CWL
text, the workflow (process) id, the OGC description. Everything `eopde validate` accepts is
accepted (warnings are not refusals); every refusal is an `OGCError` (4xx) saying what to fix.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from eopde.apppkg import cwlload as _cwlload

from ...apppkg import describe as _desc

if TYPE_CHECKING:  # pragma: no cover
    from eopde.apppkg.cwlmodel import Package as CwlPackage
    from eopde.urlguard import UrlPolicy
from .errors import P1, OGCError, bad_request, too_large, unsupported_media_type, workflow_not_found

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CWL_TYPES = ("application/cwl+yaml", "application/cwl", "application/cwl+json",
             "application/x-yaml", "application/yaml", "text/yaml")
PKG_TYPES = ("application/ogcapppkg+json", "application/json")
ACCEPTED = ["application/cwl+yaml", "application/cwl", "application/cwl+json",
            "application/ogcapppkg+json", "application/json (with executionUnit)"]
HREF_TIMEOUT = 15.0


@dataclass
class Package:
    cwl_text: str
    workflow_id: str
    description: dict
    warnings: list[dict]


def check_id(value: str, what: str = "process id") -> str:
    if not isinstance(value, str) or not ID_RE.match(value) or ".." in value:
        raise bad_request(
            f"invalid {what} {value!r}: identifiers are 1 to 128 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit (no '/', '\\', '..' or control characters)")
    return value


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise bad_request(f"the body is not UTF-8 text ({err}); send the CWL as UTF-8") from None


def _parse(text: str, what: str) -> "CwlPackage":
    """The CWL document, parsed once into the model (cwlmodel, through cwlload: limits);
    refused (400) when it refers outside itself."""
    from eopde.apppkg.cwlmodel import load_package

    try:
        return load_package(text, what)
    except _cwlload.LoadError as err:
        if err.rule == "eopde/too-large":
            raise OGCError(413, P1 + "payload-too-large", "PayloadTooLarge",
                           f"{err}; fix: {err.fix}") from None
        hint = (" send the application package's CWL (YAML or JSON) with `cwlVersion` and a "
                "Workflow" if err.rule in ("cwl/yaml", "cwl/not-cwl") else "")
        raise bad_request(f"{err}; fix: {err.fix or 'see above'}.{hint}") from None


def _fetch(href: str, *, max_bytes: int, href_dirs: list[Path],
           policy: "UrlPolicy | None" = None) -> str:
    """The CWL an executionUnit href points to. http(s) only through the URL guard (public hosts
    and the platform's own data server and catalogue: `policy`, default fetchpolicy's); a local
    path only inside
    folders the operator configured (EOPDE_ADES_HREF_DIRS, none by default)."""
    import httpx

    from eopde.readcap import ResponseTooLarge, read_capped
    from eopde.urlguard import UrlRefused, guarded_client, open_guarded

    parts = urlsplit(href)
    if parts.scheme.lower() in ("http", "https"):
        if policy is None:
            from .fetchpolicy import platform_origins, policy_for

            policy = policy_for(None, platform_origins())
        accept = {"Accept": "application/cwl+yaml, application/cwl, */*"}
        try:
            with guarded_client(policy, timeout=HREF_TIMEOUT) as client, \
                    open_guarded(client, href, policy, headers=accept) as resp:
                if resp.status_code >= 400:
                    raise bad_request(f"cannot fetch the execution unit from {href!r}: HTTP "
                                      f"{resp.status_code}; give an href this service can "
                                      "reach, or the CWL by value")
                try:
                    data = read_capped(resp, max_bytes)
                except ResponseTooLarge:
                    raise too_large(max_bytes) from None
        except UrlRefused as err:
            raise bad_request(f"the execution unit href is refused: {err}; give the CWL by "
                              "value or a URL on a public host") from None
        except httpx.HTTPError as err:
            raise bad_request(f"cannot fetch the execution unit from {href!r} "
                              f"({type(err).__name__}); give an href this service can reach, "
                              "or the CWL by value") from None
        return _decode(data)
    if parts.scheme in ("", "file") and href_dirs:
        raw = unquote(parts.path) if parts.scheme == "file" else href.split("#", 1)[0]
        if "\x00" in raw or not raw.startswith("/"):
            raise bad_request(f"href {href!r} is neither an http(s) URL nor an absolute path")
        path = Path(os.path.realpath(raw))
        allowed = [Path(os.path.realpath(d)) for d in href_dirs]
        if not any(d in path.parents for d in allowed) or not path.is_file():
            raise bad_request(f"href {href!r} is a local path outside the folders this service "
                              "may read (or not a file); give an http(s) URL or the CWL by "
                              "value")
        try:
            if path.stat().st_size > max_bytes:
                raise too_large(max_bytes)
            return path.read_text(encoding="utf-8")
        except OGCError:
            raise
        except (OSError, UnicodeDecodeError) as err:
            why = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            raise bad_request(f"cannot read the execution unit {href!r}: {why}") from None
    if parts.scheme in ("", "file"):
        raise bad_request(f"href {href!r} is a local path: this service reads no local files "
                          "for users; give an http(s) URL or the CWL by value")
    raise bad_request(f"unsupported href scheme {parts.scheme!r} in {href!r}; use http(s)")


def _unit_text(unit: Any, *, max_bytes: int, href_dirs: list[Path],
               policy: "UrlPolicy | None" = None) -> tuple[str, str | None]:
    """An executionUnit entry -> (CWL text, workflow id from an href fragment)."""
    if isinstance(unit, dict) and "unit" in unit and "value" not in unit:  # Weaver's form
        unit = {"value": unit["unit"]}
    if not isinstance(unit, dict):
        raise bad_request("`executionUnit` must be an object {\"value\": <CWL>, \"mediaType\": "
                          "\"application/cwl+yaml\"} or {\"href\": <URL>} (or a list of those)")
    if "value" in unit:
        value = unit["value"]
        if isinstance(value, dict):
            return json.dumps(value), None
        if isinstance(value, str):
            return value, None
        raise bad_request("`executionUnit.value` must be the CWL as a string or a JSON object")
    href = unit.get("href")
    if isinstance(href, str) and href:
        fragment = urlsplit(href).fragment or None
        return _fetch(href, max_bytes=max_bytes, href_dirs=href_dirs, policy=policy), fragment
    raise bad_request("`executionUnit` has neither `value` nor `href`; give the CWL by value "
                      "or a URL to it")


def cwl_text_of(body: bytes, content_type: str | None, *, max_bytes: int,
                href_dirs: list[Path],
                policy: "UrlPolicy | None" = None) -> tuple[str, str | None]:
    """The CWL text a deploy body carries, and a workflow id an href fragment names."""
    mt = media_type(content_type)
    if mt in CWL_TYPES:
        return _decode(body), None
    if mt in PKG_TYPES or mt.endswith("+json"):
        if mt not in PKG_TYPES:
            raise unsupported_media_type(mt, ACCEPTED)
        try:
            doc = _cwlload.loads_json(_decode(body), "the body")
        except _cwlload.LoadError as err:  # bad JSON, or nested too deeply
            raise bad_request(str(err), "BadRequest") from None
        if not isinstance(doc, dict):
            raise bad_request("the body must be a JSON object with an `executionUnit`")
        if "executionUnit" not in doc:
            if "cwlVersion" in doc or "$graph" in doc:  # a CWL document sent as JSON
                return json.dumps(doc), None
            raise bad_request("the OGC application package has no `executionUnit`; send "
                              "{\"executionUnit\": {\"value\": <CWL>, \"mediaType\": "
                              "\"application/cwl+yaml\"}} or "
                              "{\"executionUnit\": {\"href\": <URL>}}")
        unit = doc["executionUnit"]
        if isinstance(unit, list):
            if not unit:
                raise bad_request("`executionUnit` is an empty list")
            unit = unit[0]
        return _unit_text(unit, max_bytes=max_bytes, href_dirs=href_dirs, policy=policy)
    raise unsupported_media_type(mt, ACCEPTED)


def read_package(body: bytes, content_type: str | None, *, w: str | None, max_bytes: int,
                 href_dirs: list[Path], policy: "UrlPolicy | None" = None) -> Package:
    from eopde.apppkg.validate import validate

    if w is not None:
        check_id(w, "workflow id (w)")
    text, fragment = cwl_text_of(body, content_type, max_bytes=max_bytes, href_dirs=href_dirs,
                                 policy=policy)
    w = w or fragment
    if not text.strip():
        raise bad_request("the body is empty; send the application package's CWL")
    pkg = _parse(text, "the execution unit")
    if "cwlVersion" not in pkg.doc:
        raise bad_request("the document has no `cwlVersion`: it is not CWL; send the "
                          "application package's CWL")
    workflows = {wf.id: wf for wf in pkg.workflows}
    if w is not None and w not in workflows:
        raise workflow_not_found(
            f"no Workflow {w!r} in the package; its Workflows are: "
            + (", ".join(sorted(workflows)) or "none") + " (pick one with w=)")
    report = validate(pkg, workflow_id=w)  # the model: not parsed again
    if not report.valid:
        errors = [f.to_dict() for f in report.errors]
        summary = "; ".join(f"{e['message']} (fix: {e['fix']})" if e["fix"] else e["message"]
                            for e in errors[:5])
        raise OGCError(400, "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/"
                       "invalid-application-package", "InvalidApplicationPackage",
                       f"the CWL is not a valid application package: {summary}",
                       extra={"findings": [f.to_dict() for f in report.findings]})
    process_id = w or report.entry or ""  # the whole id: "../x" must be refused, not cut
    check_id(process_id, "process id (the Workflow's id)")
    entry = workflows.get(process_id)
    raw_id = str((entry.raw.get("id") if entry is not None else None) or process_id)
    raw_id = raw_id.lstrip("#").rsplit("#", 1)[-1]
    check_id(raw_id, "process id (the Workflow's id)")
    try:
        description = _desc.describe(pkg.plain(), process_id)
    except (_desc.DescriptionError, TypeError, ValueError) as err:
        raise bad_request(f"cannot describe the package's Workflow {process_id!r}: "
                          f"{err}") from None
    return Package(cwl_text=text, workflow_id=process_id, description=description,
                   warnings=[f.to_dict() for f in report.warnings])
