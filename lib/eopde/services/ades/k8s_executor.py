"""The ADES's Kubernetes executor: each job runs as a Calrissian Job in its OWNER's namespace.

Per job (one thread, :meth:`KubernetesExecutor._run`):

1. the inputs are checked here first (the CWL's parameter types, required inputs, the STAC item
   URLs against the user's URL policy): a bad job fails before anything is made in the cluster;
2. the user's namespace and its RBAC are made if this process has not yet seen the user
   (:func:`eopde.services.ades.calrissian.ensure_user_namespace`: idempotent; the first job of
   a user makes them, no operator step);
3. :meth:`CalrissianBackend.render` with a :class:`Staging`: ConfigMap (CWL, plan), Secret (the
   OWNER's storage keys, never the platform's), three volumes, the Job (stage-in, Calrissian,
   stage-out: :mod:`eopde.services.ades.k8s_steps`), with the job's time limit as the Job's
   ``activeDeadlineSeconds``; created through the API server;
4. followed by polling the Job's status and its pod's container states (progress: stage-in 10,
   workflow 20, stage-out 95) every ``poll`` seconds;
5. at its end, the three containers' logs are appended to the job's log (``<work_dir>/<job>/
   job.log``, the service's, as for local jobs); a successful Job's results are the stage-out
   container's results document, accepted only when every href in it is under the job's own
   prefix of the owner's bucket and its catalog is there (read back with the owner's keys); a
   failed one says which container failed and its last line (stage-in's refusals come through
   as they are; a Job past its deadline says so);
6. the job's objects are deleted (its Secret first of all, with the Job; the namespace stays).

Results go where EOEPCA's ADES puts them: the stage-out step writes the result catalog to the
owner's bucket (``processing-results/<job>/``) and the ADES reads the catalog's URI back (EOEPCA's
runner reads it from Calrissian's output and hands it to the workspace). Differences, on purpose:
EOEPCA's stage-in/out are CWL steps wrapped around the package, given the keys as workflow
inputs (so in every step pod's spec); here they are the pod's own containers before and after
Calrissian, the keys reach only them (from a Secret), and the code is the local executor's
(same URL policy, same owner-keys rule, same stage-out layout).

Restarts: Jobs keep running in the cluster while the ADES restarts; :meth:`start` follows the
store's ``running`` jobs again and submits its ``accepted`` ones. Dismiss deletes the job's
objects (Kubernetes stops the pods).
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import calrissian
from .calrissian import CalrissianBackend, Staging
from .execution import scrub
from .executor_base import (DEFAULT_MAX_TIMEOUT, DEFAULT_TIMEOUT, DISMISS_MESSAGE, ExecutorBase,
                            split_inputs)
from .k8s_steps import RESULTS_MARK, STEP_MARK, USAGE_MARK
from .stageout import StageOutTarget, job_prefix
from .store import FINAL, utcnow

log = logging.getLogger(__name__)

P_PREPARE, P_STAGE_IN, P_RUN, P_STAGE_OUT, P_DONE = 5, 10, 20, 95, 100
CONTAINERS = ("stage-in", "calrissian", "stage-out")
NO_USER_KEYS = ("the ADES has no per-user storage keys (EOPDE_WORKSPACE_KEYS_PATH): a job on "
                "the cluster would be handed the platform's own key, so none is run")


class _Refused(Exception):
    """The job fails before anything is made in the cluster (message for the user)."""


class _BadResults(Exception):
    """What the stage-out container reported is not the job's results."""


class KubernetesExecutor(ExecutorBase):
    """Runs the store's jobs on Kubernetes with Calrissian, each in its owner's namespace.

    ``backend``: how the objects are rendered (its ``user_namespace_template`` is required);
    ``storage``: the S3 target, with a ``keys_file`` of per-user keys (required: the job gets its
    owner's keys); ``api``: a ``kubernetes`` ApiClient (default: in-cluster configuration);
    ``ades_namespace``: where the ADES's ServiceAccount is (bound in each user namespace);
    ``url_policy(user)``: what stage-in may fetch for the user; ``poll``: seconds between two
    looks at a Job; ``work_dir``: the jobs' logs; ``keep_objects``: leave a finished job's
    objects in the cluster (debugging)."""

    def __init__(self, store, *, backend: CalrissianBackend, storage: StageOutTarget,
                 work_dir: Path, api: Any = None, ades_namespace: str = "eopde",
                 url_policy: Any = None, poll: float = 5.0, keep_objects: bool = False,
                 job_timeout: float = DEFAULT_TIMEOUT, max_timeout: float = DEFAULT_MAX_TIMEOUT):
        super().__init__(store, job_timeout=job_timeout, max_timeout=max_timeout)
        if not backend.user_namespace_template:
            raise ValueError("the Kubernetes executor runs jobs in their owner's namespace: "
                             "set CalrissianBackend.user_namespace_template")
        self.backend, self.storage, self.api = backend, storage, api
        self.work_dir = Path(work_dir)
        self.ades_namespace, self.url_policy = ades_namespace, url_policy
        self.poll, self.keep_objects = float(poll), keep_objects
        self._ready: set[str] = set()  # users whose namespace this process has made or seen
        self._timeouts: dict[str, float] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Follow the jobs a previous process left running; submit those it left accepted."""
        self._stopping.clear()
        if self.api is None:
            self.api = calrissian.api_client()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for job in self.store.jobs_with_status(["running"]):
            self._spawn(self._follow_again, job.id)
        for job in sorted(self.store.jobs_with_status(["accepted"]), key=lambda j: j.created):
            self._spawn(self._run, job.id)

    def shutdown(self, wait: bool = False) -> None:
        """Stop following (the cluster's Jobs go on; the next start follows them again)."""
        self._stopping.set()
        for t in list(self._threads):
            t.join(None if wait else self.poll + 5)
        self._threads.clear()

    def submit(self, job_id: str, timeout: float | None = None) -> None:
        """Run a job already in the store (status accepted)."""
        if timeout is not None:
            with self._lock:
                self._timeouts[job_id] = self.check_timeout(timeout)
        self._spawn(self._run, job_id)

    def dismiss(self, job_id: str):
        """Stop the job: its objects are deleted (Kubernetes stops its pods)."""
        job = self.store.get_job(job_id)
        if job is None or job.status in FINAL:
            return job
        with self._lock:
            self._dismissed.add(job_id)
            job = self.store.update_job(job_id, status="dismissed", message=DISMISS_MESSAGE,
                                        finished=utcnow(), pid=None)
            self._notify(job_id)
        self._remove(job)
        return job

    def _spawn(self, target, job_id: str) -> None:
        t = threading.Thread(target=self._guard, args=(target, job_id), daemon=True,
                             name=f"ades-k8s-{job_id[:8]}")
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _guard(self, target, job_id: str) -> None:
        try:
            target(job_id)
        except Exception as err:  # never lose a job: whatever broke ends it failed
            log.exception("job %s", job_id)
            self._finish(job_id, "failed", "internal error of the ADES's Kubernetes executor: "
                         + scrub(f"{type(err).__name__}: {err}".splitlines()[0]))

    # ------------------------------------------------------------------ records

    def _log_path(self, job_id: str) -> Path:
        return self.work_dir / job_id / "job.log"

    def _say(self, job_id: str, line: str) -> None:
        self._append_log(str(self._log_path(job_id)), line)

    def _update(self, job_id: str, **fields: Any) -> bool:
        """Update a running job; False once it was dismissed (or ended)."""
        with self._lock:
            current = self.store.get_job(job_id)
            if job_id in self._dismissed or current is None or current.status in FINAL:
                return False
            self.store.update_job(job_id, **fields)
            self._notify(job_id)
            return True

    # ------------------------------------------------------------------ a job

    def _run(self, job_id: str) -> None:
        job = self.store.get_job(job_id)
        if job is None or job.status != "accepted" or job_id in self._dismissed:
            return
        path = self._log_path(job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        path.touch()
        limit = self._timeouts.pop(job_id, self.job_timeout)
        if not self._update(job_id, status="running", progress=P_PREPARE, started=utcnow(),
                            message="preparing the job on the cluster", log_path=str(path)):
            return
        self._say(job_id, f"eopde: job {job_id} of process {job.process_id} (user {job.user}) "
                          f"on Kubernetes, time limit {limit:g} s")
        try:
            process, staging = self._staging(job)
        except _Refused as err:
            self._say(job_id, f"eopde: {err}")
            return self._finish(job_id, "failed", str(err))
        try:
            ns = self._namespace(job.user)
        except Exception as err:  # ApiException: the cluster said no (its body is not shown)
            self._say(job_id, f"eopde: the cluster refused the user's namespace: {_reason(err)}")
            return self._finish(job_id, "failed", "the cluster refused to make the user's "
                                f"namespace: {_reason(err)}")
        backend = self._backend(limit)
        manifests = backend.render(job, process, staging)
        try:
            calrissian.submit(manifests, self.api)
        except Exception as err:  # FailToCreateError / ApiException: the cluster said no
            reason = _reason(err)
            self._say(job_id, f"eopde: the cluster refused the job's objects: {reason}")
            self._remove(job)
            return self._finish(job_id, "failed", f"the cluster refused the job: {reason}")
        self._say(job_id, f"eopde: submitted as Job {manifests[-1]['metadata']['name']} in "
                          f"namespace {ns}")
        if job_id in self._dismissed:  # dismissed while its objects were being made
            return self._remove(job)
        self._follow(job, limit)

    def _follow_again(self, job_id: str) -> None:
        job = self.store.get_job(job_id)
        if job is not None and job.status == "running":
            self._say(job_id, "eopde: the ADES restarted; following the job's Job again")
            self._follow(job, self.job_timeout)

    def _staging(self, job) -> tuple[Any, Staging]:
        """The job's process record, and its checked inputs with the owner's keys; raises
        :class:`_Refused`."""
        from eopde.apppkg.run import ParameterError, RunError, load_workflow
        from eopde.apppkg.runinputs import check_required, convert_params
        from eopde.apppkg.stagein import StageInError, check_ref

        if not self.storage.keys_file:
            raise _Refused(NO_USER_KEYS)
        process = self.store.get_process(job.user, job.process_id)
        if process is None:
            raise _Refused(f"the process {job.process_id!r} is no longer deployed")
        with tempfile.TemporaryDirectory(prefix="eopde-k8s-") as tmp:
            cwl = Path(tmp) / "package.cwl"
            cwl.write_text(process.cwl_text)
            try:
                workflow = load_workflow(cwl, process.workflow_id or None)
            except RunError as err:
                raise _Refused(f"the process's CWL cannot be run: {err}") from None
        params, stac = split_inputs(workflow, job.inputs or {})
        try:
            converted = convert_params(workflow, params)
            check_required(workflow, [*converted, *stac])
        except ParameterError as err:
            raise _Refused(f"the job cannot run: {err.reason}") from None
        policy = self.url_policy(job.user) if self.url_policy else None
        try:
            for name, refs in stac.items():
                for ref in refs:
                    check_ref(ref, policy, f"input {name!r}: STAC item {ref}")
        except StageInError as err:
            raise _Refused(f"stage-in failed: {err}") from None
        plan = {"job": converted, "policy": None if policy is None else {
                    "origins": sorted(policy.origins), "bucket": policy.bucket},
                "stac": {name: {"kind": getattr(workflow.input(name), "kind", "Directory"),
                                "refs": refs} for name, refs in stac.items()}}
        access, secret = self.storage.keys_for(job.user)
        from eopde.storage import resolve

        where = resolve(self.storage.endpoint, region=self.storage.region)
        if not where.endpoint:
            raise _Refused("the ADES has no storage endpoint or keys for the job's owner")
        return process, Staging(plan=plan, endpoint=where.endpoint, access_key=access,
                                secret_key=secret, region=where.region)

    def _namespace(self, user: str) -> str:
        from eopde.hub.k8s_rbac import user_namespace

        template = self.backend.user_namespace_template
        assert template
        with self._lock:
            ready = user in self._ready
        if not ready:
            calrissian.ensure_user_namespace(
                self.api, user, template=template, ades_namespace=self.ades_namespace,
                image_pull_secrets=tuple(self.backend.image_pull_secrets))
            with self._lock:
                self._ready.add(user)
        return user_namespace(template, user)

    def _backend(self, limit: float) -> CalrissianBackend:
        from dataclasses import replace

        return replace(self.backend, active_deadline=limit)

    def _objects(self, job) -> list[dict[str, Any]]:
        """The job's objects by kind and name (enough to delete them), in creation order."""
        n = self.backend.names(job, None)
        kinds = [("ConfigMap", "config"), ("Secret", "secret"), ("PersistentVolumeClaim", "tmp"),
                 ("PersistentVolumeClaim", "output"), ("PersistentVolumeClaim", "input"),
                 ("Job", "job")]
        return [{"kind": k, "metadata": {"name": n[key], "namespace": n["namespace"]}}
                for k, key in kinds]

    def _remove(self, job) -> None:
        if self.keep_objects:
            return
        try:
            calrissian.remove(self._objects(job), self.api)
        except Exception as err:  # the job's record is right; the objects are the operator's
            log.warning("job %s: could not delete its objects: %s", job.id, err)
            self._say(job.id, f"eopde: could not delete the job's objects: {err}")

    # ------------------------------------------------------------------ following

    def _follow(self, job, limit: float) -> None:
        n = self.backend.names(job, None)
        ns, name = n["namespace"], n["job"]
        t0 = time.monotonic()
        seen = P_PREPARE
        while not self._stopping.is_set():
            if job.id in self._dismissed:
                return
            status = calrissian.job_status(ns, name, self.api)
            pod = calrissian.job_pod(ns, name, self.api)
            if status is not None and (status.succeeded or status.failed):
                return self._ended(job, pod, status, limit, time.monotonic() - t0)
            phase = _running_container(pod)
            progress, message = {
                "stage-in": (P_STAGE_IN, "staging in the inputs"),
                "calrissian": (P_RUN, "running the workflow (Calrissian)"),
                "stage-out": (P_STAGE_OUT, "staging out the results"),
            }.get(phase or "", (P_PREPARE, "waiting for the cluster to start the job"))
            if progress != seen:
                seen = progress
                if not self._update(job.id, progress=progress, message=message):
                    return
            self._stopping.wait(self.poll)

    def _ended(self, job, pod, status, limit: float, took: float) -> None:
        logs = {c: calrissian.container_log(pod.metadata.namespace, pod.metadata.name, c, self.api)
                if pod is not None else "" for c in CONTAINERS}
        for c in CONTAINERS:
            for line in logs[c].splitlines():
                if not line.startswith((STEP_MARK, USAGE_MARK)):  # kept apart, below
                    self._say(job.id, f"{c}: {line}")
        self._keep_run_report(job.id, logs["stage-out"])
        outcome: tuple[str, str, dict[str, Any]]
        if status.succeeded:
            try:
                results = self._results(job, logs["stage-out"])
                self._say(job.id, f"eopde: results at {results['StacCatalogUri']}")
                outcome = ("successful", f"results staged out to {results['StacCatalogUri']} "
                           f"in {took:.1f} s", {"progress": P_DONE, "results": results})
            except _BadResults as err:
                self._say(job.id, f"eopde: {err}")
                outcome = ("failed", str(err), {})
        else:
            outcome = ("failed", _failure(pod, status, logs, limit), {})
        self._remove(job)  # the Secret with the owner's keys goes before the job is said done
        self._finish(job.id, outcome[0], outcome[1], **outcome[2])

    def _keep_run_report(self, job_id: str, stage_out_log: str) -> None:
        """Calrissian's usage report (``usage.json``) and the steps' tool logs
        (``steps/<step>.log``, the files the jobs API links, as for local jobs) beside the job's
        log."""
        from .steplogs import write_steps

        folder = self._log_path(job_id).parent
        steps: dict[str, list[str]] = {}
        for line in stage_out_log.splitlines():
            if line.startswith(USAGE_MARK):
                (folder / "usage.json").write_text(line[len(USAGE_MARK):])
                self._say(job_id, "eopde: Calrissian's usage report is kept as usage.json")
            elif line.startswith(STEP_MARK) and ": " in line:
                step, _, text = line[len(STEP_MARK):].partition(": ")
                steps.setdefault(step, []).append(text)
        write_steps(folder, {step: "\n".join(lines) + "\n" for step, lines in steps.items()})

    def _results(self, job, stage_out_log: str) -> dict[str, Any]:
        """The stage-out container's results, checked against the owner's bucket."""
        lines = [x for x in stage_out_log.splitlines() if x.startswith(RESULTS_MARK)]
        if not lines:
            raise _BadResults("the stage-out container reported no results")
        try:
            results = json.loads(lines[-1][len(RESULTS_MARK):])
        except ValueError:
            raise _BadResults("the stage-out container's results are not JSON") from None
        bucket, prefix = job_prefix(job.user, job.id, self.storage)
        base = f"s3://{bucket}/{prefix}"
        hrefs = [results.get("StacCatalogUri")] + [
            link.get("href") for value in results.values() if not isinstance(value, str)
            for link in (value if isinstance(value, list) else [value])
            if isinstance(link, dict)]
        if not all(isinstance(h, str) and h.startswith(base) and ".." not in h for h in hrefs):
            raise _BadResults("the stage-out container reported results outside the job's "
                              "folder of its owner's bucket")
        client = self.storage.client_for(job.user)
        try:
            client.head_object(Bucket=bucket,
                               Key=results["StacCatalogUri"][len(f"s3://{bucket}/"):])
        except Exception:
            raise _BadResults("the results' catalog is not in the owner's bucket") from None
        return results


def _reason(err: Exception) -> str:
    """An API error's status and reason ("403 Forbidden"), never its body or headers."""
    first = (getattr(err, "api_exceptions", None) or [err])[0]
    status, reason = getattr(first, "status", None), getattr(first, "reason", None)
    return f"{status} {reason}" if status else type(err).__name__


def _container_statuses(pod) -> list[Any]:
    """The statuses of the pod's init containers then of its containers (none: no pod yet)."""
    if pod is None or pod.status is None:
        return []
    return (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])


def _running_container(pod) -> str | None:
    """Which of stage-in / calrissian / stage-out is running (None: none yet)."""
    for s in _container_statuses(pod):
        if s.state is not None and s.state.running is not None:
            return s.name
    return None


def _failure(pod, status, logs: dict[str, str], limit: float) -> str:
    """Why the Job failed, for the job's message: which container and its last line."""
    if any(c.reason == "DeadlineExceeded" for c in (status.conditions or [])):
        return (f"the job exceeded its time limit of {limit:g} s and was stopped (ask for more "
                f"with the execute body's \"timeout\")")
    for s in _container_statuses(pod):
        done = s.state.terminated if s.state is not None else None
        if done is not None and done.exit_code:
            last = next((x for x in reversed(logs.get(s.name, "").splitlines()) if x.strip()),
                        "")
            if s.name in ("stage-in", "stage-out") and last.startswith(s.name):
                return last[:500]  # eopde's own line (k8s_steps): no host path in it
            return (f"the workflow failed (Calrissian exited {done.exit_code}); the job's log "
                    "has its output" if s.name == "calrissian"
                    else f"{s.name} failed (exit {done.exit_code}); the job's log has its output")
    return "the Job failed on the cluster; the job's log has what its containers said"


def from_env(store, env: dict[str, str], *, url_policy: Any = None,
             api: Any = None) -> KubernetesExecutor:
    """The Kubernetes executor as the ADES's environment configures it (:func:`create_app`):
    ``EOPDE_K8S_USER_NAMESPACE_TEMPLATE`` (default ``eopde-{username}``, the hub's
    ``K8sSettings.user_namespace_template``), ``EOPDE_K8S_ADES_NAMESPACE`` (``eopde``),
    ``EOPDE_K8S_STORAGE_CLASS`` (an RWX class; required), ``EOPDE_K8S_VOLUME_SIZE``,
    ``EOPDE_K8S_CALRISSIAN_IMAGE``, ``EOPDE_K8S_STEPS_IMAGE``, ``EOPDE_K8S_MAX_CORES``,
    ``EOPDE_K8S_MAX_RAM``, ``EOPDE_K8S_POLL`` (seconds); storage: ``EOPDE_S3_ENDPOINT`` and
    ``EOPDE_WORKSPACE_KEYS_PATH`` (per-user keys, required); ``EOPDE_ADES_WORK_DIR`` (logs)."""
    from ..workspace_store import KEYS_FILE_ENV
    from .execution import executor_limits

    storage_class = env.get("EOPDE_K8S_STORAGE_CLASS")
    if not storage_class:
        raise ValueError("EOPDE_K8S_STORAGE_CLASS: the ReadWriteMany storage class of the jobs' "
                         "volumes (NFS, CephFS, Longhorn RWX...)")
    options: dict[str, Any] = {k: conv(env[v]) for k, v, conv in (
        ("volume_size", "EOPDE_K8S_VOLUME_SIZE", str),
        ("calrissian_image", "EOPDE_K8S_CALRISSIAN_IMAGE", str),
        ("steps_image", "EOPDE_K8S_STEPS_IMAGE", str),
        ("max_cores", "EOPDE_K8S_MAX_CORES", int),
        ("max_ram", "EOPDE_K8S_MAX_RAM", str)) if env.get(v)}
    backend = CalrissianBackend(
        user_namespace_template=env.get("EOPDE_K8S_USER_NAMESPACE_TEMPLATE") or "eopde-{username}",
        storage_class=storage_class, **options)
    home = Path(env.get("EOPDE_HOME") or Path.home() / ".eopde")
    return KubernetesExecutor(
        store, backend=backend,
        storage=StageOutTarget(endpoint=env.get("EOPDE_S3_ENDPOINT") or None,
                               keys_file=env.get(KEYS_FILE_ENV) or None),
        api=api,
        work_dir=Path(env.get("EOPDE_ADES_WORK_DIR") or home / "ades" / "jobs"),
        ades_namespace=env.get("EOPDE_K8S_ADES_NAMESPACE") or "eopde", url_policy=url_policy,
        poll=float(env.get("EOPDE_K8S_POLL") or 5),
        **{k: v for k, v in executor_limits(env).items() if k != "keep_work"})


def create_app(*, env: dict[str, str] | None = None, api: Any = None, store: Any = None,
               **overrides: Any):
    """The ADES app running its jobs on Kubernetes:
    ``uvicorn eopde.services.ades.k8s_executor:create_app --factory`` (configuration:
    :func:`from_env`; the rest as :func:`eopde.services.ades.app.create_app`)."""
    import os

    from .app import create_app as ades_app
    from .fetchpolicy import platform_origins, policy_for
    from .store import JobStore

    env = dict(os.environ if env is None else env)
    if store is None:
        store = JobStore.from_env(env)
    origins = platform_origins(env)
    executor = from_env(store, env, url_policy=lambda user: policy_for(user, origins), api=api)
    return ades_app(store=store, executor=executor, env=env, **overrides)
