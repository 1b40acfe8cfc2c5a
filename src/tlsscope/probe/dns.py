"""DNS lookups for the live checks (dnspython), with a settable resolver for tests and
independent checks. Answers say what happened (ok, nxdomain, noanswer, error) instead of
raising, because "the record is missing" is a result, not a failure of the check.

TXT records are returned one string per record, the record's character-strings joined with
nothing between them (RFC 8460 §3 and RFC 8461 §3.1, as RFC 7208 §3.3).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import dns.exception
import dns.flags
import dns.resolver

OK, NXDOMAIN, NOANSWER, ERROR = "ok", "nxdomain", "noanswer", "error"


class Answer(NamedTuple):
    status: str  # ok | nxdomain | noanswer | error
    values: list[str]
    error: str = ""
    authenticated: bool = False  # the resolver set AD: it validated the answer with DNSSEC


def nameserver_address(text: str) -> tuple[str, int]:
    """"HOST:PORT" (or "[V6]:PORT") → (host, port); ValueError names a bad one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"a nameserver must be HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


class Resolver:
    """`nameserver`: "HOST:PORT" of the resolver to ask; None: the system's."""

    def __init__(self, nameserver: str | None = None, timeout: float = 5.0) -> None:
        self._resolver = dns.resolver.Resolver(configure=nameserver is None)
        if nameserver is not None:
            host, port = nameserver_address(nameserver)
            self._resolver.nameservers = [host]
            self._resolver.port = port
        self._resolver.lifetime = timeout

    def _query(self, name: str, kind: str) -> tuple[str, list[Any], str]:
        status, rdatas, error, _ = self._query_flags(name, kind)
        return status, rdatas, error

    def _query_flags(self, name: str, kind: str) -> tuple[str, list[Any], str, bool]:
        try:
            answer = self._resolver.resolve(name, kind, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return NXDOMAIN, [], "", False
        except (dns.exception.DNSException, OSError) as exc:
            return ERROR, [], f"{type(exc).__name__}: {exc}", False
        authenticated = bool(answer.response.flags & dns.flags.AD)
        if answer.rrset is None:
            return NOANSWER, [], "", authenticated
        return OK, list(answer.rrset), "", authenticated

    def txt(self, name: str) -> Answer:
        status, rdatas, error = self._query(name, "TXT")
        # The records read here (TLS-RPT, MTA-STS, DKIM) are US-ASCII by their RFCs.
        values = [b"".join(r.strings).decode("ascii", "replace") for r in rdatas]
        return Answer(status, values, error)

    def mx(self, domain: str) -> Answer:
        """MX hosts, lowest preference first ("pref host")."""
        status, rdatas, error = self._query(domain, "MX")
        ordered = sorted((int(r.preference), str(r.exchange).rstrip(".").lower())
                         for r in rdatas)
        return Answer(status, [f"{pref} {host}" for pref, host in ordered], error)

    def mx_hosts(self, domain: str) -> list[str]:
        """MX host names, lowest preference first; a null MX ("0 .") gives none."""
        return [host for _, _, host in (v.partition(" ") for v in self.mx(domain).values)
                if host]

    def addresses(self, host: str) -> Answer:
        """A and AAAA addresses of a host together; ok if either has one."""
        found: list[str] = []
        statuses, errors = [], []
        for kind in ("A", "AAAA"):
            status, rdatas, error = self._query(host, kind)
            statuses.append(status)
            errors.extend([error] if error else [])
            found.extend(str(r) for r in rdatas)
        if found:
            return Answer(OK, found)
        if ERROR in statuses:
            return Answer(ERROR, [], "; ".join(errors))
        return Answer(NXDOMAIN if NXDOMAIN in statuses else NOANSWER, [])

    def tlsa(self, host: str, port: int = 25) -> Answer:
        """TLSA records at _PORT._tcp.HOST (RFC 7672 §2.2), and whether the resolver
        validated them (the AD bit: trust it only from a validating resolver you trust)."""
        self._resolver.use_edns(0, dns.flags.DO, 1232)
        self._resolver.flags = dns.flags.RD | dns.flags.AD
        status, rdatas, error, authenticated = self._query_flags(f"_{port}._tcp.{host}",
                                                                 "TLSA")
        values = [f"{r.usage} {r.selector} {r.mtype} {r.cert.hex()}" for r in rdatas]
        return Answer(status, values, error, authenticated)
