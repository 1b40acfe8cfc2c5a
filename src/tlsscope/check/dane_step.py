"""Step 4 of a domain check: DANE for SMTP (RFC 7672). TLSA records at _25._tcp.MX, whether
the resolver validated them with DNSSEC, and whether each address's certificate matches.

DANE-EE (usage 3) and DANE-TA (2) are what RFC 7672 §3.1 uses; for usage 3 the name and the
dates of the certificate do not matter (§3.1.1). PKIX usages (0, 1) are treated like 2 and 3
here, and said to be unusable for SMTP (§3.1.3)."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlsscope.check.model import ERROR, OK, WARNING, Step, no_answer
from tlsscope.probe.dns import OK as DNS_OK
from tlsscope.probe.dns import Resolver
from tlsscope.probe.smtp import MxProbe
from tlsscope.vocab import ResultType

STEP = "dane"
# A SERVFAIL from a validating resolver can also mean DNSSEC data that does not validate.
_SERVFAIL = ("a validating resolver also answers SERVFAIL when the TLSA records' DNSSEC "
             "signatures do not validate (dnssec-invalid): DANE senders then defer mail to "
             "this host; ask another validating resolver (delv, dig +dnssec) to tell which")


def _digest(der: bytes, selector: int, mtype: int) -> bytes:
    data = der
    if selector == 1:
        data = x509.load_der_x509_certificate(der).public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def matches(record: str, probe: MxProbe) -> bool:
    usage, selector, mtype, data = record.split(" ", 3)
    wanted = bytes.fromhex(data)
    certs = [probe.leaf_der] if usage in ("1", "3") else probe.chain_der[1:] or []
    return any(_digest(der, int(selector), int(mtype)) == wanted for der in certs if der)


def dane(resolver: Resolver, hosts: list[str], probes: list[MxProbe]) -> list[Step]:
    steps = []
    for host in hosts:
        name = f"_25._tcp.{host}"
        answer = resolver.tlsa(host)
        if answer.failed:
            details = [_SERVFAIL] if "SERVFAIL" in answer.reason else []
            steps.append(no_answer(STEP, name, f"TLSA of {name}", answer, details=details))
            continue
        if answer.status != DNS_OK or not answer.values:
            steps.append(Step(step=STEP, target=name, status=OK,
                              line=f"{host} publishes no TLSA records: DANE is not used."))
            continue
        if not answer.authenticated:
            steps.append(Step(
                step=STEP, target=name, status=WARNING, details=answer.values,
                line=f"{host} has TLSA records, but the resolver did not validate them with "
                "DNSSEC (no AD bit): DANE senders ignore them (RFC 7672 §2.2).",
                fix=["Sign the zone with DNSSEC (and its parent's DS), or remove the records."]))
            continue
        for probe in (p for p in probes if p.host == host):
            steps.append(_judge(name, probe, answer.values))
    for step in steps:
        step.host = step.target.split(" ", 1)[0].removeprefix("_25._tcp.")
    return steps


def _judge(name: str, probe: MxProbe, records: list[str]) -> Step:
    target = f"{name} [{probe.address}]"
    if probe.error or not probe.starttls or not probe.leaf_der:
        return Step(step=STEP, target=target, status=ERROR, details=records,
                    results=[ResultType.DANE_REQUIRED],
                    line=f"{probe.host} publishes DNSSEC-validated TLSA records but offers no "
                    "working STARTTLS: DANE senders defer mail to it (dane-required).",
                    fix=["Enable STARTTLS on this host, or withdraw the TLSA records."])
    usable = [r for r in records if r.split(" ", 1)[0] in ("2", "3")]
    if any(matches(record, probe) for record in records):
        note = "" if usable else " (only PKIX usages 0/1, which SMTP DANE does not use)"
        return Step(step=STEP, target=target, status=OK if usable else WARNING,
                    details=records,
                    line=f"{probe.host}'s certificate matches its TLSA records{note}.")
    return Step(step=STEP, target=target, status=ERROR, details=records,
                line=f"{probe.host}'s certificate matches none of its TLSA records: DANE "
                "senders report tlsa-invalid and do not deliver.",
                results=[ResultType.TLSA_INVALID],
                fix=["Publish TLSA records for the certificate in use (before a certificate "
                     "change, publish the next one's record too: RFC 7671 §8)."])
