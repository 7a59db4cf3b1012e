"""The local ADES executor: jobs through stage-in, cwltool --no-container and stage-out to a real
S3 server (`rclone serve s3`), failures, dismiss of a whole process tree, recovery after a
restart, the bounded worker pool, and stage-in from s3:// item URLs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from stacserver import serve_demo_items

from eopde.hub.local import bucket_name
from eopde.services.ades.executor import RESTART_MESSAGE, LocalExecutor
from eopde.services.process import group_alive
from eopde.services.ades.stageout import StageOutTarget, read_catalog, stage_out
from eopde.services.ades.store import JobStore, ProcessRecord

HERE = Path(__file__).parent
PACKAGE = HERE / "data" / "run_package"
KEY, SECRET = "testkey", "testsecret"

# A light package: one CommandLineTool in plain Python (cwltool's own start-up dominates), that
# can sleep (in a grandchild process too), fail, and count the items of a staged Directory.
LIGHT_SCRIPT = r'''
import json, os, subprocess, sys, time, datetime
import pystac
sleep, fail = float(sys.argv[1]), sys.argv[2] == "yes"
items = sys.argv[3] if len(sys.argv) > 3 else ""
t0 = time.time()
if sleep:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(%s)" % (sleep * 3)])
    time.sleep(sleep)
if fail:
    print("light tool: failing on purpose", file=sys.stderr)
    sys.exit(3)
n = 0
if items:
    cat = pystac.Catalog.from_file(os.path.join(items, "catalog.json"))
    for it in cat.get_items(recursive=True):
        for a in it.assets.values():
            assert os.path.isfile(a.get_absolute_href())
        n += 1
os.makedirs("res", exist_ok=True)
with open("res/result.txt", "w") as f:
    f.write(json.dumps({"inputs": n, "t0": t0, "t1": time.time()}))
out = pystac.Catalog(id="results", description="light results")
item = pystac.Item(id="res", geometry={"type": "Point", "coordinates": [7, 45]}, bbox=[7, 45, 7, 45],
                   datetime=datetime.datetime(2024, 1, 1), properties={"inputs": n})
item.add_asset("data", pystac.Asset(href=os.path.abspath("res/result.txt"), media_type="text/plain"))
out.add_item(item)
out.normalize_hrefs(os.path.abspath("."))
out.make_all_asset_hrefs_relative()
out.save(pystac.CatalogType.SELF_CONTAINED)
'''

LIGHT_CWL = {
    "cwlVersion": "v1.2",
    "$graph": [
        {"class": "Workflow", "id": "light",
         "inputs": {"sleep": {"type": "float", "default": 0},
                    "fail": {"type": "boolean", "default": False},
                    "items": {"type": "Directory?"}},
         "outputs": {"results": {"type": "Directory", "outputSource": "step/results"}},
         "steps": {"step": {"run": "#tool", "in": {"sleep": "sleep", "fail": "fail",
                                                   "items": "items"}, "out": ["results"]}}},
        {"class": "CommandLineTool", "id": "tool",
         "requirements": {"DockerRequirement": {"dockerPull": "python:3.12-slim"},
                          "InlineJavascriptRequirement": {}},
         "baseCommand": ["python", "-c", LIGHT_SCRIPT],
         "arguments": ["$(inputs.sleep)", "$(inputs.fail ? 'yes' : 'no')",
                       "$(inputs.items ? inputs.items.path : '')"],
         "inputs": {"sleep": "float", "fail": "boolean", "items": "Directory?"},
         "outputs": {"results": {"type": "Directory", "outputBinding": {"glob": "."}}}},
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A real S3 server: rclone serve s3 over a temporary folder."""
    root = tmp_path_factory.mktemp("s3")
    port = _free_port()
    rclone = Path(sys.executable).parent / "rclone"
    proc = subprocess.Popen([str(rclone), "serve", "s3", "--addr", f"127.0.0.1:{port}",
                             "--auth-key", f"{KEY},{SECRET}", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("rclone serve s3 did not start")
            time.sleep(0.1)
    target = StageOutTarget(endpoint=f"http://127.0.0.1:{port}", access_key=KEY,
                            secret_key=SECRET)
    yield {"target": target, "client": target.client(), "root": root,
           "endpoint": target.endpoint}
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def stac_server(tmp_path_factory):
    """Demo COGs + one JSON file per STAC item (absolute asset hrefs) served over HTTP."""
    with serve_demo_items(tmp_path_factory.mktemp("stac")) as served:
        yield served


@pytest.fixture
def store(tmp_path):
    st = JobStore(f"sqlite:///{tmp_path}/ades.db")
    yield st
    st.close()


def _deploy(store, user: str, pid: str, cwl_text: str, workflow_id: str) -> None:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    store.add_process(ProcessRecord(user=user, id=pid, version="0.1.0", cwl_text=cwl_text,
                                    workflow_id=workflow_id, description={}, created=now,
                                    updated=now))


def _light(store, user="alice", pid="light"):
    _deploy(store, user, pid, json.dumps(LIGHT_CWL), "light")


def _executor(store, tmp_path, s3, **kw) -> LocalExecutor:
    kw.setdefault("workers", 2)
    ex = LocalExecutor(store, work_dir=tmp_path / "jobs", engine="none", storage=s3["target"],
                       kill_grace=3, **kw)
    ex.start()
    return ex


def _poll_statuses(store, job_id, stop: threading.Event, seen: list):
    while not stop.is_set():
        job = store.get_job(job_id)
        if job and (not seen or seen[-1] != (job.status, job.progress)):
            seen.append((job.status, job.progress))
        time.sleep(0.02)


# --------------------------------------------------------------------------- end to end


def test_job_end_to_end_notebook_package(store, tmp_path, s3, stac_server):
    """The hand-written notebook package (papermill), staged STAC input over HTTP, results in S3."""
    _deploy(store, "alice", "test-app", (PACKAGE / "test-app.cwl").read_text(), "test-app")
    ex = _executor(store, tmp_path, s3, app_dirs=lambda process: PACKAGE)
    try:
        job = store.create_job("alice", "test-app", {
            "items": stac_server["urls"], "factor": {"value": 2.5}, "label": "hello",
            "bands": ["B04"]}, None, "async")
        seen: list = []
        stop = threading.Event()
        poller = threading.Thread(target=_poll_statuses, args=(store, job.id, stop, seen))
        poller.start()
        t0 = time.monotonic()
        ex.submit(job.id)
        done = ex.wait(job.id, timeout=180)
        elapsed = time.monotonic() - t0
        time.sleep(0.1)
        stop.set()
        poller.join()
    finally:
        ex.shutdown()
    assert done.status == "successful", (done.message, Path(done.log_path).read_text()[-3000:])
    assert done.progress == 100 and done.finished and done.started
    statuses = [s for s, _ in seen]
    assert statuses[0] in ("accepted", "running") and statuses[-1] == "successful"
    progresses = [p for _, p in seen]
    assert progresses == sorted(progresses)  # never goes back
    assert {10, 20, 95} & set(progresses)
    # The tool's own progress: its command starting (27) and papermill's 4 cells (3 + injected
    # parameters: 34, 46, 58, 70 as each starts) move it on, not 20 until the step ends.
    assert set(progresses) & {34, 46, 58, 70}, progresses
    assert "Executing Cell 4" in Path(done.log_path).read_text()
    uri = f"s3://user-alice/processing-results/{job.id}/catalog.json"
    assert done.results["StacCatalogUri"] == uri
    assert done.results["results"] == {"href": uri, "type": "application/json",
                                       "rel": "stac-catalog"}
    # really in the S3 server, and readable back with pystac
    keys = [o["Key"] for o in s3["client"].list_objects_v2(
        Bucket="user-alice", Prefix=f"processing-results/{job.id}/")["Contents"]]
    assert f"processing-results/{job.id}/catalog.json" in keys
    cat = read_catalog(uri, client=s3["client"])
    items = list(cat.get_items(recursive=True))
    assert sorted(i.id for i in items) == sorted(f"{i['id']}-result" for i in stac_server["items"])
    for item in items:
        href = item.assets["summary"].href
        assert href.startswith(f"s3://user-alice/processing-results/{job.id}/")
        bucket, key = href[5:].split("/", 1)
        body = json.loads(s3["client"].get_object(Bucket=bucket, Key=key)["Body"].read())
        assert body["factor"] == 2.5
    raw = json.loads(s3["client"].get_object(
        Bucket="user-alice", Key=f"processing-results/{job.id}/catalog.json")["Body"].read())
    assert all(not link["href"].startswith(("/", "s3:", "file:")) for link in raw["links"])
    assert any(k.endswith(".ipynb") for k in keys)  # the executed notebook travels too
    text = Path(done.log_path).read_text()
    assert "--no-container" in text and "stage-in" in text and "Final process status is success" in text
    print(f"\nnotebook job: {elapsed:.1f} s in all; log timings:",
          [ln for ln in text.splitlines() if "timings" in ln])


def test_failing_tool_ends_failed_with_reason(store, tmp_path, s3, stac_server):
    _deploy(store, "alice", "test-app", (PACKAGE / "test-app.cwl").read_text(), "test-app")
    ex = _executor(store, tmp_path, s3, app_dirs=lambda process: PACKAGE)
    try:
        job = store.create_job("alice", "test-app", {
            "items": stac_server["urls"][0], "factor": 1, "label": "x", "fail": True}, None, "async")
        ex.submit(job.id)
        done = ex.wait(job.id, timeout=180)
    finally:
        ex.shutdown()
    assert done.status == "failed"
    # what failed (the step and its exit code), no server path, no log lines: the log has them
    assert re.fullmatch(r"the tool failed: step [\w-]+ exited with code [1-9]\d*; the step's "
                        r"log is linked from the job status", done.message), done.message
    assert "failing on purpose" in Path(done.log_path).read_text()
    assert done.results is None and done.finished is not None and done.pid is None


def test_bad_inputs_and_undeployed_process_fail_clearly(store, tmp_path, s3):
    _light(store)
    ex = _executor(store, tmp_path, s3)
    try:
        bad = store.create_job("alice", "light", {"sleep": "soon"}, None, "async")
        gone = store.create_job("alice", "nothing", {}, None, "async")
        ex.submit(bad.id)
        ex.submit(gone.id)
        bad, gone = ex.wait(bad.id, 60), ex.wait(gone.id, 60)
    finally:
        ex.shutdown()
    assert bad.status == "failed" and "sleep" in bad.message and "number" in bad.message
    assert gone.status == "failed" and "no longer deployed" in gone.message


# --------------------------------------------------------------------------- dismiss


def test_dismiss_stops_the_whole_process_tree(store, tmp_path, s3):
    _light(store)
    ex = _executor(store, tmp_path, s3)
    try:
        job = store.create_job("alice", "light", {"sleep": 20}, None, "async")
        ex.submit(job.id)
        deadline = time.monotonic() + 60
        while True:  # wait until the tool and its child (grandchildren of cwltool) run
            rec = store.get_job(job.id)
            members = _group_members(rec.pid) if rec.pid else []
            if len(members) >= 3:  # cwltool, the tool, the tool's child
                break
            assert time.monotonic() < deadline, rec
            time.sleep(0.1)
        pgid = rec.pid
        t0 = time.monotonic()
        out = ex.dismiss(job.id)
        took = time.monotonic() - t0
        assert out.status == "dismissed" and "dismissed" in out.message
        assert not group_alive(pgid)
        assert not [p for p in members if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
        time.sleep(1.5)  # the worker notices, and must not overwrite the status
        final = store.get_job(job.id)
        assert final.status == "dismissed" and final.results is None
        assert took < 10
    finally:
        ex.shutdown()


def _group_members(pgid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if os.getpgid(int(p.name)) == pgid:
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except OSError:
        pass
    return "gone"


def test_dismiss_a_queued_job_never_runs_it(store, tmp_path, s3):
    _light(store)
    ex = _executor(store, tmp_path, s3, workers=1)
    try:
        first = store.create_job("alice", "light", {"sleep": 0.5}, None, "async")
        second = store.create_job("alice", "light", {}, None, "async")
        ex.submit(first.id)
        ex.submit(second.id)
        assert ex.dismiss(second.id).status == "dismissed"
        assert ex.wait(first.id, 90).status == "successful"
        time.sleep(0.5)
        after = store.get_job(second.id)
        assert after.status == "dismissed" and after.started is None
    finally:
        ex.shutdown()


# --------------------------------------------------------------------------- restart


def test_restart_accounts_for_every_job(store, tmp_path, s3):
    _light(store)
    # what a killed service leaves: a running job whose cwltool-looking group still runs, a
    # running job whose process is gone, and queued jobs
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "cwltool"],
                                start_new_session=True)
    running = store.create_job("alice", "light", {}, None, "async")
    store.update_job(running.id, status="running", progress=40, pid=leftover.pid)
    stale = store.create_job("alice", "light", {}, None, "async")
    store.update_job(stale.id, status="running", progress=20, pid=999_999)
    queued = [store.create_job("alice", "light", {}, None, "async") for _ in range(2)]
    ex = _executor(store, tmp_path, s3)
    try:
        for j in (running, stale):
            rec = store.get_job(j.id)
            assert rec.status == "failed" and rec.message.startswith(RESTART_MESSAGE)
            assert rec.finished is not None
        assert leftover.wait(15) is not None  # the leftover process group was stopped
        for j in queued:
            assert ex.wait(j.id, 90).status == "successful"
        assert not store.jobs_with_status(["running", "accepted"])
    finally:
        ex.shutdown()
        if leftover.poll() is None:
            leftover.kill()


# --------------------------------------------------------------------------- pool


def test_bounded_pool(store, tmp_path, s3):
    _light(store)
    ex = _executor(store, tmp_path, s3, workers=2)
    try:
        jobs = [store.create_job("alice", "light", {"sleep": 1}, None, "async") for _ in range(5)]
        t0 = time.monotonic()
        for j in jobs:
            ex.submit(j.id)
        done = [ex.wait(j.id, 180) for j in jobs]
        total = time.monotonic() - t0
    finally:
        ex.shutdown()
    assert all(d.status == "successful" for d in done), [d.message for d in done]
    spans = sorted((d.started.timestamp(), d.finished.timestamp()) for d in done)
    # timestamps are whole seconds: use the tool's own times, recorded in the results
    tool_spans = []
    for d in done:
        key = d.results["StacCatalogUri"][5:].split("/", 1)[1].replace("catalog.json", "res/result.txt")
        body = json.loads(s3["client"].get_object(Bucket="user-alice", Key=key)["Body"].read())
        tool_spans.append((body["t0"], body["t1"]))
    events = sorted([(a, 1) for a, _ in tool_spans] + [(b, -1) for _, b in tool_spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak <= 2
    assert peak == 2  # and the pool is used
    assert len(spans) == 5
    print(f"\n5 light jobs on 2 workers: {total:.1f} s")


# --------------------------------------------------------------------------- stage-in over S3


def test_stage_in_from_s3_item(store, tmp_path, s3, stac_server, monkeypatch):
    client = s3["client"]
    client.create_bucket(Bucket="inputs")
    src = stac_server["items"][0]
    item = json.loads(json.dumps(src))
    # the item in S3, one asset by relative href (beside it), one by absolute s3:// URL
    keys = list(item["assets"])[:2]
    for n, key in enumerate(keys):
        local = stac_server["root"] / item["assets"][key]["href"].split(stac_server["base"] + "/")[1]
        client.upload_file(str(local), "inputs", f"scenes/{item['id']}/{key}.tif")
        item["assets"][key]["href"] = (f"./{key}.tif" if n == 0
                                       else f"s3://inputs/scenes/{item['id']}/{key}.tif")
    item["assets"] = {k: item["assets"][k] for k in keys}
    item["links"] = []
    client.put_object(Bucket="inputs", Key=f"scenes/{item['id']}/{item['id']}.json",
                      Body=json.dumps(item).encode())
    monkeypatch.setenv("EOPDE_S3_ENDPOINT", s3["endpoint"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    _light(store, user="bob")
    ex = _executor(store, tmp_path, s3, keep_work=3600)  # keep the sandbox to look at it
    try:
        url = f"s3://inputs/scenes/{item['id']}/{item['id']}.json"
        job = store.create_job("bob", "light", {"items": [{"href": url}]}, None, "async")
        ex.submit(job.id)
        done = ex.wait(job.id, 90)
        bad = store.create_job("bob", "light", {"items": "s3://inputs/nope.json"}, None, "async")
        ex.submit(bad.id)
        bad = ex.wait(bad.id, 60)
    finally:
        ex.shutdown()
    assert done.status == "successful", (done.message, Path(done.log_path).read_text()[-2000:])
    staged = ex.sandbox(job.id) / "run" / "stage-in" / "items" / item["id"]
    assert sorted(p.name for p in staged.glob("*.tif")) == sorted(f"{k}.tif" for k in keys)
    cat = read_catalog(done.results["StacCatalogUri"], client=client)
    (res,) = list(cat.get_items(recursive=True))
    assert res.properties["inputs"] == 1
    assert done.results["StacCatalogUri"].startswith("s3://user-bob/processing-results/")
    assert bad.status == "failed" and "stage-in failed" in bad.message and "nope.json" in bad.message


# --------------------------------------------------------------------------- stage-out alone


def test_stage_out_rewrites_links_and_assets(tmp_path, s3):
    import pystac

    folder = tmp_path / "out"
    folder.mkdir()
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("outside")
    cat = pystac.Catalog(id="c", description="d")
    sub = pystac.Catalog(id="sub", description="sub")
    cat.add_child(sub)
    for n, parent in enumerate((cat, sub)):
        it = pystac.Item(id=f"i{n}", geometry={"type": "Point", "coordinates": [0, 0]},
                         bbox=[0, 0, 0, 0], datetime=__import__("datetime").datetime(2024, 1, 1),
                         properties={})
        (folder / f"a{n}.txt").write_text(f"asset {n}")
        it.add_asset("a", pystac.Asset(href=str(folder / f"a{n}.txt")))
        it.add_asset("far", pystac.Asset(href=str(outside)))
        it.add_asset("web", pystac.Asset(href="https://example.org/x.tif"))
        parent.add_item(it)
    cat.normalize_hrefs(str(folder))
    cat.save(pystac.CatalogType.ABSOLUTE_PUBLISHED)  # absolute links: must become relative
    doc = stage_out({"out": folder}, user="Carol.X", job_id="j1", target=s3["target"],
                    within=tmp_path)  # the job's folder: "elsewhere.txt" is the job's too
    bucket = bucket_name("Carol.X")
    uri = f"s3://{bucket}/processing-results/j1/catalog.json"
    assert doc == {"out": {"href": uri, "type": "application/json", "rel": "stac-catalog"},
                   "StacCatalogUri": uri}
    back = read_catalog(uri, client=s3["client"])
    items = {i.id: i for i in back.get_items(recursive=True)}
    assert set(items) == {"i0", "i1"}
    for it in items.values():
        assert it.assets["web"].href == "https://example.org/x.tif"
        for key in ("a", "far"):
            b, k = it.assets[key].href[5:].split("/", 1)
            assert b == bucket
            s3["client"].head_object(Bucket=b, Key=k)
    raw = s3["client"].get_object(Bucket=bucket,
                                  Key="processing-results/j1/catalog.json")["Body"].read().decode()
    assert str(folder) not in raw and '"self"' not in raw


def test_stage_out_keeps_users_that_normalise_alike_apart(tmp_path, s3):
    """`alice`, `alice_` and `Alice` (security issue, item 12): three users, three buckets, each
    the one their server is told (`bucket_name`), and nobody's results in another's bucket."""
    folder = tmp_path / "out"
    folder.mkdir()
    cat = __import__("pystac").Catalog(id="c", description="d")
    cat.normalize_hrefs(str(folder))
    cat.save(__import__("pystac").CatalogType.SELF_CONTAINED)
    buckets = {}
    for n, user in enumerate(("alice", "alice_", "Alice")):
        doc = stage_out({"out": folder}, user=user, job_id=f"n{n}", target=s3["target"])
        buckets[user] = doc["StacCatalogUri"][len("s3://"):].split("/", 1)[0]
        assert buckets[user] == bucket_name(user)
    assert buckets["alice"] == "user-alice" and len(set(buckets.values())) == 3
    for n, user in enumerate(("alice", "alice_", "Alice")):
        keys = [o["Key"] for o in s3["client"].list_objects_v2(
            Bucket=buckets[user], Prefix="processing-results/n")["Contents"]]
        assert keys == [f"processing-results/n{n}/catalog.json"]


def test_directory_array_output_stages_out_an_array_of_catalogs(store, tmp_path, s3,
                                                                stac_server):
    """A Directory[] output (one catalog per scene of a scattered step): each catalog goes under
    <job>/<output>/<index>/ and the output's result is the array of their links."""
    cwl = (HERE / "data" / "directory_array_run" / "scene-masks.cwl").read_text()
    _deploy(store, "alice", "scene-masks", cwl, "scene-masks")
    ex = _executor(store, tmp_path, s3)
    try:
        job = store.create_job("alice", "scene-masks", {
            "scenes": stac_server["urls"][:2], "threshold": {"value": 0.3}}, None, "async")
        ex.submit(job.id)
        done = ex.wait(job.id, timeout=180)
    finally:
        ex.shutdown()
    assert done.status == "successful", (done.message, Path(done.log_path).read_text()[-3000:])
    base = f"s3://user-alice/processing-results/{job.id}/masks"
    links = [{"href": f"{base}/{i}/catalog.json", "type": "application/json",
              "rel": "stac-catalog"} for i in (0, 1)]
    assert done.results == {"masks": links, "StacCatalogUri": f"{base}/0/catalog.json"}
    assert done.message.startswith("2 item(s) staged out")
    for i, link in enumerate(links):
        items = list(read_catalog(link["href"], client=s3["client"]).get_items(recursive=True))
        assert [it.id for it in items] == [f"{stac_server['items'][i]['id']}-mask"]
        assert items[0].properties["mask:threshold"] == 0.3
        assert items[0].assets["mask"].href == f"{base}/{i}/mask/mask.txt"
