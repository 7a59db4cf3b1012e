"""The tutorial notebooks, executed with nbval against the test platform (as in a user's kernel:
the platform's endpoints and a token in the environment)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from workspace_helpers import drop_collections

pytestmark = pytest.mark.platform

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_runs_with_nbval(platform, notebook, tmp_path):
    # A copy, as users get in their home: the tutorials write build/ and runs/ beside them.
    import shutil

    work = tmp_path / "tutorials"
    shutil.copytree(NOTEBOOK_DIR, work)
    notebook = work / notebook.name
    env = dict(platform.env)
    env.update(json.loads((platform.home / "endpoints.json").read_text()))
    env["EOPDE_TOKEN"] = platform.eopde("token", "demo").stdout.strip()
    # What the hub puts in a user's server besides the endpoints: the user's own storage keys.
    keys = httpx.get(f"{env['EOPDE_WORKSPACE_URL']}/workspaces/ws-demo",
                     headers={"Authorization": f"Bearer {env['EOPDE_TOKEN']}"}).json()
    keys = keys["storage"]["credentials"]
    env.update(JUPYTERHUB_USER="demo", EOPDE_IMAGES_DIR=str(platform.home / "images"),
               AWS_ACCESS_KEY_ID=keys["access"], AWS_SECRET_ACCESS_KEY=keys["secret"],
               AWS_ENDPOINT_URL_S3=env["EOPDE_S3_ENDPOINT"], AWS_DEFAULT_REGION="us-east-1")
    catalogue = env["EOPDE_CATALOGUE_URL"]
    before = _collection_ids(catalogue)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
             "--nbval-cell-timeout=300", "--rootdir", str(tmp_path), str(notebook)],
            env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )
    finally:
        # What the tutorial published goes again: other tests list the whole catalogue.
        made = sorted(_collection_ids(catalogue) - before)
        drop_collections(catalogue, {env["EOPDE_TOKEN"]: made})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


def _collection_ids(catalogue: str) -> set[str]:
    listed = httpx.get(f"{catalogue}/collections", params={"limit": 1000}, timeout=60)
    listed.raise_for_status()
    return {c["id"] for c in listed.json()["collections"]}
