"""Step 3 of a domain check: every MX, on every A and AAAA address, on port 25. STARTTLS
offered? TLS version and cipher; the certificate's expiry and days left, whether it names the
MX host, and whether it is trusted. Every problem is listed, not only OpenSSL's first one
(RFC 8460 §4.3 result types name what senders would report)."""

from __future__ import annotations

import contextlib
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from cryptography import x509

from tlsscope.check.model import ERROR, OK, WARNING, Step, no_answer
from tlsscope.policy_text import mx_matches
from tlsscope.probe.connect import refused
from tlsscope.probe.dns import OK as DNS_OK
from tlsscope.probe.dns import Answer, Resolver, mx_hosts
from tlsscope.probe.smtp import MxProbe, probe_mx
from tlsscope.vocab import ResultType

STEP = "mx"
EXPIRY_WARNING_DAYS = 14
_UNTRUSTED_CODES = {2, 18, 19, 20, 21}  # OpenSSL: no issuer, self-signed, unknown CA


def mx(resolver: Resolver, domain: str, found: Answer, port: int = 25,
       timeout: float = 10.0, cafile: str | None = None, now: dt.datetime | None = None,
       warn_days: int = EXPIRY_WARNING_DAYS,
       allow_private: bool = False) -> tuple[list[Step], list[MxProbe]]:
    """The steps for the domain's MX hosts (`found`: its MX answer), and the probes behind
    them."""
    now = now or dt.datetime.now(dt.UTC)
    if found.failed:
        return [no_answer(STEP, domain, f"MX of {domain}", found)], []
    hosts = mx_hosts(found)
    if not hosts:
        return [Step(step=STEP, target=domain, status=ERROR,
                     line=f"{domain} has no MX hosts to check.")], []
    targets: list[tuple[str, str]] = []
    steps: list[Step] = []
    for host in hosts:
        addresses = resolver.addresses(host)
        if addresses.failed:
            steps.append(no_answer(STEP, host, f"the addresses of MX {host}", addresses,
                                   host=host))
        elif addresses.status != DNS_OK:
            steps.append(Step(step=STEP, target=host, status=ERROR,
                              line=f"MX {host} has no address record.",
                              fix=[f"Publish A/AAAA records for {host}, or remove the MX."]))
        for address in addresses.values:
            why = refused(address, allow_private)
            if why:
                steps.append(Step(step=STEP, target=f"{host} [{address}]", status=ERROR,
                                  line=f"Not probed: {why}."))
            else:
                targets.append((host, address))
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(lambda t: probe_mx(t[0], t[1], port, timeout, cafile,
                                                  allow_private), targets))
    steps.extend(judge(probe, now, warn_days) for probe in probes)
    return steps, probes


def judge(probe: MxProbe, now: dt.datetime, warn_days: int) -> Step:
    target = f"{probe.host} [{probe.address}]"
    step = _judge(probe, target, now, warn_days)
    step.host = probe.host
    if probe.leaf_der:
        with contextlib.suppress(ValueError):
            step.expires = x509.load_der_x509_certificate(
                probe.leaf_der).not_valid_after_utc.isoformat()
    return step


def _judge(probe: MxProbe, target: str, now: dt.datetime, warn_days: int) -> Step:
    if probe.error:
        return Step(step=STEP, target=target, status=ERROR,
                    line=f"Could not talk SMTP to {probe.host} on this address.",
                    details=[probe.error])
    if not probe.starttls:
        return Step(step=STEP, target=target, status=ERROR,
                    line=f"{probe.host} does not offer STARTTLS: senders report "
                    "starttls-not-supported, and mail to it travels unencrypted.",
                    results=[ResultType.STARTTLS_NOT_SUPPORTED],
                    fix=["Enable STARTTLS with a valid certificate on this host."])
    if not probe.leaf_der:
        return Step(step=STEP, target=target, status=ERROR,
                    line=f"{probe.host} offers STARTTLS but the TLS handshake fails.",
                    details=[probe.verify_error], results=[ResultType.VALIDATION_FAILURE])
    problems, details, fix, results = _certificate(probe, now, warn_days)
    details.insert(0, f"{probe.tls_version} {probe.cipher}")
    if probe.tls_version in ("TLSv1", "TLSv1.1", "SSLv3"):
        problems.append((WARNING, f"{probe.tls_version} is below TLS 1.2, which MTA-STS "
                                  "senders require (RFC 8461 §7.2)"))
    errors = [text for level, text in problems if level == ERROR]
    warnings = [text for level, text in problems if level == WARNING]
    if errors:
        return Step(step=STEP, target=target, status=ERROR,
                    line=f"{probe.host}: " + "; ".join(errors) + ".",
                    details=details + warnings, fix=fix, results=results)
    if warnings:
        return Step(step=STEP, target=target, status=WARNING,
                    line=f"{probe.host}: " + "; ".join(warnings) + ".", details=details,
                    fix=fix)
    return Step(step=STEP, target=target, status=OK,
                line=f"{probe.host} offers STARTTLS with a valid, trusted certificate.",
                details=details)


def _certificate(probe: MxProbe, now: dt.datetime,
                 warn_days: int) -> tuple[list[tuple[str, str]], list[str], list[str], list[str]]:
    problems: list[tuple[str, str]] = []
    fix: list[str] = []
    results: list[str] = []
    cert = x509.load_der_x509_certificate(probe.leaf_der)
    not_after = cert.not_valid_after_utc
    days_left = (not_after - now).days
    names = _dns_names(cert)
    details = [f"certificate for {', '.join(names) or '(no DNS names)'}, valid until "
               f"{not_after:%Y-%m-%d %H:%M} UTC ({days_left} days left), issued by "
               f"{cert.issuer.rfc4514_string()}"]
    if not_after < now:
        problems.append((ERROR, f"its certificate expired on {not_after:%Y-%m-%d} "
                                "(certificate-expired)"))
        results.append(ResultType.CERTIFICATE_EXPIRED)
        fix.append("Renew the certificate and reload the mail service.")
    elif days_left < warn_days:
        problems.append((WARNING, f"its certificate expires in {days_left} days, on "
                                  f"{not_after:%Y-%m-%d}"))
        fix.append("Renew the certificate now, and check that renewal is automatic.")
    if cert.not_valid_before_utc > now:
        problems.append((ERROR, f"its certificate is not valid before "
                                f"{cert.not_valid_before_utc:%Y-%m-%d}"))
        results.append(ResultType.VALIDATION_FAILURE)
    if not any(mx_matches(name, probe.host) for name in names):
        problems.append((ERROR, f"its certificate does not name {probe.host} "
                                "(certificate-host-mismatch)"))
        results.append(ResultType.CERTIFICATE_HOST_MISMATCH)
        fix.append(f"Issue a certificate whose names include {probe.host}.")
    if probe.verify_code in _UNTRUSTED_CODES or (
            not probe.verified and probe.verify_code is None and probe.verify_error):
        reason = probe.verify_error or "not trusted"
        if cert.issuer == cert.subject:
            reason = "self-signed"
        elif probe.verify_code == 20 and len(probe.chain_der) <= 1:
            reason = f"{reason}; the server sends no intermediate certificate"
        problems.append((ERROR, f"its certificate is not trusted: {reason} "
                                "(certificate-not-trusted)"))
        results.append(ResultType.CERTIFICATE_NOT_TRUSTED)
        fix.append("Serve a certificate from a public CA, with its full chain.")
    return problems, details, fix, results


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(name).lower() for name in extension.value.get_values_for_type(x509.DNSName)]
