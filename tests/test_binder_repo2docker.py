"""binder/ as Binder reads it: repo2docker's own Dockerfile for the folder (--no-build: no
Docker needed), checked for what the launch depends on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dockerfile(tmp_path_factory) -> str:
    repo = tmp_path_factory.mktemp("r2d") / "repo"
    repo.mkdir()
    shutil.copytree(REPO / "binder", repo / "binder")
    done = subprocess.run([str(Path(sys.executable).parent / "jupyter-repo2docker"),
                           "--no-build", "--no-run", "--debug", str(repo)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_the_environment_is_python_3_11_with_node_20(dockerfile):
    assert "Building conda environment for python=3.11" in dockerfile
    lock = re.search(r"COPY \S+ (\S*environment-2epy-2d3-2e11-2dlinux-2d64-2elock)", dockerfile)
    assert lock, "no Python 3.11 lock file in the Dockerfile"
    import repo2docker

    lock_file = Path(repo2docker.__file__).parent / "buildpacks" / "conda" / \
        "environment.py-3.11-linux-64.lock"
    # code-server 4.100 (eopde.proxy) needs Node 20; Ubuntu 24.04's own nodejs is 18.
    assert re.search(r"/nodejs-20\.", lock_file.read_text())


def test_apt_packages_are_installed_as_listed(dockerfile):
    wanted = [line.strip() for line in (REPO / "binder" / "apt.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    line = re.search(r"apt-get install --yes --no-install-recommends ([^&]+)&&", dockerfile)
    assert line, dockerfile[-2000:]
    assert sorted(line[1].split()) == sorted(wanted)
    assert {"postgresql", "postgresql-postgis"} <= set(wanted)


def test_requirements_install_after_the_repository_is_copied(dockerfile):
    # requirements.txt says `-e .`: the repository must be there when pip runs.
    copy = dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    pip = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert copy < pip
    assert (REPO / "binder" / "requirements.txt").read_text().splitlines()[-1] == "-e .[platform]"


def test_post_build_runs_and_start_is_the_entrypoint(dockerfile):
    assert "RUN ./binder/postBuild" in dockerfile
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile


DOCUMENTS = [REPO / "README.md", REPO / "SECURITY.md", *sorted((REPO / "docs").glob("*.md")),
             REPO / "binder" / "README.md"]


def test_the_readme_badge_is_made_from_the_one_repository_setting(tmp_path):
    from eopde import binder

    url = binder.repository_url()
    assert url == "https://github.com/eopde/eopde"  # the placeholder (README says so)
    line = binder.badge(url)
    assert line in (REPO / "README.md").read_text().splitlines()
    # Publishing elsewhere: one setting changed, one command, the README follows.
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n[project.urls]\n'
                         'Repository = "https://github.com/someone/eo-pde.git"\n')
    readme = tmp_path / "README.md"
    readme.write_text((REPO / "README.md").read_text())
    assert binder.write_badge(readme, binder.badge(binder.repository_url(pyproject)))
    assert "mybinder.org/v2/gh/someone/eo-pde/HEAD?urlpath=lab/tree/notebooks/01-" in \
        readme.read_text()
    assert "eopde/eopde" not in readme.read_text()
    with pytest.raises(ValueError, match="GitHub repository URL"):
        binder.badge("https://gitlab.com/someone/eo-pde")


def test_the_badge_is_the_only_link_out_of_the_repository():
    """The guide: README and docs link nothing outside the repository. The one exception is
    the Binder badge's launch link (a launch cannot be linked any other way); its image is
    the repository's own (binder/badge.svg), so reading the README fetches nothing outside."""
    outside = {}
    for document in DOCUMENTS:
        found = re.findall(r"\]\((\w+://[^)\s]+)|<(\w+://[^>\s]+)>|(?:src|href)=\"(\w+://[^\"]+)",
                           document.read_text())
        links = [next(g for g in groups if g) for groups in found]
        if links:
            outside[document.name] = links
    from eopde import binder

    launch = re.search(r"\]\((https://mybinder\.org/[^)]+)\)$",
                       binder.badge(binder.repository_url()))[1]
    assert outside == {"README.md": [launch]}
    assert (REPO / "binder" / "badge.svg").read_text().startswith("<svg")
