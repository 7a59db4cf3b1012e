"""Federated search: several catalogues at once, merged, tagged, and robust to one failing.

The platform tests search the local catalogue twice under two names plus an unreachable URL;
the others use small in-memory backends (anything with name, url and search_items)."""

from __future__ import annotations

import datetime as dt
import time
import warnings

import pystac
import pytest

from eopde.catalogue import (
    Catalogue,
    CatalogueBackend,
    CatalogueError,
    CatalogueUnreachableError,
    CatalogueWarning,
    SearchParams,
    UnknownCollectionError,
    search,
)
from eopde.catalogue.federated import federated_search, merge_sorted

from catalogue_helpers import demo, dsn, newest_first, pgstac_context, url  # noqa: F401

DEAD = "http://127.0.0.1:1"


class ListBackend:
    """A catalogue backend over a list of items (stands for a CSW/OpenSearch backend)."""

    def __init__(self, name: str, items: list[pystac.Item], *, delay: float = 0.0,
                 error: Exception | None = None):
        self.name = name
        self.url = f"memory://{name}"
        self.items = items
        self.delay = delay
        self.error = error
        self.calls: list[SearchParams] = []

    def search_items(self, params: SearchParams):
        self.calls.append(params)
        time.sleep(self.delay)
        if self.error:
            raise self.error
        return iter([i.clone() for i in self.items][: params.max_items])


def _item(name: str, day: int, cover: float | None = None) -> pystac.Item:
    props = {} if cover is None else {"eo:cloud_cover": cover}
    return pystac.Item(name, {"type": "Point", "coordinates": [12.0, 43.0]}, [12, 43, 12, 43],
                       dt.datetime(2025, 7, day, tzinfo=dt.UTC), props)


# --------------------------------------------------------------------------- without a platform


def test_list_backend_is_a_catalogue_backend():
    assert isinstance(ListBackend("x", []), CatalogueBackend)


def test_merge_newest_first_tag_and_cut():
    a = ListBackend("a", [_item("a1", 3), _item("a2", 1)])
    b = ListBackend("b", [_item("b1", 4), _item("b2", 2)])
    found = search(url=[a, b], max_items=3)
    assert [i.id for i in found] == ["b1", "a1", "b2"]
    assert [i.properties["eopde:catalogue"] for i in found] == ["b", "a", "b"]
    via = [link for link in found[0].links if link.rel == "via"]
    assert [link.href for link in via] == ["memory://b"]
    assert found.federated and found.catalogues == ["a", "b"] and found.failures == {}


def test_sortby_merges_across_catalogues_missing_values_last():
    a = ListBackend("a", [_item("a1", 1, 30.0), _item("a2", 2)])
    b = ListBackend("b", [_item("b1", 3, 5.0), _item("b2", 4, 50.0)])
    found = search(url={"first": a, "second": b}, sortby="eo:cloud_cover")
    assert [i.id for i in found] == ["b1", "a1", "b2", "a2"]
    assert found[0].properties["eopde:catalogue"] == "second"  # named by the mapping
    desc = merge_sorted(list(found), ["-properties.eo:cloud_cover"])
    assert [i.id for i in desc] == ["b2", "a1", "b1", "a2"]


def test_cloud_cover_checked_for_backends_that_ignore_it():
    a = ListBackend("a", [_item("clear", 1, 3.0), _item("cloudy", 2, 80.0), _item("unknown", 3)])
    found = search(url=[a], cloud_cover=20)
    assert [i.id for i in found] == ["clear"]
    assert a.calls[0].cloud_cover == (None, 20.0)  # the backend was told, too


def test_a_single_backend_without_federation():
    a = ListBackend("a", [_item("clear", 1, 3.0), _item("cloudy", 2, 80.0)])
    found = search(url=a, cloud_cover=20)
    assert [i.id for i in found] == ["clear"] and not found.federated
    assert "eopde:catalogue" not in found[0].properties


def test_catalogues_run_concurrently():
    slow = [ListBackend(f"s{n}", [_item(f"i{n}", n + 1)], delay=0.6) for n in range(4)]
    start = time.perf_counter()
    found = search(url=slow)
    elapsed = time.perf_counter() - start
    assert len(found) == 4
    assert elapsed < 1.5, f"4 x 0.6 s took {elapsed:.2f} s: not concurrent"


def test_one_failing_backend_is_a_warning():
    good = ListBackend("good", [_item("g1", 1)])
    broken = ListBackend("broken", [], error=OSError("disk on fire"))
    with pytest.warns(CatalogueWarning, match=r"catalogue 'broken' \(memory://broken\) failed: "
                                              r"disk on fire"):
        found = search(url=[good, broken])
    assert [i.id for i in found] == ["g1"]
    assert found.failures == {"broken": "disk on fire"}
    assert "no answer from broken" in found._repr_html_()


def test_all_failing_the_same_way_raises_that_error():
    one = ListBackend("one", [], error=UnknownCollectionError("no such collection here"))
    two = ListBackend("two", [], error=UnknownCollectionError("nor here"))
    with pytest.raises(UnknownCollectionError, match=r"(?s)every catalogue failed.*one.*two"):
        search(url=[one, two])
    mixed = ListBackend("three", [], error=CatalogueError("something else"))
    with pytest.raises(CatalogueError, match=r"every catalogue failed"):
        search(url=[one, mixed])


def test_duplicate_names_are_made_distinct():
    a1 = ListBackend("same", [_item("x", 1)])
    a2 = ListBackend("same", [_item("y", 2)])
    found = search(url=[a1, a2])
    assert sorted(i.properties["eopde:catalogue"] for i in found) == ["same", "same (2)"]


def test_empty_list_is_refused():
    with pytest.raises(CatalogueError, match=r"url=\[\] names no catalogue"):
        federated_search([], SearchParams())


# --------------------------------------------------------------------------- the real catalogue


@pytest.mark.platform
def test_local_catalogue_twice_and_one_unreachable(url, demo):
    catalogues = [Catalogue(url, name="local-a"), Catalogue(url, name="local-b"), DEAD]
    with pytest.warns(CatalogueWarning) as caught:
        found = search(url=catalogues, cloud_cover=20)
    messages = [str(w.message) for w in caught if issubclass(w.category, CatalogueWarning)]
    assert len(messages) == 1 and DEAD in messages[0] and "Connection refused" in messages[0]
    assert "other catalogues' results are returned" in messages[0]
    expected = [i for i in newest_first(demo)
                if next(d for d in demo if d["id"] == i)["properties"]["eo:cloud_cover"] <= 20]
    assert 0 < len(expected) < len(demo)
    by_name = {name: [i.id for i in found if i.properties["eopde:catalogue"] == name]
               for name in ("local-a", "local-b")}
    assert by_name == {"local-a": expected, "local-b": expected}
    # merged newest first: each datetime twice in a row
    dates = [i.datetime for i in found]
    assert dates == sorted(dates, reverse=True) and len(found) == 2 * len(expected)
    assert all(link.href == url for i in found for link in i.links if link.rel == "via")
    assert found.catalogues == ["local-a", "local-b"]
    assert list(found.failures) == ["127.0.0.1:1"]
    page = found._repr_html_()
    assert "<th>catalogue</th>" in page and page.count("<td>local-b</td>") == len(expected)
    assert "no answer from 127.0.0.1:1" in page


@pytest.mark.platform
def test_federated_urls_by_name_with_max_items_and_sortby(url, demo):
    found = search(url={"one": url, "two": url + "/"}, max_items=3, sortby="-eo:cloud_cover")
    covers = [i.properties["eo:cloud_cover"] for i in found]
    top = sorted((d["properties"]["eo:cloud_cover"] for d in demo), reverse=True)
    assert covers == [top[0], top[0], top[1]]
    assert {i.properties["eopde:catalogue"] for i in found} == {"one", "two"}


@pytest.mark.platform
def test_federated_matched_sums_the_counts(url, demo, dsn):
    with pgstac_context(dsn):
        found = search(url={"a": url, "b": url}, datetime="2025-06-01/..")
        expected = sum(1 for d in demo if d["properties"]["datetime"] >= "2025-06-01")
        assert 0 < expected < len(demo)
        assert found.matched() == 2 * expected


@pytest.mark.platform
def test_unknown_collection_in_one_catalogue_is_a_warning(url, demo):
    other = ListBackend("memory", [_item("m1", 1)])
    with pytest.warns(CatalogueWarning, match=r"'nope' is not in catalogue"):
        found = search(url=[url, other], collections=["nope"])
    assert [i.id for i in found] == ["m1"]


def test_all_unreachable_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("error", CatalogueWarning)  # no warnings: an error instead
        with pytest.raises(CatalogueUnreachableError,
                           match=r"(?s)none of the catalogues answered.*127\.0\.0\.1:1.*"
                                 r"127\.0\.0\.1:2"):
            search(url=[DEAD, "http://127.0.0.1:2/stac"], bbox=(0, 0, 1, 1))
