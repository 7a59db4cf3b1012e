"""ADES commands: `eopde deploy`, `execute`, `jobs`, `job`, `undeploy`, `processes`.

Every command takes ``--url``, ``--user`` and ``--token`` (default: the platform configuration,
EOPDE_ADES_URL, and `eopde.auth`). Errors print the server's OGC detail and exit with status 1.
Heavy imports happen inside the command functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _common(p: argparse.ArgumentParser, json_help: str | None = None) -> None:
    g = p.add_argument_group("ADES connection (default: the platform configuration)")
    g.add_argument("--url", help="API root, e.g. https://zoo.example/{user}/ogc-api "
                   "(default: EOPDE_ADES_URL or the platform's ades_url)")
    g.add_argument("--user", help="user name for the {user} part of the URL "
                   "(default: JUPYTERHUB_USER, else the `eopde login` user)")
    g.add_argument("--token", help="bearer token (default: EOPDE_TOKEN, the hub token, "
                   "else the `eopde login` token)")
    if json_help:
        p.add_argument("--json", action="store_true", help=json_help)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("deploy", help="deploy an application package to the ADES",
                              description="Deploy PACKAGE (a package folder, a .cwl file, or an "
                              "http(s) URL of a CWL) to the ADES (OGC API - Processes Part 2).")
    p.add_argument("package", help="package folder, .cwl file or http(s) URL")
    p.add_argument("-w", "--workflow", metavar="ID", help="entry-point Workflow of a $graph")
    p.add_argument("--replace", action="store_true",
                   help="replace the process if it is already deployed")
    p.add_argument("--ogcapppkg", action="store_true",
                   help="send an OGC application package (CWL by value) instead of "
                   "application/cwl+yaml")
    _common(p, "print the process summary as JSON")
    p.set_defaults(func=cmd_deploy)

    p = subparsers.add_parser("execute", help="execute a process on the ADES",
                              description="Execute PROCESS. Prints the job id (async) or the "
                              "results (--sync).")
    p.add_argument("process", help="process id")
    p.add_argument("-i", "--input", action="append", default=[], metavar="NAME=VALUE",
                   help="input value (a string); NAME:=JSON for a typed value; repeat a name for "
                   "an array")
    p.add_argument("--stac-item", action="append", default=[], metavar="[INPUT=]URL",
                   help="STAC item URL for a STAC (Directory) input; repeat for several")
    p.add_argument("--sync", action="store_true", help="synchronous execution")
    p.add_argument("--wait", action="store_true", help="wait for the job to end (progress line)")
    p.add_argument("--timeout", type=float, help="with --wait: give up after this many seconds")
    _common(p, "print the job status (or results) as JSON")
    p.set_defaults(func=cmd_execute)

    p = subparsers.add_parser("jobs", help="list the jobs on the ADES")
    p.add_argument("--process", metavar="ID", help="only the jobs of this process")
    p.add_argument("--status", action="append", metavar="S",
                   choices=("accepted", "running", "successful", "failed", "dismissed"),
                   help="only jobs with this status (repeatable)")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    _common(p, "print the status documents as JSON")
    p.set_defaults(func=cmd_jobs)

    p = subparsers.add_parser("job", help="show a job: status, logs, results; wait; dismiss")
    p.add_argument("job_id", metavar="ID", help="job id")
    p.add_argument("--logs", action="store_true", help="print the job's logs")
    p.add_argument("--results", action="store_true", help="print the results and catalog URL")
    p.add_argument("--wait", action="store_true", help="wait for the job to end")
    p.add_argument("--timeout", type=float, help="with --wait: give up after this many seconds")
    p.add_argument("--dismiss", action="store_true", help="dismiss the job")
    _common(p, "print JSON")
    p.set_defaults(func=cmd_job)

    p = subparsers.add_parser("results", help="show a job's results; --download copies them",
                              description="Print where the results of job ID are (the result "
                              "STAC catalog) and its items; --download DIR copies the catalog "
                              "and every asset into DIR.")
    p.add_argument("job_id", metavar="ID", help="job id")
    p.add_argument("--download", metavar="DIR", help="copy the catalog and its assets here")
    _common(p, "print the results document as JSON")
    p.set_defaults(func=cmd_results)

    p = subparsers.add_parser("undeploy", help="remove a deployed process from the ADES")
    p.add_argument("process", help="process id")
    _common(p)
    p.set_defaults(func=cmd_undeploy)

    p = subparsers.add_parser("processes", help="list the processes on the ADES")
    p.add_argument("process", nargs="?", help="describe this process instead")
    _common(p, "print JSON")
    p.set_defaults(func=cmd_processes)


# -- plumbing ----------------------------------------------------------------------------------


def _client(args: argparse.Namespace):
    from .client import Client

    return Client(args.url, user=args.user, token=args.token)


def _run(args: argparse.Namespace, body) -> int:
    """Run `body(client)`; print errors as `eopde CMD: …` and return 1."""
    from ..config import ConfigError
    from .errors import JobError, ProcessesError

    try:
        with _client(args) as client:
            return body(client)
    except ProcessesError as err:
        hint = _cli_hint(err, args)
        text = _first_sentence(err.detail) if hint else err.detail
        if err.title and err.title not in text:
            text = f"{err.title}: {text}"
        where = f" [{err.status}]" if err.status else ""
        print(f"eopde {args.command}: {text}{where}", file=sys.stderr)
        if hint:
            print(f"eopde: {hint}", file=sys.stderr)
        if getattr(args, "json", False) and isinstance(err.body, dict):
            print(json.dumps(err.body, indent=1))
        return 1
    except JobError as err:
        print(f"eopde {args.command}: {err}", file=sys.stderr)
        if getattr(args, "json", False) and err.status is not None:
            print(json.dumps(err.status.raw, indent=1))
        return 1
    except (ConfigError, ValueError, TypeError, OSError) as err:
        print(f"eopde {args.command}: {err}", file=sys.stderr)
        return 1


def _first_sentence(detail: str) -> str:
    """The server's detail up to its advice, which speaks HTTP (`GET /jobs`, `PUT …`)."""
    return detail.split(";", 1)[0]


def _cli_hint(err: Exception, args: argparse.Namespace) -> str | None:
    """What to do next, in this command line's words rather than the HTTP API's."""
    from .errors import (DuplicateProcess, ImmutableProcess, NoSuchJob, NoSuchProcess,
                         ResultNotReady, Unauthorized)

    process = getattr(args, "process", None) or "ID"
    if isinstance(err, Unauthorized) and getattr(err, "status", None) == 401:
        return ("log in first: `eopde login` (local platform) or "
                "`eopde login USER --token TOKEN`, or pass --token")
    if isinstance(err, NoSuchProcess):
        return "`eopde processes` lists yours; `eopde deploy PACKAGE` deploys one"
    if isinstance(err, DuplicateProcess):
        return ("add --replace to replace it, or remove it first with "
                f"`eopde undeploy {process}`")
    if isinstance(err, ImmutableProcess):
        return "deploy it under another id (`id:` of the Workflow) instead"
    if isinstance(err, NoSuchJob):
        return "`eopde jobs` lists yours"
    if isinstance(err, ResultNotReady):
        job = getattr(args, "job_id", None) or "ID"
        return f"wait for it: `eopde job {job} --wait`"
    return None


def _dump(doc: Any) -> None:
    print(json.dumps(doc, indent=1))


def _status_line(status) -> str:
    pct = f"{status.progress}%" if status.progress is not None else "-"
    return (f"{status.id:<38} {status.process_id or '-':<24} {status.status:<11} {pct:>4}  "
            f"{status.finished or status.updated or status.created or ''}")


# -- commands ----------------------------------------------------------------------------------


def _stand_in_image(package: str) -> None:
    """Without a container engine, on the local platform's machine, publish a local package
    folder as the stand-in of its image (what the local ADES runs), and say so."""
    from ..apppkg.images import stand_in_if_needed

    target = stand_in_if_needed(package)
    if target is not None:
        print(f"no container engine here: {package} stands in for its image ({target})",
              file=sys.stderr)


def cmd_deploy(args: argparse.Namespace) -> int:
    def body(client) -> int:
        _stand_in_image(args.package)
        summary = client.deploy(args.package, workflow_id=args.workflow,
                                media="ogcapppkg" if args.ogcapppkg else "cwl",
                                replace_existing=args.replace)
        if args.json:
            _dump(summary.raw or {"id": summary.id})
        else:
            version = f" {summary.version}" if summary.version else ""
            print(f"deployed {summary.id}{version}"
                  + (f" ({summary.title})" if summary.title else ""))
        return 0

    return _run(args, body)


def _stac_input_name(client, process: str, given: dict) -> tuple[str, bool]:
    """The input that takes STAC items when --stac-item names none, and whether it is an array."""
    description = client.describe(process)
    candidates = []
    for name, spec in description.inputs.items():
        text = json.dumps(spec).lower()
        if "stac" in text or "directory" in text:
            candidates.append(name)
    if not candidates:
        candidates = [n for n in description.inputs if n not in given]
    if len(candidates) != 1:
        raise ValueError(f"process {process} has inputs {sorted(description.inputs)}: say which "
                         "one takes the items with --stac-item INPUT=URL")
    return candidates[0], _is_array(description.inputs[candidates[0]])


def _is_array(spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    schema = spec.get("schema") or {}
    max_occurs = spec.get("maxOccurs")
    return schema.get("type") == "array" or max_occurs == "unbounded" or \
        (isinstance(max_occurs, int) and max_occurs > 1)


def cmd_execute(args: argparse.Namespace) -> int:
    from ..apppkg.runinputs import parse_name_values

    def body(client) -> int:
        inputs = parse_name_values(args.input, "--input", json_values=True)
        if args.stac_item:
            named: dict[str, list[str]] = {}
            plain: list[str] = []
            description = None
            for text in args.stac_item:
                name, sep, url = text.partition("=")
                if sep and "://" not in name and "/" not in name:
                    named.setdefault(name.strip(), []).append(url)
                else:
                    plain.append(text)
            arrays: dict[str, bool] = {}
            if plain:
                target, arrays[""] = _stac_input_name(client, args.process, inputs)
                named.setdefault(target, []).extend(plain)
                arrays[target] = arrays.pop("")
            for name, urls in named.items():
                if name not in arrays:
                    description = description or client.describe(args.process)
                    arrays[name] = _is_array(description.inputs.get(name))
                inputs[name] = urls if (len(urls) > 1 or arrays[name]) else urls[0]
        job = client.execute(args.process, inputs, mode="sync" if args.sync else "async")
        if args.sync:
            results = job.results()
            if args.json:
                _dump(results.raw)
            else:
                print(f"results of {args.process}: catalog {results.catalog_url or '-'}")
                _dump(results.raw)
            return 0
        if args.wait:
            status = job.wait(timeout=args.timeout, progress=not args.json)
        else:
            status = job.last_status
        if args.json:
            _dump(status.raw if status else {"jobID": job.id})
        elif not args.wait:
            print(job.id)
        else:
            print(f"job {job.id} {status.status}")
            if status.status == "successful":
                print(f"results: {job.results().catalog_url or '-'}\n"
                      f"fetch them: eopde results {job.id} --download ./{job.id}")
            elif status.message:
                print(f"message: {status.message}\nlogs: eopde job {job.id} --logs")
        return 0

    return _run(args, body)


def cmd_jobs(args: argparse.Namespace) -> int:
    def body(client) -> int:
        jobs = client.jobs(process_id=args.process, status=args.status, limit=args.limit)
        if args.json:
            _dump([j.last_status.raw for j in jobs])
        else:
            for j in jobs:
                print(_status_line(j.last_status))
        return 0

    return _run(args, body)


def cmd_job(args: argparse.Namespace) -> int:
    def body(client) -> int:
        job = client.job(args.job_id)
        out: dict[str, Any] = {}
        if args.wait:
            job.wait(timeout=args.timeout, progress=not args.json)
        if args.dismiss:
            status = job.dismiss()
        else:
            status = job.last_status
        out["status"] = status.raw
        if not args.json:
            print(_status_line(status))
            if status.message and status.status == "failed":
                print(f"message: {status.message}")
            for link in status.log_links:
                print(f"log: {link.get('title') or ''} {link.get('href')}")
        if args.logs:
            text = job.logs()
            out["logs"] = text
            if not args.json:
                print(text, end="")
        if args.results:
            results = job.results()
            out["results"] = results.raw
            out["catalog_url"] = results.catalog_url
            if not args.json:
                print(f"catalog: {results.catalog_url or '-'}")
                _dump(results.raw)
        if args.json:
            _dump(out if (args.logs or args.results) else status.raw)
        return 0

    return _run(args, body)


def cmd_results(args: argparse.Namespace) -> int:
    def body(client) -> int:
        results = client.job(args.job_id).results()
        if args.json and not args.download:
            _dump(results.raw)
            return 0
        print(f"catalog: {results.catalog_url or '-'}")
        _local_storage_credentials()
        for item in results.items():
            print(f"item {item.id}: " + ", ".join(sorted(item.assets)))
        if args.download:
            path = results.download(args.download, progress=lambda line: print(f"  {line}"))
            print(f"downloaded: {path}")
        return 0

    return _run(args, body)


def _local_storage_credentials() -> None:
    """In a terminal of the local platform's owner (no S3 settings in the environment), read the
    platform's object storage with its settings; elsewhere the environment's are used."""
    import os

    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return
    try:
        from ..services.secrets import load_secrets
        from ..services.settings import PlatformSettings

        settings = PlatformSettings()
        secrets = load_secrets(settings.secrets_file, create=False)
        if "s3_access_key" not in secrets:
            return
        env = settings.s3_env(secrets)
    except (OSError, ValueError, ImportError):
        return
    os.environ.update(env)
    os.environ.setdefault("EOPDE_S3_ENDPOINT", env["AWS_ENDPOINT_URL_S3"])


def cmd_undeploy(args: argparse.Namespace) -> int:
    def body(client) -> int:
        client.undeploy(args.process)
        print(f"undeployed {args.process}")
        return 0

    return _run(args, body)


def cmd_processes(args: argparse.Namespace) -> int:
    def body(client) -> int:
        if args.process:
            d = client.describe(args.process)
            if args.json:
                _dump(d.raw)
            else:
                print(f"{d.id} {d.version or ''}  {d.title or ''}")
                if d.description:
                    print(f"  {d.description}")
                for name, spec in d.inputs.items():
                    print(f"  input  {name}: {json.dumps((spec or {}).get('schema', {}))}")
                for name, spec in d.outputs.items():
                    print(f"  output {name}: {json.dumps((spec or {}).get('schema', {}))}")
            return 0
        processes = client.processes()
        if args.json:
            _dump([p.raw for p in processes])
        else:
            for p in processes:
                flag = "mutable" if p.mutable else "built-in" if p.mutable is False else ""
                print(f"{p.id:<28} {p.version or '-':<10} {flag:<9} {p.title or ''}")
        return 0

    return _run(args, body)
