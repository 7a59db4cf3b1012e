"""hub_config/k8s/values.yaml: valid for Zero to JupyterHub, and the pods it gives.

- Schema: the values are merged over the chart's defaults as helm does, then validated against
  z2jh's own values schema (tests/data/z2jh: the chart's files at a recorded commit; helm itself
  cannot be installed by CI from a registry this project uses, see docs/architecture.md).
- The hub.extraConfig snippet runs as z2jh runs it (``c`` and the ``z2jh.get_config`` it offers,
  here reading this file), and KubeSpawner renders the pods from the config it made.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import types
from pathlib import Path

import jsonschema
import kubespawner
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient
from traitlets.config import Config

from eopde.hub.k8s import DEFAULT_PROFILES, K8sSettings
from test_k8s_spawner import FakeUser, kubeconfig  # noqa: F401  (autouse fixture)

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "hub_config" / "k8s" / "values.yaml"
Z2JH = Path(__file__).parent / "data" / "z2jh"


def load_values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def coalesce(defaults: dict, values: dict) -> dict:
    """Helm's merge of user values over a chart's defaults: maps merge, null deletes a key."""
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def schema_errors(values: dict) -> list[str]:
    schema = json.loads((Z2JH / "values.schema.json").read_text())
    merged = coalesce(yaml.safe_load((Z2JH / "values.yaml").read_text()), values)
    validator = jsonschema.Draft7Validator(schema)
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(merged))


def test_values_pass_z2jh_schema():
    assert schema_errors(load_values()) == []


@pytest.mark.parametrize("path, value", [
    ("singleuser.cloudMetadata.blockWithIptables", "no"),
    ("singleuser.storage.type", "hostPath"),
    ("hub.notAnOption", 1),
    ("cull.timeout", "an hour"),
])
def test_the_schema_check_can_fail(path, value):
    values = load_values()
    node = values
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    assert len(schema_errors(values)) >= 1  # z2jh may report one problem in several ways


def z2jh_config() -> tuple[Config, dict]:
    """Run hub.extraConfig as z2jh's jupyterhub_config.py does: exec with ``c`` in scope and a
    ``z2jh`` module whose get_config reads the values."""
    values = load_values()

    def get_config(key, default=None):
        node = values
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    c = Config()
    module = types.ModuleType("z2jh")
    module.get_config = get_config  # type: ignore[attr-defined]
    saved = sys.modules.get("z2jh")
    sys.modules["z2jh"] = module
    try:
        for _, snippet in sorted(values["hub"]["extraConfig"].items()):
            exec(compile(snippet, "hub.extraConfig", "exec"), {"c": c})
    finally:
        if saved is None:
            del sys.modules["z2jh"]
        else:
            sys.modules["z2jh"] = saved
    return c, values


def test_extra_config_sets_kubespawner_from_custom_values():
    c, values = z2jh_config()
    custom = values["custom"]["eopde"]
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert c.KubeSpawner.image == custom["image"]
    assert c.KubeSpawner.user_namespace_template == "eopde-{username}"

    async def go():
        spawner = kubespawner.KubeSpawner(_mock=True, config=c,
                                          user=FakeUser("alice", ("eo-large",)))
        spawner.user_options = {"profile": "large"}
        await spawner.load_user_options()
        async with ApiClient() as api:
            return api.sanitize_for_serialization(await spawner.get_pod_manifest()), spawner

    pod, spawner = asyncio.run(go())
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["EOPDE_ADES_URL"] == "https://eopde.example.org/ades/alice/ogc-api"
    assert env["EOPDE_CATALOGUE_URL"] == custom["catalogue_url"]
    assert spawner.namespace == "eopde-alice"
    assert pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] == 4.0


def test_z2jh_sections_agree_with_eopde_settings():
    """singleuser.* feeds z2jh's own parts (image pre-puller, defaults): same as custom.eopde."""
    values = load_values()
    single, settings = values["singleuser"], K8sSettings.from_values(values["custom"]["eopde"])
    assert f"{single['image']['name']}:{single['image']['tag']}" == settings.image
    assert single["storage"]["capacity"] == settings.home_size
    assert single["storage"]["homeMountPath"] == "/home/jovyan"
    assert (single["uid"], single["fsGid"]) == (1000, 100)
    small = next(p for p in DEFAULT_PROFILES if p.default)
    assert (single["cpu"]["guarantee"], single["cpu"]["limit"]) == (small.cpu_guarantee,
                                                                    small.cpu_limit)
    assert (single["memory"]["guarantee"], single["memory"]["limit"]) == (small.mem_guarantee,
                                                                          small.mem_limit)


def test_no_privileged_parts_and_no_secrets_in_values():
    values = load_values()
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    assert values["singleuser"]["allowPrivilegeEscalation"] is False
    assert values["hub"]["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 3600
    assert "client_secret" not in values["hub"]["config"]["GenericOAuthenticator"]
    assert "CryptKeeper" not in values["hub"]["config"]  # z2jh generates and keeps the key

    def walk(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{path}.{k}")
        else:
            yield path, node

    # a key naming a secret holds only a reference to a Secret (token_url is an address)
    for path, value in walk(values):
        last = path.rsplit(".", 1)[-1].lower()
        if any(w in last for w in ("secret", "password", "token", "key")) and last != "token_url":
            assert path.endswith(("secretKeyRef.name", "secretKeyRef.key", "tls.secretName",
                                  "auth_state_groups_key")), path


def test_from_values_refuses_unknown_keys():
    with pytest.raises(ValueError) as err:
        K8sSettings.from_values({"imag": "x"})
    assert "unknown keys ['imag']" in str(err.value)
    custom = K8sSettings.from_values({"profiles": [
        {"slug": "tiny", "display_name": "Tiny", "description": "", "cpu_guarantee": 0.1,
         "cpu_limit": 0.5, "mem_guarantee": "512M", "mem_limit": "1G", "groups": ["a"]}]})
    assert custom.profiles[0].groups == ("a",)


def test_servers_may_read_their_users_fresh_token():
    """eopde.auth asks the hub for the current access token with the server's own token: the
    server role gets admin:auth_state!user, and keeps JupyterHub's default scopes."""
    roles = load_values()["hub"]["loadRoles"]
    assert roles == {"server": {"scopes": ["users:activity!user", "access:servers!server",
                                           "admin:auth_state!user"]}}
    config = load_values()["hub"]["config"]
    assert config["Authenticator"]["enable_auth_state"] is True
    assert config["Authenticator"]["refresh_pre_spawn"] is True
