"""DNS lookups for the live checks (dnspython), with a settable resolver for tests and
independent checks. Answers say what happened instead of raising, because "the record is
missing" is a result, not a failure of the check.

Every lookup ends in one `Outcome`, decided here and nowhere else:

    OK        records of the type
    NXDOMAIN  a negative answer: the name does not exist (or cannot: not a valid name)
    NOANSWER  a negative answer: the name exists, with no record of the type (NODATA)
    FAILED    no answer at all: timeout, connection refused, network unreachable, SERVFAIL,
              REFUSED, no nameserver configured. Nothing is known about the records, and
              `Answer.reason` says why ("DNS timeout after 5 s (server 127.0.0.1:53)").

A validating resolver also answers SERVFAIL for DNSSEC data that does not validate: that
is FAILED too, since a stub cannot tell it from a broken server.

TXT records are returned one string per record, the record's character-strings joined with
nothing between them (RFC 8460 §3 and RFC 8461 §3.1, as RFC 7208 §3.3).
"""

from __future__ import annotations

import errno
import socket
import time
from enum import StrEnum
from typing import Any, NamedTuple

import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.resolver


class Outcome(StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    NOANSWER = "noanswer"
    FAILED = "failed"


OK, NXDOMAIN, NOANSWER, FAILED = Outcome.OK, Outcome.NXDOMAIN, Outcome.NOANSWER, Outcome.FAILED
_BAD_NAMES = (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong,
              dns.name.BadEscape, dns.name.IDNAException)


class Answer(NamedTuple):
    status: Outcome
    values: list[str]
    reason: str = ""  # why it FAILED (or why a name cannot exist)
    authenticated: bool = False  # the resolver set AD: it validated the answer with DNSSEC

    @property
    def failed(self) -> bool:
        """No answer: neither the records nor their absence is known."""
        return self.status is Outcome.FAILED


def nameserver_address(text: str) -> tuple[str, int]:
    """"HOST:PORT" (or "[V6]:PORT") → (host, port); ValueError names a bad one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"a nameserver must be HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def mx_hosts(answer: Answer) -> list[str]:
    """The MX host names of an `mx` answer, lowest preference first; a null MX ("0 .")
    gives none."""
    return [host for _, _, host in (v.partition(" ") for v in answer.values) if host]


class _Nameserver(dns.nameserver.Do53Nameserver):
    """Do53 over a connected UDP socket, so that a port with nothing listening answers
    "connection refused" at once (the ICMP error reaches only a connected socket) instead of
    a timeout; named HOST:PORT in reasons. TCP (after truncation) is dnspython's own."""

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    def query(self, request: dns.message.QueryMessage, timeout: float, source: str | None,
              source_port: int, max_size: bool, one_rr_per_rrset: bool = False,
              ignore_trailing: bool = False) -> dns.message.Message:
        if max_size:
            return super().query(request, timeout, source, source_port, max_size,
                                 one_rr_per_rrset, ignore_trailing)
        with socket.socket(dns.inet.af_for_address(self.address), socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect((self.address, self.port))
            sock.send(request.to_wire())
            # No destination: a connected socket hears only its peer. (message, time, peer)
            response = dns.query.receive_udp(
                sock, None, time.time() + timeout, one_rr_per_rrset=one_rr_per_rrset,
                keyring=request.keyring, request_mac=request.mac,
                ignore_trailing=ignore_trailing, raise_on_truncation=True, ignore_errors=True,
                query=request)[0]
        assert isinstance(response, dns.message.Message)
        return response


def _what(error: object) -> str:
    """One server's failure in a few words."""
    if isinstance(error, str):  # an rcode: SERVFAIL, REFUSED, FORMERR, NOTIMP
        return error
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, dns.exception.Timeout):
        return "DNS timeout"
    if isinstance(error, EOFError):
        return "connection closed"
    if isinstance(error, dns.message.Truncated):
        return "truncated answer (TC bit) and no answer over TCP"
    return f"{type(error).__name__}: {error}"


def failure_reason(exc: Exception, lifetime: float, servers: list[str]) -> str:
    """Why a lookup got no answer, with the servers asked: "DNS timeout after 5 s (server
    127.0.0.1:53)", "connection refused (server 127.0.0.1:9)", "SERVFAIL (server ...)"."""
    if isinstance(exc, dns.exception.Timeout):
        label = "server" if len(servers) == 1 else "servers"
        return f"DNS timeout after {lifetime:g} s ({label} {', '.join(servers) or 'none'})"
    if isinstance(exc, dns.resolver.NoNameservers):
        errors = exc.kwargs.get("errors") or []
        said = dict.fromkeys(f"{_what(e[3])} (server {e[0]})" for e in errors)
        return "; ".join(said) or ("no nameserver answered" if servers
                                   else "no nameserver is configured")
    if isinstance(exc, dns.resolver.NoResolverConfiguration):
        return "no nameserver is configured"
    if isinstance(exc, OSError):
        return f"{_what(exc)} (servers {', '.join(servers)})"
    return f"{type(exc).__name__}: {exc}"


SILENT_SECONDS = 60.0  # after a timeout, lookups fail at once for this long


class Resolver:
    """`nameserver`: "HOST:PORT" of the resolver to ask; None: the system's.

    A resolver that let one lookup time out is not asked again for SILENT_SECONDS: the
    lookups meanwhile FAIL at once with the same reason, so that a dead resolver costs one
    timeout per check (not one per record: ~50 s with the default 10 s) and one per minute
    to the DKIM checks of the intake, not one per mail.
    """

    def __init__(self, nameserver: str | None = None, timeout: float = 5.0) -> None:
        try:
            self._resolver = dns.resolver.Resolver(configure=nameserver is None)
        except dns.resolver.NoResolverConfiguration:  # no resolv.conf: every lookup FAILS
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = []
        if nameserver is not None:
            host, port = nameserver_address(nameserver)
            self._resolver.nameservers = [_Nameserver(host, port)]
        else:
            self._resolver.nameservers = [self._connected(ns)
                                          for ns in self._resolver.nameservers]
        self._resolver.lifetime = timeout
        self._silent: tuple[float, str] | None = None  # (until, why)

    def _connected(self, ns: str | dns.nameserver.Nameserver) -> str | dns.nameserver.Nameserver:
        """A system nameserver (an address, or Do53) as a `_Nameserver`; others as they are."""
        if isinstance(ns, dns.nameserver.Do53Nameserver):
            return _Nameserver(ns.address, ns.port)
        if isinstance(ns, str) and dns.inet.is_address(ns):
            return _Nameserver(ns, self._resolver.nameserver_ports.get(ns, self._resolver.port))
        return ns

    def _lookup(self, name: str, kind: str) -> tuple[Answer, list[Any]]:
        """The outcome of one query (its values still empty), and the records."""
        if self._silent is not None:
            until, why = self._silent
            if time.monotonic() < until:
                return Answer(FAILED, [], f"{why}; not asked again for "
                              f"{SILENT_SECONDS:g} s"), []
            self._silent = None
        try:
            answer = self._resolver.resolve(name, kind, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Answer(NXDOMAIN, []), []
        except _BAD_NAMES as exc:
            return Answer(NXDOMAIN, [], f"not a valid DNS name: {exc}"), []
        except (dns.exception.DNSException, OSError) as exc:
            servers = [str(ns) for ns in self._resolver.nameservers]
            why = failure_reason(exc, self._resolver.lifetime, servers)
            if isinstance(exc, dns.exception.Timeout):
                self._silent = (time.monotonic() + SILENT_SECONDS, why)
            return Answer(FAILED, [], why), []
        authenticated = bool(answer.response.flags & dns.flags.AD)
        if answer.rrset is None:
            return Answer(NOANSWER, [], authenticated=authenticated), []
        return Answer(OK, [], authenticated=authenticated), list(answer.rrset)

    def txt(self, name: str) -> Answer:
        found, rdatas = self._lookup(name, "TXT")
        # The records read here (TLS-RPT, MTA-STS, DKIM) are US-ASCII by their RFCs.
        return found._replace(values=[b"".join(r.strings).decode("ascii", "replace")
                                      for r in rdatas], authenticated=False)

    def mx(self, domain: str) -> Answer:
        """MX records, lowest preference first ("pref host"); `mx_hosts` gives the names."""
        found, rdatas = self._lookup(domain, "MX")
        ordered = sorted((int(r.preference), str(r.exchange).rstrip(".").lower())
                         for r in rdatas)
        return found._replace(values=[f"{pref} {host}" for pref, host in ordered],
                              authenticated=False)

    def mx_hosts(self, domain: str) -> list[str]:
        """MX host names, lowest preference first (an empty list also when the lookup
        failed: use `mx` and `mx_hosts(answer)` where that matters)."""
        return mx_hosts(self.mx(domain))

    def addresses(self, host: str) -> Answer:
        """A and AAAA addresses of a host together: OK if either has one; else NXDOMAIN if
        the name does not exist, FAILED if a lookup got no answer, NOANSWER if neither
        type has records."""
        found: list[str] = []
        outcomes: list[Answer] = []
        for kind in ("A", "AAAA"):
            outcome, rdatas = self._lookup(host, kind)
            outcomes.append(outcome)
            found.extend(str(r) for r in rdatas)
        if found:
            return Answer(OK, found)
        for status in (NXDOMAIN, FAILED):
            reasons = [o.reason for o in outcomes if o.status is status and o.reason]
            if any(o.status is status for o in outcomes):
                return Answer(status, [], "; ".join(dict.fromkeys(reasons)))
        return Answer(NOANSWER, [])

    def tlsa(self, host: str, port: int = 25) -> Answer:
        """TLSA records at _PORT._tcp.HOST (RFC 7672 §2.2), and whether the resolver
        validated them (the AD bit: trust it only from a validating resolver you trust)."""
        self._resolver.use_edns(0, dns.flags.DO, 1232)
        self._resolver.flags = dns.flags.RD | dns.flags.AD
        found, rdatas = self._lookup(f"_{port}._tcp.{host}", "TLSA")
        return found._replace(values=[f"{r.usage} {r.selector} {r.mtype} {r.cert.hex()}"
                                      for r in rdatas])
