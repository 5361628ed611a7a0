"""Where a webhook may deliver: URL rules and the SSRF guard (issue 12, item 5).

``CHRONODELTA_WEBHOOK_ALLOW_PRIVATE=false`` (the first thing to set on a shared back end,
docs/webhooks.md) refuses destinations that resolve to any address that is not global:
loopback, private, link-local (169.254.169.254, the cloud metadata service), shared,
reserved, multicast. It is checked at registration and again at each delivery, because
DNS may change in between; a delivery then connects to the very address it checked
(``Target``), so a name cannot resolve one way for the check and another for the send.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(Exception):
    """The URL may not be delivered to; ``str()`` says why (a 400 reason, a log error)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What to connect to: ``url`` (its host replaced by ``address`` when pinned)."""

    url: str
    host_header: str | None = None  # the original host, when the URL names an address
    sni_hostname: str | None = None  # for TLS, when the URL names an address


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a destination at all, or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"destinationUrl is longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"destinationUrl is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "destinationUrl must be an absolute http:// or https:// URL"
    if not parts.hostname:
        return "destinationUrl has no host"
    if parts.username is not None or parts.password is not None:
        return "destinationUrl must not carry credentials (user:password@)"
    if parts.fragment:
        return "destinationUrl must not have a fragment (#...)"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "destinationUrl must not contain spaces or control characters"
    return None


def refusal(address: IpAddress) -> str | None:
    """Why ``address`` is not a public destination, or None."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_global and not address.is_multicast:  # 224.0.0.1 counts as "global"
        return None
    kind = next(
        (
            name
            for name, flag in (
                ("loopback", address.is_loopback),
                ("link-local", address.is_link_local),
                ("private", address.is_private),
                ("multicast", address.is_multicast),
                ("unspecified", address.is_unspecified),
            )
            if flag
        ),
        None,
    )
    if kind is None:
        return f"{address}, not a globally routable address"
    return f"{address}, a {kind} address"


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def check_registration(url: str, *, allow_private: bool) -> None:
    """Raise ``DestinationRefused`` unless ``url`` may be registered now."""
    problem = url_problem(url)
    if problem:
        raise DestinationRefused(problem)
    if allow_private:
        return
    parts = urlsplit(url)
    assert parts.hostname is not None
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DestinationRefused(f"destinationUrl's host does not resolve: {exc}") from None
    _public_addresses(parts.hostname, [str(info[4][0]) for info in infos])


def _public_addresses(host: str, found: list[str]) -> list[IpAddress]:
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    for address in addresses:
        why = refusal(address)
        if why:
            raise DestinationRefused(
                f"destinationUrl's host {host} resolves to {why}; private destinations "
                "are off here (CHRONODELTA_WEBHOOK_ALLOW_PRIVATE=false)"
            )
    if not addresses:
        raise DestinationRefused(f"destinationUrl's host {host} resolves to no address")
    return addresses


async def delivery_target(url: str, *, allow_private: bool) -> Target:
    """Where a delivery to ``url`` connects now (``DestinationRefused`` if nowhere)."""
    if allow_private:
        return Target(url)
    parts = urlsplit(url)
    assert parts.hostname is not None
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(parts.hostname, _port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DestinationRefused(f"the host does not resolve: {exc}") from None
    address = _public_addresses(parts.hostname, [str(info[4][0]) for info in infos])[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    sni = parts.hostname if parts.scheme == "https" else None
    return Target(pinned, host_header=host_header, sni_hostname=sni)
