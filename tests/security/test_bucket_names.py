"""Item 12: user names that normalise alike (`alice_`, `Alice`, `alice`) never share a bucket.

The hub keeps `Alice` and `alice` apart (its API does not lowercase names) and so does the ADES;
the bucket a job's results go to must too: the results of `alice_` and `Alice` must not land in
alice's bucket (nor each other's), where alice could read or overwrite them.
"""

from __future__ import annotations

import time

import boto3
import pytest

from notebook_apps import publish_app, write_app_notebook

pytestmark = pytest.mark.platform

CODE = """from eopde.outputs import save
open("who.txt", "w").write(label)
save({"who": "who.txt"}, id=f"who-{label}", datetime="2025-07-01T10:00:00Z",
     geometry={"type": "Point", "coordinates": [12.1, 43.15]}, bbox=[12.1, 43.15, 12.1, 43.15])"""


@pytest.fixture(scope="module")
def whoami_package(platform, tmp_path_factory):
    """A one-cell app that writes its `label` into its result, published as a local image."""
    work = tmp_path_factory.mktemp("whoami")
    notebook = write_app_notebook(work / "whoami.ipynb",
                                  'label: str = "x"  # Written into the result', CODE,
                                  intro="# Who am I\n\nWrites a label.")
    return publish_app(notebook, work / "whoami", "whoami", author="Mallory",
                       email="m@example.org", images=platform.home / "images")


def _run(platform, user: str, package) -> str:
    """Deploy and run the app as `user`; return the bucket its results were staged out to."""
    from eopde.ades import Client

    token = platform.eopde("token", user).stdout.strip()
    client = Client(f"{platform.url('ades')}/{{user}}/ogc-api", user=user, token=token)
    client.deploy(package.directory, replace_existing=True)
    job = client.execute("whoami", {"label": user})
    deadline = time.monotonic() + 180
    while (status := job.status()).status not in ("successful", "failed"):
        assert time.monotonic() < deadline, f"job of {user} still {status.status}"
        time.sleep(0.3)
    assert status.status == "successful", (status.message, job.logs()[-2000:])
    href = job.results().catalog_url
    assert href.startswith("s3://") and href.endswith(f"/processing-results/{job.id}/catalog.json")
    return href[len("s3://"):].split("/", 1)[0]


def test_names_that_normalise_alike_get_different_buckets(platform, alice, whoami_package):
    from eopde.hub.local import bucket_name

    buckets = {user: _run(platform, user, whoami_package) for user in ("alice_", "Alice")}
    buckets["alice"] = bucket_name("alice")
    assert buckets["alice"] == "user-alice"
    assert len(set(buckets.values())) == 3, buckets
    for user in ("alice_", "Alice"):
        assert buckets[user] == bucket_name(user)
    secrets = platform.secrets
    s3 = boto3.client("s3", endpoint_url=platform.url("storage"), region_name="us-east-1",
                      aws_access_key_id=secrets["s3_access_key"],
                      aws_secret_access_key=secrets["s3_secret_key"])
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {buckets["alice_"], buckets["Alice"]} <= names
    in_alices = s3.list_objects_v2(Bucket="user-alice") if "user-alice" in names else {}
    for key in [o["Key"] for o in in_alices.get("Contents", []) if o["Key"].endswith(".txt")]:
        body = s3.get_object(Bucket="user-alice", Key=key)["Body"].read().decode()
        assert body not in ("alice_", "Alice"), f"{key} of another user in alice's bucket"
