"""Who a client is, for counting: the key under which one sender's connections (HTTP, SMTP)
and its quarantined junk are counted.

A client is its address: an IPv4 address (an IPv4-mapped IPv6 peer counts as its IPv4
address), or the /64 of an IPv6 address (one site usually holds a whole /64, so counting
single IPv6 addresses would cap nothing).
"""

from __future__ import annotations

import ipaddress


def client_key(host: str) -> str:
    """The name under which `host` is counted."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host  # not an address (a Unix socket peer): counted as it is named
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
