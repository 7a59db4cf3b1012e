"""Downloading a job's results: names from a (possibly hostile) catalog stay inside the folder."""

from __future__ import annotations

import pytest

from eopde.ades.results import _fetch_to, _safe_name


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "_.._etc_passwd"),
    ("..", "asset"),
    ("ndvi.tif", "ndvi.tif"),
    ("a b/c", "a_b_c"),
])
def test_safe_names(name, expected):
    assert _safe_name(name) == expected
    assert "/" not in _safe_name(name)


def test_local_files_are_not_downloaded(tmp_path):
    with pytest.raises(ValueError, match="only s3:// and http"):
        _fetch_to("file:///etc/passwd", tmp_path / "x", io=None)
    assert not (tmp_path / "x").exists()


def test_unique_names_never_overwrite():
    from eopde.ades.results import _unique

    taken: set[str] = set()
    assert [_unique("data.tif", taken, prefix=k) for k in ("B04", "B08", "B08")] == \
        ["data.tif", "B08-data.tif", "2-data.tif"]
