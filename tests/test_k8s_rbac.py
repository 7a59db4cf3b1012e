"""RBAC of ADES jobs in users' namespaces, checked against the calls the code really makes.

The ADES side: the Calrissian backend's own ``submit``/``job_state``/``remove`` run with the
official ``kubernetes`` client against a recording FAKE of the Kubernetes API server (its REST
layer answers and records; no cluster here). Every recorded request is turned into the RBAC
(verb, group, resource) the API server would check, which the rendered Role must allow, and the
Role must allow nothing else. The Calrissian side: Calrissian itself cannot run here (it is a
controller image), so its calls are those read in its source (0.18.1, calrissian/k8s.py, the
version CalrissianBackend pins) and listed in eopde.hub.k8s_rbac.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import kubernetes
import kubespawner
import pytest

from eopde.hub.k8s import K8sSettings
from eopde.hub.k8s_rbac import (ADES_SA, CALRISSIAN_RULES, CALRISSIAN_SA, allowed,
                                hub_cluster_rbac, main, user_namespace, user_namespace_rbac)
from eopde.services.ades import calrissian
from eopde.services.ades.calrissian import CalrissianBackend
from eopde.services.ades.store import JobRecord, ProcessRecord
from test_k8s_spawner import FakeUser, kubeconfig, render  # noqa: F401  (autouse fixture)

CWL = (Path(__file__).parent / "data" / "run_package" / "test-app.cwl").read_text()
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: never-sent}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""
VERBS = {"POST": "create", "DELETE": "delete", "PATCH": "patch", "PUT": "update"}


class FakeApiServer:
    """Records each request the client sends; answers as the API server would on success."""

    def __init__(self):
        self.calls: list[tuple[str, str, str, str, str]] = []  # verb, group, resource, ns, name

    def request(self, method, url, query_params=None, headers=None, body=None, **_):
        path = urlsplit(url).path
        m = re.fullmatch(r"/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)/namespaces/(?P<ns>[^/]+)/"
                         r"(?P<res>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?", path)
        assert m, f"unexpected API path {path}"
        query = dict(query_params or []) | {k: v[0] for k, v in
                                            parse_qs(urlsplit(url).query).items()}
        if method == "GET":
            verb = "watch" if query.get("watch") else ("get" if m["name"] else "list")
        else:
            verb = VERBS[method]
        resource = m["res"] + (f"/{m['sub']}" if m["sub"] else "")
        self.calls.append((verb, m["group"] or "", resource, m["ns"], m["name"] or ""))
        if m["sub"] == "status":
            answer = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": m["name"]},
                      "status": {"succeeded": 1}}
        elif method == "DELETE":
            answer = {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        else:
            answer = body
        return SimpleNamespace(status=201 if method == "POST" else 200, reason="OK",
                               data=json.dumps(answer).encode(), getheaders=lambda: {},
                               getheader=lambda name, default=None: "application/json")


@pytest.fixture
def api(tmp_path, monkeypatch):
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION",
                        str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    fake = FakeApiServer()
    monkeypatch.setattr(kubernetes.client.rest.RESTClientObject, "request",
                        lambda self, *a, **k: fake.request(*a, **k))
    return fake


def records(user="Alice.Smith", job_id="6f1c2a4e-0b7d-4c1e-9a55-2f3d8e7a9b10"):
    now = datetime.now(timezone.utc)
    process = ProcessRecord(user=user, id="test-app", version="0.1.0", cwl_text=CWL,
                            workflow_id="test-app", description={}, created=now, updated=now)
    job = JobRecord(id=job_id, user=user, process_id="test-app", inputs={"label": "hi"},
                    outputs=None, mode="async", status="accepted", message="", progress=0,
                    created=now, started=None, finished=None, updated=now, results=None,
                    log_path=None, pid=None)
    return job, process


TEMPLATE = K8sSettings(user_namespace_template="eopde-{username}").user_namespace_template


def test_jobs_run_in_the_users_namespace():
    assert TEMPLATE is not None
    job, process = records()
    objs = CalrissianBackend(user_namespace_template=TEMPLATE).render(job, process)
    ns = user_namespace(TEMPLATE, "Alice.Smith")
    assert ns == "eopde-alice-smith---2ece8250"
    assert [o["kind"] for o in objs] == ["ConfigMap"] + ["PersistentVolumeClaim"] * 3 + ["Job"]
    assert {o["metadata"]["namespace"] for o in objs} == {ns}
    pod = objs[-1]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == CALRISSIAN_SA
    names = [o["metadata"]["name"] for o in objs]
    assert all(job.id in n for n in names) and len(set(names)) == len(names)
    # another job of the same user: no name clash in the shared namespace
    other = CalrissianBackend(user_namespace_template=TEMPLATE).render(
        records(job_id="6f1c2a4e-0b7d-4c1e-9a55-2f3d8e7a9b11")[0], process)
    assert not {o["metadata"]["name"] for o in other} & set(names)


def test_the_namespace_is_the_one_kubespawner_makes():
    """Same escaping as KubeSpawner's {username}, so the ADES's jobs land beside the user's pod."""
    for name in ("alice", "Alice.Smith", "bob@example.org"):
        _, spawner = render(FakeUser(name), "small", K8sSettings(user_namespace_template=TEMPLATE))
        assert spawner.namespace == user_namespace(TEMPLATE, name)


def test_ades_role_allows_exactly_what_the_backend_calls(api):
    job, process = records()
    objs = CalrissianBackend(user_namespace_template=TEMPLATE).render(job, process)
    ns = objs[0]["metadata"]["namespace"]
    calrissian.submit(objs)
    assert calrissian.job_state(ns, objs[-1]["metadata"]["name"]) == "successful"
    calrissian.remove(objs)
    used = {(verb, group, resource) for verb, group, resource, _, _ in api.calls}
    assert {c[3] for c in api.calls} == {ns}  # nothing outside the user's namespace
    assert used == {("create", "", "configmaps"), ("create", "", "persistentvolumeclaims"),
                    ("create", "batch", "jobs"), ("get", "batch", "jobs/status"),
                    ("delete", "batch", "jobs"), ("delete", "", "persistentvolumeclaims"),
                    ("delete", "", "configmaps")}
    rbac = user_namespace_rbac(ns)
    (role,) = [o for o in rbac if o["kind"] == "Role" and o["metadata"]["name"] == ADES_SA]
    assert all(allowed(role["rules"], *u) for u in used)
    granted = {(v, g, r) for rule in role["rules"] for v in rule["verbs"]
               for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == used  # least privilege: nothing the backend does not call
    (binding,) = [o for o in rbac if o["kind"] == "RoleBinding"
                  and o["metadata"]["name"] == ADES_SA]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": ADES_SA,
                                    "namespace": "eopde"}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_calrissian_role_allows_what_calrissian_calls():
    # calrissian 0.18.1 calrissian/k8s.py: create_namespaced_pod, delete_namespaced_pod,
    # list_namespaced_pod (get_pod_for_name, and Watch.stream over it), read_namespaced_pod_log
    calls = [("create", "", "pods"), ("delete", "", "pods"), ("list", "", "pods"),
             ("watch", "", "pods"), ("get", "", "pods/log")]
    assert CalrissianBackend.calrissian_image.endswith(":0.18.1")
    assert all(allowed(CALRISSIAN_RULES, *c) for c in calls)
    granted = {(v, g, r) for rule in CALRISSIAN_RULES for v in rule["verbs"]
               for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == set(calls)


def test_nothing_dangerous_is_granted():
    rbac = user_namespace_rbac("eopde-alice", image_pull_secrets=("regcred",))
    assert [o["kind"] for o in rbac] == ["ServiceAccount", "Role", "RoleBinding", "Role",
                                         "RoleBinding"]
    assert {o["metadata"]["namespace"] for o in rbac} == {"eopde-alice"}
    assert rbac[0]["imagePullSecrets"] == [{"name": "regcred"}]
    for role in (o for o in rbac if o["kind"] == "Role"):
        for verb, group, resource in [("get", "", "secrets"), ("list", "", "secrets"),
                                      ("create", "", "namespaces"),
                                      ("create", "rbac.authorization.k8s.io", "roles"),
                                      ("create", "rbac.authorization.k8s.io", "rolebindings"),
                                      ("escalate", "rbac.authorization.k8s.io", "roles"),
                                      ("bind", "rbac.authorization.k8s.io", "roles"),
                                      ("create", "", "pods/exec"), ("get", "", "pods/exec"),
                                      ("create", "", "serviceaccounts/token"),
                                      ("impersonate", "", "serviceaccounts")]:
            assert not allowed(role["rules"], verb, group, resource), (role, verb, resource)
        assert not any("*" in r[k] for r in role["rules"] for k in r)
    assert not any(o["kind"].startswith("Cluster") for o in rbac)


def test_rbac_manifests_are_valid_kubernetes_objects():
    api = kubernetes.client.ApiClient()
    models = {"ServiceAccount": "V1ServiceAccount", "Role": "V1Role",
              "RoleBinding": "V1RoleBinding"}
    for o in user_namespace_rbac("eopde-alice"):
        model = api._ApiClient__deserialize(o, models[o["kind"]])
        assert api.sanitize_for_serialization(model) == o


def test_rbac_command_prints_yaml(capsys):
    import yaml

    assert main(["Alice.Smith"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert docs == user_namespace_rbac("eopde-alice-smith---2ece8250")
    assert main([]) == 2


def test_hub_cluster_rights_for_user_namespaces():
    """KubeSpawner with a namespace per user creates the namespace and watches pods and events of
    all namespaces (reflectors with omit_namespace): z2jh's namespaced hub Role is not enough."""
    role, binding = hub_cluster_rbac("eopde")
    assert (role["kind"], binding["kind"]) == ("ClusterRole", "ClusterRoleBinding")
    rules = role["rules"]
    # z2jh's own hub Role (templates/hub/rbac.yaml at the commit of tests/data/z2jh)
    for resource in ("pods", "persistentvolumeclaims", "secrets", "services"):
        for verb in ("get", "watch", "list", "create", "delete"):
            assert allowed(rules, verb, "", resource)
    assert all(allowed(rules, v, "", "events") for v in ("get", "watch", "list"))
    assert allowed(rules, "create", "", "namespaces") and allowed(rules, "get", "", "namespaces")
    for verb, group, resource in [("delete", "", "namespaces"), ("list", "", "nodes"),
                                  ("create", "rbac.authorization.k8s.io", "rolebindings"),
                                  ("bind", "rbac.authorization.k8s.io", "clusterroles"),
                                  ("impersonate", "", "users"), ("create", "", "pods/exec")]:
        assert not allowed(rules, verb, group, resource)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub",
                                    "namespace": "eopde"}]
    api = kubernetes.client.ApiClient()
    for obj, model in ((role, "V1ClusterRole"), (binding, "V1ClusterRoleBinding")):
        assert api.sanitize_for_serialization(api._ApiClient__deserialize(obj, model)) == obj


def test_kubespawner_watches_all_namespaces_with_user_namespaces():
    """Why the ClusterRole: KubeSpawner's reflectors go cluster-wide in that mode."""
    import inspect

    source = inspect.getsource(kubespawner.KubeSpawner)
    assert source.count("omit_namespace=self.enable_user_namespaces") == 2
