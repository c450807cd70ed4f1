"""Where a webhook may point: the contract's URL policy, checked at subscription and again at
every delivery, after DNS resolution, against the address actually connected to.

A subscriber chooses the URL, so without this policy any organisation could make the platform
send signed requests to cloud metadata (169.254.169.254), the private network or the service's
own loopback ports. Refused: loopback, private, link-local, multicast, unspecified, reserved and
shared (carrier-grade NAT) addresses, IPv4 embedded in IPv6 included, unless the URL's host is
listed in `WEBHOOK_ALLOWED_HOSTS` (local development: `127.0.0.1` and `localhost`). Only http
and https. Redirects are never followed (the sender's client does not), so an allowed host
cannot bounce a delivery to a refused one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

DEV_ALLOWED_HOSTS = ("127.0.0.1", "localhost")
SCHEMES = ("http", "https")
_RESOLVE_SECONDS = 3.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedUrl(ValueError):
    """The URL may not receive webhooks; the message says why without repeating the URL."""


@dataclass(frozen=True)
class Target:
    """Where one delivery connects: the address checked, and the host for `Host` and TLS."""

    url: str
    host: str
    port: int
    address: str  # the resolved, checked IP address: the one connected to
    allowed_host: bool


def forbidden_address(address: IPAddress) -> str | None:
    """Why this address may not receive webhooks, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if embedded is not None:
            return forbidden_address(embedded)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("shared", address in ipaddress.ip_network("100.64.0.0/10")),
    )
    return next((name for name, hit in checks if hit), None)


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse(url: str, allowed_hosts: frozenset[str]) -> tuple[str, int, bool]:
    """(host, port, whether the host is allow-listed); refuses a scheme or a literal address
    the policy forbids before any lookup."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise RefusedUrl("only http and https URLs receive webhooks")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise RefusedUrl("the URL has no host")
    if parts.username or parts.password:
        raise RefusedUrl("credentials in the URL are not accepted")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise RefusedUrl("the URL's port is invalid") from exc
    allowed = host in allowed_hosts
    if not allowed:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and (why := forbidden_address(literal)):
            raise RefusedUrl(f"the URL's address is {why}")
    return host, port, allowed


def choose(host: str, addresses: list[str], allowed: bool) -> str:
    """The address to connect to: the first one, provided none of them is forbidden (a name
    that resolves to a public and a private address is refused: the resolver chooses)."""
    if not addresses:
        raise RefusedUrl("the URL's host does not resolve")
    if not allowed:
        for address in addresses:
            if why := forbidden_address(ipaddress.ip_address(address.split("%", 1)[0])):
                raise RefusedUrl(f"the URL's host resolves to a {why} address")
    return addresses[0]


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise RefusedUrl("the URL's host does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check(url: str, allowed_hosts: frozenset[str]) -> Target:
    """The target this URL may be delivered to now, or `RefusedUrl`."""
    host, port, allowed = parse(url, allowed_hosts)
    address = choose(host, await resolve(host, port), allowed)
    return Target(url=url, host=host, port=port, address=address, allowed_host=allowed)


def allowed_hosts_from(setting: str) -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".") for h in setting.split(",") if h.strip())
