"""The URL guard of the platform's services (eopde.urlguard): no platform needed."""

from __future__ import annotations


import pytest

from stacserver import serve_routes

from eopde.urlguard import (UrlPolicy, UrlRefused, address_problem, connect_checked,
                            guarded_client, open_guarded, origin_of)


def fixed(*addresses: str):
    return lambda host, port: list(addresses)


PUBLIC = fixed("93.184.216.34")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "100.64.0.1", "240.0.0.1", "::1", "::",
    "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1",
    "64:ff9b::a00:1", "2001:0:4136:e378:8000:63bf:80ff:fffe",
])
def test_non_public_addresses(address):
    assert address_problem(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses(address):
    assert address_problem(address) is None


def test_origin_of():
    assert origin_of("HTTP://Example.ORG/x?y") == "http://example.org:80"
    assert origin_of("https://[::1]:8443/") == "https://[::1]:8443"
    assert origin_of("file:///etc/passwd") is None
    assert origin_of("http://host:99999/") is None


@pytest.mark.parametrize("url, rule", [
    ("file:///etc/passwd", "scheme file:"),
    ("FILE:/etc/passwd", "scheme file:"),
    ("/etc/passwd", "local path"),
    ("relative/item.json", "local path"),
    ("/vsicurl/http://127.0.0.1:1/", "local path"),
    ("ftp://example.org/x", "scheme ftp:"),
    ("data:application/json,{}", "scheme data:"),
    ("gopher://127.0.0.1:5432/", "scheme gopher:"),
    ("http://127.0.0.1:5432/", "not public"),
    ("http://2130706433/", "not public"),
    ("http://[::ffff:127.0.0.1]:80/", "not public"),
    ("http:///nohost", "without a valid host"),
    ("http://a\nb/", "control characters"),
    ("s3://user-alice/x.json", "your own bucket 'user-mallory'"),
    ("s3://user-mallory/../user-alice/x", "'..' segments"),
    ("s3://user-mallory/", "empty"),
])
def test_refused(url, rule):
    policy = UrlPolicy.of(["http://127.0.0.1:8716/"], bucket="user-mallory")
    with pytest.raises(UrlRefused) as err:
        policy.check(url)
    assert rule in err.value.rule
    assert not policy.verdict(url).allowed


def test_allowed():
    policy = UrlPolicy.of(["http://127.0.0.1:8716/", "http://127.0.0.1:8713"],
                          bucket="user-mallory", resolve=PUBLIC)
    for url in ("http://127.0.0.1:8716/demo/B04.tif", "http://127.0.0.1:8713/collections/x",
                "https://example.org/item.json", "s3://user-mallory/processing-results/j/x.json"):
        policy.check(url)
    # only the exact origin: another port or another name of the same host is refused
    for url in ("http://127.0.0.1:8717/", "https://127.0.0.1:8716/", "http://localhost:8716/"):
        with pytest.raises(UrlRefused):
            UrlPolicy.of(["http://127.0.0.1:8716/"]).check(url)


def test_every_address_must_be_public():
    mixed = UrlPolicy(resolve=fixed("93.184.216.34", "127.0.0.1"))
    with pytest.raises(UrlRefused, match="not public"):
        mixed.check("https://rebind.example.org/")
    gone = UrlPolicy(resolve=fixed())
    with pytest.raises(UrlRefused, match="does not resolve"):
        gone.check("https://nothing.example.org/")


def test_no_bucket_no_s3():
    with pytest.raises(UrlRefused, match="not fetched"):
        UrlPolicy().check("s3://user-alice/x")


def test_message_hides_credentials():
    with pytest.raises(UrlRefused) as err:
        UrlPolicy().check("http://bob:secret@127.0.0.1/")
    assert "secret" not in str(err.value)


# ------------------------------------------------------------------------------ HTTP side

server = serve_routes


def fetch(url: str, policy: UrlPolicy) -> bytes:
    with guarded_client(policy) as client, open_guarded(client, url, policy) as response:
        return response.read()


def test_allowed_origin_is_fetched_and_redirects_are_checked():
    with server({}) as other, server({
        "/ok": (200, {}, b"fine"),
        "/hop": (302, {"Location": "/ok"}, b""),
        "/out": (302, {"Location": f"{other}/secret"}, b""),
        "/file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
    }) as base:
        policy = UrlPolicy.of([base])
        assert fetch(f"{base}/ok", policy) == b"fine"
        assert fetch(f"{base}/hop", policy) == b"fine"
        with pytest.raises(UrlRefused, match="not public"):
            fetch(f"{base}/out", policy)
        with pytest.raises(UrlRefused, match="file:"):
            fetch(f"{base}/file", policy)
        with pytest.raises(UrlRefused, match="redirects"):
            fetch(f"{base}/loop", policy)


def test_rebinding_is_caught_at_connect_time():
    """The name resolves to a public address when checked, to loopback when connecting."""
    with server({"/": (200, {}, b"internal")}) as base:
        port = int(base.rsplit(":", 1)[1])
        answers = iter([["93.184.216.34"], ["127.0.0.1"]])
        policy = UrlPolicy(resolve=lambda host, p: next(answers))
        with pytest.raises(UrlRefused, match="not public"):
            fetch(f"http://rebind.example.org:{port}/", policy)


def test_connects_to_the_checked_address():
    """The connection goes to the address the guard resolved, not to a second lookup."""
    with server({"/": (200, {}, b"here")}) as base:
        port = int(base.rsplit(":", 1)[1])
        # a name no resolver knows, made public-looking for the check and allowed by origin
        policy = UrlPolicy.of([f"http://127.0.0.1:{port}"])
        assert fetch(f"http://127.0.0.1:{port}/", policy) == b"here"
        with pytest.raises(UrlRefused):
            fetch(f"http://localhost:{port}/", UrlPolicy())


def test_each_checked_address_is_tried_in_turn():
    """Both connectors (httpx's, urllib3's) walk the checked addresses so: the next one when one
    cannot be reached, the last one's error when none can, none when one is not public."""
    tried: list[str] = []

    def connect(address: str) -> str:
        tried.append(address)
        if address.endswith(".34"):
            raise OSError(f"cannot reach {address}")
        return address

    two = UrlPolicy(resolve=fixed("93.184.216.34", "93.184.216.35"))
    assert connect_checked(two, "two.example.org", 80, OSError, connect) == "93.184.216.35"
    assert tried == ["93.184.216.34", "93.184.216.35"]
    tried.clear()
    with pytest.raises(OSError, match=r"cannot reach 93\.184\.216\.34"):
        connect_checked(UrlPolicy(resolve=PUBLIC), "one.example.org", 80, OSError, connect)
    assert tried == ["93.184.216.34"]
    tried.clear()
    mixed = UrlPolicy(resolve=fixed("93.184.216.35", "10.0.0.1"))
    with pytest.raises(UrlRefused, match="not public"):
        connect_checked(mixed, "mixed.example.org", 80, OSError, connect)
    assert tried == []


def test_unresolved_ok_for_checks_ahead():
    policy = UrlPolicy(resolve=fixed())
    policy.check("https://later.example.org/", unresolved_ok=True)
    with pytest.raises(UrlRefused):
        UrlPolicy(resolve=fixed("10.0.0.1")).check("https://x.example.org/", unresolved_ok=True)


def test_guarded_requests_only_on_its_own_thread():
    """requests (urllib3) connections are checked inside `guarded_requests`, on that thread
    only; the refusal is kept even when a library wraps it in its own error."""
    import threading

    import requests

    from eopde.urlguard import guarded_requests

    with serve_routes({"/": (200, {}, b"{}")}) as base:
        assert requests.get(base, timeout=10).status_code == 200  # no policy: as before
        with guarded_requests(UrlPolicy.of()) as seen:
            with pytest.raises(UrlRefused, match="loopback"):
                requests.get(base, timeout=10)
            assert seen.refused is not None
            other: list[int] = []
            worker = threading.Thread(
                target=lambda: other.append(requests.get(base, timeout=10).status_code))
            worker.start()
            worker.join()
            assert other == [200]  # another thread is not guarded
        with guarded_requests(UrlPolicy.of([base])) as seen:
            assert requests.get(base, timeout=10).status_code == 200  # an allowed origin
            assert seen.refused is None
        assert requests.get(base, timeout=10).status_code == 200
