"""A FAKE Kubernetes API server on loopback, for the official ``kubernetes`` client to talk to over
HTTP. A stand-in for a remote third party that cannot run here: no kube-apiserver binary can be
had on these machines (none in Debian 12, PyPI or npm; no Docker engine for kind/k3s).

What it does as the real one does (and what the tests rely on):
- REST paths of the core and named groups, namespaced and cluster-scoped; create (409 when the
  name exists, 404 when the namespace does not), get, list (label selector ``k=v,...``), replace,
  delete; the ``status`` subresource; ``pods/log`` (text set by the test's "kubelet");
  Secrets' ``stringData`` stored as base64 ``data``;
- authentication by bearer token (unknown token: 401); authorization by RBAC, evaluated from the
  Roles, ClusterRoles and their bindings stored in it: rules' apiGroups / resources (with
  subresource) / verbs / resourceNames, subjects ServiceAccount, User and Group; the escalation
  check on creating Roles (rules the creator does not hold need ``escalate``) and RoleBindings
  (``bind`` on the Role, or holding its rules); 403 Status bodies;
- SubjectAccessReview (``authorization.k8s.io/v1``) answered by the same evaluator.
What it does not: watches, patches, admission, defaulting, controllers (no pod ever runs:
tests play the kubelet with :meth:`FakeCluster.pod_ended`); of garbage collection only a Job's
pods going with it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ADMIN = "system:admin"
CLUSTER_SCOPED = {"namespaces", "clusterroles", "clusterrolebindings", "subjectaccessreviews"}
_PATH = re.compile(r"^/(?:api/(?P<cv>v1)|apis/(?P<group>[^/]+)/(?P<gv>[^/]+))"
                   r"(?:/namespaces/(?P<ns>[^/]+)(?=/))?/(?P<res>[^/]+)"
                   r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCluster:
    """The fake API server; ``calls`` records (user, verb, group, resource, namespace, name,
    allowed) of every request."""

    def __init__(self):
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.tokens: dict[str, tuple[str, list[str]]] = {
            "admin-token": (ADMIN, ["system:masters"])}
        self.logs: dict[tuple[str, str, str], str] = {}
        self.calls: list[tuple[str, str, str, str, str, str, bool]] = []
        self.lock = threading.RLock()
        for ns in ("default", "eopde"):
            self.put("", "namespaces", "", {"metadata": {"name": ns}})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ set-up

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeCluster:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def service_account_token(self, namespace: str, name: str) -> str:
        """A bearer token authenticating as that ServiceAccount."""
        token = f"sa-{namespace}-{name}-{uuid.uuid4().hex[:8]}"
        self.tokens[token] = (f"system:serviceaccount:{namespace}:{name}",
                              ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                               "system:authenticated"])
        return token

    def client(self, token: str = "admin-token"):
        """A ``kubernetes`` ApiClient talking to this server with ``token``."""
        from kubernetes import client

        config = client.Configuration(host=self.url)
        config.api_key = {"authorization": f"Bearer {token}"}
        return client.ApiClient(config)

    # ------------------------------------------------------------------ store

    def put(self, group: str, resource: str, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta["resourceVersion"] = str(len(self.calls) + 1)
        if ns:
            meta["namespace"] = ns
        if resource == "secrets" and "stringData" in obj:
            data = obj.setdefault("data", {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(v.encode()).decode()
        with self.lock:
            self.objects[(group, resource, ns, meta["name"])] = obj
        return obj

    def get(self, group: str, resource: str, ns: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.objects.get((group, resource, ns, name))

    def items(self, group: str, resource: str, ns: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [o for (g, r, n, _), o in self.objects.items()
                    if g == group and r == resource and (ns is None or n == ns)]

    def secret_value(self, ns: str, name: str, key: str) -> str:
        secret = self.get("", "secrets", ns, name)
        assert secret is not None, f"no Secret {ns}/{name}"
        return base64.b64decode(secret["data"][key]).decode()

    # ------------------------------------------------------------------ the kubelet's part

    def pod_ended(self, ns: str, job: str, exits: dict[str, int], logs: dict[str, str], *,
                  init: tuple[str, ...] = ("stage-in", "calrissian"),
                  deadline: bool = False) -> None:
        """What the Job controller and the kubelet would leave: the Job's pod with its
        containers' exit codes and logs, and the Job's status (failed when any exit is not 0)."""
        pod = f"{job}-{uuid.uuid4().hex[:5]}"

        def state(name: str) -> dict[str, Any]:
            code = exits.get(name)
            known = {"name": name, "image": "x", "imageID": "", "ready": False, "restartCount": 0}
            if code is None:
                return {**known, "state": {"waiting": {"reason": "PodInitializing"}}}
            return {**known, "state": {"terminated": {"exitCode": code}}}

        self.put("", "pods", ns, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "labels": {"job-name": job}},
            "spec": {"containers": [{"name": "stage-out", "image": "x"}]},
            "status": {"phase": "Failed" if any(exits.values()) else "Succeeded",
                       "initContainerStatuses": [state(c) for c in init],
                       "containerStatuses": [state(c) for c in exits if c not in init]}})
        for container, text in logs.items():
            self.logs[(ns, pod, container)] = text
        kjob = self.get("batch", "jobs", ns, job)
        assert kjob is not None, f"no Job {ns}/{job}"
        failed = any(exits.values()) or deadline
        kjob["status"] = {"failed": 1} if failed else {"succeeded": 1}
        if deadline:
            kjob["status"]["conditions"] = [{"type": "Failed", "status": "True",
                                             "reason": "DeadlineExceeded"}]

    # ------------------------------------------------------------------ RBAC

    def _rules_for(self, user: str, groups: list[str], ns: str) -> list[dict[str, Any]]:
        def matches(subject: dict[str, Any]) -> bool:
            kind = subject.get("kind")
            if kind == "ServiceAccount":
                return user == (f"system:serviceaccount:{subject.get('namespace')}:"
                                f"{subject.get('name')}")
            if kind == "User":
                return user == subject.get("name")
            return kind == "Group" and subject.get("name") in groups

        rules: list[dict[str, Any]] = []
        rbac = "rbac.authorization.k8s.io"
        for b in self.items(rbac, "clusterrolebindings"):
            role = self.get(rbac, "clusterroles", "", b["roleRef"]["name"])
            if role and any(matches(s) for s in b.get("subjects") or []):
                rules += role.get("rules") or []
        if ns:
            for b in self.items(rbac, "rolebindings", ns):
                ref = b["roleRef"]
                role = (self.get(rbac, "roles", ns, ref["name"]) if ref["kind"] == "Role"
                        else self.get(rbac, "clusterroles", "", ref["name"]))
                if role and any(matches(s) for s in b.get("subjects") or []):
                    rules += role.get("rules") or []
        return rules

    def authorized(self, user: str, groups: list[str], verb: str, group: str, resource: str,
                   ns: str, name: str = "") -> bool:
        """RBAC's answer: does any rule of the user's bindings allow this request?"""
        if "system:masters" in groups:
            return True
        for rule in self._rules_for(user, groups, ns):
            names = rule.get("resourceNames") or []
            if ((group in rule.get("apiGroups", []) or "*" in rule.get("apiGroups", []))
                    and (resource in rule.get("resources", []) or "*" in rule.get("resources", []))
                    and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
                    and (not names or name in names)):
                return True
        return False

    def _holds(self, user: str, groups: list[str], rules: list[dict[str, Any]], ns: str) -> bool:
        return all(self.authorized(user, groups, v, g, r, ns) for rule in rules
                   for v in rule.get("verbs", []) for g in rule.get("apiGroups", [])
                   for r in rule.get("resources", []))

    def escalation(self, user: str, groups: list[str], resource: str, ns: str,
                   body: dict[str, Any]) -> str | None:
        """Kubernetes' RBAC escalation check on writing a Role or RoleBinding; None: allowed."""
        rbac = "rbac.authorization.k8s.io"
        name = (body.get("metadata") or {}).get("name", "")
        if resource == "roles":
            if self._holds(user, groups, body.get("rules") or [], ns) or self.authorized(
                    user, groups, "escalate", rbac, "roles", ns, name):
                return None
            return f"user {user!r} is attempting to grant RBAC permissions not currently held"
        if resource == "rolebindings":
            ref = body.get("roleRef") or {}
            kind = "roles" if ref.get("kind") == "Role" else "clusterroles"
            if self.authorized(user, groups, "bind", rbac, kind, ns, ref.get("name", "")):
                return None
            role = self.get(rbac, kind, ns if kind == "roles" else "", ref.get("name", ""))
            if role is not None and self._holds(user, groups, role.get("rules") or [], ns):
                return None
            return f"user {user!r} may not bind {ref.get('kind')} {ref.get('name')!r}"
        return None


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _handler(cluster: FakeCluster):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, body: Any, text: bool = False) -> None:
            data = body.encode() if text else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PATCH(self) -> None:
            self._send(405, _status(405, "MethodNotAllowed", "the fake does not patch"))

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null") if length else None
            auth = self.headers.get("Authorization", "")
            who = cluster.tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
            if who is None:
                return self._send(401, _status(401, "Unauthorized", "Unauthorized"))
            m = _PATH.match(url.path)
            if not m:
                return self._send(404, _status(404, "NotFound", f"no path {url.path}"))
            group, ns, res = m["group"] or "", m["ns"] or "", m["res"]
            name, sub = m["name"] or "", m["sub"]
            if res == "namespaces" and not ns:
                ns_for_authz = name
            else:
                ns_for_authz = ns
            if method == "POST" and body is not None:
                name = (body.get("metadata") or {}).get("name", "")
            verb = {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(method) or (
                "watch" if query.get("watch") else ("get" if m["name"] else "list"))
            resource = res + (f"/{sub}" if sub else "")
            user, groups = who
            ok = cluster.authorized(user, groups, verb, group, resource,
                                    "" if res in CLUSTER_SCOPED else ns_for_authz, name)
            cluster.calls.append((user, verb, group, resource, ns, name, ok))
            if not ok:
                where = f" in the namespace \"{ns}\"" if ns else " at the cluster scope"
                return self._send(403, _status(403, "Forbidden", (
                    f"{resource} \"{name}\" is forbidden: User \"{user}\" cannot {verb} resource "
                    f"\"{resource}\" in API group \"{group}\"{where}")))
            if res in ("roles", "rolebindings") and method in ("POST", "PUT"):
                problem = cluster.escalation(user, groups, res, ns, body or {})
                if problem:
                    return self._send(403, _status(403, "Forbidden", problem))
            self._answer(method, group, res, ns, m["name"] or "", sub, body, query)

        def _answer(self, method: str, group: str, res: str, ns: str, name: str,
                    sub: str | None, body: Any, query: dict[str, str]) -> None:
            if res == "subjectaccessreviews":
                spec = body["spec"]
                attrs = spec.get("resourceAttributes") or {}
                resource = attrs.get("resource", "") + (
                    f"/{attrs['subresource']}" if attrs.get("subresource") else "")
                allowed = cluster.authorized(spec.get("user", ""), spec.get("groups") or [],
                                             attrs.get("verb", ""), attrs.get("group", ""),
                                             resource, attrs.get("namespace", ""),
                                             attrs.get("name", ""))
                return self._send(201, {**body, "status": {"allowed": allowed}})
            if ns and cluster.get("", "namespaces", "", ns) is None and method != "DELETE":
                return self._send(404, _status(404, "NotFound",
                                               f"namespaces \"{ns}\" not found"))
            if method == "POST":
                key = body["metadata"]["name"]
                if cluster.get(group, res, ns, key) is not None:
                    return self._send(409, _status(409, "AlreadyExists",
                                                   f"{res} \"{key}\" already exists"))
                return self._send(201, cluster.put(group, res, ns, body))
            if not name:  # list
                items = cluster.items(group, res, ns if ns else None)
                want = dict(kv.split("=", 1) for kv in query.get("labelSelector", "").split(",")
                            if "=" in kv)
                items = [o for o in items if all(
                    (o["metadata"].get("labels") or {}).get(k) == v for k, v in want.items())]
                return self._send(200, {"kind": "List", "apiVersion": "v1",
                                        "metadata": {"resourceVersion": "1"}, "items": items})
            current = cluster.get(group, res, ns, name)
            if current is None:
                return self._send(404, _status(404, "NotFound", f"{res} \"{name}\" not found"))
            if sub == "log":
                text = cluster.logs.get((ns, name, query.get("container", "")), "")
                return self._send(200, text, text=True)
            if method == "GET":
                return self._send(200, current)
            if method == "PUT":
                return self._send(200, cluster.put(group, res, ns, body))
            with cluster.lock:
                del cluster.objects[(group, res, ns, name)]
                if res == "jobs":  # the garbage collector's part: the Job's pods go with it
                    for key in [k for k, o in cluster.objects.items() if k[1] == "pods"
                                and (o["metadata"].get("labels") or {}).get("job-name") == name]:
                        del cluster.objects[key]
                if res == "namespaces":
                    for key in [k for k in cluster.objects if k[2] == name]:
                        del cluster.objects[key]
            return self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    return Handler
