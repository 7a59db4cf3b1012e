"""RBAC for ADES jobs in each user's namespace (Calrissian), as manifests (pure builders).

With ``K8sSettings.user_namespace_template`` set, each user's pod runs in a namespace of their own
(KubeSpawner makes it), and the ADES runs that user's jobs there with the Calrissian backend
(``CalrissianBackend(user_namespace_template=...)``). Two parties then act in the namespace, each
with a Role holding exactly what its code calls (tests/test_k8s_rbac.py records the calls):

- **the Calrissian controller** (the Job's pod, ServiceAccount ``eopde-calrissian``): one pod per
  CWL step. Calrissian 0.18.1 (``calrissian/k8s.py``) calls ``create_namespaced_pod``,
  ``delete_namespaced_pod``, ``list_namespaced_pod`` (to find its own pod, and in a watch) and
  ``read_namespaced_pod_log``;
- **the ADES** (ServiceAccount ``eopde-ades`` in the platform's namespace, bound here by a
  RoleBinding): ``submit`` creates the job's ConfigMap, three PersistentVolumeClaims and the Job;
  ``job_state`` reads the Job's status; ``remove`` deletes the three kinds again.

Neither may create namespaces, roles or bindings, read Secrets, or touch another namespace: the
per-user objects here are applied once per user, by the operator (``python -m eopde.hub.k8s_rbac
alice | kubectl apply -f -``) or a hub hook holding those rights.
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
#: What the ADES calls in a user's namespace (eopde.services.ades.calrissian: submit, job_state,
#: remove).
ADES_RULES = [
    {"apiGroups": [""], "resources": ["configmaps", "persistentvolumeclaims"],
     "verbs": ["create", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
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
    per-user Roles (:func:`user_namespace_rbac`) are applied by the operator."""
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


def allowed(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    """Whether RBAC ``rules`` allow ``verb`` on ``group``/``resource`` (with subresource, e.g.
    ``pods/log``), by Kubernetes' matching: exact names or ``*``."""
    return any((group in r["apiGroups"] or "*" in r["apiGroups"])
               and (resource in r["resources"] or "*" in r["resources"])
               and (verb in r["verbs"] or "*" in r["verbs"]) for r in rules)


def main(argv: list[str] | None = None) -> int:
    """``python -m eopde.hub.k8s_rbac USER [TEMPLATE]``: the user's RBAC as YAML;
    ``python -m eopde.hub.k8s_rbac --hub [HUB_NAMESPACE]``: the hub's cluster rights."""
    import yaml

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m eopde.hub.k8s_rbac USER [NAMESPACE_TEMPLATE] | --hub [NAMESPACE]",
              file=sys.stderr)
        return 2
    if args[0] == "--hub":
        print(yaml.safe_dump_all(hub_cluster_rbac(*args[1:2]), sort_keys=False), end="")
        return 0
    template = args[1] if len(args) > 1 else "eopde-{username}"
    print(yaml.safe_dump_all(user_namespace_rbac(user_namespace(template, args[0])),
                             sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
