"""The stage-in and stage-out containers of a Kubernetes job's pod
(:mod:`eopde.services.ades.calrissian`, :class:`~eopde.services.ades.calrissian.Staging`).

``python -m eopde.services.ades.k8s_steps stage-in --plan PLAN --dest DIR``: the STAC items of
each Directory input (``plan.json``, written by the ADES) are fetched into ``DIR/<input>/`` by
:func:`eopde.apppkg.stagein.stage_items` under the plan's URL policy, s3:// URLs with the storage
keys of the environment (the job OWNER's, from the job's Secret: another user's object is not
readable with them); then ``DIR/job.yml``, the CWL job Calrissian runs, is written.

``python -m eopde.services.ades.k8s_steps stage-out --output OUTPUT.json --user U --job J``: the
Directory outputs of Calrissian's output document are copied to the owner's bucket by
:func:`eopde.services.ades.stageout.stage_out` (same layout, all or nothing, as the local
executor), with the same keys; the last log line is ``RESULTS_MARK`` + the results document.
Before that it reports what Calrissian left on the output volume, for the ADES to keep (what
EOEPCA's runner reads off the volume after a run): the usage report (``USAGE_MARK`` + JSON) and
each step's tool log (``STEP_MARK`` + ``<step>: <line>``).

Both exit 1 with one line saying what failed (no traceback, no file contents): the ADES puts the
container's log in the job's log and that line in the job's message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

RESULTS_MARK = "eopde-results: "
USAGE_MARK = "eopde-usage: "
STEP_MARK = "eopde-step "
MAX_REPORT = 1 << 20  #: bytes of a usage report or of one step log passed on (the rest is cut)
MAX_STEP_LOGS = 200


def _s3():
    """The S3 client of the environment: the endpoint and the owner's keys of the pod."""
    from eopde.storage import s3_client

    return s3_client(os.environ.get("EOPDE_S3_ENDPOINT"), os.environ.get("AWS_ACCESS_KEY_ID"),
                     os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_DEFAULT_REGION"))


def stage_in(plan: dict[str, Any], dest: Path) -> dict[str, Any]:
    """Stage the plan's STAC items into ``dest``; returns the CWL job (also in ``dest/job.yml``)."""
    import yaml

    from eopde.apppkg.stagein import StageInError, stage_items
    from eopde.urlguard import UrlPolicy

    rule = plan.get("policy")
    policy = None if rule is None else UrlPolicy.of(rule.get("origins") or (),
                                                     bucket=rule.get("bucket"))
    job: dict[str, Any] = dict(plan.get("job") or {})
    client = None

    def make_s3():
        nonlocal client
        client = client or _s3()
        return client

    for name, spec in (plan.get("stac") or {}).items():
        many = spec["kind"] == "Directory[]"
        try:
            cats = stage_items(spec["refs"], dest / name, per_item=many, catalog_id=name,
                               policy=policy, make_s3=make_s3,
                               progress=lambda line: print(line, flush=True))
        except StageInError as err:
            raise StageInError(f"input {name!r}: {err}") from err
        dirs = [{"class": "Directory", "location": c.folder.as_uri()} for c in cats]
        job[name] = dirs if many else dirs[0]
    (dest / "job.yml").write_text(yaml.safe_dump(job, sort_keys=False))
    return job


def _folders(value: Any) -> Path | list[Path] | None:
    """The folder(s) of a CWL output value that is a Directory or a list of them."""
    def path(v: Any) -> Path | None:
        if not isinstance(v, dict) or v.get("class") != "Directory":
            return None
        if v.get("path"):
            return Path(v["path"])
        loc = urlparse(str(v.get("location") or ""))
        return Path(unquote(loc.path)) if loc.scheme in ("", "file") else None

    if isinstance(value, list):
        found = [path(v) for v in value]
        return [p for p in found if p is not None] if all(found) else None
    return path(value)


def report_run(outdir: Path, usage: str = "usage.json", logs: str = "logs") -> None:
    """Print Calrissian's usage report and the steps' tool logs (see the module doc)."""
    try:
        text = (outdir / usage).read_text(errors="replace")[:MAX_REPORT]
        print(USAGE_MARK + json.dumps(json.loads(text)), flush=True)
    except (OSError, ValueError):
        pass
    files = sorted((outdir / logs).glob("*.log"))[:MAX_STEP_LOGS] if (outdir / logs).is_dir() \
        else []
    for path in files:
        try:
            lines = path.read_text(errors="replace")[:MAX_REPORT].splitlines()
        except OSError:
            continue
        for line in lines:
            print(f"{STEP_MARK}{path.stem}: {line}")
    sys.stdout.flush()


def stage_out(output: Path, user: str, job_id: str) -> dict[str, Any]:
    """Copy the Directory outputs of Calrissian's output document to the owner's bucket."""
    from .stageout import StageOutError, stage_out as upload

    try:
        doc = json.loads(output.read_text())
    except (OSError, ValueError):
        raise StageOutError("the workflow wrote no output document") from None
    folders: dict[str, Path | list[Path]] = {}
    for name, value in (doc.items() if isinstance(doc, dict) else ()):
        found = _folders(value)
        if found is not None:
            folders[name] = found
    return upload(folders, user=user, job_id=job_id, client=_s3(), within=output.parent)


def main(argv: list[str] | None = None) -> int:
    from eopde.apppkg.stagein import StageInError

    from .stageout import StageOutError

    parser = argparse.ArgumentParser(prog="python -m eopde.services.ades.k8s_steps")
    sub = parser.add_subparsers(dest="step", required=True)
    p_in = sub.add_parser("stage-in")
    p_in.add_argument("--plan", required=True, type=Path)
    p_in.add_argument("--dest", required=True, type=Path)
    p_out = sub.add_parser("stage-out")
    p_out.add_argument("--output", required=True, type=Path)
    p_out.add_argument("--user", required=True)
    p_out.add_argument("--job", required=True)
    args = parser.parse_args(argv)
    try:
        if args.step == "stage-in":
            stage_in(json.loads(args.plan.read_text()), args.dest)
            print("eopde: stage-in done", flush=True)
        else:
            report_run(args.output.parent)
            results = stage_out(args.output, args.user, args.job)
            print(RESULTS_MARK + json.dumps(results), flush=True)
    except StageInError as err:
        print(f"stage-in failed: {err}", flush=True)
        return 1
    except StageOutError as err:
        print(f"stage-out failed (nothing was kept in the bucket): {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
