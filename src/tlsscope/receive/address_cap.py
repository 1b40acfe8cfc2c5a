"""How many connections one client may hold open at once, on HTTP and on SMTP.

A client is its address, or the /64 of an IPv6 address (tlsscope.clients). Exempt networks
(the reverse proxies trusted for X-Forwarded-For, whose clients all share their address) are
not counted.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable

from tlsscope.clients import client_key

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(spec: str) -> tuple[bool, tuple[Network, ...]]:
    """A comma-separated list of addresses and networks (uvicorn's `forwarded_allow_ips`):
    whether it is "*" (every address), and the networks it names (other words are skipped)."""
    words = [word.strip() for word in spec.split(",") if word.strip()]
    found: list[Network] = []
    for word in words:
        try:
            found.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    return "*" in words, tuple(found)


class AddressCap:
    """At most `most` open connections per client (0: no cap); `take` when one opens,
    `give` when it closes."""

    def __init__(self, most: int, exempt: Iterable[Network] = (), *,
                 exempt_all: bool = False) -> None:
        self.most = most
        self.exempt = tuple(exempt)
        self.exempt_all = exempt_all
        self.open: Counter[str] = Counter()

    def counts(self, host: str) -> bool:
        """Whether connections from `host` count against the cap."""
        if self.most <= 0 or self.exempt_all:
            return False
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return not any(address in network for network in self.exempt)

    def take(self, host: str) -> bool:
        """Count a new connection from `host`; False (and not counted) when it is one too
        many."""
        if not self.counts(host):
            return True
        key = client_key(host)
        if self.open[key] >= self.most:
            return False
        self.open[key] += 1
        return True

    def give(self, host: str) -> None:
        """A connection that `take` counted has closed."""
        if not self.counts(host):
            return
        key = client_key(host)
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]
