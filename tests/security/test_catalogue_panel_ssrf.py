"""The catalogue panel's user-added catalogues (STAC API, CSW, OpenSearch) as an SSRF vector,
through a real Jupyter server with the eopde server extension (pytest-jupyter's `jp_fetch`).

Attacks: a catalogue URL naming an internal address (loopback by IP, by name, as an IPv4-mapped
IPv6 address, the unspecified address, a link-local metadata address); a public-looking
catalogue that redirects to an internal one; a CSW whose capabilities document sends GetRecords
to an internal address (a real pycsw's capabilities, re-pointed); a catalogue hoping for the
platform's token; records whose browse graphics (thumbnails) name internal addresses, directly or
through a redirect. Every internal target is a recording server: it must see no request at all.
The recorders stand for third parties (hostile catalogues), which cannot run here."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import pytest

from catalogue_endpoints import demo_pycsw, hostile_opensearch, recorder
from server_helpers import call, exchange

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycsw")

KINDS = ["stac", "csw", "opensearch"]


@pytest.fixture(autouse=True)
def env(monkeypatch):
    for name in ("EOPDE_CATALOGUE_URL", "EOPDE_CONFIG", "EOPDE_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EOPDE_TOKEN", "platform-token-not-for-others")


def allow(jp_serverapp, *urls: str) -> None:
    """What an administrator would configure (CatalogueGuard.allowed_origins)."""
    guard = jp_serverapp.web_app.settings["eopde_catalogue_guard"]
    guard.allowed_origins = ["{0.scheme}://{0.netloc}".format(urlsplit(u)) for u in urls]



async def ask_everything(jp_fetch, url: str, kind: str) -> list[tuple[int, dict]]:
    """Collections, queryables and a search of `url` as a catalogue of `kind`."""
    return [await call(jp_fetch, "catalogue/collections", url=url, kind=kind),
            await call(jp_fetch, "catalogue/queryables", url=url, kind=kind),
            await call(jp_fetch, "catalogue/search", "POST",
                       {"url": url, "kind": kind, "bbox": [12, 43, 12.2, 43.2]})]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "0.0.0.0"])
async def test_an_internal_catalogue_is_never_asked(jp_fetch, kind, host):
    with recorder() as (url, seen):
        target = url.replace("127.0.0.1", host) + "/csw"
        answers = await ask_everything(jp_fetch, target, kind)
    for code, answer in answers:
        if kind != "stac" and "queryables" in json.dumps(answer):
            continue  # CSW/OpenSearch queryables: none, nothing asked
        assert code == 400, answer
        assert "is refused" in answer["message"] and "not public" in answer["message"]
        assert answer["field"] == "url"
    assert seen == []


@pytest.mark.parametrize("kind", KINDS)
async def test_the_metadata_address_is_refused(jp_fetch, kind):
    code, answer = await call(jp_fetch, "catalogue/search", "POST",
                              {"url": "http://169.254.169.254/latest/meta-data/", "kind": kind})
    assert code == 400, answer
    assert "link-local" in answer["message"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_redirect_to_an_internal_address_is_not_followed(jp_fetch, jp_serverapp, kind):
    with recorder() as (internal, seen), \
            recorder(status=302, location=f"{internal}/csw") as (public, asked):
        allow(jp_serverapp, public)  # the redirecting catalogue is one the admin allowed
        answers = await ask_everything(jp_fetch, f"{public}/catalogue", kind)
    assert asked, "the allowed catalogue was asked"
    assert seen == []
    assert any(code == 400 and "is refused" in a["message"] for code, a in answers), answers


async def test_csw_capabilities_naming_an_internal_address(jp_fetch, jp_serverapp,
                                                           tmp_path):
    """A CSW whose GetCapabilities names an internal host for GetRecords (a real pycsw's
    capabilities document, with its URL replaced)."""
    with demo_pycsw(tmp_path) as (server, _), recorder() as (internal, seen):
        capabilities = httpx.get(server.url, params={
            "service": "CSW", "version": "2.0.2", "request": "GetCapabilities"}).content
        hostile = capabilities.replace(server.url.encode(), f"{internal}/csw".encode())
        assert hostile != capabilities
        with recorder(body=hostile) as (public, asked):
            allow(jp_serverapp, public)
            code, answer = await call(jp_fetch, "catalogue/search", "POST",
                                      {"url": f"{public}/csw", "kind": "csw",
                                       "bbox": [12, 43, 12.2, 43.2]})
    assert asked and seen == []
    assert code == 400 and "is refused" in answer["message"], answer


@pytest.mark.parametrize("kind", KINDS)
async def test_an_allowed_catalogue_never_gets_the_platform_token(jp_fetch, jp_serverapp,
                                                                  kind):
    with recorder() as (url, seen):
        allow(jp_serverapp, url)
        answers = await ask_everything(jp_fetch, f"{url}/catalogue", kind)
    assert seen, "the allowed catalogue was asked"
    assert [s["path"] for s in seen if "authorization" in s] == []
    assert not any("platform-token-not-for-others" in json.dumps(s) for s in seen)
    assert all(code == 502 for code, a in answers if "queryables" not in a), answers


async def test_a_records_thumbnail_pointing_inside_is_never_fetched(jp_fetch, jp_serverapp):
    """An allowed (private) OpenSearch catalogue whose records' thumbnails name another
    internal server (by IP and by name), the metadata address, or a redirect on the catalogue
    itself to the internal server: the panel's thumbnail route refuses each; the internal
    server sees no request."""
    with recorder(body=b"\x89PNG\r\n\x1a\nsecret") as (internal, seen):
        thumbnails = [f"{internal}/thumb.png",
                      internal.replace("127.0.0.1", "localhost") + "/thumb.png",
                      "http://169.254.169.254/latest/meta-data/thumb.png",
                      "{self}/redirect.png"]
        with hostile_opensearch(thumbnails, redirect_to=f"{internal}/thumb.png") as (url, asked):
            allow(jp_serverapp, url)
            code, found = await call(jp_fetch, "catalogue/search", "POST",
                                     {"url": url, "kind": "opensearch",
                                      "bbox": [12, 43, 12.2, 43.2]})
            assert code == 200, found
            assert len(found["features"]) == len(thumbnails)
            asked.clear()
            answers = {}
            for feature in found["features"]:
                assert feature["thumbnail"].startswith("catalogue/thumbnail/")
                answers[feature["id"]] = await exchange(jp_fetch, feature["thumbnail"])
    assert seen == []
    assert asked == ["/redirect.png"]  # the allowed catalogue's redirect: asked, not followed
    for n, rule in enumerate(["loopback", "loopback", "link-local", "loopback"]):
        code, answer, _ = answers[f"hostile-{n}"]
        assert code == 502, answer
        assert "thumbnail URL is not fetched" in answer["message"], answer
        assert f"is a {rule} address" in answer["message"], answer
        assert "secret" not in json.dumps(answer)
