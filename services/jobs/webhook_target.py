"""Where a webhook may be sent: public addresses only, whatever the spelling.

A webhook is a request the service makes on a client's behalf (server-side request forgery): the
URL could name the instance metadata address (169.254.169.254: the role's credentials), the VPC's
private network or the web process itself. So the host is resolved and EVERY address it stands
for is checked, at creation (422) and again at each delivery, whose request then goes to the
address that was checked (a name that resolves elsewhere the second time, DNS rebinding, meets
the same check, and cannot slip another address in between the check and the connection).

Spellings: the URL parser (WHATWG, pydantic's) already turns decimal, hex, octal and short IPv4
forms (2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 127.1) and trailing dots into the dotted
address, and `getaddrinfo` does the same for a name given as such; IPv6 forms that carry an IPv4
address (::ffff:a.b.c.d, NAT64, 6to4) are checked as that IPv4 address.

`allow_private` (a setting: tests, on-premises receivers) admits loopback and private addresses;
nothing admits link-local (the metadata address), multicast, unspecified or reserved ones.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookRefusedError(ValueError):
    """The webhook URL names an address the service may not call; the reason says which."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook: the URL, and the address its request is to connect to."""

    url: str
    scheme: str
    host: str  # as the URL names it (the Host header, and TLS's server name)
    port: int
    address: IPAddress


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why the service may not call `address`, or None."""
    reached = _embedded_ipv4(address)  # what a connection to `address` reaches
    if reached.is_link_local:
        return f"{address} is link-local (the instance metadata address is one)"
    if reached.is_multicast:
        return f"{address} is a multicast address"
    if reached.is_unspecified:
        return f"{address} is the unspecified address"
    if reached.is_loopback:  # before `is_reserved`, which ::1 also is
        return None if allow_private else f"{address} is a loopback address (receivers must be public)"
    if reached.is_reserved:  # before `is_private`, which 240.0.0.0/4 also is
        return f"{address} is a reserved address"
    if reached.is_private:
        return None if allow_private else f"{address} is a private address (receivers must be public)"
    if not reached.is_global:
        return f"{address} is not a public address"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookRefusedError(f"the webhook host {host!r} does not resolve ({exc})") from None
    addresses: list[IPAddress] = []
    for _, _, _, _, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check(url: str, *, allow_private: bool) -> Target:
    """The target of `url` if every address its host resolves to may be called; else
    WebhookRefusedError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookRefusedError("a webhook URL is http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookRefusedError("a webhook URL carries no user name or password")
    host = parts.hostname
    if not host:
        raise WebhookRefusedError("the webhook URL names no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefusedError(f"the webhook URL's port: {exc}") from None
    host = host.rstrip(".") or host
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        literal = None
    addresses = [literal] if literal is not None else _resolve(host, port)
    if not addresses:
        raise WebhookRefusedError(f"the webhook host {host!r} resolves to no address")
    for address in addresses:
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            named = "" if literal is not None else f"{host!r} resolves to {address}: "
            raise WebhookRefusedError(f"webhook refused: {named}{why}")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])
