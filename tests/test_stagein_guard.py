"""Stage-in under a URL policy (what the ADES passes for a user) and the local rule of
`eopde run` (an item fetched from a URL cannot make its assets local files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stacserver import serve_demo_items

from eopde.apppkg.stagein import StageInError, stage_items
from eopde.urlguard import UrlPolicy


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serve_demo_items(tmp_path_factory.mktemp("stac")) as served:
        yield served


def hostile(served, name: str, href: str) -> str:
    """An item of the served catalogue whose one asset points at ``href``."""
    item = json.loads(json.dumps(served["items"][0]))
    item["id"] = f"hostile-{name}"
    item["assets"] = {"data": {"href": href, "type": "image/tiff"}}
    (served["root"] / "items" / f"{item['id']}.json").write_text(json.dumps(item))
    return f"{served['base']}/items/{item['id']}.json"


def test_platform_origin_is_staged_under_the_policy(served, tmp_path):
    policy = UrlPolicy.of([served["base"]], bucket="user-mallory")
    [cat] = stage_items(served["urls"][:1], tmp_path / "in", assets=["B04"], policy=policy)
    assert [i.assets["B04"].is_file() for i in cat.items] == [True]


@pytest.mark.parametrize("href, rule", [
    ("file:///etc/passwd", "scheme file:"),
    ("file://localhost/etc/passwd", "scheme file:"),
    ("http://127.0.0.1:9/", "not public"),
    ("http://[::1]:9/", "not public"),
    ("https://169.254.169.254/latest/meta-data/", "not public"),
    ("s3://user-alice/processing-results/x/catalog.json", "own bucket"),
    ("ftp://example.org/x.tif", "scheme ftp:"),
])
def test_hostile_asset_hrefs_are_refused(served, tmp_path, href, rule):
    # (paths such as /etc/passwd are made absolute against the item's URL: same server)
    policy = UrlPolicy.of([served["base"]], bucket="user-mallory")
    url = hostile(served, str(abs(hash(href))), href)
    with pytest.raises(StageInError) as err:
        stage_items([url], tmp_path / "in", policy=policy)
    assert "refused" in str(err.value) and rule in str(err.value)
    assert "root:" not in str(err.value)
    assert not [p for p in (tmp_path / "in").rglob("*") if p.is_file()]


@pytest.mark.parametrize("ref", ["file:///etc/passwd", "/etc/passwd", "http://127.0.0.1:9/x",
                                 "s3://user-alice/item.json"])
def test_hostile_item_urls_are_refused_before_any_fetch(ref, tmp_path):
    with pytest.raises(StageInError, match="refused"):
        stage_items([ref], tmp_path / "in", policy=UrlPolicy.of([], bucket="user-mallory"))


def test_without_policy_a_remote_item_cannot_name_local_files(served, tmp_path):
    url = hostile(served, "local", "file:///etc/passwd")
    with pytest.raises(StageInError, match="local file named by an item fetched from"):
        stage_items([url], tmp_path / "in")
    assert not (tmp_path / "in" / "hostile-local" / "passwd").exists()


def test_without_policy_a_local_item_keeps_its_local_assets(served, tmp_path):
    """`eopde run` with the user's own files works as before."""
    tif = next(Path(served["root"]).rglob("*B04*.tif"))
    item = json.loads(json.dumps(served["items"][0]))
    item["assets"] = {"B04": {"href": str(tif), "type": "image/tiff"}}
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    [cat] = stage_items([str(path)], tmp_path / "in")
    assert cat.items[0].assets["B04"].read_bytes() == tif.read_bytes()
