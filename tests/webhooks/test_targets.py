"""Where deliveries may go: http(s) URLs whose host resolves to public addresses only."""

from __future__ import annotations

import ipaddress
import threading
import time

import pytest

from jobs_ui.webhooks.resolver import THREAD_PREFIX
from jobs_ui.webhooks.targets import TargetError, TargetPolicy, parse_target, refusal


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("http:///nohost", "no host name"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://token@example.com/", "user name or password"),
        ("https://example.com/#frag", "#fragment"),
        ("https://exa mple.com/", "spaces or control characters"),
        ("https://example.com/\n", "spaces or control characters"),
        ("https://example.com:99999/", "not valid"),
        ("https://example.com:0/", "between 1 and 65535"),
        ("https://[::1/", "not valid"),
        ("https://-bad-.example/", "host name"),
        ("https://exa$mple.com/", "host name"),
        ("https://" + "a" * 64 + ".com/", "host name"),
    ],
)
def test_a_malformed_url_is_refused_saying_why(url, says):
    with pytest.raises(TargetError) as refused:
        parse_target(url)
    assert says in str(refused.value), str(refused.value)


def test_a_url_is_taken_apart_for_connecting_to_a_checked_address():
    target = parse_target("HTTPS://Bücher.Example:8443/in?x=1")
    assert (target.scheme, target.host, target.port) == ("https", "xn--bcher-kva.example", 8443)
    assert target.path == "/in?x=1" and target.host_header == "xn--bcher-kva.example:8443"
    assert target.url_for("2001:db8::1") == "https://[2001:db8::1]:8443/in?x=1"
    plain = parse_target("http://example.com")
    assert (plain.port, plain.path, plain.host_header) == (80, "/", "example.com")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.3.4.5", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud's metadata address
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("0.0.0.0", "this machine"),
        ("::", "this machine"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("224.0.0.1", "multicast"),
        ("192.0.2.1", "private"),  # documentation
        # Forms some networks translate to an IPv4 address, and site-local IPv6.
        ("::127.0.0.1", "not a public address"),  # IPv4-compatible
        ("::ffff:0:127.0.0.1", "not a public address"),  # SIIT
        ("64:ff9b:1::7f00:1", "not a public address"),  # local-use NAT64
        ("fec0::1", "not a public address"),  # site-local
        ("192.0.0.8", "not a public address"),  # IETF protocol assignments
    ],
)
def test_addresses_that_are_not_public_are_named(address, reason):
    assert reason in (refusal(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


def resolving(table: dict[str, list[str]], asked: list[str] | None = None):  # type: ignore[no-untyped-def]
    def resolve(host: str, _port: int) -> list[str]:
        if asked is not None:
            asked.append(host)
        if host not in table:
            raise TargetError(f"The host {host} could not be resolved (unknown).")
        return table[host]

    return resolve


def test_one_private_address_among_the_hosts_addresses_is_enough_to_refuse():
    policy = TargetPolicy(
        allow_private=False,
        resolve=resolving({"mixed.example": ["93.184.216.34", "10.0.0.5"]}),
    )
    with pytest.raises(TargetError, match=r"resolves to 10\.0\.0\.5, a private address"):
        policy.check("https://mixed.example/hook")


def test_a_public_host_passes_and_allowing_private_lets_loopback_through():
    asked: list[str] = []
    table = {"public.example": ["93.184.216.34"], "local.example": ["127.0.0.1"]}
    strict = TargetPolicy(allow_private=False, resolve=resolving(table, asked))
    assert strict.addresses(strict.check("https://public.example/")) == ["93.184.216.34"]
    with pytest.raises(TargetError, match="loopback"):
        strict.check("http://local.example/")
    with pytest.raises(TargetError, match=r"is a loopback address"):
        strict.check("http://127.0.0.1:8000/")
    assert "127.0.0.1" not in asked, "an address in the URL is not looked up"
    allowing = TargetPolicy(allow_private=True, resolve=resolving(table))
    assert allowing.addresses(allowing.check("http://local.example/")) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9/",
        "http://2130706433/",  # 127.0.0.1 as one number, which resolvers accept
        "http://0x7f.1/",
        "http://127.1/",
    ],
)
def test_the_systems_resolver_finds_loopback_however_it_is_written(url):
    with pytest.raises(TargetError, match="loopback"):
        TargetPolicy(allow_private=False).check(url)


def test_a_host_that_does_not_resolve_is_refused_saying_so():
    with pytest.raises(TargetError, match="could not be resolved"):
        TargetPolicy(allow_private=True).check("https://no-such-host.invalid/hook")


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # AWS, GCP, Azure, ...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "fd20:ce::254",  # GCP over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer: a public address
        "::ffff:169.254.169.254",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_cloud_metadata_is_refused_even_where_private_targets_are_allowed(address):
    literal = f"[{address}]" if ":" in address else address
    allowing = TargetPolicy(allow_private=True, resolve=resolving({"meta.test": [address]}))
    for url in (f"http://{literal}/latest/meta-data/", "http://meta.test/"):
        with pytest.raises(TargetError, match="a cloud metadata address: webhooks are never"):
            allowing.check(url)
    strict = TargetPolicy(allow_private=False, resolve=resolving({"meta.test": [address]}))
    with pytest.raises(TargetError):
        strict.check("http://meta.test/")


def test_allowing_private_targets_still_allows_them_but_the_metadata_service():
    table = {"lan.test": ["10.0.0.5"], "near.test": ["169.254.10.20"]}
    allowing = TargetPolicy(allow_private=True, resolve=resolving(table))
    assert allowing.addresses(allowing.check("http://lan.test/")) == ["10.0.0.5"]
    assert allowing.addresses(allowing.check("http://near.test/")) == ["169.254.10.20"]
    assert allowing.addresses(allowing.check("http://127.0.0.1:9/")) == ["127.0.0.1"]


def test_a_lookup_that_hangs_is_given_up_at_the_timeout_on_the_lookups_own_threads():
    answer, threads = threading.Event(), []

    def hanging(host: str, _port: int) -> list[str]:
        threads.append(threading.current_thread().name)
        answer.wait(30)  # a name server that never answers
        return ["93.184.216.34"]

    policy = TargetPolicy(allow_private=False, resolve=hanging, resolve_timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(TargetError, match=r"could not be resolved within 0\.2 s"):
            policy.check("https://slow.example/hook")
        assert time.monotonic() - started < 2
        assert threads and threads[0].startswith(THREAD_PREFIX), threads
    finally:
        answer.set()
