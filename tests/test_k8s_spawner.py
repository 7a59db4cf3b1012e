"""Users' pods on Kubernetes, rendered by KubeSpawner's own code (no cluster).

``eopde.hub.k8s.configure`` fills a JupyterHub config; a real ``KubeSpawner`` built from it (with a
kubeconfig that points at a closed loopback port: the manifests are made without any API call)
renders the pod of each profile with ``get_pod_manifest()``, after ``load_user_options()`` chose
and checked the profile as at a real spawn. Checked: resources, security context, home volume,
environment, and which profiles each group is offered or may ask for.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import kubespawner
import pytest
from kubernetes_asyncio.client import ApiClient  # KubeSpawner's own client
from tornado.web import HTTPError
from traitlets.config import Config

from eopde.hub.k8s import (CONTAINER_SECURITY, DEFAULT_PROFILES, HOME, K8sSettings, configure,
                           profile_list_for, visible_profiles)

GiB = 1024 ** 3
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: never-sent}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


class FakeUser:
    """What KubeSpawner reads of a hub user (a mock: the hub's User needs its database)."""

    def __init__(self, name: str, groups=(), auth_state=None):
        self.name = name
        self.id = 7
        self.url = f"/user/{name}/"
        self.groups = [SimpleNamespace(name=g) for g in groups]
        self._auth_state = auth_state

    async def get_auth_state(self):
        return self._auth_state


@pytest.fixture(autouse=True)
def kubeconfig(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    # read when the client module was imported: set where it looks, as its own tests do
    monkeypatch.setattr("kubernetes_asyncio.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION",
                        str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def render(user: FakeUser, profile: str | None = None, settings: K8sSettings | None = None):
    """(pod manifest as a dict, the spawner) for ``user`` choosing ``profile``."""
    c = Config()
    configure(c, settings or K8sSettings(storage_class="rwo-ssd"))

    async def go():
        spawner = kubespawner.KubeSpawner(_mock=True, config=c, user=user)
        spawner.user_options = {"profile": profile} if profile else {}
        await spawner.load_user_options()
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as api:
            spawner.pvc_dict = api.sanitize_for_serialization(spawner.get_pvc_manifest())
            return api.sanitize_for_serialization(pod), spawner

    return asyncio.run(go())


def offered(user: FakeUser, settings: K8sSettings | None = None) -> list[str]:
    settings = settings or K8sSettings()
    entries = asyncio.run(profile_list_for(settings.profiles, settings.groups_key)(
        SimpleNamespace(user=user)))
    return [e["slug"] for e in entries]


@pytest.mark.parametrize("groups, slugs", [
    ((), ["small"]),
    (("staff",), ["small"]),
    (("eo-large",), ["small", "large"]),
    (("eo-gpu",), ["small", "large", "gpu"]),
    (("staff", "eo-large", "eo-gpu"), ["small", "large", "gpu"]),
    (("EO-GPU",), ["small"]),  # group names are exact
])
def test_which_profiles_each_group_sees(groups, slugs):
    assert offered(FakeUser("alice", groups)) == slugs
    assert [p.slug for p in visible_profiles(DEFAULT_PROFILES, groups)] == slugs


def test_groups_from_auth_state_when_configured():
    state = {"oauth_user": {"groups": ["eo-gpu", 3, None]}}
    user = FakeUser("bob", (), auth_state=state)
    assert offered(user) == ["small"]  # not read unless asked for
    assert offered(user, K8sSettings(groups_key="oauth_user.groups")) == ["small", "large", "gpu"]
    # a missing or malformed entry gives no group (and no error)
    for bad in (None, {}, {"oauth_user": "x"}, {"oauth_user": {"groups": "eo-gpu"}}):
        assert offered(FakeUser("bob", (), bad), K8sSettings(groups_key="oauth_user.groups")) \
            == ["small"]


def test_a_user_offered_nothing_is_refused_not_started_on_defaults():
    only_gpu = K8sSettings(profiles=tuple(p for p in DEFAULT_PROFILES if p.slug == "gpu"))
    with pytest.raises(HTTPError) as err:
        offered(FakeUser("carol", ("eo-large",)), only_gpu)
    assert err.value.status_code == 403
    with pytest.raises(HTTPError):
        render(FakeUser("carol", ("eo-large",)), None, only_gpu)
    # the first allowed profile becomes the default when the configured default is not allowed
    assert asyncio.run(profile_list_for(only_gpu.profiles)(
        SimpleNamespace(user=FakeUser("g", ("eo-gpu",)))))[0]["default"] is True


@pytest.mark.parametrize("groups, asked", [((), "large"), ((), "gpu"), (("eo-large",), "gpu"),
                                           (("eo-gpu",), "nonexistent")])
def test_a_profile_not_offered_cannot_be_asked_for(groups, asked):
    """user_options come from the spawn form or straight from the REST API: KubeSpawner checks
    them against the same callable, so the filter is the rule, not just the form."""
    with pytest.raises(ValueError):
        render(FakeUser("mallory", groups), asked)


@pytest.mark.parametrize("slug, groups, cpu, mem, gpus", [
    ("small", (), (0.5, 1.0), (2 * GiB, 4 * GiB), None),
    ("large", ("eo-large",), (2.0, 4.0), (8 * GiB, 16 * GiB), None),
    ("gpu", ("eo-gpu",), (2.0, 4.0), (12 * GiB, 24 * GiB), "1"),
])
def test_pod_of_each_profile(slug, groups, cpu, mem, gpus):
    pod, spawner = render(FakeUser("alice", groups), slug)
    spec = pod["spec"]
    (container,) = spec["containers"]
    res = container["resources"]
    assert (res["requests"]["cpu"], res["limits"]["cpu"]) == cpu
    assert (res["requests"]["memory"], res["limits"]["memory"]) == mem
    assert res["limits"].get("nvidia.com/gpu") == gpus
    assert res["requests"].get("nvidia.com/gpu") == gpus
    if gpus:
        assert spec["nodeSelector"] == {"eopde.org/pool": "gpu"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} \
            in spec["tolerations"]
    else:
        assert "nodeSelector" not in spec or not spec["nodeSelector"]
    assert container["image"] == K8sSettings().image


@pytest.mark.parametrize("slug, groups", [("small", ()), ("gpu", ("eo-gpu",))])
def test_no_privileged_pods(slug, groups):
    pod, _ = render(FakeUser("alice", groups), slug)
    spec = pod["spec"]
    assert spec["securityContext"] == {"fsGroup": 100, "runAsGroup": 100, "runAsNonRoot": True,
                                       "runAsUser": 1000,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"] + spec.get("initContainers", []):
        sc = container["securityContext"]
        assert sc == {**CONTAINER_SECURITY, "runAsUser": 1000, "runAsGroup": 100}, sc
        assert sc["capabilities"] == {"drop": ["ALL"]} and "add" not in sc["capabilities"]
    assert "hostNetwork" not in spec and "hostPID" not in spec and "hostIPC" not in spec
    assert not any("hostPath" in v for v in spec["volumes"])


def test_home_volume_per_user():
    pod, spawner = render(FakeUser("Alice.Smith"), "small")
    spec = pod["spec"]
    (container,) = spec["containers"]
    claim = spawner.pvc_name
    # KubeSpawner's safe slug: readable part plus a hash of the exact name
    assert claim == "claim-alice-smith---2ece8250"
    home = [v for v in spec["volumes"] if v["name"] == "home"]
    assert home == [{"name": "home", "persistentVolumeClaim": {"claimName": claim}}]
    assert {"name": "home", "mountPath": HOME} in container["volumeMounts"]
    assert container["workingDir"] == HOME
    pvc = spawner.pvc_dict
    assert pvc["metadata"]["name"] == claim
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["storageClassName"] == "rwo-ssd"
    for name in ("alice-smith", "alice.smith", "Alice-Smith"):
        assert render(FakeUser(name), "small")[1].pvc_name != claim


def test_platform_endpoints_in_the_environment():
    pod, _ = render(FakeUser("alice"), "small")
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["EOPDE_ADES_URL"] == "https://eopde.example.org/ades/alice/ogc-api"
    assert env["EOPDE_CATALOGUE_URL"] == "https://eopde.example.org/stac"
    assert env["EOPDE_TILES_URL"] == "https://eopde.example.org/tiles"
    assert env["EOPDE_WORKSPACE_URL"] == "https://eopde.example.org/workspace"
    assert env["EOPDE_S3_ENDPOINT"] == env["AWS_ENDPOINT_URL_S3"] == "https://s3.eopde.example.org"
    assert env["EOPDE_PLATFORM"] == "k8s"
    assert env["JUPYTERHUB_USER"] == "alice"
    # no token frozen at spawn beyond the server's own hub token (eopde.auth asks the hub)
    assert not {"ID_TOKEN", "ACCESS_TOKEN", "AWS_SECRET_ACCESS_KEY"} & set(env)


def test_user_namespaces():
    pod, spawner = render(FakeUser("alice"), "small",
                          K8sSettings(user_namespace_template="eopde-{username}"))
    assert spawner.namespace == "eopde-alice"
    assert pod["metadata"]["name"] == "jupyter-alice"
