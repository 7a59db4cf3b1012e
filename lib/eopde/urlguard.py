"""Which URLs a platform service may fetch because a user named them (SSRF guard).

A service that fetches what a user points at (the ADES's stage-in, deploy by href) must not become
the user's reader of the machine's files or scanner of its private ports. :class:`UrlPolicy`
decides, per URL:

- ``http(s)://``: allowed when its origin (scheme, host, port) is one of the platform's own
  origins (``origins``: the data server and the catalogue), else only when *every* address the
  host resolves to is a public one: loopback, private, link-local, multicast, reserved,
  unspecified and shared addresses are refused, also in IPv4-mapped, 6to4, Teredo and NAT64
  forms;
- ``s3://bucket/key``: only for the caller's own ``bucket`` (no ``.`` / ``..`` key segments);
- anything else (``file:``, ``ftp:``, ``data:``, GDAL's ``/vsi*``, paths): refused.

:func:`check_url` is pure except for name resolution (``resolve`` is a parameter). The HTTP side:
:func:`guarded_client` makes an httpx client whose connections go only to addresses checked at
connect time (so a name that re-resolves to a private address, DNS rebinding, is caught), and
:func:`open_guarded` follows redirects by hand, checking each location.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

Resolver = Callable[[str, int], list[str]]
T = TypeVar("T")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_REDIRECTS = 5
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(ValueError):
    """A URL the policy refuses; ``rule`` says which rule (never what is behind the URL)."""

    def __init__(self, url: str, rule: str):
        self.url, self.rule = url, rule
        super().__init__(f"{_shown(url)} is refused: {rule}")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str


def resolve_all(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _shown(url: str, limit: int = 200) -> str:
    """A URL for a message: without user:password, cut to ``limit`` characters."""
    try:
        parts = urlsplit(url)
        if parts.username or parts.password:
            url = parts._replace(netloc=parts.hostname or "").geturl()
    except ValueError:
        pass
    return url if len(url) <= limit else url[:limit] + "..."


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of an http(s) URL (lower case, default port explicit), or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS[scheme]}"


def address_problem(address: str | Address) -> str | None:
    """Why ``address`` is not a public one (None: it is)."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip.teredo:
            embedded = ip.teredo[1]
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_problem(embedded)
            return f"{inner} (as IPv6 {ip})" if inner else None
        if ip.scope_id:
            return f"{ip} is a scoped (link-local) address"
    for attr, what in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return f"{ip} is a {what} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


@dataclass(frozen=True)
class UrlPolicy:
    """What a service may fetch for one caller. ``origins``: the platform's own http(s) origins
    (allowed whatever their address); ``bucket``: the caller's S3 bucket (None: no s3://)."""

    origins: frozenset[str] = frozenset()
    bucket: str | None = None
    resolve: Resolver = field(default=resolve_all, compare=False, repr=False)

    @classmethod
    def of(cls, origins: Iterable[str] = (), bucket: str | None = None,
           resolve: Resolver | None = None) -> UrlPolicy:
        """A policy from base URLs (``http://127.0.0.1:8716/``...): only their origins count."""
        found = {origin_of(u) for u in origins if u}
        return cls(origins=frozenset(o for o in found if o), bucket=bucket,
                   resolve=resolve or resolve_all)

    def verdict(self, url: str) -> Verdict:
        try:
            self.check(url)
        except UrlRefused as err:
            return Verdict(False, err.rule)
        return Verdict(True, "allowed")

    def check(self, url: str, *, unresolved_ok: bool = False) -> None:
        """Raise :class:`UrlRefused` unless ``url`` may be fetched (resolves the host).
        ``unresolved_ok``: a host that does not resolve passes (a check ahead of the fetch,
        which checks again when it connects)."""
        if not isinstance(url, str) or not url.strip():
            raise UrlRefused(str(url), "an empty URL")
        if any(ord(c) < 32 for c in url):
            raise UrlRefused(url, "control characters in a URL")
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            raise UrlRefused(url, "not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme == "s3":
            return self._check_s3(url, parts)
        if scheme not in DEFAULT_PORTS:
            what = f"the scheme {scheme}:" if scheme else "a local path"
            raise UrlRefused(url, f"{what} is not fetched for users; give an http(s) URL or an "
                                  "s3:// URL of your own bucket")
        origin = origin_of(url)
        if origin is None:
            raise UrlRefused(url, "an http(s) URL without a valid host or port")
        if origin in self.origins:
            return
        self.check_host(parts.hostname or "", urlsplit(origin).port or 0, url, known_ok=False,
                        unresolved_ok=unresolved_ok)

    def check_host(self, host: str, port: int, url: str | None = None, *,
                   known_ok: bool = True, unresolved_ok: bool = False) -> list[str]:
        """The addresses of ``host`` if all are public, else raise (at connect time, with
        ``known_ok``, an allowed origin's host and port give [])."""
        shown = url or f"{host}:{port}"
        if known_ok and self.allows_peer(host, port):
            return []
        try:
            addresses = self.resolve(host, port)
        except (OSError, UnicodeError):
            if unresolved_ok:
                return []
            raise UrlRefused(shown, f"the host {host!r} does not resolve") from None
        if not addresses and unresolved_ok:
            return []
        if not addresses:
            raise UrlRefused(shown, f"the host {host!r} does not resolve")
        for address in addresses:
            problem = address_problem(address.split("%", 1)[0])
            if problem:
                raise UrlRefused(shown, f"the host {host!r} is not public ({problem}); only "
                                        "public hosts and the platform's own data server and "
                                        "catalogue are fetched")
        return addresses

    def allows_peer(self, host: str, port: int) -> bool:
        """Whether host:port is one of the allowed origins (either scheme)."""
        host = host.lower().strip("[]")
        for origin in self.origins:
            parts = urlsplit(origin)
            if (parts.hostname or "").lower() == host and parts.port == port:
                return True
        return False

    def _check_s3(self, url: str, parts: Any) -> None:
        bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
        if not self.bucket:
            raise UrlRefused(url, "s3:// URLs are not fetched here")
        if bucket != self.bucket:
            raise UrlRefused(url, f"s3:// URLs are read only from your own bucket "
                                  f"{self.bucket!r}")
        segments = key.split("/")
        if not key or "\\" in key or any(s in (".", "..") for s in segments):
            raise UrlRefused(url, "an s3:// key that is empty or holds '.' or '..' segments")


def connect_checked(policy: UrlPolicy, host: str, port: int,
                    errors: type[Exception] | tuple[type[Exception], ...],
                    connect: Callable[[str], T]) -> T:
    """``connect(address)`` to each address of ``host`` that ``policy`` checked (all of them
    public, else :class:`UrlRefused`; an allowed origin's ``host`` itself), in the resolver's
    order, until one connects; the last one's error (of ``errors``) when none does. The
    addresses checked are the ones connected to (DNS rebinding is caught)."""
    *others, final = policy.check_host(host, port) or [host]
    for address in others:
        try:
            return connect(address)
        except errors:
            pass  # the next address
    return connect(final)


# ---------------------------------------------------------------------------------- HTTP side

def _guarded_backend(policy: UrlPolicy):
    import httpcore

    class GuardedBackend(httpcore.SyncBackend):
        """Connects only to addresses the policy accepts, resolved and checked here, so the
        address checked is the address connected to."""

        def connect_tcp(self, host, port, timeout=None, local_address=None,
                        socket_options=None):
            connect = super().connect_tcp
            return connect_checked(policy, host, port, httpcore.ConnectError,
                                   lambda address: connect(address, port, timeout,
                                                           local_address, socket_options))

    return GuardedBackend()


def guarded_client(policy: UrlPolicy, *, timeout: float = 60.0,
                   headers: dict[str, str] | None = None):
    """An httpx client that connects only where ``policy`` allows (checked at connect time, no
    proxies from the environment, redirects not followed: use :func:`open_guarded`)."""
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no parameter for httpcore's network backend (the documented hook of httpcore's
    # pool): give the transport a pool that uses ours (tests/test_urlguard.py checks it).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=10,
        max_keepalive_connections=5, network_backend=_guarded_backend(policy))
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                        timeout=httpx.Timeout(timeout, connect=10.0), headers=headers or {})


@contextmanager
def open_guarded(client, url: str, policy: UrlPolicy, *, headers: dict[str, str] | None = None,
                 max_redirects: int = MAX_REDIRECTS) -> Iterator[Any]:
    """Stream a GET of ``url`` with ``client`` (from :func:`guarded_client`), following up to
    ``max_redirects`` redirects, each location checked by ``policy``. Yields the final
    ``httpx.Response`` (not yet read). Raises :class:`UrlRefused`."""
    import httpx

    current = url
    for _ in range(max_redirects + 1):
        policy.check(current)
        if urlsplit(current).scheme.lower() not in DEFAULT_PORTS:
            raise UrlRefused(current, "a redirect to a URL that is not http(s)")
        with client.stream("GET", current, headers=headers) as response:
            if response.is_redirect and "location" in response.headers:
                current = str(httpx.URL(current).join(response.headers["location"]))
                continue
            yield response
            return
    raise UrlRefused(url, f"more than {max_redirects} redirects")


# ------------------------------------------------------------------- requests / urllib3 side

_active = threading.local()
_patch_lock = threading.Lock()
_patched: list[Callable[..., Any]] = []  # the original urllib3 create_connection, once patched


def _guarded_create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
    """urllib3's create_connection, checking the address first when a policy is active on this
    thread (`guarded_requests`); the addresses checked are the ones connected to."""
    original = _patched[0]
    policy: UrlPolicy | None = getattr(_active, "policy", None)
    if policy is None:
        return original(address, *args, **kwargs)
    host, port = address
    try:
        return connect_checked(policy, host, int(port), OSError,
                               lambda ip: original((ip, port), *args, **kwargs))
    except UrlRefused as err:
        # libraries wrap what they catch in their own errors: the refusal is kept for the caller
        seen = getattr(_active, "seen", None)
        if seen is not None and seen.refused is None:
            seen.refused = err
        raise


@dataclass
class Guarded:
    """What `guarded_requests` saw: the first connection it refused (None: none)."""

    refused: UrlRefused | None = None


@contextmanager
def guarded_requests(policy: UrlPolicy) -> Iterator[Guarded]:
    """Within the block, every connection that ``requests`` (urllib3) opens *on this thread* goes
    only to addresses ``policy`` accepts: for libraries that make their own requests (OWSLib,
    pystac-client), including the redirects they follow and the URLs a server's answer names.
    A refused connection raises :class:`UrlRefused` (a ValueError), which libraries may wrap in
    errors of their own: the yielded :class:`Guarded` keeps it."""
    import urllib3.util.connection as connection

    with _patch_lock:
        if not _patched:
            # urllib3.connection calls `connection.create_connection` through the module, so one
            # replacement covers every pool; it is a pass-through on threads without a policy
            _patched.append(connection.create_connection)
            connection.create_connection = _guarded_create_connection
    previous = getattr(_active, "policy", None), getattr(_active, "seen", None)
    seen = Guarded()
    _active.policy, _active.seen = policy, seen
    try:
        yield seen
    finally:
        _active.policy, _active.seen = previous
