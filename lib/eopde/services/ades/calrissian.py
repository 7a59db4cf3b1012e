"""The Kubernetes execution backend: run a job's CWL with Calrissian as a Kubernetes Job, the way
EOEPCA's ADES (zoo-calrissian-runner) does.

This module renders the Kubernetes objects (plain dicts, pure) and makes the few cluster calls
(``submit``, ``job_status``, ``job_pod``, ``container_log``, ``remove``) with the official
``kubernetes`` client; :class:`~eopde.services.ades.k8s_executor.KubernetesExecutor` runs the
ADES's jobs with them. No cluster is reachable where eopde is developed: the calls are tested
against a fake of the API server (tests/k8s_fake.py), never a real one.

With a :class:`Staging` (what the executor passes), the Job's pod runs three containers in
order: ``stage-in`` (init container, eopde's image: the STAC items of the Directory inputs
fetched with the job OWNER's storage keys, from a Secret of the job, into the input volume, and
the CWL job file written there), ``calrissian`` (init container: the workflow), ``stage-out``
(eopde's image: the result catalogs copied to the owner's bucket with the same keys, the
results document printed as its last log line). Calrissian and the tool's step pods never see
the keys.

What is rendered, per job (``CalrissianBackend.render(job, process)``), all in a namespace of its
own named ``<prefix><process>-<job>`` (shortened to a 63-character DNS label, as EOEPCA's
``shorten_namespace`` does):

1. ``Namespace``;
2. ``ServiceAccount`` + ``Role`` + ``RoleBinding``: Calrissian creates one pod per CWL step, so
   it needs ``pods`` (create, delete, list, watch) and ``pods/log`` (get) in that namespace,
   what Calrissian 0.18.1 calls (``eopde.hub.k8s_rbac.CALRISSIAN_RULES``);
3. ``ConfigMap`` ``<name>-input`` holding ``workflow.cwl`` (the deployed CWL, as stored) and
   ``job.yml`` (the CWL job: the job's inputs, Directory inputs as the URLs of STAC items to
   stage in, the ADES stage-in wrapper's convention), or with a :class:`Staging` ``plan.json``
   (what stage-in does; it writes the job file); and then a ``Secret`` with the owner's keys;
4. three ``PersistentVolumeClaim`` (ReadWriteMany, ``storage_class``): ``calrissian-tmp`` (the
   steps' working folders), ``calrissian-output`` (results), ``calrissian-input`` (staged
   inputs). RWX because every step pod mounts them, possibly on different nodes;
5. the ``Job`` running ``calrissian`` (image ``calrissian_image``) with ``--max-ram``,
   ``--max-cores`` (what Calrissian may use for all step pods at once, and the fallback of
   tools without a ResourceRequirement), ``--tmp-outdir-prefix``/``--outdir`` on the volumes,
   ``--stdout``/``--stderr``/``--usage-report``/``--tool-logs-basepath`` under the output
   volume, ``--pod-nodeselectors`` and ``--pod-env-vars`` files when given, then
   ``/workflow/workflow.cwl#<workflow-id>`` and ``/workflow/job.yml``. ``backoffLimit: 0``:
   a failed workflow is not retried behind the user's back.

Configuration (traitlets-free dataclass; every option documented on the field): namespace
prefix, storage class, volume size, Calrissian image, max cores / RAM, the controller's own
resource limits, service account name, node selector, image pull secrets, env of the step pods.

How the ADES uses it (:class:`~eopde.services.ades.k8s_executor.KubernetesExecutor`)::

    ns = ensure_user_namespace(api, job.user, template=...)  # the user's first job only
    manifests = backend.render(job, process, Staging(plan, endpoint, key, secret))
    submit(manifests, api)                       # in creation order
    job_status(ns, name, api); job_pod(ns, name, api)   # followed until it ends
    container_log(ns, pod, "stage-out", api)     # logs; the results document
    remove(manifests, api)                       # the job's objects (the namespace stays)
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

TMP_DIR = "/calrissian/tmp"
OUTPUT_DIR = "/calrissian/output"
INPUT_DIR = "/calrissian/input"
WORKFLOW_DIR = "/workflow"
CONFIG_DIR = "/calrissian/config"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_APP = "eopde-ades"


def dns_label(text: str, max_len: int = 63) -> str:
    """``text`` as a DNS-1123 label: lower case, [a-z0-9-], at most ``max_len`` characters; when
    shortened, a hash of the whole keeps names of different jobs apart."""
    slug = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "x"
    if len(slug) <= max_len:
        return slug
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{slug[:max_len - 9].rstrip('-')}-{digest}"


def namespace_name(prefix: str, process_id: str, job_id: str) -> str:
    """``<prefix><process>-<job>`` shortened to a 63-character DNS label (EOEPCA:
    ``shorten_namespace(<processId>-<jobId>)``)."""
    return dns_label(f"{prefix}{process_id}-{job_id}")


@dataclass
class Staging:
    """Stage-in and stage-out of one job in its pod (:mod:`eopde.services.ades.k8s_steps`):
    ``plan`` (JSON: the CWL job's parameters, the STAC items of each Directory input, the URL
    policy), and the S3 endpoint and the job OWNER's keys (they go in a Secret)."""

    plan: dict[str, Any]
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


@dataclass
class CalrissianBackend:
    """Renders the Kubernetes objects that run one ADES job with Calrissian."""

    namespace_prefix: str = ""
    """Put before ``<process>-<job>`` in each job's namespace name (e.g. ``"ades-"``)."""
    storage_class: str = "standard"
    """StorageClass of the job's volumes; must support ReadWriteMany (NFS, CephFS, Longhorn RWX...),
    since every step pod mounts them (EOEPCA: STORAGE_CLASS)."""
    volume_size: str = "10Gi"
    """Size of each of the three volumes (tmp, output, input) (EOEPCA: DEFAULT_VOLUME_SIZE)."""
    calrissian_image: str = "ghcr.io/duke-gcb/calrissian/calrissian:0.18.1"
    """Image of the Calrissian controller (EOEPCA: CALRISSIAN_IMAGE)."""
    max_cores: int = 4
    """``--max-cores``: cores Calrissian may give all step pods together; also the default of
    tools without a ResourceRequirement (EOEPCA: MAX_CORES)."""
    max_ram: str = "8G"
    """``--max-ram``: memory for all step pods together, e.g. ``"8G"`` (EOEPCA: MAX_RAM)."""
    controller_cpu: str = "1"
    """CPU limit of the Calrissian controller pod itself (it only orchestrates)."""
    controller_memory: str = "1Gi"
    """Memory limit of the Calrissian controller pod itself."""
    service_account: str = "calrissian"
    """Name of the ServiceAccount created in each job namespace for Calrissian."""
    node_selector: dict[str, str] = field(default_factory=dict)
    """Node labels the controller and every step pod must run on (EOEPCA: workflow.nodeSelector);
    passed to Calrissian with ``--pod-nodeselectors``."""
    image_pull_secrets: list[str] = field(default_factory=list)
    """Names of image pull Secrets (present in the namespace) for private package images."""
    pod_env: dict[str, str] = field(default_factory=dict)
    """Environment of the step pods (``--pod-env-vars``; EOEPCA: conf["pod_env_vars"]), e.g. S3
    endpoint and credentials for tools that read object storage."""
    controller_env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the Calrissian controller container."""
    ttl_seconds_after_finished: int | None = 86400
    """Kubernetes removes the finished Job after this many seconds (None: never)."""
    keep_pods: bool = False
    """``--keep-pods``: leave the step pods after they end (debugging)."""
    steps_image: str = "ghcr.io/eopde/eopde-user:0.1.0"
    """Image of the stage-in and stage-out containers: any image with eopde installed (the
    users' image, hub_config/k8s/Dockerfile, is one)."""
    active_deadline: float | None = None
    """The Job's ``activeDeadlineSeconds`` (the executor sets each job's time limit)."""
    user_namespace_template: str | None = None
    """E.g. ``"eopde-{username}"`` (the hub's ``K8sSettings.user_namespace_template``): run each job
    in its user's namespace instead of a namespace of its own. That namespace's ServiceAccount,
    Roles and RoleBindings are made once per user (:func:`eopde.hub.k8s_rbac.user_namespace_rbac`),
    so the ADES needs no right to create namespaces or RBAC objects; the job's objects carry the
    job id in their names, and :func:`remove` deletes them one by one."""

    # ------------------------------------------------------------------ names

    def names(self, job, process) -> dict[str, str]:
        if self.user_namespace_template:
            from eopde.hub.k8s_rbac import CALRISSIAN_SA, user_namespace

            ns = user_namespace(self.user_namespace_template, job.user)
            jid = dns_label(job.id, 36)
            return {"namespace": ns, "job": f"calrissian-{jid}", "config": f"calrissian-in-{jid}",
                    "tmp": f"calrissian-tmp-{jid}", "output": f"calrissian-out-{jid}",
                    "input": f"calrissian-data-{jid}", "secret": f"calrissian-s3-{jid}",
                    # made once per user (not rendered here): eopde.hub.k8s_rbac
                    "sa": CALRISSIAN_SA, "role": CALRISSIAN_SA, "binding": CALRISSIAN_SA}
        ns = namespace_name(self.namespace_prefix, process.id, job.id)
        return {"namespace": ns, "job": "calrissian", "config": "calrissian-input",
                "tmp": "calrissian-tmp", "output": "calrissian-output",
                "input": "calrissian-input-data", "secret": "calrissian-s3",
                "sa": dns_label(self.service_account), "role": "calrissian-pods",
                "binding": "calrissian-pods"}

    # ------------------------------------------------------------------ render

    def job_inputs(self, job) -> dict[str, Any]:
        """The CWL job (job.yml): OGC values without their qualification."""
        from .executor_base import unwrap

        return {k: unwrap(v) for k, v in (job.inputs or {}).items()}

    def render(self, job, process, staging: Staging | None = None) -> list[dict[str, Any]]:
        """The objects to create, in order, as dicts ready for ``kubectl apply`` / the client.
        ``staging``: stage-in and stage-out in the pod (see the module doc)."""
        import yaml

        from eopde.hub.k8s_rbac import CALRISSIAN_RULES

        n = self.names(job, process)
        ns = n["namespace"]
        labels = {"app.kubernetes.io/managed-by": LABEL_APP,
                  "eopde.ades/job": dns_label(job.id), "eopde.ades/process": dns_label(process.id),
                  "eopde.ades/user": dns_label(job.user)}

        def meta(name: str, namespaced: bool = True) -> dict[str, Any]:
            m: dict[str, Any] = {"name": name, "labels": dict(labels)}
            if namespaced:
                m["namespace"] = ns
            return m

        files = {"workflow.cwl": process.cwl_text}
        if staging is None:
            files["job.yml"] = yaml.safe_dump(self.job_inputs(job), sort_keys=False)
        else:
            files["plan.json"] = json.dumps(staging.plan)
        job_file = f"{WORKFLOW_DIR}/job.yml" if staging is None else f"{INPUT_DIR}/job.yml"
        extra_args: list[str] = []
        if self.node_selector:
            files["pod-nodeselectors.yml"] = yaml.safe_dump(dict(self.node_selector))
            extra_args += ["--pod-nodeselectors", f"{CONFIG_DIR}/pod-nodeselectors.yml"]
        if self.pod_env:
            files["pod-env-vars.yml"] = yaml.safe_dump(dict(self.pod_env))
            extra_args += ["--pod-env-vars", f"{CONFIG_DIR}/pod-env-vars.yml"]
        if self.keep_pods:
            extra_args.append("--keep-pods")

        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, False)}
        sa: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount",
                              "metadata": meta(n["sa"])}
        if self.image_pull_secrets:
            sa["imagePullSecrets"] = [{"name": s} for s in self.image_pull_secrets]
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": meta(n["role"]),
                # exactly what Calrissian calls (one list with the per-user namespaces' Role)
                "rules": [dict(r) for r in CALRISSIAN_RULES]}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": meta(n["binding"]),
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                               "name": n["role"]},
                   "subjects": [{"kind": "ServiceAccount", "name": n["sa"], "namespace": ns}]}
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(n["config"]),
                  "data": files}
        pvcs = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(n[k]),
                 "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": self.storage_class,
                          "resources": {"requests": {"storage": self.volume_size}}}}
                for k in ("tmp", "output", "input")]

        entry = f"{WORKFLOW_DIR}/workflow.cwl"
        if process.workflow_id:
            entry += f"#{process.workflow_id.lstrip('#')}"
        args = ["--max-ram", str(self.max_ram), "--max-cores", str(self.max_cores),
                "--tmp-outdir-prefix", f"{TMP_DIR}/", "--outdir", f"{OUTPUT_DIR}/",
                "--stdout", f"{OUTPUT_DIR}/output.json", "--stderr", f"{OUTPUT_DIR}/stderr.log",
                "--usage-report", f"{OUTPUT_DIR}/usage.json",
                "--tool-logs-basepath", f"{OUTPUT_DIR}/logs",
                *extra_args, entry, job_file]
        env = [{"name": "CALRISSIAN_POD_NAME",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
               {"name": "CALRISSIAN_DELETE_PODS", "value": "false" if self.keep_pods else "true"},
               *({"name": k, "value": str(v)} for k, v in self.controller_env.items())]
        mounts = [{"name": "tmp", "mountPath": TMP_DIR},
                  {"name": "output", "mountPath": OUTPUT_DIR},
                  {"name": "input", "mountPath": INPUT_DIR},
                  {"name": "workflow", "mountPath": WORKFLOW_DIR, "readOnly": True},
                  {"name": "workflow", "mountPath": CONFIG_DIR, "readOnly": True}]
        items = [{"key": k, "path": k} for k in files]
        pod_spec: dict[str, Any] = {
            "serviceAccountName": n["sa"], "restartPolicy": "Never",
            "securityContext": {"runAsUser": 1001, "runAsGroup": 0, "fsGroup": 0},
            "containers": [{
                "name": "calrissian", "image": self.calrissian_image,
                "command": ["calrissian"], "args": args, "env": env,
                "workingDir": TMP_DIR, "volumeMounts": mounts,
                "resources": {"limits": {"cpu": self.controller_cpu,
                                         "memory": self.controller_memory},
                              "requests": {"cpu": "100m", "memory": "256Mi"}}}],
            "volumes": [{"name": "tmp", "persistentVolumeClaim": {"claimName": n["tmp"]}},
                        {"name": "output", "persistentVolumeClaim": {"claimName": n["output"]}},
                        {"name": "input", "persistentVolumeClaim": {"claimName": n["input"]}},
                        {"name": "workflow", "configMap": {"name": n["config"], "items": items}}],
        }
        if self.node_selector:
            pod_spec["nodeSelector"] = dict(self.node_selector)
        if self.image_pull_secrets:
            pod_spec["imagePullSecrets"] = [{"name": s} for s in self.image_pull_secrets]
        kjob: dict[str, Any] = {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": meta(n["job"]),
            "spec": {"backoffLimit": 0,
                     "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec}}}
        if self.ttl_seconds_after_finished is not None:
            kjob["spec"]["ttlSecondsAfterFinished"] = self.ttl_seconds_after_finished
        if self.active_deadline is not None:
            kjob["spec"]["activeDeadlineSeconds"] = max(1, int(self.active_deadline))
        secrets: list[dict[str, Any]] = []
        if staging is not None:
            secrets = [{"apiVersion": "v1", "kind": "Secret", "metadata": meta(n["secret"]),
                        "type": "Opaque",
                        "stringData": {"AWS_ACCESS_KEY_ID": staging.access_key,
                                       "AWS_SECRET_ACCESS_KEY": staging.secret_key}}]
            self._add_steps(pod_spec, staging, n["secret"], job)
        if self.user_namespace_template:  # the namespace and its RBAC are the user's, made once
            return [config, *secrets, *pvcs, kjob]
        return [namespace, sa, role, binding, config, *secrets, *pvcs, kjob]

    def _add_steps(self, pod_spec: dict[str, Any], staging: Staging, secret: str, job) -> None:
        """Stage-in before Calrissian, stage-out after it (init containers run in order; the
        pod's one container runs once they all ended well)."""
        env = [{"name": "EOPDE_S3_ENDPOINT", "value": staging.endpoint},
               {"name": "AWS_DEFAULT_REGION", "value": staging.region},
               *({"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": k}}}
                 for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))]
        # the pod's user and groups (as Calrissian's, so all share the volumes), nothing more
        safe = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]}}
        resources = {"limits": {"cpu": "1", "memory": "1Gi"},
                     "requests": {"cpu": "100m", "memory": "128Mi"}}
        steps = ["python", "-m", "eopde.services.ades.k8s_steps"]
        stage_in = {"name": "stage-in", "image": self.steps_image, "env": env,
                    "command": [*steps, "stage-in", "--plan", f"{CONFIG_DIR}/plan.json",
                                "--dest", INPUT_DIR],
                    "volumeMounts": [{"name": "input", "mountPath": INPUT_DIR},
                                     {"name": "workflow", "mountPath": CONFIG_DIR,
                                      "readOnly": True}],
                    "securityContext": safe, "resources": resources}
        stage_out = {"name": "stage-out", "image": self.steps_image, "env": env,
                     "command": [*steps, "stage-out", "--output", f"{OUTPUT_DIR}/output.json",
                                 "--user", job.user, "--job", job.id],
                     "volumeMounts": [{"name": "output", "mountPath": OUTPUT_DIR,
                                       "readOnly": True}],
                     "securityContext": safe, "resources": resources}
        pod_spec["initContainers"] = [stage_in, *pod_spec["containers"]]
        pod_spec["containers"] = [stage_out]

    def to_yaml(self, job, process) -> str:
        """The manifests as one multi-document YAML (for ``kubectl apply -f -``)."""
        import yaml

        return yaml.safe_dump_all(json.loads(json.dumps(self.render(job, process))),
                                  sort_keys=False)


# ------------------------------------------------- cluster calls (no cluster here: tested
# against a fake of the API server, tests/k8s_fake.py). ``api``: a kubernetes ApiClient
# (default: in-cluster configuration, else ~/.kube/config).


def api_client():  # pragma: no cover - configuration only
    """A ``kubernetes`` ApiClient: in-cluster configuration, else ~/.kube/config."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def submit(manifests: list[dict[str, Any]], api: Any = None) -> None:
    """Create the rendered objects, in order."""
    from kubernetes import utils

    api = api or api_client()
    for obj in manifests:
        utils.create_from_dict(api, obj, namespace=obj["metadata"].get("namespace"))


def dismiss(namespace: str, api: Any = None) -> None:  # pragma: no cover - per-job namespaces
    """Delete a job's own namespace (its Job, pods and volumes go with it), as EOEPCA's
    runDismiss does."""
    from kubernetes import client

    client.CoreV1Api(api or api_client()).delete_namespace(namespace,
                                                           propagation_policy="Foreground")


def job_status(namespace: str, name: str = "calrissian", api: Any = None):
    """The Job's status subresource (``V1JobStatus``): what the executor follows."""
    from kubernetes import client

    batch = client.BatchV1Api(api or api_client())
    return batch.read_namespaced_job_status(name, namespace).status


def job_pod(namespace: str, name: str, api: Any = None):
    """The Job's pod (``V1Pod``; the newest when there were several), or None."""
    from kubernetes import client

    pods = client.CoreV1Api(api or api_client()).list_namespaced_pod(
        namespace, label_selector=f"job-name={name}").items
    pods.sort(key=lambda p: str(p.metadata.creation_timestamp or ""))
    return pods[-1] if pods else None


def container_log(namespace: str, pod: str, container: str, api: Any = None,
                  limit_bytes: int = 1 << 20) -> str:
    """The log of one container of a pod ("" when it has none yet)."""
    from kubernetes import client

    try:  # the raw body: kubernetes 36 returns a str response as the repr of its bytes
        raw = client.CoreV1Api(api or api_client()).read_namespaced_pod_log(
            pod, namespace, container=container, limit_bytes=limit_bytes,
            _preload_content=False)
        return raw.data.decode("utf-8", "replace")
    except client.ApiException as err:
        if err.status in (400, 404):  # not started yet, or gone
            return ""
        raise


def ensure_user_namespace(api_client: Any, username: str, *, template: str = "eopde-{username}",
                          ades_namespace: str = "eopde",
                          image_pull_secrets: tuple[str, ...] = ()) -> str:
    """Make ``username``'s namespace and its job RBAC
    (:func:`eopde.hub.k8s_rbac.user_namespace_rbac`) unless they
    exist; Roles and RoleBindings that exist are replaced, so their rules are always this
    version's (and a tampered one is put right). Idempotent; returns the namespace.
    ``api_client``: a ``kubernetes.client.ApiClient``."""
    from kubernetes import client

    from eopde.hub.k8s_rbac import LABELS, user_namespace, user_namespace_rbac

    ns = user_namespace(template, username)
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)

    def create(make: Any, replace: Any = None) -> None:
        try:
            make()
        except client.ApiException as err:
            if err.status != 409:
                raise
            if replace is not None:
                replace()

    create(lambda: core.create_namespace(
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": dict(LABELS)}}))
    for obj in user_namespace_rbac(ns, ades_namespace=ades_namespace,
                                   image_pull_secrets=image_pull_secrets):
        name = obj["metadata"]["name"]
        if obj["kind"] == "ServiceAccount":
            create(lambda o=obj: core.create_namespaced_service_account(ns, o))
        elif obj["kind"] == "Role":
            create(lambda o=obj: rbac.create_namespaced_role(ns, o),
                   lambda o=obj, n=name: rbac.replace_namespaced_role(n, ns, o))
        else:
            create(lambda o=obj: rbac.create_namespaced_role_binding(ns, o),
                   lambda o=obj, n=name: rbac.replace_namespaced_role_binding(n, ns, o))
    return ns


def remove(manifests: list[dict[str, Any]], api: Any = None) -> None:
    """Delete a job's objects one by one, last made first: the end of a job that ran in its
    user's namespace (which stays). Objects already gone are skipped."""
    from kubernetes import client

    api = api or api_client()
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    deleters = {"Job": lambda n, ns: batch.delete_namespaced_job(
                    n, ns, propagation_policy="Background"),
                "PersistentVolumeClaim": core.delete_namespaced_persistent_volume_claim,
                "Secret": core.delete_namespaced_secret,
                "ConfigMap": core.delete_namespaced_config_map}
    for obj in reversed(manifests):
        try:
            deleters[obj["kind"]](obj["metadata"]["name"], obj["metadata"]["namespace"])
        except client.ApiException as err:
            if err.status != 404:
                raise
