"""Fixtures of the attack tests: the real local platform (the session's `platform` fixture of
tests/conftest.py) with two ordinary users, `alice` (the victim) and `mallory` (the attacker),
and anonymous access through the hub's public port.

Every test here reproduces an attack from the security issue against the running platform and
asserts the platform refuses it. Mark modules with ``pytestmark = pytest.mark.platform``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest


@dataclass
class User:
    """An ordinary user of the platform: a hub account with an API token."""

    name: str
    token: str
    platform: object = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ades(self, path: str = "") -> str:
        """URL of this user's ADES prefix (direct, loopback) plus `path`."""
        return f"{self.platform.url('ades')}/{self.name}/ogc-api{path}"

    def client(self, **kwargs) -> httpx.Client:
        """An httpx client sending this user's token."""
        return httpx.Client(headers=self.headers, timeout=kwargs.pop("timeout", 30), **kwargs)


def platform_user(platform, name: str) -> User:
    """The platform's user `name` (a hub account made on first use) with an API token."""
    token = platform.eopde("token", name).stdout.strip()
    assert token, f"no token for {name}"
    return User(name=name, token=token, platform=platform)


@pytest.fixture(scope="session")
def alice(platform) -> User:
    """The victim: owns processes, jobs, records and a bucket."""
    return platform_user(platform, "alice")


@pytest.fixture(scope="session")
def mallory(platform) -> User:
    """The attacker: an ordinary user with a valid token, nothing more."""
    return platform_user(platform, "mallory")


@pytest.fixture(scope="session")
def anonymous(platform) -> httpx.Client:
    """No login at all, through the hub's public port (what anyone who reaches the hub has)."""
    with httpx.Client(base_url=platform.hub_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def canary(platform):
    """A secret the attacks must never reveal: the platform's service token."""
    return platform.secrets["service_token"]
