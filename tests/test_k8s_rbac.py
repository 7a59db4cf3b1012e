"""RBAC of ADES jobs in users' namespaces: made by the ADES on a user's first job, and checked
against what the code really calls.

Against a FAKE Kubernetes API server (tests/k8s_fake.py: the official ``kubernetes`` client over
HTTP to loopback; RBAC evaluated from the stored Roles and bindings, SubjectAccessReview answered
by the same evaluator). No kube-apiserver can run here (none in Debian 12, PyPI or npm, and no
Docker engine): what a real API server would decide is what these tests assume, through a fake
that implements Kubernetes' RBAC rules. The Calrissian side: Calrissian itself cannot run here (a
controller image), so its calls are those read in its source (0.18.1, calrissian/k8s.py, the
version CalrissianBackend pins) and listed in eopde.hub.k8s_rbac.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import kubernetes
import kubespawner
import pytest
from kubernetes.client import ApiException

from eopde.hub.k8s import K8sSettings
from eopde.hub.k8s_rbac import (ADES_RULES, ADES_SA, CALRISSIAN_RULES, CALRISSIAN_SA, allowed,
                                ades_provisioner_rbac, hub_cluster_rbac,
                                main, user_namespace, user_namespace_rbac)
from eopde.services.ades.calrissian import CalrissianBackend, ensure_user_namespace
from eopde.services.ades.store import JobRecord, ProcessRecord
from k8s_fake import FakeCluster
from test_k8s_spawner import FakeUser, kubeconfig, render  # noqa: F401  (autouse fixture)

CWL = (Path(__file__).parent / "data" / "run_package" / "test-app.cwl").read_text()
ADES_USER = f"system:serviceaccount:eopde:{ADES_SA}"


@pytest.fixture
def cluster():
    """The fake API server, with the ADES's cluster rights applied (the operator's one step,
    from the Helm chart or ``python -m eopde.hub.k8s_rbac --ades``)."""
    fake = FakeCluster().start()
    admin = fake.client()
    for obj in ades_provisioner_rbac("eopde"):
        kubernetes.utils.create_from_dict(admin, obj)
    yield fake
    fake.stop()


def sar(fake: FakeCluster, user: str, verb: str, resource: str, namespace: str,
        group: str = "", subresource: str = "", name: str = "") -> bool:
    """SubjectAccessReview: may ``user`` (a ServiceAccount) do this?"""
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": ["system:serviceaccounts", "system:authenticated",
                                              f"system:serviceaccounts:{user.split(':')[2]}"],
                     "resourceAttributes": {"namespace": namespace, "verb": verb,
                                            "group": group, "resource": resource,
                                            "subresource": subresource, "name": name}}}
    api = kubernetes.client.AuthorizationV1Api(fake.client())
    return api.create_subject_access_review(body).status.allowed


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


def test_first_job_makes_namespace_and_rbac_idempotently(cluster):
    """The ADES, with only its provisioner rights, makes alice's namespace and RBAC; again is a
    no-op; a tampered Role is put right."""
    ades = cluster.client(cluster.service_account_token("eopde", ADES_SA))
    ns = ensure_user_namespace(ades, "Alice.Smith", template=TEMPLATE)
    assert ns == user_namespace(TEMPLATE, "Alice.Smith")
    assert cluster.get("", "namespaces", "", ns) is not None
    for o in user_namespace_rbac(ns):
        group = "rbac.authorization.k8s.io" if o["kind"] != "ServiceAccount" else ""
        res = {"ServiceAccount": "serviceaccounts", "Role": "roles",
               "RoleBinding": "rolebindings"}[o["kind"]]
        stored = cluster.get(group, res, ns, o["metadata"]["name"])
        assert stored is not None
        for key in ("rules", "subjects", "roleRef"):
            assert stored.get(key) == o.get(key)
    before = len(cluster.objects)
    admin = kubernetes.client.RbacAuthorizationV1Api(cluster.client())
    admin.replace_namespaced_role(CALRISSIAN_SA, ns, {
        "metadata": {"name": CALRISSIAN_SA},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
    assert ensure_user_namespace(ades, "Alice.Smith", template=TEMPLATE) == ns
    assert len(cluster.objects) == before
    assert cluster.get("rbac.authorization.k8s.io", "roles", ns, CALRISSIAN_SA)["rules"] == \
        CALRISSIAN_RULES
    denied = [c for c in cluster.calls if c[0] == ADES_USER and not c[6]]
    assert denied == []  # the provisioner rights were enough, for every call


def test_without_its_cluster_role_the_ades_makes_nothing():
    fake = FakeCluster().start()
    try:
        ades = fake.client(fake.service_account_token("eopde", ADES_SA))
        with pytest.raises(ApiException) as err:
            ensure_user_namespace(ades, "alice", template=TEMPLATE)
        assert err.value.status == 403
        assert fake.get("", "namespaces", "", user_namespace(TEMPLATE, "alice")) is None
    finally:
        fake.stop()


def test_the_ades_rights_are_no_more_than_that(cluster):
    """With its provisioner rights the ADES still cannot grant itself (or anyone) more."""
    ades = cluster.client(cluster.service_account_token("eopde", ADES_SA))
    ns = ensure_user_namespace(ades, "alice", template=TEMPLATE)
    rbac = kubernetes.client.RbacAuthorizationV1Api(ades)
    for body, make in [
        ({"metadata": {"name": "loot"}, "rules": [{"apiGroups": [""], "resources": ["secrets"],
                                                  "verbs": ["get", "list"]}]},
         lambda b: rbac.create_namespaced_role(ns, b)),
        ({"metadata": {"name": "loot"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                     "kind": "ClusterRole", "name": "admin"},
          "subjects": [{"kind": "ServiceAccount", "name": ADES_SA, "namespace": "eopde"}]},
         lambda b: rbac.create_namespaced_role_binding(ns, b)),
    ]:
        with pytest.raises(ApiException) as err:
            make(body)
        assert err.value.status == 403
    assert not sar(cluster, ADES_USER, "get", "secrets", ns)
    assert not sar(cluster, ADES_USER, "list", "secrets", ns)
    assert not sar(cluster, ADES_USER, "delete", "namespaces", "", name=ns)
    assert not sar(cluster, ADES_USER, "create", "pods", ns, subresource="exec")
    assert not sar(cluster, ADES_USER, "create", "pods", "eopde")
    assert sar(cluster, ADES_USER, "create", "jobs", ns, group="batch")  # the control


def test_one_users_service_account_can_do_nothing_in_anothers_namespace(cluster):
    """Alice's job identity (Calrissian's ServiceAccount in her namespace) against Bob's
    namespace: every verb on every resource either Role grants is refused there, by
    SubjectAccessReview and by a real request; the same are allowed in her own (the control)."""
    ades = cluster.client(cluster.service_account_token("eopde", ADES_SA))
    alice = ensure_user_namespace(ades, "alice", template=TEMPLATE)
    bob = ensure_user_namespace(ades, "bob", template=TEMPLATE)
    me = f"system:serviceaccount:{alice}:{CALRISSIAN_SA}"
    grants = [(v, g, r) for rules in (CALRISSIAN_RULES, ADES_RULES) for rule in rules
              for v in rule["verbs"] for g in rule["apiGroups"] for r in rule["resources"]]
    own = {c for c in grants if allowed(CALRISSIAN_RULES, *c)}
    assert own  # Calrissian's rights, in her namespace
    for verb, group, resource in grants:
        res, _, sub = resource.partition("/")
        assert not sar(cluster, me, verb, res, bob, group, sub), (verb, resource)
        assert sar(cluster, me, verb, res, alice, group, sub) == ((verb, group, resource) in own)
    core = kubernetes.client.CoreV1Api(cluster.client(
        cluster.service_account_token(alice, CALRISSIAN_SA)))
    pod = {"metadata": {"name": "step"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    for attempt in (lambda: core.create_namespaced_pod(bob, pod),
                    lambda: core.list_namespaced_pod(bob),
                    lambda: core.list_namespaced_secret(alice),
                    lambda: core.create_namespaced_config_map(bob, {"metadata": {"name": "x"}})):
        with pytest.raises(ApiException) as err:
            attempt()
        assert err.value.status == 403
    assert core.create_namespaced_pod(alice, pod).metadata.name == "step"  # the control
    assert cluster.get("", "pods", bob, "step") is None


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
