"""Steps 1 and 2a of a domain check: the `_smtp._tls` TLS-RPT record with the reachability of
each `rua` destination (RFC 8460 §3), and the `_mta-sts` record (RFC 8461 §3.1)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from tlsscope.check.model import ERROR, OK, WARNING, Step, no_answer
from tlsscope.parse.records import RecordCheck, check_all, kind_of
from tlsscope.probe.connect import literal, refused
from tlsscope.probe.dns import OK as DNS_OK
from tlsscope.probe.dns import Resolver, mx_hosts
from tlsscope.probe.https import options


def _problems(found: RecordCheck) -> list[str]:
    return [f"{p.level}: {p.message} [{p.rule}]" for p in found.problems]


_SAID = {"tlsrpt": "TLS-RPT", "mta-sts-record": "MTA-STS"}  # "No MTA-STS record at ..."


def _record(resolver: Resolver, name: str, kind: str, step: str,
            missing_fix: str) -> tuple[Step, RecordCheck | None]:
    answer = resolver.txt(name)
    if answer.failed:
        return no_answer(step, name, f"TXT of {name}", answer), None
    records = [v for v in answer.values if kind_of(v) == kind]
    kind = _SAID.get(kind, kind)
    if not records:
        return Step(step=step, target=name, status=ERROR,
                    line=f"No {kind} record at {name}.", fix=[missing_fix]), None
    checks = check_all(records)
    if len(records) > 1:
        return Step(step=step, target=name, status=ERROR,
                    line=f"{len(records)} {kind} records at {name}: senders ignore them all.",
                    details=records, fix=["Keep exactly one record at this name."]), None
    (found,) = checks
    if not found.valid:
        return Step(step=step, target=name, status=ERROR,
                    line=f"The {kind} record at {name} is invalid: senders ignore it.",
                    details=[records[0], *_problems(found)],
                    fix=["Correct it: tlsscope record check shows each error."]), None
    status = WARNING if found.problems else OK
    return Step(step=step, target=name, status=status,
                line=f"The {kind} record at {name} is valid.",
                details=[records[0], *_problems(found)]), found


def tlsrpt(resolver: Resolver, domain: str, timeout: float = 10.0,
           verify: str | bool = True, allow_private: bool = False) -> list[Step]:
    name = f"_smtp._tls.{domain}"
    step, found = _record(resolver, name, "tlsrpt", "tlsrpt-record",
                          "Publish one: tlsscope record tlsrpt --rua mailto:ADDRESS")
    steps = [step]
    for uri in found.rua if found else []:
        steps.append(_rua_step(resolver, uri, timeout, verify, allow_private))
    return steps


def _mailto_step(resolver: Resolver, uri: str) -> Step:
    address = uri[len("mailto:"):].split("?", 1)[0]
    mail_domain = address.rpartition("@")[2].lower()
    mx = resolver.mx(mail_domain)
    if mx.failed:
        return no_answer("tlsrpt-rua", uri, f"MX of {mail_domain}", mx)
    if mx.status == DNS_OK and mx.values:
        if not mx_hosts(mx):
            return Step(step="tlsrpt-rua", target=uri, status=ERROR,
                        line=f"{mail_domain} has a null MX: it accepts no mail.")
        return Step(step="tlsrpt-rua", target=uri, status=OK,
                    line=f"{mail_domain} has MX hosts: reports can be delivered.",
                    details=mx.values)
    hosts = resolver.addresses(mail_domain)
    if hosts.failed:
        return no_answer("tlsrpt-rua", uri, f"the addresses of {mail_domain} (it has no MX "
                         "record)", hosts)
    if hosts.status == DNS_OK:
        return Step(step="tlsrpt-rua", target=uri, status=WARNING,
                    line=f"{mail_domain} has no MX record; mail goes to its address "
                    "(RFC 5321 §5.1), which works but is fragile.", details=hosts.values)
    return Step(step="tlsrpt-rua", target=uri, status=ERROR,
                line=f"{mail_domain} has neither MX nor address records: reports to "
                f"{address} cannot be delivered.",
                fix=["Use an address whose domain receives mail."])


def _rua_step(resolver: Resolver, uri: str, timeout: float, verify: str | bool,
              allow_private: bool) -> Step:
    if uri.lower().startswith("mailto:"):
        return _mailto_step(resolver, uri)
    parts = urlsplit(uri)
    host = parts.hostname or uri
    ip = literal(host)  # an address in any form the OS reads as one ("127.1" too)
    if ip is not None:
        addresses = [str(ip)]
    else:  # resolved once: the connection goes to the address checked here
        found = resolver.addresses(host)
        if found.failed:
            return no_answer("tlsrpt-rua", uri, f"the addresses of {host}", found)
        addresses = found.values
    why = next((r for r in (refused(a, allow_private) for a in addresses) if r), None)
    if not addresses or why:
        return Step(step="tlsrpt-rua", target=uri, status=ERROR,
                    line=f"{host} is not checked: {why or 'it has no address'}.")
    try:
        port = parts.port or 443
    except ValueError:
        return Step(step="tlsrpt-rua", target=uri, status=ERROR,
                    line=f"{uri} has an invalid port.")
    path = parts.path or "/"
    try:
        status = options(host, addresses[0], port, path + (f"?{parts.query}" if parts.query
                                                           else ""), timeout, verify,
                         allow_private)
    except httpx.HTTPError as exc:
        return Step(step="tlsrpt-rua", target=uri, status=ERROR,
                    line=f"{host} does not answer over HTTPS: {type(exc).__name__}.",
                    details=[str(exc)[:300]],
                    fix=["Make the endpoint reachable with a trusted certificate, or remove "
                         "it from rua."])
    return Step(step="tlsrpt-rua", target=uri, status=OK,
                line=f"{host} answers over HTTPS (HTTP {status}).")


def mta_sts_record(resolver: Resolver, domain: str) -> tuple[Step, str | None]:
    """The `_mta-sts` record and its id (None when there is no valid record)."""
    step, found = _record(resolver, f"_mta-sts.{domain}", "mta-sts-record", "mta-sts-record",
                          "Publish a policy and its record: tlsscope record mta-sts --mx HOST")
    return step, found.sts_id if found else None
