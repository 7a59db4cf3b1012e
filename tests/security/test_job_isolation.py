"""Issue 8, item 5: a job's tool runs as root with the platform's secrets in reach.

Mallory deploys a shell tool that reads what it can: the secrets file, the ADES's and its own
parent's environment, every process's environment and command line, another user's running job
folder, the state folder; it writes all that into its log and its results (a STAC catalog staged
out to mallory's bucket), and also names the secrets file (directly and through a symlink) as an
asset of its result, for the stage-out to copy. Nothing secret may come back: not in the log, the
status, the results, nor the bucket.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets as _secrets
import time

import pytest

from eopde.services.postgres import traversable_by

from .ades_jobs import (bucket_text, deploy, dismiss_all, execute, logs, publish_image, sh_process,
                        status, wait)

pytestmark = pytest.mark.platform

SNOOP = r'''
secrets="$1"; ades_pid="$2"; other_job="$3"; state="$4"
{
  echo "== uid"; id -u
  echo "== env"; env
  echo "== secrets file"; cat "$secrets"
  echo "== ades environ"; tr '\0' '\n' < /proc/$ades_pid/environ
  echo "== parent environ"; tr '\0' '\n' < /proc/$PPID/environ
  echo "== every environ"; for p in /proc/[0-9]*; do tr '\0' '\n' < $p/environ; done
  echo "== every command line"; for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline; echo; done
  echo "== other job"; ls -laR "$other_job" /var/lib/eopde/jobs
  find "$other_job" /var/lib/eopde/jobs -type f -exec cat {} +
  echo "== state folder"; ls -la "$state" "$state/users" "$state/ades"
  cat "$state/ades/ades.db" "$state/hub/"*.sqlite "$state/logs/"*
} > loot.txt 2>&1
cat loot.txt >&2
'''

PRIVATE = r'''
echo "$1" > private.txt
sleep 45
'''

EXFIL = r'''
ln -s "$1" stolen.json
ASSET="$1"
export ASSET
'''

EXFIL_LINK = r'''
ln -s "$1" stolen.json
ASSET=./stolen.json
export ASSET
'''


@pytest.fixture(scope="module")
def tools(platform, mallory, alice, tmp_path_factory):
    publish_image(platform, tmp_path_factory.mktemp("sh-tool"))
    deploy(mallory, sh_process("snoop", SNOOP, ("secrets", "ades_pid", "other_job", "state")))
    deploy(mallory, sh_process("exfil", EXFIL, ("target",)))
    deploy(mallory, sh_process("exfil-link", EXFIL_LINK, ("target",)))
    deploy(alice, sh_process("private", PRIVATE, ("secret",)))
    yield
    dismiss_all(mallory)
    dismiss_all(alice)


def _platform_secrets(platform) -> list[str]:
    s = platform.secrets
    return [s[k] for k in ("service_token", "proxy_auth_token", "postgres_password",
                           "s3_secret_key") if s.get(k)]


def _assert_clean(text: str, secrets: list[str], where: str) -> None:
    for i, secret in enumerate(secrets):
        assert secret not in text, f"secret #{i} leaked into {where}"
    for name in ("EOPDE_SERVICE_TOKEN", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"):
        assert f"{name}=" not in text, f"{name} leaked into {where}"


def test_a_job_cannot_read_the_platform_secrets_nor_another_job(platform, tools, mallory, alice):
    alice_secret = "alice-private-" + _secrets.token_hex(8)
    private = execute(alice, "private", {"secret": alice_secret})
    assert wait(alice, private, 90, until=("running", "failed"))["status"] == "running"
    time.sleep(4)  # alice's tool has written its private file
    ades_pid = str(platform.status()["ades"]["pid"])
    job = execute(mallory, "snoop", {
        "secrets": str(platform.home / "secrets.json"), "ades_pid": ades_pid,
        "other_job": str(platform.home / "ades" / "jobs" / private),
        "state": str(platform.home)})
    final = wait(mallory, job)
    assert final["status"] == "successful", final["message"]
    text = logs(mallory, job)
    assert "== secrets file" in text and "== other job" in text  # the tool did run
    canaries = [*_platform_secrets(platform), alice_secret]
    _assert_clean(text, canaries, "the job's log")
    _assert_clean(str(final), canaries, "the job's status")
    stored = bucket_text(platform, "mallory", f"processing-results/{job}/")
    assert any(k.endswith("loot.txt") for k in stored), sorted(stored)
    _assert_clean("\n".join(stored.values()), canaries, "the job's results in the bucket")
    if os.geteuid() == 0:  # the platform runs as root: the tool must not
        loot = next(v for k, v in stored.items() if k.endswith("loot.txt"))
        uid = loot.split("== uid", 1)[1].split()[0]
        assert uid != "0", "the job's tool ran as root"
    assert status(alice, private)["status"] == "running"  # alice's job untouched


@pytest.mark.parametrize("pid", ["exfil", "exfil-link"])
def test_stage_out_never_copies_a_file_outside_the_job(platform, tools, mallory, pid):
    job = execute(mallory, pid, {"target": str(platform.home / "secrets.json")})
    final = wait(mallory, job)
    canaries = _platform_secrets(platform)
    _assert_clean(str(final) + logs(mallory, job), canaries, "the job's status or log")
    stored = bucket_text(platform, "mallory", f"processing-results/{job}/")
    _assert_clean("\n".join(stored.values()), canaries, "the bucket")
    assert final["status"] == "failed" and not stored, (final["message"], sorted(stored))


def test_job_sandboxes_are_private(platform, tools, alice):
    """As root: the state folder, the secrets and the job logs are the service's alone."""
    if os.geteuid() != 0:
        pytest.skip("the platform runs as an ordinary user: jobs run as that user")
    job = execute(alice, "private", {"secret": "x"}, timeout=60)
    assert wait(alice, job, 90, until=("running", "failed"))["status"] == "running"
    time.sleep(3)
    try:
        secrets = platform.home / "secrets.json"
        assert secrets.stat().st_mode & 0o077 == 0
        for name in ("ades", "storage", "users", "logs", "hub", "secrets"):
            folder = platform.home / name
            assert not folder.exists() or folder.stat().st_mode & 0o077 == 0, name
        job_dir = platform.home / "ades" / "jobs" / job
        assert job_dir.stat().st_mode & 0o077 == 0 and job_dir.stat().st_uid == 0
        assert (job_dir / "job.log").stat().st_uid == 0
        # the sandbox: outside the state folder, the leased account's alone
        found = glob.glob(f"/var/lib/eopde/jobs/*/{job}")
        assert len(found) == 1, found
        st = os.stat(found[0])
        assert st.st_uid != 0 and st.st_mode & 0o077 == 0
        assert not traversable_by(platform.home, pwd.getpwuid(st.st_uid).pw_name)
    finally:
        with alice.client() as c:
            c.delete(alice.ades(f"/jobs/{job}"))
