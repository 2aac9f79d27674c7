"""Where a webhook may be delivered: an http(s) URL whose host resolves to public addresses.

A webhook's URL is chosen by whoever registers it, and the server then POSTs to it: without
these checks it would reach the server's own loopback services, the private network behind
it, or the cloud's metadata address for anyone. The host is resolved and every address it
resolves to is checked, at registration (a clear 422) and again at each delivery, which
then connects to an address it checked: a name that resolved to a public address once and
to a private one now (DNS rebinding) gets nothing. Cloud metadata services are refused
always, even where private targets are allowed. Lookups are bounded in time (`resolver`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from jobs_ui.webhooks.resolver import LookupTimeoutError, lookup, lookup_async

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the addresses it resolves to, as text; raises TargetError if none."""

DEFAULT_PORTS = {"http": 80, "https": 443}
# A label of a DNS name: letters, digits, hyphens inside (and underscores, which some use).
LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)
MAX_NAME_CHARS = 253
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# The only IPv6 addresses handed out for the public internet. Outside it are the forms that
# carry an IPv4 address some networks translate (IPv4-compatible `::a.b.c.d`, SIIT
# `::ffff:0:a.b.c.d`, local NAT64 `64:ff9b:1::/48`) and site-local `fec0::/10`; Python's
# `is_global` does not refuse all of them in every version.
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# IETF protocol assignments (192.0.0.8, the dummy address, among them): never a receiver.
IETF_PROTOCOL = ipaddress.IPv4Network("192.0.0.0/24")
# Services that hand the machine's own credentials to whoever asks from it: refused even
# with `allow_private` (a receiver on the same network is a reason to allow 10.0.0.5, never
# these). Most are private or link-local anyway; Azure's is a public address.
METADATA = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, ...
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (the host agent)
        "192.0.0.192",  # Oracle Cloud Classic
    )
)
DNS_TIMEOUT = 5.0  # seconds a lookup may take (at most the delivery's own deadline)


class TargetError(ValueError):
    """A URL no delivery may go to, or a host that cannot be reached; says why, for a person."""


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: `host` is a lowercase DNS name (IDNA) or an IP address."""

    scheme: str
    host: str
    port: int
    path: str  # with the query, never empty

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def url_for(self, address: str) -> str:
        """This URL with `address` in place of the host: what is connected to."""
        literal = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{literal}:{self.port}{self.path}"


def parse_target(url: str) -> Target:
    """The URL's parts, or TargetError saying what is wrong with it."""
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise TargetError("The url must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetError(f"The url is not valid ({error}).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise TargetError("The url must start with http:// or https://.")
    if parts.username is not None or parts.password is not None:
        raise TargetError(
            "The url must not carry a user name or password: check each delivery's "
            "signature instead (see Webhook-Signature)."
        )
    if parts.fragment or url.endswith("#"):
        raise TargetError("The url must not have a #fragment (it is never sent).")
    host = _host(parts.hostname or "")
    if port == 0:
        raise TargetError("The url's port must be between 1 and 65535.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme], path=path)


def _host(raw: str) -> str:
    if not raw:
        raise TargetError("The url has no host name.")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        pass
    try:
        name = raw.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise TargetError(f"The url's host name {raw[:100]!r} is not valid.") from None
    labels = name.removesuffix(".").split(".")
    if len(name) > MAX_NAME_CHARS or not all(LABEL.fullmatch(label) for label in labels):
        raise TargetError(f"The url's host name {raw[:100]!r} is not valid.")
    return name


def refusal(address: IPAddress) -> str | None:
    """Why `address` is no place to deliver to (None: it is public)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:  # connecting to it reaches this machine
        return "the unspecified address, which is this machine"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address not in GLOBAL_UNICAST:
        return "not a public address"
    if isinstance(address, ipaddress.IPv4Address) and address in IETF_PROTOCOL:
        return "not a public address"
    if not address.is_global:
        return "not a public address"
    return None


def metadata_refusal(address: IPAddress) -> str | None:
    """Why `address` is no place to deliver to whatever the settings: a cloud metadata
    service, however written (IPv4 inside IPv6 included)."""
    embedded = _embedded_ipv4(address)
    if address in METADATA or (embedded is not None and embedded in METADATA):
        return "a cloud metadata address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is where a
    connection to it goes."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses as the system resolves them, in its order of preference."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise TargetError(f"The host {host} could not be resolved ({reason}).") from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        text = str(sockaddr[0])
        if text not in addresses:
            addresses.append(text)
    return addresses


class TargetPolicy:
    """Which addresses deliveries may go to: public ones, or any with `allow_private` but
    cloud metadata services, never. A lookup taking over `resolve_timeout` seconds fails."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver = system_resolver,
        resolve_timeout: float = DNS_TIMEOUT,
    ) -> None:
        self.allow_private = allow_private
        self.resolve_timeout = resolve_timeout
        self._resolve = resolve

    def check(self, url: str) -> Target:
        """At registration: the URL is well formed and its host resolves to allowed
        addresses only; else TargetError."""
        target = parse_target(url)
        self.addresses(target)
        return target

    def addresses(self, target: Target) -> list[str]:
        """The addresses to connect to for `target`, every one checked; TargetError if there
        are none, or if any is refused (one refused is enough: which one a connection
        would use is the resolver's choice). Blocks the calling thread (not the lookup's)."""
        if _literal(target.host):
            return self._checked(target, [target.host], literal=True)
        try:
            found = lookup(self._resolve, target.host, target.port, within=self.resolve_timeout)
        except LookupTimeoutError:
            raise self._too_slow(target) from None
        return self._checked(target, found, literal=False)

    async def addresses_async(self, target: Target) -> list[str]:
        """`addresses`, for an event loop: neither it nor its default executor waits."""
        if _literal(target.host):
            return self._checked(target, [target.host], literal=True)
        try:
            found = await lookup_async(
                self._resolve, target.host, target.port, within=self.resolve_timeout
            )
        except LookupTimeoutError:
            raise self._too_slow(target) from None
        return self._checked(target, found, literal=False)

    def _too_slow(self, target: Target) -> TargetError:
        return TargetError(
            f"The host {target.host} could not be resolved within {self.resolve_timeout:g} s."
        )

    def _checked(self, target: Target, found: Sequence[str], *, literal: bool) -> list[str]:
        if not found:
            raise TargetError(f"The host {target.host} resolves to no address.")
        checked = []
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])  # a zone id is no address
            where = "is" if literal else f"resolves to {address},"
            reason = None if self.allow_private else refusal(address)
            if reason is not None:
                raise TargetError(
                    f"The host {target.host} {where} {reason}: webhooks are delivered to "
                    "public addresses only."
                )
            always = metadata_refusal(address)  # allowed private or public, still never
            if always is not None:
                raise TargetError(
                    f"The host {target.host} {where} {always}: webhooks are never delivered there."
                )
            checked.append(str(address))
        return checked


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
