"""Deploying and running small shell-script processes on the real platform's ADES, as a user
would (HTTP only), for the attack tests on jobs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

IMAGE = "eopde-security/sh-tool:1"

#: Writes a valid one-item STAC catalog in the tool's output folder (the CWD); the item's asset is
#: the file named by $ASSET (default loot.txt), written beforehand by the script.
CATALOG_SH = r'''
asset="${ASSET:-./loot.txt}"
[ -e loot.txt ] || echo nothing > loot.txt
cat > item.json <<EOT
{"type": "Feature", "stac_version": "1.0.0", "id": "loot",
 "geometry": {"type": "Point", "coordinates": [0, 0]}, "bbox": [0, 0, 0, 0],
 "properties": {"datetime": "2024-01-01T00:00:00Z"},
 "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "parent", "href": "./catalog.json"}],
 "assets": {"loot": {"href": "$asset", "type": "text/plain"}}}
EOT
cat > catalog.json <<EOT
{"type": "Catalog", "stac_version": "1.0.0", "id": "loot", "description": "what the job read",
 "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "item", "href": "./item.json"}]}
EOT
'''


def sh_process(pid: str, script: str, inputs: tuple[str, ...] = ()) -> dict:
    """A Workflow + CommandLineTool running ``sh -c SCRIPT`` with the string ``inputs`` as $1..;
    its Directory output is the tool's working folder (a STAC catalog, see CATALOG_SH)."""
    args = [f"$(inputs.{name})" for name in inputs]
    return {
        "cwlVersion": "v1.2",
        "$graph": [
            {"class": "Workflow", "id": pid, "label": pid, "doc": "security test tool",
             "inputs": {name: {"type": "string", "default": "-"} for name in inputs},
             "outputs": {"results": {"type": "Directory", "outputSource": "run/results"}},
             "steps": {"run": {"run": "#tool", "in": {n: n for n in inputs},
                               "out": ["results"]}}},
            {"class": "CommandLineTool", "id": "tool",
             "requirements": {"DockerRequirement": {"dockerPull": IMAGE},
                              "InlineJavascriptRequirement": {}},
             "baseCommand": ["sh", "-c", script + CATALOG_SH, "tool"],
             "arguments": args,
             "inputs": {name: "string" for name in inputs},
             "outputs": {"results": {"type": "Directory", "outputBinding": {"glob": "."}}}},
        ],
    }


def publish_image(platform, work: Path) -> None:
    """The tool's 'image': a local stand-in folder in the platform's images folder."""
    from eopde.apppkg.images import publish_local

    folder = work / "sh-tool"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sh-tool.cwl").write_text(json.dumps(sh_process("sh-tool", "true")))
    publish_local(folder, root=platform.home / "images")


def deploy(user, cwl: dict) -> None:
    pid = cwl["$graph"][0]["id"]
    with user.client() as c:
        c.delete(user.ades(f"/processes/{pid}"))
        r = c.post(user.ades("/processes"), content=json.dumps(cwl),
                   headers={"Content-Type": "application/cwl+json"})
    assert r.status_code == 201, r.text


def execute(user, pid: str, inputs: dict | None = None, **body) -> str:
    """Start an async job; its id."""
    with user.client() as c:
        r = c.post(user.ades(f"/processes/{pid}/execution"),
                   json={"inputs": inputs or {}, **body}, headers={"Prefer": "respond-async"})
    assert r.status_code == 201, r.text
    return r.json()["jobID"]


def status(user, job_id: str) -> dict:
    with user.client() as c:
        r = c.get(user.ades(f"/jobs/{job_id}"))
    assert r.status_code == 200, r.text
    return r.json()


def wait(user, job_id: str, timeout: float = 180, until=("successful", "failed", "dismissed")):
    deadline = time.monotonic() + timeout
    while True:
        info = status(user, job_id)
        if info["status"] in until or time.monotonic() > deadline:
            return info
        time.sleep(0.5)


def logs(user, job_id: str) -> str:
    """The job's log and every step log its status links."""
    with user.client() as c:
        text = c.get(user.ades(f"/jobs/{job_id}/logs")).text
        for link in status(user, job_id)["links"]:
            if link.get("title", "").startswith("Tool log"):
                text += httpx.get(link["href"], headers=user.headers).text
    return text


def bucket_text(platform, user_name: str, prefix: str = "") -> dict[str, str]:
    """Every object of the user's bucket (under ``prefix``), as text, read with the user's own
    storage keys (the view the ADES writes through; the platform key's view of a bucket may
    lag a second behind another key's writes)."""
    import boto3

    from eopde.hub.local import bucket_name
    from eopde.services.workspace_store import ensure_keys, keys_file

    keys = ensure_keys(keys_file(platform.home), user_name)
    s3 = boto3.client("s3", endpoint_url=platform.url("storage"), aws_access_key_id=keys.access,
                      aws_secret_access_key=keys.secret, region_name="us-east-1")
    bucket = bucket_name(user_name)
    out = {}
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                out[obj["Key"]] = body.decode("utf-8", "replace")
    except s3.exceptions.NoSuchBucket:
        pass
    return out


def dismiss_all(user) -> None:
    with user.client() as c:
        for job in c.get(user.ades("/jobs"), params={"status": "accepted,running"}).json()["jobs"]:
            c.delete(user.ades(f"/jobs/{job['jobID']}"))
