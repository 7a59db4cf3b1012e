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


def allowed(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    """Whether RBAC ``rules`` allow ``verb`` on ``group``/``resource`` (with subresource, e.g.
    ``pods/log``), by Kubernetes' matching: exact names or ``*``."""
    return any((group in r["apiGroups"] or "*" in r["apiGroups"])
               and (resource in r["resources"] or "*" in r["resources"])
               and (verb in r["verbs"] or "*" in r["verbs"]) for r in rules)


def main(argv: list[str] | None = None) -> int:
    """``python -m eopde.hub.k8s_rbac USER [TEMPLATE]``: the user's RBAC as YAML."""
    import yaml

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m eopde.hub.k8s_rbac USER [NAMESPACE_TEMPLATE]", file=sys.stderr)
        return 2
    template = args[1] if len(args) > 1 else "eopde-{username}"
    print(yaml.safe_dump_all(user_namespace_rbac(user_namespace(template, args[0])),
                             sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
