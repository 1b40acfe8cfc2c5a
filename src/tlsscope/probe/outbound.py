"""Where a connection the operator or a user configured goes (an alert's webhook, the SMTP
relay): the name resolved once, every address checked by the one rule (probe/connect.py),
and the first allowed address returned, for the caller to connect to that address itself.

    addresses(host, nameserver, timeout)                  the name's addresses, or Unreachable
    checked(host, nameserver, timeout, allow_private)     the address to connect to

With a `nameserver` (the dns_nameserver setting) names are asked of it (probe/dns.py); else
of the system (getaddrinfo, so /etc/hosts counts: a relay at "localhost").
"""

from __future__ import annotations

import socket

from tlsscope.probe import connect
from tlsscope.probe.dns import OK, Resolver


class Unreachable(Exception):
    """The name has no address (or its lookup got no answer)."""


def addresses(host: str, nameserver: str = "", timeout: float = 5.0) -> list[str]:
    literal = connect.literal(host)
    if literal is not None:
        return [str(literal)]
    if nameserver:
        found = Resolver(nameserver, timeout).addresses(host)
        if found.status != OK or not found.values:
            raise Unreachable(f"{host}: no address ({found.reason or found.status})")
        return list(found.values)
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable(f"{host}: no address ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


ALLOW_HINT = "the alerts_allow_private setting allows it"


def checked(host: str, nameserver: str, timeout: float, allow_private: bool) -> str:
    """The first address of `host` the rule allows; connect.Refused names why none is."""
    found = addresses(host, nameserver, timeout)
    reasons = []
    for address in found:
        why = connect.refused(address, allow_private, ALLOW_HINT)
        if why is None:
            return address
        reasons.append(why)
    raise connect.Refused(f"{host}: " + "; ".join(reasons))
