"""A Kubernetes job end to end, as far as it can go here: the ADES's Kubernetes executor, the FAKE
API server (tests/k8s_fake.py; no kube-apiserver can run here), and the test playing the kubelet
with the pod the executor made: its containers' commands run here, with the env of the pod spec
(the Secret's keys resolved from the API server's copy) and its volumes as folders. The stage-in
and stage-out containers are eopde's real code against the platform's real storage part and its
per-user keys; Calrissian (a controller image that cannot run here) is stood in for by cwltool,
which Calrissian runs inside (``cwltool --no-container`` with the same workflow and job file).

The attack: mallory's job names alice's private object, with NO URL policy in front (that
hole): the stage-in container, holding mallory's keys only, reads nothing of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import kubernetes
import pytest

from eopde.hub.k8s_rbac import ADES_SA, ades_provisioner_rbac
from eopde.services.ades.calrissian import CalrissianBackend
from eopde.services.ades.k8s_executor import KubernetesExecutor
from eopde.services.ades.stageout import StageOutTarget
from eopde.services.ades.store import JobStore
from eopde.services.workspace_store import keys_file
from k8s_fake import FakeCluster
from security.ades_jobs import bucket_text
from security.test_stagein_owner_keys import SECRET_TEXT, _alice_private_item
from test_k8s_executor import add_processes, kube_job

pytestmark = pytest.mark.platform


def play_kubelet(fake: FakeCluster, ns: str, name: str, root: Path) -> dict[str, int]:
    """Run the Job's pod here: init containers in order, then the container; report to the API
    server what a kubelet would (exit codes, logs, the Job's status)."""
    spec = fake.get("batch", "jobs", ns, name)["spec"]["template"]["spec"]
    folders: dict[str, Path] = {}
    for volume in spec["volumes"]:
        folders[volume["name"]] = root / volume["name"]
        folders[volume["name"]].mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            config = fake.get("", "configmaps", ns, volume["configMap"]["name"])
            for item in volume["configMap"]["items"]:
                (folders[volume["name"]] / item["path"]).write_text(config["data"][item["key"]])
    exits: dict[str, int] = {}
    logs: dict[str, str] = {}
    for c in spec["initContainers"] + spec["containers"]:
        mounts = {m["mountPath"]: folders[m["name"]] for m in c["volumeMounts"]}

        def local(arg: str) -> str:
            for path, folder in mounts.items():
                if arg == path or arg.startswith(path + "/"):
                    return str(folder) + arg[len(path):]
            return arg

        env = {"PATH": os.environ["PATH"], "HOME": str(root)}
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                env[e["name"]] = fake.secret_value(ns, ref["name"], ref["key"])
            elif "value" in e:
                env[e["name"]] = e["value"]
        if c["name"] == "calrissian":  # cwltool in its stead, same workflow and job file
            args = c["args"]
            out = local(args[args.index("--outdir") + 1])
            cmd = [str(Path(sys.executable).parent / "cwltool"), "--no-container", "--outdir",
                   out, local(args[-2]), local(args[-1])]
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            Path(local(args[args.index("--stdout") + 1])).write_text(run.stdout)
            logs[c["name"]] = run.stderr
        else:
            cmd = [sys.executable if c["command"][0] == "python" else c["command"][0],
                   *map(local, c["command"][1:])]
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            logs[c["name"]] = run.stdout + run.stderr
        exits[c["name"]] = run.returncode
        if run.returncode:
            break
    fake.pod_ended(ns, name, exits, logs)
    return exits


@pytest.fixture
def cluster(platform, tmp_path):
    fake = FakeCluster().start()
    for obj in ades_provisioner_rbac("eopde"):
        kubernetes.utils.create_from_dict(fake.client(), obj)
    store = JobStore(f"sqlite:///{tmp_path}/ades.db")
    add_processes(store, "alice", "mallory")
    target = StageOutTarget(endpoint=platform.url("storage"),
                            keys_file=str(keys_file(platform.home)))
    ex = KubernetesExecutor(
        store, backend=CalrissianBackend(user_namespace_template="eopde-{username}"),
        storage=target, work_dir=tmp_path / "jobs", poll=0.1, url_policy=None,
        api=fake.client(fake.service_account_token("eopde", ADES_SA)))
    ex.start()
    yield fake, store, ex, tmp_path
    ex.shutdown()
    store.close()
    fake.stop()


def run(cluster, user: str, scene: str):
    fake, store, ex, tmp = cluster
    job = store.create_job(user, "read-scene", {"scene": scene}, None, "async")
    ex.submit(job.id)
    kjob = kube_job(SimpleNamespace(fake=fake, store=store), job)
    exits = play_kubelet(fake, f"eopde-{user}", kjob["metadata"]["name"], tmp / job.id)
    return ex.wait(job.id, timeout=60), exits


def test_a_job_stages_in_with_the_owners_keys_and_its_results_reach_her_bucket(platform,
                                                                               cluster):
    done, exits = run(cluster, "alice", _alice_private_item(platform))
    assert exits == {"stage-in": 0, "calrissian": 0, "stage-out": 0}
    assert done.status == "successful", (done.message, open(done.log_path).read()[-3000:])
    uri = done.results["StacCatalogUri"]
    assert uri == f"s3://user-alice/processing-results/{done.id}/catalog.json"
    objects = bucket_text(platform, "alice", f"processing-results/{done.id}/")
    assert json.loads(objects[f"processing-results/{done.id}/catalog.json"])["id"] == "loot"
    assert "notes.txt" in objects[f"processing-results/{done.id}/loot.txt"]  # what it staged
    log = open(done.log_path).read()
    assert "stage-in: stage-in alice-field-survey: 1 asset(s)" in log
    assert "stage-out: eopde-results: " in log
    fake = cluster[0]
    assert fake.items("", "secrets", "eopde-alice") == []  # the keys went with the job


def test_a_job_cannot_stage_in_another_users_private_object(platform, cluster):
    url = _alice_private_item(platform)
    done, exits = run(cluster, "mallory", url)
    assert exits == {"stage-in": 1}
    assert done.status == "failed"
    assert done.message == (
        f"stage-in failed: input 'scene': STAC item {url}: cannot fetch it (S3 error "
        "NoSuchBucket: not readable with the storage keys of the job's owner, which read only "
        "their own bucket)")
    log = open(done.log_path).read()
    assert SECRET_TEXT not in log and "alice-field-survey" not in log
    assert done.results in (None, {})
    assert bucket_text(platform, "mallory", f"processing-results/{done.id}/") == {}
