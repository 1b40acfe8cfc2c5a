"""The one way out: every connection a live check opens (an MTA-STS policy fetch, an MX
probe, an https `rua` check; alert webhooks later) is made here, with one address rule.

    literal(host)             an IP address written in any form the OS accepts ("127.1",
                              "0x7f000001", "2130706433", "[::ffff:127.0.0.1]"), or None
    refused(address, allow)   why an address may not be reached (None: it may)
    tcp(address, port, ...)   a connected socket, to that checked address and nothing else

Names are resolved once, by the caller's DNS resolver (probe/dns.py), and each address is
checked; the connection then goes to the checked address itself, with the name sent as Host
and SNI, so a second resolution (a rebinding DNS answer) cannot redirect it.

The rule: an address must be global unicast (`ipaddress`'s `is_global`, not multicast), and so
must the IPv4 address embedded in it by IPv4-mapped (::ffff:a.b.c.d), IPv4-translated
(::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), 6to4 (2002::/16), Teredo and NAT64
(64:ff9b::/96, 64:ff9b:1::/48) forms: 64:ff9b::a9fe:a9fe reaches 169.254.169.254 through a
NAT64 gateway, which `is_global` alone lets through. The check_allow_private setting turns
the rule off (tests, and installations that check their own private network).
"""

from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_ALLOW_HINT = "the check_allow_private setting (--allow-private) allows it"


class Refused(Exception):
    """An address the rule does not let a check reach."""


def literal(host: str) -> IPAddress | None:
    """`host` as the OS reads an IP literal (inet_aton's shorthands included), or None for a
    name. No DNS is asked."""
    text = host.strip().strip("[]")
    if not text or len(text) > 100:
        return None
    try:
        found = socket.getaddrinfo(text, None, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(found[0][4][0]).split("%", 1)[0])


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, translated, compatible, 6to4,
    Teredo's client, NAT64), or None."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    packed = ip.packed
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if packed[:12] == bytes(8) + b"\xff\xff\x00\x00" or (
            packed[:12] == bytes(12) and int(ip) > 1):  # translated; compatible (not :: ::1)
        return ipaddress.IPv4Address(packed[12:])
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(packed[12:])
    return None


def refused(address: str, allow_private: bool, hint: str = _ALLOW_HINT) -> str | None:
    """Why `address` may not be reached (None: it may); `hint` says which setting allows it."""
    if allow_private:
        return None
    ip = literal(address)
    if ip is None:
        return f"{address!r} is not an IP address"
    inner = embedded_ipv4(ip)
    for each in (ip, inner):
        if each is not None and (not each.is_global or each.is_multicast):
            carried = f" (it carries {inner})" if each is inner else ""
            return (f"{address}{carried} is not a public address (private, loopback, "
                    f"link-local or reserved): refused; {hint}")
    return None


def tcp(address: str, port: int, timeout: float, allow_private: bool) -> socket.socket:
    """A TCP connection to `address` (an IP address, checked again here), or Refused/OSError."""
    why = refused(address, allow_private)
    if why:
        raise Refused(why)
    ip = literal(address)
    assert ip is not None  # refused() said it is one
    return socket.create_connection((str(ip), port), timeout=timeout)
