"""The platform with OpenID Connect login (`EOPDE_AUTH=oidc`), end to end in a real browser.

The identity service is a real OpenID Connect provider on loopback (`tests/oidc_provider.py`:
PyPI's oidc-provider-mock, standing in for Keycloak, a remote third party), issuing access
tokens that expire after 60 s. One platform of its own is started for this module (other ports
than the session's), so the whole module costs one platform start plus about two minutes of
token lifetime:

1. headless Chromium logs in through the provider's page and lands in JupyterLab;
2. a kernel deploys a process on the ADES and waits on a job that outlives the first access
   token, then deploys and runs again: every request carries a token the hub renewed (the
   first token is shown expired and refused by the ADES);
3. the provider revokes the user's tokens: once the access token is due for renewal, the hub
   sends the browser to the login page.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from browser import browser_page
from conftest import ARTIFACTS, TEST_BASE_PORT, TEST_HUB_PORT, RunningPlatform, clean_env, eopde
from oidc_provider import running_provider

sys.path.insert(0, str(Path(__file__).resolve().parent / "security"))
from ades_jobs import publish_image, sh_process  # noqa: E402

pytestmark = pytest.mark.platform

LIFETIME = 60
USER = "alice"


@pytest.fixture(scope="module")
def oidc_platform(tmp_path_factory):
    """The provider and a platform logging in with it; stopped and purged afterwards."""
    with running_provider(lifetime=LIFETIME) as provider:
        provider.set_user(USER, preferred_username=USER, email="alice@example.org",
                          groups=["eo-dev"])
        home = tmp_path_factory.mktemp("eopde-oidc-home")
        env = clean_env()
        # Ports no other platform of the test run uses (+40..+60, +90, +100 are taken).
        env.update(EOPDE_HOME=str(home), EOPDE_BASE_PORT=str(TEST_BASE_PORT + 70),
                   EOPDE_HUB_PORT=str(TEST_HUB_PORT + 5), EOPDE_ADES_WORKERS="1",
                   EOPDE_AUTH="oidc", EOPDE_OIDC_ISSUER=provider.url,
                   EOPDE_OIDC_CLIENT_ID="eopde-hub", EOPDE_OIDC_CLIENT_SECRET="hub-secret")
        if os.environ.get("EOPDE_PROXY_COMMAND"):  # a proxy outside the checkout, as for `up`
            env["EOPDE_PROXY_COMMAND"] = os.environ["EOPDE_PROXY_COMMAND"]
        running = RunningPlatform(home, env)
        try:
            running.eopde("up", timeout=600)
        except AssertionError as err:
            hub_log = home / "logs" / "hub.log"
            logs = hub_log.read_text()[-4000:] if hub_log.exists() else str(err)[-4000:]
            running.eopde("purge", "--yes", check=False)
            raise AssertionError(f"eopde up (oidc) failed; logs:\n{logs}") from None
        publish_image(running, tmp_path_factory.mktemp("oidc-images"))
        running.provider = provider
        running.public = f"http://127.0.0.1:{TEST_HUB_PORT + 5}"
        try:
            yield running
        finally:
            eopde(env, "down", check=False, timeout=120)
            eopde(env, "purge", "--yes", check=False, timeout=120)


#: Run `code` in a kernel the JupyterLab page starts (one per page), collecting its output.
_RUN = """async (code) => {
    const app = window.jupyterapp;
    await app.serviceManager.ready;
    if (!window.__oidcKernel) {
        window.__oidcKernel = await app.serviceManager.kernels.startNew({name: 'eopde'});
    }
    let out = '', err = null;
    const future = window.__oidcKernel.requestExecute({code});
    future.onIOPub = (msg) => {
        const kind = msg.header.msg_type;
        if (kind === 'stream') out += msg.content.text;
        if (kind === 'error') err = msg.content.ename + ': ' + msg.content.evalue;
    };
    await future.done;
    return {out, err};
}"""

_PROCESS = sh_process("oidc-sleep", 'sleep "$1"', inputs=("seconds",))

#: Deploy, then wait on a job that sleeps until the first token has expired, then deploy and run
#: again with what the hub gives now.
_KERNEL_CODE = f"""
import json, time
from eopde import auth
from eopde.ades import Client
cwl = json.loads({json.dumps(json.dumps(_PROCESS))!r})
first = auth.get_token()
ades = Client()
ades.deploy(cwl, replace_existing=True)
seconds = max(0.0, auth.jwt_expiry(first) + 8 - time.time())
job = ades.execute("oidc-sleep", {{"seconds": f"{{seconds:.0f}}"}})
waited = job.wait(timeout=300, progress=False, max_interval=5).status
ades.undeploy("oidc-sleep")
ades.deploy(cwl)
again = ades.execute("oidc-sleep", {{"seconds": "0"}}).wait(timeout=120, progress=False).status
print(json.dumps({{"first": first, "last": auth.get_token(), "now": time.time(),
                  "waited": waited, "again": again}}))
"""


def _login(page, platform) -> None:
    page.goto(f"{platform.public}/hub/login")
    page.get_by_text("Sign in with the identity service").click()
    page.wait_for_url(f"{platform.provider.url}/oauth2/authorize**", timeout=30_000)
    page.get_by_placeholder("sub").fill(USER)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"**/user/{USER}/lab**", timeout=120_000)
    page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)


@pytest.mark.timeout(900)
def test_login_fresh_tokens_and_revocation(oidc_platform):
    platform = oidc_platform
    ades = f"{platform.url('ades')}/{USER}/ogc-api/processes"
    with browser_page(ARTIFACTS, "oidc-login") as page:
        _login(page, platform)

        began = time.time()
        result = page.evaluate(_RUN, _KERNEL_CODE)
        assert result["err"] is None, result
        seen = json.loads(result["out"].strip().splitlines()[-1])
        assert (seen["waited"], seen["again"]) == ("successful", "successful"), seen

        # The first access token expired while the job ran, and the ADES refuses it now ...
        from eopde.auth import jwt_expiry

        assert jwt_expiry(seen["first"]) < seen["now"] - 5
        assert seen["last"] != seen["first"]
        stale = httpx.get(ades, headers={"Authorization": f"Bearer {seen['first']}"})
        assert stale.status_code == 401
        assert stale.json()["title"] == "Unauthorized"
        # ... while the one the hub renewed works.
        fresh = httpx.get(ades, headers={"Authorization": f"Bearer {seen['last']}"})
        assert fresh.status_code == 200, fresh.text
        print(f"kernel work across the token's expiry: {time.time() - began:.0f} s")

        # Revoked at the provider: once the access token is due for renewal (half its life
        # left) and the hub checks again (10 s apart at most), the hub wants a new login.
        platform.provider.revoke(USER)
        due = jwt_expiry(seen["last"]) - LIFETIME / 2 + 1
        time.sleep(max(due - time.time(), 11.0))
        page.goto(f"{platform.public}/hub/home")
        page.wait_for_url("**/hub/login**", timeout=30_000)
        assert page.get_by_text("Sign in with the identity service").is_visible()
