"""Fixtures and helpers shared by the catalogue tests that run against the local platform's
STAC API (test_catalogue_stac, test_catalogue_federated). Import the fixtures by name into a
test module to use them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from eopde.services import demodata
from eopde.services.platform import Platform


@pytest.fixture(scope="module")
def url(platform) -> str:
    return platform.url("catalogue")


@pytest.fixture(scope="module")
def demo(platform) -> list[dict]:
    return demodata.items(platform.home / "data", platform.url("data"))


@pytest.fixture(scope="module")
def dsn(platform) -> str:
    return Platform(platform.settings()).part("postgres").dsn()


def when(item: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(item["properties"]["datetime"])


def newest_first(items: list[dict]) -> list[str]:
    return [i["id"] for i in sorted(items, key=when, reverse=True)]


@contextmanager
def pgstac_context(dsn: str) -> Iterator[None]:
    """pgstac's context extension on (the API then counts matches), off again afterwards."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE pgstac.pgstac_settings SET value = 'on' WHERE name = 'context'")
    try:
        yield
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("UPDATE pgstac.pgstac_settings SET value = 'off' WHERE name = 'context'")
