"""RBAC for ADES jobs in each user's namespace (Calrissian): pure builders, and
:func:`ensure_user_namespace`, which applies them.

With ``K8sSettings.user_namespace_template`` set, each user's pod runs in a namespace of their own
(KubeSpawner makes it), and the ADES runs that user's jobs there with the Calrissian backend
(``CalrissianBackend(user_namespace_template=...)``). Two parties then act in the namespace, each
with a Role holding exactly what its code calls (tests/test_k8s_rbac.py records the calls):

- **the Calrissian controller** (the Job's pod, ServiceAccount ``eopde-calrissian``): one pod per
  CWL step. Calrissian 0.18.1 (``calrissian/k8s.py``) calls ``create_namespaced_pod``,
  ``delete_namespaced_pod``, ``list_namespaced_pod`` (to find its own pod, and in a watch) and
  ``read_namespaced_pod_log``;
- **the ADES** (ServiceAccount ``eopde-ades`` in the platform's namespace, bound here by a
  RoleBinding): the Kubernetes executor (:mod:`eopde.services.ades.k8s_executor`) creates the
  job's ConfigMap, Secret (the owner's storage keys), three PersistentVolumeClaims and the Job,
  reads the Job's status, lists the Job's pod and reads its containers' logs, and deletes what it
  created.

Neither may read Secrets, exec into pods or touch another namespace. Who makes these objects: the
ADES itself, when a user's first job arrives
(:func:`eopde.services.ades.calrissian.ensure_user_namespace`, idempotent; there, because the
hub's image has no ``kubernetes`` client), with
the cluster rights of :func:`ades_provisioner_rbac` (create namespaces; create the two Roles and
their bindings, and nothing else of RBAC: ``bind``/``escalate`` are limited by name to them).
Why the ADES and not a spawn hook of the hub: jobs arrive through the ADES's API from anywhere
(a notebook, the CLI, another platform), whether or not the user ever started a server.
``python -m eopde.hub.k8s_rbac alice | kubectl apply -f -`` still prints them for an operator.
"""

from __future__ import annotations

import sys
from typing import Any

CALRISSIAN_SA = "eopde-calrissian"
ADES_SA = "eopde-ades"
LABELS = {"app.kubernetes.io/part-of": "eopde", "app.kubernetes.io/component": "ades-jobs"}

#: What Calrissian's controller calls in its namespace (calrissian 0.18.1, calrissian/k8s.py).
CALRISSIAN_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]
#: What the ADES calls in a user's namespace (eopde.services.ades.calrissian: submit, job_status,
#: job_pod, container_log, remove). Secrets: create and delete only (the job's owner keys go in,
#: nothing is ever read back).
ADES_RULES = [
    {"apiGroups": [""], "resources": ["configmaps", "persistentvolumeclaims", "secrets"],
     "verbs": ["create", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]


def user_namespace(template: str, username: str) -> str:
    """The user's namespace, named as KubeSpawner names it (its own escaping of ``{username}``),
    so the ADES and the hub always agree."""
    from kubespawner.slugs import safe_slug

    return template.format(username=safe_slug(username))


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _role(name: str, namespace: str, rules: list[dict], subject: dict) -> list[dict[str, Any]]:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": _meta(name, namespace), "rules": [dict(r) for r in rules]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": _meta(name, namespace),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": [subject]}
    return [role, binding]


def user_namespace_rbac(namespace: str, *, ades_namespace: str = "eopde",
                        image_pull_secrets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """ServiceAccount, Roles and RoleBindings for ADES jobs in ``namespace``, in creation order."""
    sa: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": _meta(CALRISSIAN_SA, namespace)}
    if image_pull_secrets:
        sa["imagePullSecrets"] = [{"name": s} for s in image_pull_secrets]
    return [
        sa,
        *_role(CALRISSIAN_SA, namespace, CALRISSIAN_RULES,
               {"kind": "ServiceAccount", "name": CALRISSIAN_SA, "namespace": namespace}),
        *_role(ADES_SA, namespace, ADES_RULES,
               {"kind": "ServiceAccount", "name": ADES_SA, "namespace": ades_namespace}),
    ]


#: The hub's rules in its own namespace (z2jh's chart, templates/hub/rbac.yaml): with a namespace
#: per user they are needed in every namespace, since KubeSpawner then watches pods and events
#: of all namespaces (its reflectors' ``omit_namespace``) and creates each user's namespace.
HUB_RULES = [
    {"apiGroups": [""], "resources": ["pods", "persistentvolumeclaims", "secrets", "services"],
     "verbs": ["get", "watch", "list", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "watch", "list"]},
]


def hub_cluster_rbac(hub_namespace: str = "eopde", hub_service_account: str = "hub"
                     ) -> list[dict[str, Any]]:
    """ClusterRole and ClusterRoleBinding the hub needs for ``user_namespace_template``: z2jh's
    hub rules in every namespace, and creating namespaces. Nothing about RBAC objects: the
    per-user Roles (:func:`user_namespace_rbac`) are made by the ADES on a user's first job."""
    name = "eopde-hub-user-namespaces"
    rules = [dict(r) for r in HUB_RULES] + [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "create"]}]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta(name), "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(name),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": hub_service_account,
                       "namespace": hub_namespace}]},
    ]


def ades_provisioner_rbac(ades_namespace: str = "eopde", ades_service_account: str = ADES_SA
                          ) -> list[dict[str, Any]]:
    """ClusterRole and ClusterRoleBinding with which the ADES makes a user's namespace and its
    RBAC on the user's first job (``calrissian.ensure_user_namespace``): create namespaces, the
    ServiceAccount, the two Roles and their RoleBindings, and replace those two by name.
    ``escalate``/``bind`` (needed to grant what the ADES does not hold itself: Calrissian's pod
    rights) are limited by name to the two Roles."""
    name = "eopde-ades-user-namespaces"
    rbac = "rbac.authorization.k8s.io"
    ours = [CALRISSIAN_SA, ADES_SA]
    rules = [
        {"apiGroups": [""], "resources": ["namespaces", "serviceaccounts"], "verbs": ["create"]},
        {"apiGroups": [rbac], "resources": ["roles", "rolebindings"], "verbs": ["create"]},
        {"apiGroups": [rbac], "resources": ["roles", "rolebindings"], "verbs": ["update"],
         "resourceNames": list(ours)},
        {"apiGroups": [rbac], "resources": ["roles"], "verbs": ["bind", "escalate"],
         "resourceNames": list(ours)},
    ]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta(name), "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(name),
         "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": ades_service_account,
                       "namespace": ades_namespace}]},
    ]


def allowed(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    """Whether RBAC ``rules`` allow ``verb`` on ``group``/``resource`` (with subresource, e.g.
    ``pods/log``), by Kubernetes' matching: exact names or ``*``."""
    return any((group in r["apiGroups"] or "*" in r["apiGroups"])
               and (resource in r["resources"] or "*" in r["resources"])
               and (verb in r["verbs"] or "*" in r["verbs"]) for r in rules)


def main(argv: list[str] | None = None) -> int:
    """``python -m eopde.hub.k8s_rbac USER [TEMPLATE]``: the user's RBAC as YAML;
    ``python -m eopde.hub.k8s_rbac --hub [HUB_NAMESPACE]``: the hub's cluster rights;
    ``python -m eopde.hub.k8s_rbac --ades [ADES_NAMESPACE]``: the ADES's."""
    import yaml

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m eopde.hub.k8s_rbac USER [NAMESPACE_TEMPLATE] | --hub [NAMESPACE]"
              " | --ades [NAMESPACE]",
              file=sys.stderr)
        return 2
    if args[0] == "--hub":
        print(yaml.safe_dump_all(hub_cluster_rbac(*args[1:2]), sort_keys=False), end="")
        return 0
    if args[0] == "--ades":
        print(yaml.safe_dump_all(ades_provisioner_rbac(*args[1:2]), sort_keys=False), end="")
        return 0
    template = args[1] if len(args) > 1 else "eopde-{username}"
    print(yaml.safe_dump_all(user_namespace_rbac(user_namespace(template, args[0])),
                             sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
