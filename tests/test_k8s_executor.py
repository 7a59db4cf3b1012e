"""The ADES's Kubernetes executor against a FAKE Kubernetes API server (tests/k8s_fake.py: the
official ``kubernetes`` client over HTTP; RBAC evaluated as Kubernetes does; no kube-apiserver
can run here). The ADES talks to it as its own ServiceAccount, with only the rights
eopde.hub.k8s_rbac gives it; the tests play the Job controller and kubelet
(:meth:`FakeCluster.pod_ended`). Stage-in and stage-out really running, against the real
storage part, are in tests/test_k8s_e2e.py.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import kubernetes
import pytest

from eopde.hub.k8s_rbac import ADES_RULES, ADES_SA, ades_provisioner_rbac
from eopde.services.ades.calrissian import CalrissianBackend
from eopde.services.ades.fetchpolicy import policy_for
from eopde.services.ades.k8s_executor import NO_USER_KEYS, KubernetesExecutor
from eopde.services.ades.k8s_steps import RESULTS_MARK
from eopde.services.ades.stageout import StageOutTarget
from eopde.services.ades.store import JobStore, ProcessRecord
from eopde.services.workspace_store import ensure_keys
from k8s_fake import FakeCluster
from security.ades_jobs import CATALOG_SH

TEMPLATE = "eopde-{username}"
ADES_USER = f"system:serviceaccount:eopde:{ADES_SA}"
#: Lists the staged scene into loot.txt, then writes the result catalog.
CWL = {
    "cwlVersion": "v1.2",
    "$graph": [
        {"class": "Workflow", "id": "read-scene",
         "inputs": {"scene": {"type": "Directory"}, "note": {"type": "string", "default": "x"}},
         "outputs": {"results": {"type": "Directory", "outputSource": "run/results"}},
         "steps": {"run": {"run": "#tool", "in": {"scene": "scene"}, "out": ["results"]}}},
        {"class": "CommandLineTool", "id": "tool",
         "hints": {"DockerRequirement": {"dockerPull": "docker.io/library/busybox:1.36"}},
         "baseCommand": ["sh", "-c", 'ls -R "$1" > loot.txt' + CATALOG_SH, "tool"],
         "arguments": ["$(inputs.scene.path)"],
         "inputs": {"scene": "Directory"},
         "outputs": {"results": {"type": "Directory", "outputBinding": {"glob": "."}}}},
    ],
}


def make_executor(store, fake, tmp_path, *, keys: bool = True, endpoint: str = "http://127.0.0.1:9",
                  origins=("http://127.0.0.1:9",)) -> KubernetesExecutor:
    target = StageOutTarget(endpoint=endpoint, keys_file=str(tmp_path / "home" / "workspace"
                                                              / "keys.json") if keys else None,
                            access_key="PLATFORMKEY", secret_key="platform-secret")
    return KubernetesExecutor(
        store, backend=CalrissianBackend(user_namespace_template=TEMPLATE, storage_class="rwx",
                                         volume_size="1Gi"),
        storage=target, work_dir=tmp_path / "jobs", poll=0.05, max_timeout=7200,
        api=fake.client(fake.service_account_token("eopde", ADES_SA)),
        url_policy=lambda user: policy_for(user, list(origins)))


def add_processes(store, *users: str) -> None:
    now = datetime.now(timezone.utc)
    for user in users:
        store.add_process(ProcessRecord(user=user, id="read-scene", version="1.0.0",
                                        cwl_text=json.dumps(CWL), workflow_id="read-scene",
                                        description={}, created=now, updated=now))


@pytest.fixture
def k8s(tmp_path):
    fake = FakeCluster().start()
    for obj in ades_provisioner_rbac("eopde"):  # the operator's one step
        kubernetes.utils.create_from_dict(fake.client(), obj)
    store = JobStore(f"sqlite:///{tmp_path}/ades.db")
    add_processes(store, "alice", "mallory")
    ex = make_executor(store, fake, tmp_path)
    ex.start()
    yield SimpleNamespace(fake=fake, store=store, ex=ex, keys=tmp_path / "home" / "workspace"
                          / "keys.json", tmp=tmp_path)
    ex.shutdown()
    store.close()
    fake.stop()


def submit(k8s, user: str, scene: str, timeout: float | None = None, **inputs):
    job = k8s.store.create_job(user, "read-scene", {"scene": scene, **inputs}, None, "async")
    k8s.ex.submit(job.id, timeout=timeout)
    return job


def kube_job(k8s, job, wait: float = 20.0) -> dict:
    """The Job object the executor made for ``job`` (waits for it)."""
    ns = f"eopde-{job.user}"
    end = time.monotonic() + wait
    while time.monotonic() < end:
        found = [o for o in k8s.fake.items("batch", "jobs", ns) if job.id in o["metadata"]["name"]]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no Job for {job.id}: {k8s.store.get_job(job.id)}")


def job_objects(k8s, job) -> list[tuple[str, str]]:
    return sorted((res, name) for (_, res, ns, name) in list(k8s.fake.objects)
                  if ns == f"eopde-{job.user}" and job.id in name)


def test_a_job_runs_in_its_owners_namespace_with_her_keys(k8s):
    job = submit(k8s, "alice", "s3://user-alice/scenes/a/item.json", timeout=900)
    kjob = kube_job(k8s, job)
    ns = "eopde-alice"
    # the namespace and its RBAC were made by the first job, by the ADES itself
    assert k8s.fake.get("rbac.authorization.k8s.io", "roles", ns, "eopde-calrissian")
    assert {r for r, _ in job_objects(k8s, job)} == {
        "configmaps", "secrets", "persistentvolumeclaims", "jobs"}
    pod = kjob["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["stage-in", "calrissian"]
    assert [c["name"] for c in pod["containers"]] == ["stage-out"]
    assert kjob["spec"]["activeDeadlineSeconds"] == 900
    # the owner's keys, in the job's Secret: hers, not mallory's, not the platform's
    (secret,) = [o for o in k8s.fake.items("", "secrets", ns) if job.id in o["metadata"]["name"]]
    mine, theirs = ensure_keys(k8s.keys, "alice"), ensure_keys(k8s.keys, "mallory")
    name = secret["metadata"]["name"]
    assert k8s.fake.secret_value(ns, name, "AWS_ACCESS_KEY_ID") == mine.access
    assert k8s.fake.secret_value(ns, name, "AWS_SECRET_ACCESS_KEY") == mine.secret
    assert mine.access != theirs.access
    # ...reaching only the stage-in and stage-out containers, never Calrissian or the plan
    for c in pod["initContainers"] + pod["containers"]:
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", [])
                if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]}
        assert refs == ({name} if c["name"] != "calrissian" else set())
        assert "PLATFORMKEY" not in json.dumps(c) and mine.secret not in json.dumps(c)
    (config,) = [o for o in k8s.fake.items("", "configmaps", ns)
                 if job.id in o["metadata"]["name"]]
    plan = json.loads(config["data"]["plan.json"])
    assert plan["stac"] == {"scene": {"kind": "Directory",
                                      "refs": ["s3://user-alice/scenes/a/item.json"]}}
    assert plan["policy"]["bucket"] == "user-alice" and plan["job"] == {}
    assert mine.secret not in json.dumps(config)
    assert k8s.store.get_job(job.id).status == "running"


def test_the_ades_calls_exactly_what_its_role_grants(k8s):
    """Least privilege, recorded: what the ADES's ServiceAccount did in alice's namespace over a
    job's whole life is exactly what its Role grants; nothing was refused."""
    job = submit(k8s, "alice", "s3://user-alice/scenes/a/item.json")
    kjob = kube_job(k8s, job)
    k8s.fake.pod_ended("eopde-alice", kjob["metadata"]["name"],
                       {"stage-in": 0, "calrissian": 1}, {"calrissian": "boom"})
    done = k8s.ex.wait(job.id, timeout=20)
    assert done.status == "failed"
    used = {(verb, group, res) for user, verb, group, res, ns, _, ok in k8s.fake.calls
            if user == ADES_USER and ns == "eopde-alice"}
    granted = {(v, g, r) for rule in ADES_RULES for v in rule["verbs"]
               for g in rule["apiGroups"] for r in rule["resources"]}
    rbac = "rbac.authorization.k8s.io"  # the first job made her namespace's RBAC
    made = {("create", "", "serviceaccounts"), ("create", rbac, "roles"),
            ("create", rbac, "rolebindings")}
    assert used == granted | made
    assert all(ok for user, *_, ok in k8s.fake.calls if user == ADES_USER)


def test_stage_in_refusal_is_the_jobs_message_and_the_objects_go(k8s):
    job = submit(k8s, "alice", "s3://user-alice/scenes/a/item.json")
    kjob = kube_job(k8s, job)
    said = ("stage-in failed: input 'scene': STAC item s3://user-alice/scenes/a/item.json: "
            "cannot fetch it (S3 error NoSuchKey)")
    k8s.fake.pod_ended("eopde-alice", kjob["metadata"]["name"], {"stage-in": 1},
                       {"stage-in": f"fetching\n{said}\n"})
    done = k8s.ex.wait(job.id, timeout=20)
    assert (done.status, done.message) == ("failed", said)
    log = open(done.log_path).read()
    assert f"stage-in: {said}" in log
    assert job_objects(k8s, job) == []  # Secret, ConfigMap, volumes and Job deleted
    assert k8s.fake.get("", "namespaces", "", "eopde-alice") is not None  # hers, it stays


def test_workflow_failure_and_deadline(k8s):
    job = submit(k8s, "alice", "s3://user-alice/a/item.json")
    k8s.fake.pod_ended("eopde-alice", kube_job(k8s, job)["metadata"]["name"],
                       {"stage-in": 0, "calrissian": 2}, {"calrissian": "tool exited 3"})
    done = k8s.ex.wait(job.id, timeout=20)
    assert done.message.startswith("the workflow failed (Calrissian exited 2)")
    assert "calrissian: tool exited 3" in open(done.log_path).read()
    late = submit(k8s, "alice", "s3://user-alice/a/item.json", timeout=60)
    k8s.fake.pod_ended("eopde-alice", kube_job(k8s, late)["metadata"]["name"], {"stage-in": 0},
                       {}, deadline=True)
    done = k8s.ex.wait(late.id, timeout=20)
    assert done.status == "failed" and "time limit of 60 s" in done.message


def test_results_outside_the_jobs_folder_are_refused(k8s):
    """The stage-out container's results document must point into the job's own prefix of the
    owner's bucket (a step that printed another user's catalog gets no results)."""
    job = submit(k8s, "mallory", "s3://user-mallory/a/item.json")
    elsewhere = "s3://user-alice/processing-results/x/catalog.json"
    k8s.fake.pod_ended("eopde-mallory", kube_job(k8s, job)["metadata"]["name"],
                       {"stage-in": 0, "calrissian": 0, "stage-out": 0},
                       {"stage-out": RESULTS_MARK + json.dumps(
                           {"results": {"href": elsewhere}, "StacCatalogUri": elsewhere})})
    done = k8s.ex.wait(job.id, timeout=20)
    assert done.status == "failed" and "outside the job's folder" in done.message
    assert done.results in (None, {})


def test_bad_jobs_fail_before_the_cluster(k8s):
    """Another user's bucket (URL policy), a wrong parameter type: refused here, nothing made
    in the cluster (not even mallory's namespace)."""
    other = submit(k8s, "mallory", "s3://user-alice/private/item.json")
    done = k8s.ex.wait(other.id, timeout=20)
    assert done.status == "failed" and done.message.startswith("stage-in failed: ")
    typed = submit(k8s, "mallory", "s3://user-mallory/a/item.json", note={"not": "a string"})
    done = k8s.ex.wait(typed.id, timeout=20)
    assert done.status == "failed" and done.message.startswith("the job cannot run: ")
    assert k8s.fake.get("", "namespaces", "", "eopde-mallory") is None
    assert k8s.fake.items("batch", "jobs") == []


def test_no_per_user_keys_no_job(k8s):
    """Without per-user keys the only key is the platform's, which sees every bucket: it is never
    handed to a job's pod."""
    ex = make_executor(k8s.store, k8s.fake, k8s.tmp, keys=False)
    ex.start()
    try:
        job = k8s.store.create_job("alice", "read-scene", {"scene": "s3://user-alice/i.json"},
                                   None, "async")
        ex.submit(job.id)
        done = ex.wait(job.id, timeout=20)
    finally:
        ex.shutdown()
    assert (done.status, done.message) == ("failed", NO_USER_KEYS)
    assert k8s.fake.items("", "secrets") == []


def test_dismiss_deletes_the_jobs_objects(k8s):
    job = submit(k8s, "alice", "s3://user-alice/a/item.json")
    kube_job(k8s, job)
    assert job_objects(k8s, job)
    done = k8s.ex.dismiss(job.id)
    assert done.status == "dismissed"
    assert job_objects(k8s, job) == []
    assert k8s.store.get_job(job.id).status == "dismissed"


def test_a_restarted_ades_follows_the_running_job(k8s):
    job = submit(k8s, "alice", "s3://user-alice/a/item.json")
    name = kube_job(k8s, job)["metadata"]["name"]
    k8s.ex.shutdown()
    assert k8s.store.get_job(job.id).status == "running"  # the Job goes on in the cluster
    again = make_executor(k8s.store, k8s.fake, k8s.tmp)
    again.start()
    try:
        k8s.fake.pod_ended("eopde-alice", name, {"stage-in": 0, "calrissian": 4}, {})
        done = again.wait(job.id, timeout=20)
    finally:
        again.shutdown()
    assert done.status == "failed" and "Calrissian exited 4" in done.message
    assert "following the job's Job again" in open(done.log_path).read()


def test_configured_from_the_environment(tmp_path):
    from eopde.services.ades.k8s_executor import from_env

    env = {"EOPDE_K8S_STORAGE_CLASS": "cephfs", "EOPDE_K8S_MAX_CORES": "8",
           "EOPDE_K8S_USER_NAMESPACE_TEMPLATE": "pde-{username}", "EOPDE_HOME": str(tmp_path),
           "EOPDE_WORKSPACE_KEYS_PATH": str(tmp_path / "keys.json"),
           "EOPDE_ADES_JOB_TIMEOUT_MAX": "100", "EOPDE_ADES_KEEP_WORK": "5"}
    ex = from_env(None, env, api=object())
    assert (ex.backend.storage_class, ex.backend.max_cores) == ("cephfs", 8)
    assert ex.backend.user_namespace_template == "pde-{username}"
    assert ex.storage.keys_file == str(tmp_path / "keys.json") and ex.max_timeout == 100
    with pytest.raises(ValueError, match="EOPDE_K8S_STORAGE_CLASS"):
        from_env(None, {})


def test_through_the_ades_api(tmp_path):
    """The ADES's own HTTP API with the Kubernetes executor (its uvicorn factory): execute,
    follow, another user sees nothing."""
    from fastapi.testclient import TestClient

    from eopde.services.ades.k8s_executor import create_app

    fake = FakeCluster().start()
    for obj in ades_provisioner_rbac("eopde"):
        kubernetes.utils.create_from_dict(fake.client(), obj)
    env = {"EOPDE_K8S_STORAGE_CLASS": "rwx", "EOPDE_HOME": str(tmp_path), "EOPDE_K8S_POLL": "0.05",
           "EOPDE_S3_ENDPOINT": "http://127.0.0.1:9",
           "EOPDE_WORKSPACE_KEYS_PATH": str(tmp_path / "workspace" / "keys.json")}
    tokens = {"tok-alice": "alice", "tok-bob": "bob"}
    app = create_app(env=env, api=fake.client(fake.service_account_token("eopde", ADES_SA)),
                     verify_token=tokens.get, base_url="http://testserver")
    alice = {"Authorization": "Bearer tok-alice"}
    try:
        with TestClient(app) as client:
            made = client.post("/alice/ogc-api/processes", content=json.dumps(CWL),
                               headers={**alice, "Content-Type": "application/cwl+yaml"})
            assert made.status_code == 201, made.text
            resp = client.post("/alice/ogc-api/processes/read-scene/execution", headers={
                **alice, "Prefer": "respond-async"}, json={"inputs": {
                    "scene": "s3://user-alice/a/item.json"}})
            assert resp.status_code == 201, resp.text
            job_id = resp.headers["Location"].rsplit("/", 1)[1]
            store = app.state.store
            kjob = kube_job(SimpleNamespace(fake=fake, store=store), store.get_job(job_id))
            fake.pod_ended("eopde-alice", kjob["metadata"]["name"], {"stage-in": 1},
                           {"stage-in": "stage-in failed: input 'scene': no such item"})
            app.state.executor.wait(job_id, timeout=20)
            status = client.get(f"/alice/ogc-api/jobs/{job_id}", headers=alice).json()
            assert (status["status"], status["message"]) == (
                "failed", "stage-in failed: input 'scene': no such item")
            assert client.get(f"/bob/ogc-api/jobs/{job_id}",
                              headers={"Authorization": "Bearer tok-bob"}).status_code == 404
    finally:
        fake.stop()


def test_the_usage_report_and_step_logs_are_kept(k8s, tmp_path, capsys):
    """What Calrissian leaves on the output volume (usage report, a tool log per step) is
    reported by the stage-out container and kept beside the job's log, where the jobs API
    links step logs; a step name cannot lead out of the job's folder."""
    from eopde.services.ades.k8s_steps import main, report_run
    from eopde.services.ades.steplogs import step_log_files

    out = tmp_path / "output"
    (out / "logs").mkdir(parents=True)
    (out / "usage.json").write_text(json.dumps({"cores": 2, "ram_megabytes": 1024}))
    (out / "logs" / "node_ndvi.log").write_text("reading B04\nwriting ndvi.tif\n")
    (out / "logs" / "..%2F..%2Fescape.log").write_text("nothing\n")
    report_run(out)
    printed = capsys.readouterr().out
    assert main(["stage-out", "--output", str(out / "output.json"), "--user", "alice",
                 "--job", "j"]) == 1  # no output document: says so, in one line
    assert capsys.readouterr().out.splitlines()[-1] == (
        "stage-out failed (nothing was kept in the bucket): the workflow wrote no output "
        "document")
    job = submit(k8s, "alice", "s3://user-alice/a/item.json")
    k8s.fake.pod_ended("eopde-alice", kube_job(k8s, job)["metadata"]["name"],
                       {"stage-in": 0, "calrissian": 0, "stage-out": 1},
                       {"stage-out": printed + "stage-out failed (nothing was kept in the "
                                               "bucket): S3 said no\n"})
    done = k8s.ex.wait(job.id, timeout=20)
    assert done.message == "stage-out failed (nothing was kept in the bucket): S3 said no"
    folder = k8s.tmp / "jobs" / job.id
    assert json.loads((folder / "usage.json").read_text()) == {"cores": 2, "ram_megabytes": 1024}
    files = step_log_files(done.log_path)
    assert [f.name for f in files] == ["2F.._2Fescape.log", "node_ndvi.log"]
    assert all(f.parent == folder / "steps" for f in files)
    assert (folder / "steps" / "node_ndvi.log").read_text() == "reading B04\nwriting ndvi.tif\n"
    assert "eopde-step" not in open(done.log_path).read()


def test_a_cluster_refusal_says_so_without_the_servers_body(tmp_path):
    """The ADES without its provisioner rights: the job fails saying the cluster refused, with
    the status only (an API error's body and headers stay out of the user's message)."""
    fake = FakeCluster().start()
    store = JobStore(f"sqlite:///{tmp_path}/ades.db")
    add_processes(store, "alice")
    ex = make_executor(store, fake, tmp_path)
    ex.start()
    try:
        job = store.create_job("alice", "read-scene", {"scene": "s3://user-alice/i.json"},
                               None, "async")
        ex.submit(job.id)
        done = ex.wait(job.id, timeout=20)
    finally:
        ex.shutdown()
        store.close()
        fake.stop()
    assert (done.status, done.message) == (
        "failed", "the cluster refused to make the user's namespace: 403 Forbidden")
