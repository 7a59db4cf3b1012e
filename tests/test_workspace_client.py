"""eopde.workspace without the platform: object keys that cannot escape the workspace, and the
same client code against a fake of EOEPCA's Workspace API 1.4 (a remote third party: the fake
answers with the bodies of the reference notes, `rm-workspace-api@1.4.2 views.py`) over a real
S3 server (rclone serve s3)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eopde.workspace import PublishError, Workspace
from eopde.workspace.upload import safe_key, safe_name

from workspace_helpers import ndvi_catalog

KEY, SECRET = "eoepcaak", "eoepca-secret-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("server did not start")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3")
    (root / "ws-eric").mkdir()
    port = _free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "rclone"), "serve", "s3",
                             "--addr", f"127.0.0.1:{port}", "--auth-key", f"{KEY},{SECRET}",
                             str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(port, proc)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


class FakeWorkspaceApi:
    """EOEPCA rm-workspace-api 1.4: GET /workspaces/{ws}; POST register / register-json answer
    202 with a message (harvest later); deregister 200. Records what it was sent."""

    def __init__(self, s3_endpoint: str):
        from loopback import JsonHandler, LoopbackServer

        self.calls: list[tuple[str, str, dict | None, str]] = []
        fake = self

        class Handler(JsonHandler):
            def do_GET(self):
                fake.calls.append(("GET", self.path, None, self.headers.get("Authorization")))
                if self.path != "/workspaces/ws-eric":
                    return self.send_json(404, {"detail": "Not Found"})
                self.send_json(200, {
                    "status": "ready",
                    "endpoints": [{"id": "resource-catalogue", "url":
                                   "resource-catalogue.ws-eric.example"}],
                    "storage": {"credentials": {"bucketname": "ws-eric", "access": KEY,
                                                "secret": SECRET, "projectid": "p",
                                                "endpoint": s3_endpoint,
                                                "region": "RegionOne"}},
                    "container_registry": {"username": "eric", "password": "x"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                fake.calls.append(("POST", self.path, body, self.headers.get("Authorization")))
                if self.path.endswith("/register"):
                    return self.send_json(202, {"message": f"STAC Catalog '{body['url']}' was "
                                                           "accepted for harvesting"})
                if self.path.endswith("/register-json"):
                    return self.send_json(202, {})
                if self.path.endswith("/deregister"):
                    return self.send_json(200, {})
                self.send_json(404, {"detail": "Not Found"})

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = self.server.url
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def eoepca(s3):
    fake = FakeWorkspaceApi(s3)
    yield fake
    fake.server.shutdown()


def test_keys_cannot_leave_the_workspace():
    assert safe_key("published", "ws-a", "item", "x.tif") == "published/ws-a/item/x.tif"
    for bad in (("published", "..", "x"), ("a/../b",), ("a//b",), ("a\\b",), (".",),
                ("a\x00b",), ("",)):
        with pytest.raises(PublishError):
            safe_key(*bad)
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("/abs/path.tif") == "abs_path.tif"
    assert safe_name("..") == "file"


def test_hostile_item_ids_and_hrefs_stay_inside(tmp_path):
    import pystac

    from eopde.workspace.collect import Provenance, plan

    data = tmp_path / "a.tif"
    data.write_bytes(b"x")
    item = pystac.Item("../../../other-bucket/x", None, None, "2024-01-01T00:00:00Z", {})
    item.add_asset("a", pystac.Asset(str(data)))
    item.add_asset("b", pystac.Asset("s3://other-bucket/secret.tif"))
    item.add_asset("c", pystac.Asset("s3://ws-eric/../../x"))
    with pytest.raises(PublishError):
        plan([item.clone()], "ws-eric", "published/ws-eric", Provenance())
    del item.assets["c"]
    work = plan([item], "ws-eric", "published/ws-eric", Provenance())
    assert [u.key for u in work.uploads] == ["published/ws-eric/other-bucket_x/a.tif"]
    assert item.assets["b"].href == "s3://other-bucket/secret.tif"  # referenced, not copied
    assert work.copies == []


def test_publish_through_eoepca_workspace_api(eoepca, s3, tmp_path):
    folder = ndvi_catalog(tmp_path / "job")
    ws = Workspace("eric", url=eoepca.url, api="eoepca-1.4", token="jwt-of-eric")
    done = ws.publish(folder, progress=False)
    assert done.collection == "ws-eric"
    assert done.answer["status"] == "accepted"
    assert "accepted for harvesting" in done.answer["message"]
    posts = [(path, body) for method, path, body, _ in eoepca.calls if method == "POST"]
    assert [p for p, _ in posts] == ["/workspaces/ws-eric/register-json",
                                     "/workspaces/ws-eric/register"]
    collection = posts[0][1]
    assert collection["type"] == "Collection" and collection["id"] == "ws-eric"
    assert sorted(link["href"] for link in collection["links"] if link["rel"] == "item") == \
        [f"./ndvi-{i}/ndvi-{i}.json" for i in range(3)]
    assert posts[1][1] == {"type": "stac-item",
                           "url": "s3://ws-eric/published/ws-eric/collection.json"}
    assert {auth for *_, auth in eoepca.calls} == {"Bearer jwt-of-eric"}
    item = json.loads(ws.s3.get_object(Bucket="ws-eric", Key="published/ws-eric/ndvi-1/"
                                       "ndvi-1.json")["Body"].read())
    assert item["assets"]["ndvi"]["href"] == "s3://ws-eric/published/ws-eric/ndvi-1/ndvi-1.tif"
    stored = ws.s3.get_object(Bucket="ws-eric", Key="published/ws-eric/ndvi-1/ndvi-1.tif")
    assert stored["Body"].read() == (folder / "ndvi-1.tif").read_bytes()


def _eoepca_job_results(s3, job: str) -> str:
    """A result Catalog as EOEPCA 1.4's ADES stages it out into the workspace bucket (the shape
    of the reference notes: absolute s3:// links, the item under a repeated results prefix);
    its URL."""
    base = f"s3://ws-eric/processing-results/{job}"
    item_key = (f"processing-results/{job}/processing-results/{job}/S2A_ndvi_20240713/"
                "S2A_ndvi_20240713.json")
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "S2A_ndvi_20240713",
            "geometry": {"type": "Polygon", "coordinates": [[[-4.6, 40.2], [-3.4, 40.2],
                                                             [-3.4, 41.1], [-4.6, 41.1],
                                                             [-4.6, 40.2]]]},
            "bbox": [-4.6, 40.2, -3.4, 41.1],
            "properties": {"datetime": "2024-07-13T11:05:59Z", "platform": "sentinel-2a"},
            "links": [{"rel": "root", "href": f"{base}/catalog.json",
                       "type": "application/json"}],
            "assets": {"ndvi": {"href": f"s3://ws-eric/processing-results/{job}/ndvi.tif",
                                "type": "image/tiff; application=geotiff", "roles": ["data"],
                                "storage:platform": "EOEPCA", "storage:region": "RegionOne"}}}
    catalog = {"type": "Catalog", "stac_version": "1.0.0", "id": job,
               "description": "Result catalog", "links": [
                   {"rel": "root", "href": f"{base}/catalog.json", "type": "application/json"},
                   {"rel": "item", "href": f"s3://ws-eric/{item_key}",
                    "type": "application/json"},
                   {"rel": "self", "href": f"{base}/catalog.json", "type": "application/json"}]}
    s3.put_object(Bucket="ws-eric", Key=f"processing-results/{job}/ndvi.tif",
                  Body=b"II*\x00" + bytes(range(256)) * 64)
    s3.put_object(Bucket="ws-eric", Key=item_key, Body=json.dumps(item).encode())
    s3.put_object(Bucket="ws-eric", Key=f"processing-results/{job}/catalog.json",
                  Body=json.dumps(catalog).encode())
    return f"{base}/catalog.json"


def test_publish_an_eoepca_job_catalog_through_eoepca_workspace_api(eoepca, s3):
    """An EOEPCA job's result Catalog, read from the workspace bucket, published through the
    1.4 API: its asset copied inside the bucket, the collection by register-json, then the
    collection.json by register as stac-item (what the 1.4 harvester takes)."""
    import pystac

    from eopde.ades.results import S3StacIO

    ws = Workspace("eric", url=eoepca.url, api="eoepca-1.4", token="jwt-of-eric")
    url = _eoepca_job_results(ws.s3, "ndvi-3ab7c0de")
    catalog = pystac.Catalog.from_file(url, stac_io=S3StacIO(client=ws.s3))
    done = ws.publish(catalog, merge=False, progress=False)
    assert (done.collection, done.uploaded, done.copied) == ("ws-eric.ndvi-3ab7c0de", 0, 1)
    assert done.answer["status"] == "accepted"
    posts = [(path, body) for method, path, body, _ in eoepca.calls if method == "POST"]
    assert [p for p, _ in posts] == ["/workspaces/ws-eric/register-json",
                                     "/workspaces/ws-eric/register"]
    assert posts[0][1]["type"] == "Collection"
    assert posts[0][1]["id"] == "ws-eric.ndvi-3ab7c0de"
    assert [link["href"] for link in posts[0][1]["links"] if link["rel"] == "item"] == \
        ["./S2A_ndvi_20240713/S2A_ndvi_20240713.json"]
    base = "published/ws-eric.ndvi-3ab7c0de"
    assert posts[1][1] == {"type": "stac-item", "url": f"s3://ws-eric/{base}/collection.json"}
    item = json.loads(ws.s3.get_object(
        Bucket="ws-eric", Key=f"{base}/S2A_ndvi_20240713/S2A_ndvi_20240713.json")["Body"].read())
    assert item["assets"]["ndvi"]["href"] == f"s3://ws-eric/{base}/S2A_ndvi_20240713/ndvi.tif"
    assert item["assets"]["ndvi"]["storage:region"] == "RegionOne"
    assert item["collection"] == "ws-eric.ndvi-3ab7c0de"
    copied = ws.s3.get_object(Bucket="ws-eric", Key=f"{base}/S2A_ndvi_20240713/ndvi.tif")
    assert copied["Body"].read() == b"II*\x00" + bytes(range(256)) * 64


def test_a_workspace_that_is_not_ready_says_so(eoepca):
    ws = Workspace("nobody", url=eoepca.url, api="eoepca-1.4", token="t")
    with pytest.raises(PublishError, match="answered 404 for ws-nobody"):
        ws.info


def _header(request, name: str) -> str | None:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _md5(data: bytes) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _upload_client(endpoint: str):
    from eopde import storage

    return storage.client(storage.S3Credentials(endpoint, KEY, SECRET), own_checksums=True,
                          sign_bodies=False)


class Flipped:
    """A request body as sent, its first byte changed after the client hashed it."""

    def __init__(self, body):
        self.body = body

    def read(self, amount=None):
        data = self.body.read(amount)
        return (b"\xff" + data[1:]) if self.body.tell() == len(data) else data

    def __getattr__(self, name):
        return getattr(self.body, name)


def _corrupt(request, **kwargs) -> None:
    request.body = Flipped(request.body)


def test_every_part_is_checked_against_the_servers_md5(s3, tmp_path):
    from eopde.workspace.upload import Upload, transfer

    part = 5 * 1024 * 1024
    big = tmp_path / "big.tif"
    big.write_bytes(bytes(range(256)) * (part * 2 // 256 + 1000))  # 3 parts
    client = _upload_client(s3)
    sent: list[tuple[str | None, str | None]] = []

    def record(request, **kwargs):
        sent.append((_header(request, "Content-MD5"), _header(request, "X-Amz-Content-SHA256")))

    client.meta.events.register("before-send.s3.UploadPart", record)
    sizes = {"single_max": part, "part": part}
    transfer(client, "ws-eric", [Upload(big, "t/big.tif")], [], progress=False, **sizes)
    # hashed as sent, not before (no Content-MD5), nor again for the signature
    assert sent == [(None, "UNSIGNED-PAYLOAD")] * 3
    stored = client.get_object(Bucket="ws-eric", Key="t/big.tif")["Body"].read()
    assert stored == big.read_bytes()

    client.meta.events.register("before-send.s3.UploadPart", _corrupt)
    with pytest.raises(PublishError, match=r"^upload of big.tif failed: the server's MD5 of "
                                           r"the stored bytes differs from the file's "
                                           r"\(ETag [0-9a-f]{32}\)"):
        transfer(client, "ws-eric", [Upload(big, "t/big2.tif")], [], progress=False, **sizes)
    listed = client.list_objects_v2(Bucket="ws-eric", Prefix="t/big2")
    assert listed.get("Contents", []) == []  # the multipart upload was aborted


def test_a_single_put_is_checked_against_the_servers_md5(s3, tmp_path, monkeypatch):
    from eopde.workspace import upload as upload_module
    from eopde.workspace.upload import Upload, put_json, transfer

    moved: list[int] = []

    class Bar:
        def update(self, n):
            moved.append(n)

        def close(self):
            pass

    monkeypatch.setattr(upload_module, "_progress", lambda total, show: Bar())
    tif = tmp_path / "scene.tif"
    tif.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: one PutObject
    client = _upload_client(s3)
    sent: list[tuple[str, str | None, str | None]] = []

    def record(request, **kwargs):
        sent.append((request.url.rsplit("/", 1)[-1], _header(request, "Content-MD5"),
                     _header(request, "X-Amz-Content-SHA256")))

    client.meta.events.register("before-send.s3.PutObject", record)
    transfer(client, "ws-eric", [Upload(tif, "t/scene.tif")], [], progress=True)
    assert sum(moved) == tif.stat().st_size and len(moved) > 1  # the bar moves as it goes
    put_json(client, "ws-eric", {"t/item.json": {"id": "scene"}})
    body = json.dumps({"id": "scene"}, indent=1).encode()
    # the file hashed as it is sent (checked against the ETag), the documents by Content-MD5;
    # neither hashed again for the signature
    assert sorted(sent) == [("item.json", _md5(body), "UNSIGNED-PAYLOAD"),
                            ("scene.tif", None, "UNSIGNED-PAYLOAD")]
    assert client.get_object(Bucket="ws-eric", Key="t/scene.tif")["Body"].read() == \
        tif.read_bytes()

    client.meta.events.register("before-send.s3.PutObject", _corrupt)
    with pytest.raises(PublishError, match=r"^upload of scene.tif failed: the server's MD5 "
                                           r"of the stored bytes differs from the file's "
                                           r"\(ETag [0-9a-f]{32}\)"):
        transfer(client, "ws-eric", [Upload(tif, "t/scene2.tif")], [], progress=False)
    listed = client.list_objects_v2(Bucket="ws-eric", Prefix="t/scene2")
    assert listed.get("Contents", []) == []  # the corrupted object is not left behind


def test_job_input_urls_skip_redacted_inputs_and_servers_without_the_route():
    """derived_from links come from `Job.inputs()`: every URL of the inputs (strings, qualified
    `{"href"}` values, CWL locations) once, in order; not the inputs the ADES redacted; none
    when the server does not give a job's inputs."""
    from types import SimpleNamespace

    from eopde.ades import InputsUnavailable, JobInputs
    from eopde.workspace.collect import job_input_urls

    given = JobInputs(job_id="j1", process_id="ndvi", redacted=["signed"], inputs={
        "scenes": ["https://cat/items/a", {"href": "https://cat/items/b"}, "https://cat/items/a"],
        "dem": {"class": "Directory", "location": "s3://user-eve/dem/catalog.json"},
        "threshold": 0.3, "label": "not a url", "signed": "https://x/y?sig=REDACTED"})
    job = SimpleNamespace(id="j1", inputs=lambda: given)
    assert job_input_urls(job) == ["https://cat/items/a", "https://cat/items/b",
                                   "s3://user-eve/dem/catalog.json"]

    def unavailable():
        raise InputsUnavailable("no such route", status=404)

    assert job_input_urls(SimpleNamespace(id="j2", inputs=unavailable)) == []
