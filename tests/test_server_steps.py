"""The wizard's steps 5-6 handlers through a real Jupyter server (pytest-jupyter's `jp_fetch`)
and the real library: a local test run (cwltool and papermill for real) with its log read from
an offset, its result items, a cancel; the configured ADES endpoints (none, several) and an ADES
the configuration does not name refused. Steps 6-9 against the platform's ADES and workspace:
tests/test_server_platform_steps.py."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

import server_helpers

pytest_plugins = ["pytest_jupyter.jupyter_server"]


def _code(source: str, tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "outputs": [], "source": source,
            "metadata": {"tags": tags} if tags else {}}


# A small field-survey app as such notebooks are written: it waits (a stand-in for work), then
# writes one GeoJSON result as a STAC item with eopde.outputs.save.
APP = {
    "cells": [
        {"cell_type": "markdown", "metadata": {},
         "source": "# Plot survey\n\nSummarises a field plot survey into one GeoJSON file.\n"},
        _code("# Parameters\nwait_s: float = 0.0  # Seconds of work before the result\n"
              "plot: str = \"P-17\"  # Survey plot identifier\n", ["parameters"]),
        _code("import json, time\nfrom eopde.outputs import save\ntime.sleep(wait_s)\n"
              "feature = {'type': 'Feature', 'properties': {'plot': plot},\n"
              "           'geometry': {'type': 'Point', 'coordinates': [11.25, 46.07]}}\n"
              "with open('plot.geojson', 'w') as f:\n    json.dump(feature, f)\n"
              "save({'plot': 'plot.geojson'}, id=f'survey-{plot}', "
              "datetime='2025-05-14T09:30:00Z',\n     geometry=feature['geometry'], "
              "bbox=[11.25, 46.07, 11.25, 46.07])\n"),
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}
META = {"id": "plot-survey", "version": "0.3.0", "author": "Ada Lovelace <ada@example.org>",
        "license": "MIT"}


@pytest.fixture
def notebook(jp_root_dir: Path) -> str:
    (jp_root_dir / "survey").mkdir()
    (jp_root_dir / "survey" / "plots.ipynb").write_text(json.dumps(APP))
    return "survey/plots.ipynb"


async def call(jp_fetch, method: str, route: str, body=None) -> tuple[int, dict]:
    """`server_helpers.call` with the method first and the query in the route (the way of these
    tests and of test_server_platform_steps)."""
    route, _, query = route.partition("?")
    return await server_helpers.call(jp_fetch, route, method, body, **dict(parse_qsl(query)))


async def follow(jp_fetch, run_id: str, timeout: float = 180) -> tuple[dict, str, list[str]]:
    """Poll a run to its end as the front end does: messages and log from where the last
    answer ended; the last answer, the whole log and the messages."""
    log, messages, offset = "", [], 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, s = await call(jp_fetch, "GET",
                             f"runs/{run_id}?messages={len(messages)}&offset={offset}")
        assert code == 200, s
        assert s["offset"] >= offset and (s["offset"] > offset) == bool(s["log"])
        log, offset = log + s["log"], s["offset"]
        messages += s["messages"]
        if s["status"] != "running" and not s["log"]:
            return s, log, messages
        await asyncio.sleep(0.5)
    raise AssertionError(f"the run did not end within {timeout} s")


async def test_a_test_run_streams_its_log_and_lists_its_results(jp_fetch, notebook,
                                                                jp_root_dir):
    body = {"path": notebook, "metadata": META, "inputs": {"plot": "Q-3", "wait_s": "0"}}
    code, started = await call(jp_fetch, "POST", "runs", body)
    assert code == 200, started
    assert started["folder"].startswith("survey/eopde-runs/plots-")
    end, log, messages = await follow(jp_fetch, started["id"])
    assert end["status"] == "successful", (end, log[-2000:])
    assert messages[0] == "Generating the application package…"
    assert any(m.startswith("cwltool: running plot-survey") for m in messages)
    assert "Final process status is success" in log
    result = end["result"]
    assert [i["id"] for i in result["items"]] == ["survey-Q-3"]
    assert result["items"][0]["bbox"] == [11.25, 46.07, 11.25, 46.07]
    assert result["catalog"].startswith(started["folder"] + "/run/outputs/")
    assert (jp_root_dir / result["catalog"]).is_file()
    # the front end sees no server path
    assert str(jp_root_dir) not in json.dumps(end) + log + "".join(messages)


async def test_a_test_run_is_cancelled(jp_fetch, notebook):
    body = {"path": notebook, "metadata": META, "inputs": {"wait_s": 120}}
    code, started = await call(jp_fetch, "POST", "runs", body)
    assert code == 200, started
    run_id = started["id"]
    deadline = time.monotonic() + 120
    log, offset = "", 0
    while "Executing Cell 3" not in log and "Executing:" not in log:  # the sleeping cell
        assert time.monotonic() < deadline, log[-2000:]
        _, s = await call(jp_fetch, "GET", f"runs/{run_id}?offset={offset}")
        log, offset = log + s["log"], s["offset"]
        await asyncio.sleep(0.5)
    t0 = time.monotonic()
    code, answer = await call(jp_fetch, "DELETE", f"runs/{run_id}")
    assert (code, answer["status"]) == (200, "dismissed")
    end, _, messages = await follow(jp_fetch, run_id, timeout=30)
    assert end["status"] == "dismissed"
    assert messages[-1] == "Cancelled."
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("body, status, field", [
    ({"inputs": ["plot"]}, 400, "inputs"),
    ({"inputs": {"wait_s": "soon"}}, 200, None),  # refused by the run itself: below
    ({"metadata": {"id": "Plot Survey"}}, 200, None),
])
async def test_bad_run_requests(jp_fetch, notebook, body, status, field):
    code, answer = await call(jp_fetch, "POST", "runs", {"path": notebook, **body})
    assert code == status, answer
    if field:
        assert answer["field"] == field
        return
    end, _, _ = await follow(jp_fetch, answer["id"], timeout=60)
    assert end["status"] == "failed" and end["result"] is None
    if "inputs" in body:
        assert end["error"]["field"] == "inputs"
        assert "wait_s" in end["error"]["message"]
    else:
        assert end["error"]["field"] == "metadata.id"


async def test_unknown_runs_and_bad_offsets(jp_fetch):
    assert (await call(jp_fetch, "GET", "runs/0123abcd"))[0] == 404
    assert (await call(jp_fetch, "DELETE", "runs/0123abcd"))[0] == 404
    code, answer = await call(jp_fetch, "GET", "runs/0123abcd?offset=-5")
    assert (code, answer["field"]) == (400, "offset")


@pytest.fixture
def no_platform(monkeypatch, tmp_path):
    for var in ("EOPDE_ADES_URL", "EOPDE_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EOPDE_CONFIG", str(tmp_path / "platforms.toml"))
    monkeypatch.setenv("EOPDE_HOME", str(tmp_path / "state"))
    return tmp_path / "platforms.toml"


async def test_no_ades_configured(jp_fetch, no_platform):
    assert await call(jp_fetch, "GET", "ades") == (200, {"endpoints": [], "default": None})


async def test_several_ades_and_the_default_setting(jp_fetch, no_platform):
    no_platform.write_text(
        'default = "lab"\n'
        '[platforms.lab]\nades_url = "http://127.0.0.1:9/lab/ogc-api"\n'
        '[platforms.eoepca-demo]\ncatalogue_url = "https://stac.example.org"\n'
        'ades_url = "https://zoo.example.org/{user}/ogc-api"\n'
        '[platforms.catalogue-only]\ncatalogue_url = "https://stac.example.org"\n')
    code, answer = await call(jp_fetch, "GET", "ades")
    assert code == 200
    assert answer == {"default": "lab", "endpoints": [
        {"name": "lab", "url": "http://127.0.0.1:9/lab/ogc-api"},
        {"name": "eoepca-demo", "url": "https://zoo.example.org/{user}/ogc-api"}]}
    _, answer = await call(jp_fetch, "GET", "ades?default=eoepca-demo")
    assert answer["default"] == "eoepca-demo"
    _, answer = await call(jp_fetch, "GET", "ades?default=https://zoo.example.org/{user}/ogc-api")
    assert answer["default"] == "eoepca-demo"


@pytest.mark.parametrize("route", ["process", "execute", "job", "dismiss", "results", "publish"])
async def test_an_ades_the_configuration_does_not_name_is_refused(jp_fetch, no_platform, route):
    """A URL in place of a name is never contacted (the user's token would go to it)."""
    code, answer = await call(jp_fetch, "POST", route,
                              {"ades": "http://127.0.0.1:9/ogc-api", "process": "p", "job": "j"})
    assert (code, answer["field"]) == (400, "ades")
    assert answer["message"].startswith("no ADES named `http://127.0.0.1:9/ogc-api`")


async def test_an_unreachable_ades_is_a_502_saying_which(jp_fetch, no_platform):
    no_platform.write_text('[platforms.lab]\nades_url = "http://127.0.0.1:9/ogc-api"\n')
    code, answer = await call(jp_fetch, "POST", "job", {"ades": "lab", "job": "j1"})
    assert (code, answer["field"]) == (502, "ades")
    assert answer["message"].startswith("cannot reach the ADES `lab`")
