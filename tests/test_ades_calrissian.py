"""The Kubernetes backend: Calrissian manifests rendered for a sample package, checked
structurally (no cluster here); validated with the kubernetes client's models when installed."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from eopde.services.ades.calrissian import (CONFIG_DIR, OUTPUT_DIR, TMP_DIR, WORKFLOW_DIR,
                                            CalrissianBackend, dns_label, namespace_name)
from eopde.services.ades.store import JobRecord, ProcessRecord

CWL = (Path(__file__).parent / "data" / "run_package" / "test-app.cwl").read_text()
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _records(process_id="test-app", job_id="6f1c2a4e-0b7d-4c1e-9a55-2f3d8e7a9b10"):
    now = datetime.now(timezone.utc)
    process = ProcessRecord(user="Alice", id=process_id, version="0.1.0", cwl_text=CWL,
                            workflow_id="test-app", description={}, created=now, updated=now)
    job = JobRecord(id=job_id, user="Alice", process_id=process_id,
                    inputs={"items": ["https://x.org/items/a", "s3://b/k/item.json"],
                            "factor": {"value": 2.5}, "label": "hi"},
                    outputs=None, mode="async", status="accepted", message="", progress=0,
                    created=now, started=None, finished=None, updated=now, results=None,
                    log_path=None, pid=None)
    return job, process


@pytest.fixture
def rendered():
    job, process = _records()
    backend = CalrissianBackend(namespace_prefix="ades-", storage_class="nfs-rwx",
                                volume_size="5Gi", max_cores=6, max_ram="12G",
                                node_selector={"pool": "processing"},
                                image_pull_secrets=["regcred"], pod_env={"AWS_REGION": "eu"})
    return backend, job, process, backend.render(job, process)


def _by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def test_kinds_and_names(rendered):
    backend, job, process, objs = rendered
    kinds = [o["kind"] for o in objs]
    assert kinds == ["Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap",
                     "PersistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaim",
                     "Job"]
    ns = objs[0]["metadata"]["name"]
    assert ns == f"ades-test-app-{job.id}"[:63] or ns.startswith("ades-test-app-")
    assert len(ns) <= 63 and DNS1123.match(ns)
    for o in objs:
        assert DNS1123.match(o["metadata"]["name"]) and len(o["metadata"]["name"]) <= 63
        if o["kind"] != "Namespace":
            assert o["metadata"]["namespace"] == ns
        for value in o["metadata"]["labels"].values():
            assert len(value) <= 63 and DNS1123.match(value)
    assert len({(o["kind"], o["metadata"]["name"]) for o in objs}) == len(objs)


def test_namespace_shortening_keeps_jobs_apart():
    long = "a-very-long-process-identifier-that-goes-on-and-on"
    a = namespace_name("", long, "6f1c2a4e-0b7d-4c1e-9a55-2f3d8e7a9b10")
    b = namespace_name("", long, "6f1c2a4e-0b7d-4c1e-9a55-2f3d8e7a9b11")
    assert a != b and len(a) <= 63 and len(b) <= 63 and DNS1123.match(a) and DNS1123.match(b)
    assert dns_label("My_Process.V2") == "my-process-v2"


def test_configmap_holds_cwl_and_inputs(rendered):
    _, job, process, objs = rendered
    (cm,) = _by_kind(objs, "ConfigMap")
    assert cm["data"]["workflow.cwl"] == CWL
    inputs = yaml.safe_load(cm["data"]["job.yml"])
    assert inputs == {"items": ["https://x.org/items/a", "s3://b/k/item.json"], "factor": 2.5,
                      "label": "hi"}
    assert yaml.safe_load(cm["data"]["pod-nodeselectors.yml"]) == {"pool": "processing"}
    assert yaml.safe_load(cm["data"]["pod-env-vars.yml"]) == {"AWS_REGION": "eu"}


def test_volumes_and_job(rendered):
    _, job, process, objs = rendered
    pvcs = {p["metadata"]["name"]: p for p in _by_kind(objs, "PersistentVolumeClaim")}
    for p in pvcs.values():
        assert p["spec"]["accessModes"] == ["ReadWriteMany"]
        assert p["spec"]["storageClassName"] == "nfs-rwx"
        assert p["spec"]["resources"]["requests"]["storage"] == "5Gi"
    (kjob,) = _by_kind(objs, "Job")
    assert kjob["apiVersion"] == "batch/v1" and kjob["spec"]["backoffLimit"] == 0
    pod = kjob["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == _by_kind(objs, "ServiceAccount")[0]["metadata"]["name"]
    assert pod["nodeSelector"] == {"pool": "processing"}
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    (c,) = pod["containers"]
    assert c["command"] == ["calrissian"] and c["image"] == CalrissianBackend.calrissian_image
    args = c["args"]

    def arg(flag):
        return args[args.index(flag) + 1]

    assert arg("--max-cores") == "6" and arg("--max-ram") == "12G"
    for flag in ("--stdout", "--stderr", "--usage-report", "--tool-logs-basepath", "--outdir"):
        assert arg(flag).startswith(OUTPUT_DIR)
    assert arg("--tmp-outdir-prefix").startswith(TMP_DIR)
    assert args[-2] == f"{WORKFLOW_DIR}/workflow.cwl#test-app"
    assert args[-1] == f"{WORKFLOW_DIR}/job.yml"
    assert arg("--pod-nodeselectors").startswith(CONFIG_DIR)
    # every path in the arguments is on a mounted volume, and each volume exists
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for value in args:
        if value.startswith("/"):
            mount = next((m for m in mounts if value.startswith(m.rstrip("/") + "/")), None)
            assert mount, f"{value} is on no mounted volume"
            assert mounts[mount] in volumes
    claimed = {v["persistentVolumeClaim"]["claimName"] for v in volumes.values()
               if "persistentVolumeClaim" in v}
    assert claimed == set(pvcs)
    cm_name = _by_kind(objs, "ConfigMap")[0]["metadata"]["name"]
    assert volumes["workflow"]["configMap"]["name"] == cm_name
    keys = {i["key"] for i in volumes["workflow"]["configMap"]["items"]}
    assert {"workflow.cwl", "job.yml"} <= keys
    limits = c["resources"]["limits"]
    assert limits["cpu"] and limits["memory"]


def test_role_lets_calrissian_run_pods(rendered):
    _, _, _, objs = rendered
    (role,) = _by_kind(objs, "Role")
    (binding,) = _by_kind(objs, "RoleBinding")
    rules = {r["resources"][0]: set(r["verbs"]) for r in role["rules"]}
    # exactly what Calrissian 0.18.1 calls (see tests/test_k8s_rbac.py)
    assert rules["pods"] == {"create", "list", "watch", "delete"}
    assert rules["pods/log"] == {"get"} and set(rules) == {"pods", "pods/log"}
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    sa = _by_kind(objs, "ServiceAccount")[0]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


def test_yaml_round_trip(rendered):
    backend, job, process, objs = rendered
    docs = list(yaml.safe_load_all(backend.to_yaml(job, process)))
    assert docs == objs


def test_kubernetes_models_accept_the_manifests(rendered):
    kubernetes = pytest.importorskip("kubernetes")
    _, _, _, objs = rendered
    api = kubernetes.client.ApiClient()

    models = {"Namespace": "V1Namespace", "ServiceAccount": "V1ServiceAccount", "Role": "V1Role",
              "RoleBinding": "V1RoleBinding", "ConfigMap": "V1ConfigMap",
              "PersistentVolumeClaim": "V1PersistentVolumeClaim", "Job": "V1Job"}
    for o in objs:
        # the client's own dict -> model conversion (what deserialize() does with a response);
        # unknown fields are dropped there, so compare the round trip with the input
        model = api._ApiClient__deserialize(o, models[o["kind"]])
        assert api.sanitize_for_serialization(model) == o
        assert api.sanitize_for_serialization(model)["metadata"]["name"] == o["metadata"]["name"]
