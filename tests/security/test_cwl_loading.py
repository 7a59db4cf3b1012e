"""Issue 8, item 1: CWL loading must never read anything but the document itself.

The attack: deploy, as an ordinary user, a package whose CWL makes the loader read a file of the
server (`$include`, `$import`, `$mixin`, `run:` of a file, `SchemaDefRequirement` types
`$import`, `$schemas`, a File literal) and read it back from the error (cwltool echoes the
included text as an "unknown identifier"). Targets: the platform's secrets.json (the service
token, which mints tokens for any user), /etc/passwd and /proc/self/environ of the ADES.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cwl_attacks import variants

pytestmark = pytest.mark.platform

CWL_YAML = {"Content-Type": "application/cwl+yaml"}


def _passwd_lines() -> list[str]:
    lines = [ln for ln in Path("/etc/passwd").read_text().splitlines() if ln.count(":") >= 6]
    return lines[:5]


def _targets(platform) -> dict[str, str]:
    return {"secrets": str(platform.home / "secrets.json"), "passwd": "/etc/passwd",
            "environ": "/proc/self/environ"}


def _leaks(text: str, canary: str) -> list[str]:
    found = []
    if canary in text:
        found.append("the service token")
    if "root:" in text:
        found.append("'root:'")
    found += [f"passwd line {ln[:20]!r}" for ln in _passwd_lines() if ln in text]
    return found


@pytest.mark.parametrize("target", ["secrets", "passwd", "environ"])
def test_deploy_of_a_cwl_naming_a_server_file_is_refused(platform, mallory, canary, target):
    path = _targets(platform)[target]
    problems = []
    with mallory.client() as client:
        before = [p["id"] for p in client.get(mallory.ades("/processes")).json()["processes"]]
        client.delete(mallory.ades("/processes/ndvi"))  # another test's ndvi: not an attack's
        for form, text in variants(path).items():
            r = client.post(mallory.ades("/processes"), content=text, headers=CWL_YAML)
            leaks = _leaks(r.text, canary)
            if r.status_code in (200, 201):  # deployed: clean up for the next form
                client.delete(mallory.ades("/processes/ndvi"))
            if leaks:
                problems.append(f"{form}: {r.status_code}, the response shows {leaks}")
                continue
            if r.status_code != 400 or not r.headers.get("content-type", "").endswith("json"):
                problems.append(f"{form}: {r.status_code} {r.text[:200]!r} (expected a 400 JSON)")
                continue
            detail = r.json().get("detail", "")
            if "refers outside the document" not in detail:
                problems.append(f"{form}: the 400 does not say what was refused: {detail[:200]}")
        listed = client.get(mallory.ades("/processes")).json()
    assert not problems, "\n".join(problems)
    assert "ndvi" not in [p["id"] for p in listed["processes"]]
    assert [p["id"] for p in listed["processes"]] == [p for p in before if p != "ndvi"]


def test_application_package_json_is_checked_too(platform, mallory, canary):
    """The same CWL as a JSON object inside an OGC application package."""
    import yaml

    path = _targets(platform)["secrets"]
    with mallory.client() as client:
        for form in ("include-type", "import-schemadef", "mixin"):
            doc = yaml.safe_load(variants(path)[form])
            body = {"executionUnit": {"value": doc, "mediaType": "application/cwl+json"}}
            r = client.post(mallory.ades("/processes"), content=json.dumps(body),
                            headers={"Content-Type": "application/ogcapppkg+json"})
            if r.status_code in (200, 201):
                client.delete(mallory.ades("/processes/ndvi"))
            assert not _leaks(r.text, canary), (form, r.text[:300])
            assert r.status_code == 400, (form, r.status_code, r.text[:300])
            assert "refers outside the document" in r.json()["detail"]


def test_local_validate_does_not_print_the_content(platform, canary, tmp_path):
    """`eopde validate FILE` on the user's own machine: the secrets of the platform running
    here stay out of its output (nothing the CWL names is read)."""
    for form, text in variants(_targets(platform)["secrets"]).items():
        cwl = tmp_path / f"{form}.cwl"
        cwl.write_text(text)
        result = platform.eopde("validate", str(cwl), check=False)
        out = result.stdout + result.stderr
        assert not _leaks(out, canary), (form, out[:500])
        assert result.returncode != 0, (form, out[:500])


def test_execute_inputs_cannot_include_files(platform, mallory, canary):
    """cwltool resolves `$include`/`$import` in the job file too: an input of type Any given as
    {"$include": "<secrets.json>"} would hand the file to the tool (and to the results)."""
    from cwl_attacks import GOOD

    cwl = GOOD.read_text().replace("type: float\n        default: 0.2",
                                   "type: Any\n        default: 0.2")
    cwl = cwl.replace("id: ndvi\n", "id: ndvi-any\n", 1)
    secrets = _targets(platform)["secrets"]
    with mallory.client() as client:
        r = client.post(mallory.ades("/processes"), content=cwl, headers=CWL_YAML)
        assert r.status_code in (201, 409), r.text[:300]
        try:
            def job_ids():
                return {j["jobID"] for j in client.get(mallory.ades("/jobs")).json()["jobs"]}

            before = job_ids()
            for key in ("$include", "$import"):
                body = {"inputs": {"scene": "http://127.0.0.1:1/item.json",
                                   "threshold": {key: secrets}}}
                r = client.post(mallory.ades("/processes/ndvi-any/execution"), json=body,
                                headers={"Prefer": "respond-async"})
                assert not _leaks(r.text, canary), r.text[:300]
                assert r.status_code == 400, (key, r.status_code, r.text[:300])
                assert f"`{key}`" in r.json()["detail"]
            assert job_ids() == before
        finally:
            client.delete(mallory.ades("/processes/ndvi-any"))
