"""The inputs a job ran with (`GET /jobs/{id}/inputs`) on the real platform: alice reads hers
through the kernel client (`Job.inputs()`), credentials redacted; mallory, with a valid token,
asks for them every way a URL allows (his prefix, alice's prefix, through the hub's proxy) and
for anonymous callers: 404/401, and nothing of alice's in any answer."""

from __future__ import annotations

import secrets as _secrets

import pytest

from .ades_jobs import deploy, execute, publish_image, sh_process, wait

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def alice_job(platform, alice, tmp_path_factory):
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(alice, sh_process("keep-inputs", "echo ok > loot.txt",
                             ("note", "source", "api_token")))
    canaries = {"note": "alice-note-" + _secrets.token_hex(6),
                "password": "pw" + _secrets.token_hex(6),
                "query": "q" + _secrets.token_hex(6),
                "token": "t" + _secrets.token_hex(6)}
    inputs = {"note": canaries["note"],
              "source": f"https://alice:{canaries['password']}@example.org/data.tif"
                        f"?X-Amz-Signature={canaries['query']}&band=B04",
              "api_token": canaries["token"]}
    job = execute(alice, "keep-inputs", inputs)
    assert wait(alice, job, 120)["status"] == "successful"
    return job, canaries


def test_alice_reads_her_inputs_with_the_kernel_client(platform, alice, alice_job):
    from eopde.ades import Client

    job_id, canaries = alice_job
    client = Client(f"{platform.url('ades')}/{{user}}/ogc-api", user="alice", token=alice.token)
    got = client.job(job_id).inputs()
    assert got.process_id == "keep-inputs" and got.job_id == job_id
    assert got.inputs == {"note": canaries["note"], "api_token": "REDACTED",
                          "source": "https://REDACTED@example.org/data.tif"
                                    "?X-Amz-Signature=REDACTED&band=B04"}
    assert sorted(got.redacted) == ["api_token", "source"]
    assert got.process_href and got.process_href.endswith("/alice/ogc-api/processes/keep-inputs")
    for secret in (canaries["password"], canaries["query"], canaries["token"]):
        assert secret not in str(got.raw)


def test_mallory_gets_404_and_nothing_of_alice(platform, alice, mallory, anonymous, alice_job):
    from eopde.ades import Client, NoSuchJob

    job_id, canaries = alice_job
    answers = []
    with mallory.client() as c:
        for url in (mallory.ades(f"/jobs/{job_id}/inputs"), alice.ades(f"/jobs/{job_id}/inputs")):
            r = c.get(url)
            assert r.status_code == 404, (url, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
            answers.append(r.text)
        proxied = c.get(f"{platform.hub_url}/services/ades/alice/ogc-api/jobs/{job_id}/inputs")
        assert proxied.status_code in (403, 404), proxied.status_code
        answers.append(proxied.text)
    r = anonymous.get(f"/services/ades/alice/ogc-api/jobs/{job_id}/inputs")
    assert r.status_code in (401, 403, 302, 404), r.status_code
    answers.append(r.text)
    thief = Client(f"{platform.url('ades')}/{{user}}/ogc-api", user="mallory",
                   token=mallory.token)
    from eopde.ades.jobs import Job

    with pytest.raises(NoSuchJob) as caught:
        Job(thief, job_id).inputs()
    answers.append(str(caught.value) + repr(caught.value.body))
    for text in answers:
        for secret in canaries.values():
            assert secret not in text
        assert "keep-inputs" not in text and "example.org" not in text
