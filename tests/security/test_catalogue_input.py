"""Issue 8, item 13 (catalogue): malformed requests get a 4xx JSON answer saying what was
wrong, an unreachable database 503, oversized bodies 413; never a 500.

On main each request of MALFORMED answered 500 (plain text "Internal Server Error"): CQL2 JSON
filters pgstac cannot run, values of the wrong type, NUL characters and lone surrogates, paging
tokens and offsets out of range, JSON parameters that are not JSON, a search body that is not an
object.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading

import httpx
import pytest

pytestmark = pytest.mark.platform

DEMO = "sentinel-2-l2a"
MiB = 1024 * 1024

#: (method, path and query, JSON body or raw bytes): each answered 500 on main.
MALFORMED = [
    # CQL2 JSON in a POST search: unknown operator, missing argument, wrong value type
    ("POST", "/search", {"filter": {"op": "nonsense", "args": []}}),
    ("POST", "/search", {"filter": {"op": "=", "args": [{"property": "x"}]}}),
    ("POST", "/search", {"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, "abc"]},
                         "filter-lang": "cql2-json"}),
    # query extension: not JSON, or a value of the wrong type
    ("GET", "/search?query=%7Bbad", None),
    ("GET", "/search?query=%7B%22eo:cloud_cover%22%3A%7B%22lt%22%3A%22x%22%7D%7D", None),
    ("POST", "/search", {"query": {"eo:cloud_cover": {"lt": "abc"}}}),
    ("GET", "/search?intersects=%7Bbad", None),
    # limits of paging: tokens and offsets
    ("GET", "/search?token=garbage", None),
    ("GET", "/search?token=next:garbage", None),
    ("GET", f"/collections/{DEMO}/items?token=next:zzz", None),
    ("GET", "/collections?offset=-1", None),
    ("GET", "/collections?offset=1000000000000000000000", None),
    # unicode: NUL characters and lone surrogates
    ("GET", "/collections/%00", None),
    ("GET", "/search?ids=%00", None),
    ("GET", "/search?collections=%00", None),
    ("GET", "/search?filter=id%3D%27%00%27", None),
    ("GET", "/collections?q=%00", None),
    ("POST", "/search", b'{"ids": ["\\ud800"]}'),
    ("POST", "/search", b'{"ids": ["\\u0000"]}'),
    ("POST", "/search", b'{"collections": ["a\\u0000"]}'),
    # a search body that is not an object
    ("POST", "/search", [1, 2]),
    # collection search: a query that is not an object, free text PostgreSQL cannot parse
    ("GET", "/collections?query=%5B1%5D", None),
    ("GET", "/collections?q=%C2%A5+%C2%80", None),
]

#: Text that is not UTF-8: main read it with U+FFFD in place (200/404); now said plainly.
NOT_UTF8 = [
    ("GET", "/search?ids=%ED%A0%80", None),  # a surrogate, UTF-8 encoded: not UTF-8
    ("GET", "/collections/%ff", None),
]

#: Requests that already answered 4xx on main: they must stay so.
ALREADY_REFUSED = [
    ("GET", "/search?limit=-1", None),
    ("GET", "/search?limit=abc", None),
    ("POST", "/search", {"limit": -1}),
    ("GET", "/search?bbox=1,2,3", None),
    ("GET", "/search?bbox=1,2,3,4,5", None),
    ("POST", "/search", {"bbox": [1, 2, 3]}),
    ("GET", "/search?filter=garbage((", None),
    ("GET", "/search?filter-lang=cql2-json&filter=%7Bbad", None),
    ("GET", "/search?datetime=" + "2025" * 2000, None),
    ("POST", "/search", {"datetime": "x" * 100_000}),
]

#: Requests that must keep working (the checks must not refuse valid input).
VALID = [
    ("GET", "/search?limit=1000000000000", None),
    ("GET", "/search?sortby=-properties.unknown_field", None),
    ("POST", "/search", {"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 50]},
                         "filter-lang": "cql2-json", "limit": 2}),
    ("GET", "/search?filter=eo:cloud_cover%20%3C%2050&limit=2", None),
    ("GET", "/search?ids=caf%C3%A9", None),
    ("POST", "/search", {"ids": ["caf\u00e9", "\\u0000 as text"]}),
]


def _send(catalogue: str, method: str, path: str, body, **kwargs) -> httpx.Response:
    if isinstance(body, bytes):
        kwargs["content"] = body
        kwargs.setdefault("headers", {})["content-type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    return httpx.request(method, catalogue + path, timeout=60, **kwargs)


def _describes(response: httpx.Response) -> str:
    """The explanation in a JSON error body (STAC `description`, or FastAPI's `detail`)."""
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body = response.json()
    text = body.get("description") or body.get("detail")
    assert text, body
    return json.dumps(text)


@pytest.fixture(scope="module")
def catalogue(platform) -> str:
    return platform.url("catalogue")


@pytest.mark.parametrize(("method", "path", "body"), MALFORMED + NOT_UTF8 + ALREADY_REFUSED,
                         ids=lambda v: str(v)[:60] if isinstance(v, str) else None)
def test_malformed_request_is_a_4xx_with_json(catalogue, method, path, body):
    response = _send(catalogue, method, path, body)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    _describes(response)


@pytest.mark.parametrize(("method", "path", "body"), VALID,
                         ids=lambda v: str(v)[:60] if isinstance(v, str) else None)
def test_valid_request_still_answers(catalogue, method, path, body):
    response = _send(catalogue, method, path, body)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["type"] == "FeatureCollection"


def test_messages_say_what_was_wrong(catalogue):
    checks = [
        ("GET", "/search?token=garbage", None, "paging token"),
        ("GET", "/collections?offset=-1", None, "offset"),
        ("GET", "/search?ids=%00", None, "NUL"),
        ("POST", "/search", b'{"ids": ["\\ud800"]}', "surrogate"),
        ("POST", "/search", [1, 2], "JSON object"),
        ("GET", "/search?query=%7Bbad", None, "not valid JSON"),
        ("POST", "/search", {"filter": {"op": "=", "args": [{"property": "x"}]}}, "filter"),
    ]
    for method, path, body, words in checks:
        assert words in _describes(_send(catalogue, method, path, body)), (path, body)


def test_search_body_size_is_limited(catalogue):
    big = b'{"ids": [' + b'"x",' * (MiB // 4) + b'"x"]}'
    response = _send(catalogue, "POST", "/search", big)
    assert response.status_code == 413, response.text[:300]
    assert "MiB" in _describes(response)
    # A form body is not JSON: said so, not a 500.
    form = httpx.post(f"{catalogue}/search", content=b"{}",
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415 and "application/json" in _describes(form)


def test_write_body_size_is_limited(catalogue, alice):
    items = {"type": "FeatureCollection",
             "features": [{"type": "Feature", "id": f"big-{n}", "properties": {},
                           "geometry": {"type": "Point", "coordinates": [0, 0]},
                           "padding": "x" * 4096} for n in range(4200)]}
    body = json.dumps(items).encode()
    assert len(body) > 16 * MiB
    url = f"{catalogue}/collections/{DEMO}/items"
    headers = {**alice.headers, "content-type": "application/json"}
    # With a Content-Length, and chunked without one (the limit counts what arrives).
    for content in (body, (body[i:i + MiB] for i in range(0, len(body), MiB))):
        response = httpx.post(url, content=content, timeout=60, headers=headers)
        assert response.status_code == 413, response.text[:300]
        assert "16 MiB" in _describes(response)


# --- the database goes away ---------------------------------------------------------------------

class _Relay:
    """A TCP relay to the platform's PostgreSQL that the test can cut, as if it went down."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        self.open = False
        with contextlib.suppress(OSError):  # wakes the thread blocked in accept() (Linux)
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_database_down_is_503(platform, alice, monkeypatch):
    """A catalogue (in this process) whose database goes away answers 503 JSON, not 500."""
    from starlette.testclient import TestClient

    from eopde.services.catalogue import create_app
    from eopde.services.postgres import DB_NAME, DB_USER

    settings = platform.settings()
    relay = _Relay(settings.host, settings.port("postgres"))
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", str(relay.port))
    monkeypatch.setenv("PGUSER", DB_USER)
    monkeypatch.setenv("PGPASSWORD", platform.secrets["postgres_password"])
    monkeypatch.setenv("PGDATABASE", DB_NAME)
    monkeypatch.setenv("EOPDE_HUB_API_URL", f"{settings.url('hub_api')}/hub/api")
    monkeypatch.setenv("EOPDE_SERVICE_TOKEN", platform.secrets["service_token"])
    requests = [("GET", "/collections", None), ("GET", f"/collections/{DEMO}/items", None),
                ("POST", "/search", {"limit": 1}), ("GET", "/search?limit=1", None),
                ("DELETE", f"/collections/{DEMO}", None)]
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.get("/collections").status_code == 200
        relay.cut()
        for method, path, body in requests:
            response = client.request(method, path, json=body, headers=alice.headers)
            assert response.status_code == 503, (path, response.status_code, response.text[:300])
            assert "database" in _describes(response)
            assert response.headers.get("retry-after")


def test_malformed_writes_are_4xx(catalogue, alice):
    """Patches that cannot apply, or would leave an invalid collection: 500 on main."""
    cid = "alice-patches"
    body = {"type": "Collection", "id": cid, "stac_version": "1.0.0", "description": "t",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [["2025-01-01T00:00:00Z", None]]}}}
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "one", "collection": cid,
            "geometry": {"type": "Point", "coordinates": [12, 43]}, "bbox": [12, 43, 12, 43],
            "properties": {"datetime": "2025-05-01T00:00:00Z"}, "links": [], "assets": {}}
    json_patch = {"content-type": "application/json-patch+json"}
    base = f"{catalogue}/collections/{cid}"
    with alice.client() as client:
        client.delete(base)
        assert client.post(f"{catalogue}/collections", json=body).status_code == 201
        assert client.post(f"{base}/items", json=item).status_code == 201
        try:
            for url, patch in [(base, [{"op": "remove", "path": "/zzz"}]),
                               (base, [{"op": "remove", "path": "/extent"}]),
                               (f"{base}/items/one", [{"op": "remove", "path": "/zzz"}])]:
                response = client.patch(url, json=patch, headers=json_patch)
                assert response.status_code == 400, (patch, response.text[:300])
                _describes(response)
            for url in (base, f"{base}/items", f"{base}/items/one"):  # no body at all
                for method in ("PUT", "PATCH", "POST"):
                    response = client.request(method, url)
                    assert response.status_code == 400, (method, url, response.text)
                    assert "needs a JSON body" in _describes(response)
            # The same connection still answers (a 500 used to reset the next request).
            assert client.get(base).json()["extent"] == body["extent"]
        finally:
            client.delete(base)


def test_an_item_cannot_break_everyones_search(catalogue, alice):
    """PostGIS stores a GeometryCollection nested in another but cannot write it back as
    GeoJSON: on main such an item (any user, own collection) made every search that matched
    it answer 500, for all users."""
    cid = "alice-geometry"
    base = f"{catalogue}/collections/{cid}"
    point = {"type": "Point", "coordinates": [12, 43]}
    nested = {"type": "GeometryCollection",
              "geometries": [{"type": "GeometryCollection", "geometries": [point]}]}
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "nested", "collection": cid,
            "geometry": nested, "bbox": [12, 43, 12, 43],
            "properties": {"datetime": "2025-05-01T00:00:00Z"}, "links": [], "assets": {}}
    collection = {"type": "Collection", "id": cid, "stac_version": "1.0.0", "description": "t",
                  "license": "proprietary", "links": [],
                  "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                             "temporal": {"interval": [["2025-01-01T00:00:00Z", None]]}}}
    with alice.client() as client:
        client.delete(base)
        assert client.post(f"{catalogue}/collections", json=collection).status_code == 201
        try:
            added = client.post(f"{base}/items", json=item)
            assert added.status_code == 400, added.text[:300]
            assert "GeometryCollection" in _describes(added)
            bulk = client.post(f"{base}/bulk_items", json={"items": {"nested": item}})
            assert bulk.json()["success"] == 0, bulk.text[:300]
            searched = httpx.post(f"{catalogue}/search", json={"limit": 100})
            assert searched.status_code == 200, searched.text[:300]
        finally:
            client.delete(base)
