"""`response: raw` (issue 9, part 4): the ADES reads the job's result catalog.json from the user's
bucket and answers it. Mallory controls that catalog (her tool writes it): its links must not
lead a client (or the ADES) anywhere else, a huge catalog must not be loaded, and raw must read
nothing but the job's own results."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from eopde.services.ades.errors import OGCError
from eopde.services.ades.execution import read_result_catalog

from .ades_jobs import CATALOG_SH, deploy, execute, publish_image, sh_process, wait

# Runs after CATALOG_SH: the catalog gains links out of the job's results.
HOSTILE = r'''
cat > catalog.json <<EOT
{"type": "Catalog", "stac_version": "1.0.0", "id": "loot", "description": "hostile links",
 "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "item", "href": "./item.json"},
           {"rel": "related", "href": "../../../../user-alice/processing-results/x/catalog.json"},
           {"rel": "via", "href": "../other-job/catalog.json"},
           {"rel": "related", "href": "file:///etc/passwd"},
           {"rel": "related", "href": "/etc/passwd"}]}
EOT
'''

# A 20 MiB catalog.json (the raw limit is 16 MiB).
HUGE = r'''
python3 -c "
import json
doc = json.load(open('catalog.json'))
doc['description'] = 'x' * (20 * 1024 * 1024)
json.dump(doc, open('catalog.json', 'w'))
"
'''


def _after_catalog(pid: str, script: str) -> dict:
    cwl = sh_process(pid, "true")
    cwl["$graph"][1]["baseCommand"] = ["sh", "-c", CATALOG_SH + script, "tool"]
    return cwl


@pytest.fixture(scope="module")
def tools(platform, mallory, tmp_path_factory):
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(mallory, _after_catalog("hostile-links", HOSTILE))
    deploy(mallory, _after_catalog("huge-catalog", HUGE))


def _raw(user, pid: str):
    with user.client() as c:
        return c.post(user.ades(f"/processes/{pid}/execution"), timeout=240,
                      json={"inputs": {}, "response": "raw"})


@pytest.mark.platform
def test_raw_catalog_links_stay_in_the_jobs_results(tools, mallory):
    answer = _raw(mallory, "hostile-links")
    assert answer.status_code == 200, answer.text
    job = answer.headers["location"].rsplit("/", 1)[1]
    head = f"s3://user-mallory/processing-results/{job}/"
    catalog = answer.json()
    hrefs = [link["href"] for link in catalog["links"]]
    # relative links are resolved within the job's results; those leaving it are dropped
    assert hrefs[:3] == [f"{head}catalog.json", f"{head}catalog.json", f"{head}item.json"]
    # absolute ones are the tool's words, passed on as text: nothing was read from them
    assert hrefs[3:] == ["file:///etc/passwd", "/etc/passwd"]
    assert "root:x:0:0" not in answer.text and "user-alice" not in answer.text


@pytest.mark.platform
def test_a_huge_raw_catalog_is_refused_not_loaded(tools, mallory):
    job = execute(mallory, "huge-catalog", response="raw")
    assert wait(mallory, job)["status"] == "successful"  # the job itself is fine
    began = time.monotonic()
    with mallory.client() as c:
        answer = c.get(mallory.ades(f"/jobs/{job}/results"), timeout=120)
        assert answer.status_code == 406, answer.text[:300]
        assert answer.json()["detail"] == (
            f"the result catalog of job '{job}' is not a JSON object of at most 16 MiB: read "
            "it from its href (`response: document`)")
        assert time.monotonic() - began < 30
        assert c.get(mallory.ades("/processes")).status_code == 200


def test_raw_reads_only_the_jobs_own_results():
    """The href comes from the job's stored results; even so, raw reads nothing outside
    s3://user-<owner>/processing-results/<job>/ (checked before any S3 request)."""
    class NoS3:
        def client(self):
            raise AssertionError("S3 was asked")

        prefix = "processing-results"

    executor = SimpleNamespace(storage=NoS3())
    job = SimpleNamespace(user="mallory", id="job-1")
    for href in ("s3://user-alice/processing-results/job-1/catalog.json",
                 "s3://user-mallory/processing-results/job-2/catalog.json",
                 "s3://user-mallory/processing-results/job-1/../job-2/catalog.json",
                 "s3://user-mallory/processing-results/job-1/secret.txt",
                 "file:///etc/passwd"):
        with pytest.raises(OGCError) as info:
            read_result_catalog(executor, job, href)
        assert info.value.status == 404 and info.value.type.endswith("/no-such-output"), href
