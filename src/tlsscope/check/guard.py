"""The SSRF guard: live checks go only to public addresses unless allowed otherwise, so that a
domain's DNS cannot point tlsscope at a private network (a hosted service's concern)."""

from __future__ import annotations

import ipaddress


def refused(address: str, allow_private: bool) -> str | None:
    """Why `address` may not be probed (None: it may)."""
    if allow_private:
        return None
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return f"{address!r} is not an IP address"
    if not ip.is_global or ip.is_multicast:
        return (f"{address} is not a public address (private, loopback, link-local or "
                "reserved): refused; the check_allow_private setting (--allow-private) "
                "allows it")
    return None
