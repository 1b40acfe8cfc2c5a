"""Sending IPs cut to their network before a report is stored (truncate_sending_ips): IPv4
to /24, IPv6 to /48 (an IPv4-mapped IPv6 address as its IPv4 address, /24). Pure: the choice
per policy domain is the caller's (pipeline.DomainGate).

What goes: the whole address of each failure detail's `sending-mta-ip`, the reader's record of
how the sender wrote it (`originals`), and the words of a reader's note about it. A value that
is not an address is dropped rather than kept (it may be one, written oddly). receiving-ip, the
policy domain's own MX, stays whole. The raw input keeps what was sent (keep_inputs_days).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import msgspec

from tlsscope.parse.results import InputResult, ReadReport
from tlsscope.report import FailureDetail, PolicyResult

FIELD = "sending-mta-ip"
WITHHELD = "the sending MTA's address is not kept (truncate_sending_ips)"


def truncate(value: str | None) -> str | None:
    """An address as its network: "192.0.2.0/24", "2001:db8:1::/48"; None for no address.
    An IPv6 address that carries an IPv4 one is cut as that IPv4 address: IPv4-mapped
    (`::ffff:192.0.2.1`) to the IPv4 network "192.0.2.0/24" (the sender was an IPv4 host
    written in IPv6), 6to4 (`2002:c000:201::1`, whose /48 is the whole IPv4 address) to its
    /40 ("2002:c000:200::/40", the IPv4 /24)."""
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        return str(ipaddress.ip_network(f"{address}/40", strict=False))
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def truncated(result: InputResult, wanted: Callable[[str], bool]) -> InputResult:
    """`result` with the sending IPs of the policies whose domain `wanted` truncated (the
    same object when there are none)."""
    reads = [_read(read, wanted) for read in result.reports]
    if all(new is old for new, old in zip(reads, result.reports, strict=True)):
        return result
    return msgspec.structs.replace(result, reports=reads)


def _read(read: ReadReport, wanted: Callable[[str], bool]) -> ReadReport:
    report = read.report
    changed: list[int] = []
    policies: list[PolicyResult] = []
    for i, entry in enumerate(report.policies):
        domain = (entry.policy.policy_domain or "").lower().rstrip(".")
        if entry.failure_details and wanted(domain) and any(
                row.sending_mta_ip is not None for row in entry.failure_details):
            changed.append(i)
            entry = msgspec.structs.replace(entry, failure_details=[
                _row(row) for row in entry.failure_details])
        policies.append(entry)
    if not changed:
        return read
    prefixes = tuple(f"$.policies[{i}]." for i in changed)

    def about_it(path: str) -> bool:
        return path.startswith(prefixes) and path.endswith(FIELD)

    warnings = [msgspec.structs.replace(note, message=WITHHELD) if about_it(note.path) else note
                for note in read.warnings]
    originals = {path: value for path, value in read.originals.items() if not about_it(path)}
    return msgspec.structs.replace(read, report=msgspec.structs.replace(report, policies=policies),
                                   warnings=warnings, originals=originals)


def _row(row: FailureDetail) -> FailureDetail:
    if row.sending_mta_ip is None:
        return row
    return msgspec.structs.replace(row, sending_mta_ip=truncate(row.sending_mta_ip))
