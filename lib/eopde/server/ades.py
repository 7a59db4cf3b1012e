"""The server extension's one ADES layer, shared by the wizard's steps 6-9 (`remote.py`) and the
jobs panel (`jobs.py`): which ADES, the client's errors as REST answers, and the job
operations with one answer shape each (status, logs, results with the catalog as a tree,
dismiss, publish, re-run). Each calls the library a notebook uses (`eopde.ades`,
`eopde.workspace`).

An ADES is chosen by the *name* of a configured platform (`eopde.config.ades_endpoints`), never
by a URL in the request: the client sends the user's token to the ADES it talks to.

Errors: what the user can fix is a 4xx saying how (404 no such job, 409 not in a state for
that, 422 refused inputs or publication, 400 a bad request); 502 only when the ADES (or the
storage behind its results) cannot be reached or breaks."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from .errors import RequestError

JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_NAME = 100
MAX_JOBS = 500
MAX_ITEMS = 200
#: Catalog tree nodes (catalogs, collections, items) read from a result catalog at most.
MAX_NODES = 500
#: A log's text kept in one answer (its end: where a running job writes).
MAX_LOG = 200_000


# --- which ADES -------------------------------------------------------------------------------


def no_home(message: str) -> str:
    from eopde.config import config_file

    return message.replace(str(config_file()), "your platforms.toml")


def configured() -> list[tuple[str, str]]:
    """`(name, url)` of every configured ADES (the current platform's first)."""
    from eopde.config import ConfigError, ades_endpoints

    try:
        return ades_endpoints()
    except ConfigError as err:
        raise RequestError(400, no_home(str(err)), field="ades") from None


def endpoints(default: str = "") -> dict[str, Any]:
    """GET /eopde/ades: the configured ADES endpoints ({name, url}) and which one the wizard
    proposes (the `defaultAdes` setting when it names one, else the current platform's)."""
    try:
        found = configured()
    except RequestError as err:
        return {"endpoints": [], "default": None, "problem": err.message}
    names = [name for name, _ in found]
    urls = {url.rstrip("/"): name for name, url in found}
    chosen = default if default in names else urls.get(default.rstrip("/"))
    return {"endpoints": [{"name": n, "url": u} for n, u in found],
            "default": chosen or (names[0] if names else None)}


def named(name: Any) -> str:
    """`name` if it can name an ADES (a non-empty string), else the 400 that says so; whether
    it names a configured one is `choose`'s to say (it reads the configuration)."""
    if not isinstance(name, str) or not name:
        raise RequestError(400, "`ades` must name one of the configured ADES endpoints.",
                           field="ades")
    return name


def choose(name: Any, default_first: bool = False) -> tuple[str, str]:
    """The configured endpoint `(name, url)` called `name`; with `default_first`, no name means
    the current platform's. A URL is a name like any other: it names nothing configured."""
    found = configured()
    if default_first and name in (None, ""):
        if not found:
            raise RequestError(400, "no ADES is configured: start the local platform (`eopde "
                               "up`), set EOPDE_ADES_URL, or add `ades_url` to a platform in "
                               "your platforms.toml.", field="ades")
        return found[0]
    url = dict(found).get(named(name))
    if url is None:
        known = ", ".join(n for n, _ in found) or "none"
        raise RequestError(400, f"no ADES named `{name[:MAX_NAME]}` is configured (configured: "
                           f"{known}); choose one of them.", field="ades")
    return name, url


def job_id(value: Any, key: str = "job") -> str:
    if not isinstance(value, str) or not JOB_ID.fullmatch(value):
        raise RequestError(400, "a job id is letters, digits, '.', '_' and '-' (at most 128): "
                           "the id the ADES gave.", field=key)
    return value


def rest_error(name: str, err: Exception) -> RequestError:
    """The library's error as the REST API's answer: what to do, on a 4xx; 502 when the ADES
    cannot be reached or breaks."""
    from eopde.ades import errors as e

    if isinstance(err, (e.NoSuchProcess, e.NoSuchJob)):
        return RequestError(404, f"the ADES `{name}` says: {err}")
    if isinstance(err, e.InvalidInput):
        return RequestError(422, f"the ADES `{name}` refused the inputs: {err}",
                            field="inputs")
    if isinstance(err, e.Unauthorized):
        return RequestError(403, f"the ADES `{name}` refused your token: {err}; log in to "
                            "JupyterHub again, or ask its operator for access.", field="ades")
    if isinstance(err, e.ResultNotReady):
        return RequestError(409, f"the job has no results yet ({err}); wait until it is "
                            "successful.")
    if isinstance(err, e.JobFailed):
        return RequestError(409, f"{err.message}; its log says why.")
    if isinstance(err, e.JobDismissed):
        return RequestError(409, f"{err.message}: it has no results; run it again.")
    if isinstance(err, e.InputsUnavailable):
        return RequestError(409, f"the ADES `{name}` does not give this job's inputs back "
                            f"({err}); run the process again from the wizard's Execute step.")
    if isinstance(err, e.ADESConnectionError):
        return RequestError(502, f"cannot reach the ADES `{name}`: {err}; check that it runs "
                            "(`eopde status`) or choose another.", field="ades")
    if isinstance(err, e.ProcessesError) and err.status and 400 <= err.status < 500:
        return RequestError(err.status, f"the ADES `{name}` answered: {err}")
    if isinstance(err, e.ProcessesError):
        return RequestError(502, f"the ADES `{name}` failed: {err}; try again, or tell its "
                            "operator if it goes on.")
    raise err


def client_for(name: Any) -> Any:
    """The library's client of the configured ADES `name` (a context manager); its errors as
    `rest_error` says."""
    return connected(*choose(name))


@contextmanager
def connected(chosen: str, url: str) -> Iterator[Any]:
    """The library's client of the ADES `chosen` at `url` (as `choose` answered); its errors
    as `rest_error` says."""
    from eopde.ades import Client
    from eopde.ades.errors import JobError, ProcessesError
    from eopde.config import ConfigError

    try:
        client = Client(url)
    except ConfigError as err:
        raise RequestError(400, no_home(str(err)), field="ades") from None
    try:
        yield client
    except (ProcessesError, JobError) as err:
        raise rest_error(chosen, err) from None
    finally:
        client.close()


# --- one shape per answer -------------------------------------------------------------------

#: The status fields of a job that every answer carries (the rest stays on the ADES).
FIELDS = ("status", "message", "progress", "created", "started", "finished", "updated")


def status_doc(status: Any, ades: str, job: str | None = None) -> dict[str, Any]:
    """A job's status as every route answers it: id, ades (its name), process, the status
    fields, and the titles of its logs."""
    doc: dict[str, Any] = {"id": job or (status.id if status else ""), "ades": ades,
                           "process": status.process_id if status else None}
    doc.update({key: getattr(status, key, None) for key in FIELDS})
    if not doc["status"]:
        doc["status"] = "accepted"
    doc["logs"] = [link.get("title") or link.get("href")
                   for link in (status.log_links if status else [])]
    return doc


def item_doc(item: Any) -> dict[str, Any]:
    """A STAC item as the wizard's tables and the maps want it."""
    return {"id": item.id, "datetime": item.properties.get("datetime"),
            "bbox": list(item.bbox) if item.bbox else None,
            "geometry": item.geometry,
            "collection": item.collection_id,
            "href": item.get_self_href(),
            "cloud_cover": item.properties.get("eo:cloud_cover"),
            "assets": sorted(item.assets)}


def _asset(key: str, asset: Any) -> dict[str, Any]:
    return {"key": key, "href": asset.get_absolute_href() or asset.href,
            "type": asset.media_type, "title": asset.title, "roles": asset.roles or []}


class _Tree:
    """A result catalog walked once: its tree (catalogs, collections, items with their
    assets) and its items; at most MAX_NODES nodes, a node cut short says `more`."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.nodes = 0

    def node(self, obj: Any, depth: int = 0) -> dict[str, Any]:
        import pystac

        self.nodes += 1
        if isinstance(obj, pystac.Item):
            self.items.append(obj)
            return {"type": "Item", "id": obj.id, "title": obj.properties.get("title"),
                    "href": obj.get_self_href(),
                    "assets": [_asset(k, a) for k, a in sorted(obj.assets.items())]}
        node: dict[str, Any] = {"type": obj.STAC_OBJECT_TYPE.value, "id": obj.id,
                                "title": obj.title, "href": obj.get_self_href(),
                                "children": [], "more": False}
        for kid in [*obj.get_children(), *obj.get_items()]:
            if self.nodes >= MAX_NODES or depth >= 20:
                node["more"] = True
                break
            node["children"].append(self.node(kid, depth + 1))
        return node


def results_doc(results: Any, ades: str, job: str) -> dict[str, Any]:
    """A finished job's results: its outputs, the result catalog's URL, its tree and its items
    (the first MAX_ITEMS; `total` says how many the tree holds)."""
    tree = _Tree()
    try:
        root = tree.node(results.catalog())
    except (ValueError, OSError) as err:
        raise RequestError(502, f"the job's result catalog cannot be read: {err}") from None
    return {"id": job, "ades": ades, "catalog": results.catalog_url,
            "outputs": results.outputs, "tree": root, "total": len(tree.items),
            "items": [item_doc(i) for i in tree.items[:MAX_ITEMS]]}


# --- the operations ---------------------------------------------------------------------------


#: Statuses of a job that will not change any more.
FINAL = ("successful", "failed", "dismissed")
#: Seconds between two full listings of an ADES; polls in between ask it only for its
#: unfinished jobs (OGC API - Processes' `status` filter) and for the status of each job that
#: was unfinished and is not any more. A job dismissed elsewhere, or started and ended between
#: two polls, shows within this time.
FULL_EVERY = 60.0


class _Listings:
    """The last listing of each ADES (a Jupyter server is one user's), so that a poll of
    hundreds of jobs costs the ADES little more than its running ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}

    def forget(self, name: str) -> None:
        """The next poll of `name` lists everything (a job was dismissed here)."""
        with self._lock:
            for key in [k for k in self._last if k[0] == name]:
                del self._last[key]

    def jobs(self, key: tuple[str, str], full: bool) -> list[dict[str, Any]]:
        """The jobs of the ADES `key` = (name, url) as `choose` answered (a name given another
        URL starts afresh)."""
        from eopde.ades.errors import NoSuchJob

        name = key[0]
        with self._lock:
            last = self._last.get(key)
        now = time.monotonic()
        with connected(*key) as client:
            if full or last is None or now - last[0] > FULL_EVERY:
                jobs = [status_doc(j.last_status, name, j.id)
                        for j in client.jobs(limit=MAX_JOBS)]
                stamp = now
            else:
                stamp, before = last
                active = {j.id: status_doc(j.last_status, name, j.id)
                          for j in client.jobs(status=["accepted", "running"], limit=MAX_JOBS)}
                known = {doc["id"] for doc in before}
                jobs = [doc for job_id, doc in active.items() if job_id not in known]
                for doc in before:
                    if doc["id"] in active:
                        jobs.append(active[doc["id"]])
                    elif doc["status"] in FINAL:
                        jobs.append(doc)
                    else:  # it ended since: its status says how
                        try:
                            jobs.append(status_doc(client.job(doc["id"]).last_status, name,
                                                   doc["id"]))
                        except NoSuchJob:
                            pass  # dismissed elsewhere, gone
        with self._lock:
            self._last[key] = (stamp, jobs)
        return jobs


_listings = _Listings()


def listing(names: list[str], full: bool = False) -> dict[str, Any]:
    """The user's jobs on each configured ADES named (default: all of them), newest first; an
    ADES that cannot answer is named in `failures` and the others still answer. `full`: list
    everything again now (else at most every FULL_EVERY seconds)."""
    found = configured()
    known = dict(found)
    wanted = list(dict.fromkeys(names)) if names else [name for name, _ in found]
    for name in wanted:
        if name not in known:
            choose(name)  # the 400 naming the configured ones, before asking any
    jobs: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(wanted)))) as pool:
        futures = {name: pool.submit(_listings.jobs, (name, known[name]), full)
                   for name in wanted}
        for name, future in futures.items():
            try:
                jobs += future.result()
            except RequestError as err:
                _listings.forget(name)
                failures[name] = err.message
    jobs.sort(key=lambda job: job.get("created") or "", reverse=True)
    return {"jobs": jobs, "failures": failures, "endpoints": wanted}


def status(name: Any, job: Any) -> dict[str, Any]:
    """One job's status (`GET /jobs/{id}`)."""
    (ades, url), job = choose(name, default_first=True), job_id(job)
    with connected(ades, url) as client:
        return status_doc(client.job(job).last_status, ades, job)


def _read_logs(name: Any, job: Any, title: str | None = None
               ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The job's status and its logs as `Job.step_logs()` reads them (per CWL step, and the
    job's: the ADES's status document links them); with `title`, only that log (all of them
    when the job has none of that title, for the answer that lists them)."""
    from eopde.ades import Job

    (ades, url), job = choose(name, default_first=True), job_id(job)
    with connected(ades, url) as client:
        one = Job(client, job)
        parts = one.step_logs(only=title) if title is not None else []
        if not parts:
            parts = one.step_logs()
        return status_doc(one.last_status, ades, job), parts


def logs(name: Any, job: Any) -> dict[str, Any]:
    """The job's status and every log of it (`step_logs`: title, text), each cut to its last
    MAX_LOG characters."""
    answer, parts = _read_logs(name, job)
    answer["step_logs"] = [{"title": title, "text": text[-MAX_LOG:]} for title, text in parts]
    return answer


def log(name: Any, job: Any, title: Any, offset: int = 0) -> dict[str, Any]:
    """One log of the job from character `offset` on: a running job's log is followed by
    asking again from the `offset` answered. `reset` when the log is shorter than `offset` (not
    the text read before: it comes whole again); `skipped` characters when more than MAX_LOG
    are new (the end is what matters while a job runs)."""
    if not isinstance(title, str) or not title or len(title) > MAX_NAME:
        raise RequestError(400, "`step` must be the title of one of the job's logs (its status "
                           "lists them under `logs`).", field="step")
    # one log read per poll while a job runs (its status, then that log alone)
    answer, parts = _read_logs(name, job, title)
    texts = dict(reversed(parts))  # the first of two logs of one title wins
    if title not in texts:
        have = ", ".join(f"`{t}`" for t, _ in parts) or "none yet"
        raise RequestError(404, f"job {answer['id']} has no log `{title}` (its logs: {have}).",
                           field="step")
    text = texts[title]
    reset = offset > len(text)
    start = 0 if reset else offset
    skipped = max(0, len(text) - start - MAX_LOG)
    answer.update(title=title, text=text[start + skipped:], offset=len(text), reset=reset,
                  skipped=skipped)
    return answer


def results(name: Any, job: Any) -> dict[str, Any]:
    """The results of a successful job (`results_doc`)."""
    from eopde.ades import Job

    (ades, url), job = choose(name, default_first=True), job_id(job)
    with connected(ades, url) as client:
        return results_doc(Job(client, job).results(), ades, job)


def dismiss(name: Any, job: Any) -> dict[str, Any]:
    """Stop the job, or drop a finished one's results (`DELETE /jobs/{id}`)."""
    from eopde.ades import Job

    (ades, url), job = choose(name, default_first=True), job_id(job)
    with connected(ades, url) as client:
        gone = status_doc(Job(client, job).dismiss(), ades, job)
    _listings.forget(ades)  # the listing drops it at once
    return gone


def publish(name: Any, job: Any, collection: Any = None) -> dict[str, Any]:
    """The job's results into the user's workspace, as `Workspace().publish(job)` does."""
    from eopde.ades import Job
    from eopde.config import ConfigError
    from eopde.workspace import Workspace
    from eopde.workspace.upload import PublishError

    (ades, url), job = choose(name, default_first=True), job_id(job)
    collection = collection or None
    if collection is not None and (not isinstance(collection, str) or len(collection) > 100
                                   or "/" in collection):
        raise RequestError(400, "`collection` must be a short name (no '/').",
                           field="collection")
    with connected(ades, url) as client:
        one = Job(client, job)
        one.status()
        try:
            done = Workspace().publish(one, collection=collection, progress=False)
        except (PublishError, ConfigError) as err:
            raise RequestError(422, f"publishing failed: {no_home(str(err))}") from None
    return {"id": job, "ades": ades, "collection": done.collection, "created": done.created,
            "updated": done.updated, "uploaded": done.uploaded, "url": done.url}


def _inputs_doc(found: Any, ades: str) -> dict[str, Any]:
    return {"id": found.job_id, "ades": ades, "process": found.process_id,
            "inputs": found.inputs, "redacted": found.redacted}


def inputs(name: Any, job: Any) -> dict[str, Any]:
    """The inputs the job ran with (`Job.inputs()`); `redacted` names those whose credentials
    the ADES did not keep."""
    (ades, url), job = choose(name, default_first=True), job_id(job)
    with connected(ades, url) as client:
        return _inputs_doc(client.job(job).inputs(), ades)


def rerun(name: Any, job: Any) -> dict[str, Any]:
    """The job's process executed again with the same inputs (`Job.inputs()`, then
    `Client.execute`); answers the new job's status. Refused when the ADES redacted inputs
    (credentials it did not keep): only the user can give them again."""
    (ades, url), job = choose(name, default_first=True), job_id(job)
    with connected(ades, url) as client:
        found = client.job(job).inputs()
        if found.redacted:
            names = ", ".join(f"`{n}`" for n in found.redacted)
            raise RequestError(409, f"the ADES did not keep the credentials in {names}: run "
                               "the process again from the wizard's Execute step and give "
                               "them there.", field="inputs", redacted=found.redacted)
        if not found.process_id:
            raise RequestError(409, f"the ADES `{ades}` does not say which process job {job} "
                               "ran: run it again from the wizard's Execute step.")
        again = client.execute(found.process_id, found.inputs, found.outputs,
                               response=found.response)
        return status_doc(again.last_status, ades, again.id)
