"""Messages for the CSW and OpenSearch backends: what a failed request or a URL that is not the
catalogue expected looks like, and which search parameters a backend cannot apply."""

from __future__ import annotations

from typing import Any

from eopde.catalogue.base import CatalogueError, SearchParameterError, SearchParams

__all__ = ["auth_error", "check_supported", "describe_body", "describe_response",
           "exception_text", "parse_xml", "report_text", "short_error", "text_param"]


def auth_error(where: str, status: int) -> CatalogueError:
    from eopde.catalogue.base import CatalogueAuthError

    return CatalogueAuthError(
        f"{where} refused access (HTTP {status}): it needs credentials. Pass them as headers, "
        "e.g. headers={'Authorization': 'Bearer <token>'}, or check that the token is valid."
    )


def parse_xml(body: bytes) -> Any:
    """The root element of an XML document a catalogue sent, parsed without resolving entities
    or fetching anything (the document is untrusted); None when it is not well-formed."""
    from lxml import etree

    try:
        return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None


def report_text(root: Any) -> str | None:
    """The ExceptionTexts of an OGC exception report (a parsed document), or None."""
    texts = root.xpath("//*[local-name()='ExceptionText']/text()")
    return " ".join(t.strip() for t in texts) or None


def exception_text(xml: str) -> str | None:
    """The ExceptionTexts of an OGC exception report given as text, or None."""
    root = parse_xml(xml.encode())
    return report_text(root) if root is not None else None


def short_error(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "Temporary failure in name resolution", "No route to host"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__ + (f": {text[:160]}" if text else "")


def text_param(params: SearchParams) -> str | None:
    q = params.extra.get("q")
    if q is not None and not isinstance(q, str):
        raise SearchParameterError(
            f"extra['q'] must be a string (words matched anywhere in the record), not {q!r}"
        )
    return q or None


def check_supported(params: SearchParams, name: str, kind: str) -> None:
    if params.filter is not None:
        raise SearchParameterError(
            f"{kind} catalogue {name!r} cannot apply a CQL2 filter: search it without filter= "
            "(use bbox, datetime, collections, ids or extra={'q': 'words'})."
        )
    if params.query:
        raise SearchParameterError(
            f"{kind} catalogue {name!r} cannot apply a STAC query= on properties: search it "
            "without query= (cloud cover and other properties are only filterable in STAC APIs)."
        )


# ---------------------------------------------------------------------- diagnosing a URL


def describe_response(resp: Any) -> str:
    """What an HTTP response looks like, for 'this is not a catalogue' messages."""
    return describe_body(resp.status_code, resp.headers.get("Content-Type") or "", resp.content)


def describe_body(status_code: int | None, content_type: str, body: bytes) -> str:
    ctype = content_type.split(";")[0].strip().lower()
    body = body[:200_000]
    head = body.lstrip()[:1].decode("latin-1") if body.strip() else ""
    status = f"HTTP {status_code}" if status_code else "a response"
    if "json" in ctype or head in ("{", "["):
        import json

        try:
            doc = json.loads(body)
        except ValueError:
            return f"{status}, invalid JSON"
        if isinstance(doc, dict):
            conforms = " ".join(str(c) for c in doc.get("conformsTo", []) or [])
            if "stac_version" in doc or "api.stacspec.org" in conforms:
                kind = doc.get("type") or "document"
                return (f"{status}, a STAC {kind} (JSON, stac_version "
                        f"{doc.get('stac_version', '?')}): use the STAC backend for it")
            if "conformsTo" in doc or "links" in doc:
                return f"{status}, an OGC API landing page (JSON)"
            return f"{status}, a JSON object with keys {', '.join(list(doc)[:8])}"
        return f"{status}, a JSON array"
    if "html" in ctype or body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        import re

        match = re.search(rb"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
        title = match.group(1).decode("utf-8", "replace").strip()[:100] if match else ""
        return f"{status}, an HTML page" + (f" titled {title!r}" if title else "")
    if head == "<":
        from lxml import etree

        root = parse_xml(body)
        if root is None:
            return f"{status}, malformed XML"
        qname = etree.QName(root)
        namespace = qname.namespace or ""
        hint = {
            "OpenSearchDescription": " (an OpenSearch description: use the OpenSearch backend)",
            "Capabilities": " (OGC capabilities of another service type)",
            "WMS_Capabilities": " (a WMS)",
            "feed": " (an Atom feed)",
            "ExceptionReport": f" (an OGC exception: {exception_text(body.decode('utf-8'))})",
        }.get(qname.localname, "")
        if namespace.startswith("http://www.opengis.net/cat/csw/"):
            hint = " (a CSW catalogue: use the CSW backend for it)"
        return (f"{status}, an XML document <{qname.localname}> in namespace "
                f"{namespace or '(none)'}{hint}")
    if not body.strip():
        return f"{status}, an empty body"
    return f"{status}, {ctype or 'content of unknown type'}: {body[:60]!r}"
