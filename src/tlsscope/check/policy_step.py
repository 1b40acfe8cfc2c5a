"""Step 2b of a domain check: the MTA-STS policy file, fetched from every address of
mta-sts.DOMAIN (IPv4 and IPv6 can differ), checked with the RFC 8461 §3.3 rules and
validated (§3.2), then the live MX set matched against its mx lines (§4.1), unless the MX
lookup got no answer (then coverage is not judged)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from tlsscope.check.model import ERROR, OK, WARNING, Step, no_answer
from tlsscope.parse.records import check
from tlsscope.probe.connect import refused
from tlsscope.probe.dns import OK as DNS_OK
from tlsscope.probe.dns import Resolver
from tlsscope.probe.https import POLICY_PATH, PolicyFetch, fetch_policy
from tlsscope.vocab import ResultType

STEP = "mta-sts-policy"


def policy(resolver: Resolver, domain: str, live_mx: list[str] | None, port: int = 443,
           timeout: float = 10.0, verify: str | bool = True, allow_private: bool = False,
           now: dt.datetime | None = None,
           warn_days: int = 14) -> tuple[list[Step], list[PolicyFetch]]:
    """`live_mx`: the domain's MX host names, which the policy's mx lines must cover (None:
    unknown, the MX lookup failed). Returns the steps, and the fetches behind them."""
    host = f"mta-sts.{domain}"
    url = f"https://{host}{POLICY_PATH}"
    addresses = resolver.addresses(host)
    if addresses.failed:
        return [no_answer(STEP, url, f"the addresses of {host}", addresses)], []
    if addresses.status != DNS_OK:
        return [Step(step=STEP, target=url, status=ERROR,
                     line=f"{host} has no address: senders cannot fetch the policy.",
                     details=[addresses.reason] if addresses.reason else [],
                     results=[ResultType.STS_POLICY_FETCH_ERROR],
                     fix=[f"Publish A/AAAA records for {host} pointing at the policy host."])], []
    steps = []
    fetches = []
    for address in addresses.values:
        why = refused(address, allow_private)
        if why:
            steps.append(Step(step=STEP, target=f"{url} via {address}", status=ERROR,
                              line=f"Not fetched: {why}."))
            continue
        fetched = fetch_policy(host, address, port, timeout, verify, allow_private)
        fetches.append(fetched)
        step = _judge(fetched, url, live_mx)
        _expiry(step, fetched.certificate, now or dt.datetime.now(dt.UTC), warn_days)
        steps.append(step)
    return steps, fetches


def _expiry(step: Step, certificate: bytes, now: dt.datetime, warn_days: int) -> None:
    """Warn before the policy host's certificate expires: senders then report
    sts-webpki-invalid and fall back to no policy (RFC 8461 §3.3)."""
    if not certificate:
        return
    not_after = x509.load_der_x509_certificate(certificate).not_valid_after_utc
    days = (not_after - now).days
    step.expires = not_after.isoformat()
    step.details.append(f"policy host certificate valid until {not_after:%Y-%m-%d} "
                        f"({days} days left)")
    if 0 <= days < warn_days:
        step.details.insert(0, f"warning: the policy host's certificate expires in {days} "
                               f"days, on {not_after:%Y-%m-%d}")
        step.fix.append("Renew the policy host's certificate, and check that renewal is "
                        "automatic.")
        if step.status == OK:
            step.status = WARNING
            step.line += f" Its certificate expires in {days} days."


def _judge(fetched: PolicyFetch, url: str, live_mx: list[str] | None) -> Step:
    target = f"{url} via {fetched.address}"
    if fetched.status_code is None:
        if fetched.tls_error:
            return Step(step=STEP, target=target, status=ERROR,
                        line="The policy host's certificate or TLS failed: senders report "
                        "sts-webpki-invalid and use no policy.", details=[fetched.error],
                        results=[ResultType.STS_WEBPKI_INVALID],
                        fix=["Serve a publicly trusted certificate valid for the policy host "
                             "(RFC 8461 §3.3)."])
        return Step(step=STEP, target=target, status=ERROR,
                    line="The policy host does not answer: senders report "
                    "sts-policy-fetch-error.", details=[fetched.error],
                    results=[ResultType.STS_POLICY_FETCH_ERROR],
                    fix=["Make the policy host reachable over HTTPS on this address."])
    if 300 <= fetched.status_code < 400:
        return Step(step=STEP, target=target, status=ERROR,
                    line=f"The policy host redirects (HTTP {fetched.status_code}); senders "
                    "must not follow redirects (RFC 8461 §3.3).",
                    details=[f"Location: {fetched.location}"],
                    results=[ResultType.STS_POLICY_FETCH_ERROR],
                    fix=["Serve the file itself at this URL, with HTTP 200."])
    if fetched.status_code != 200:
        return Step(step=STEP, target=target, status=ERROR,
                    line=f"The policy host answers HTTP {fetched.status_code}: senders report "
                    "sts-policy-fetch-error.", results=[ResultType.STS_POLICY_FETCH_ERROR],
                    fix=["Serve the policy file at /.well-known/mta-sts.txt with HTTP 200."])
    if fetched.oversize:
        return Step(step=STEP, target=target, status=ERROR,
                    line="The policy file is larger than 64 KB: senders may refuse it.",
                    results=[ResultType.STS_POLICY_INVALID],
                    fix=["Serve only the policy lines."])
    return _judge_policy(fetched, target, live_mx)


def _judge_policy(fetched: PolicyFetch, target: str, live_mx: list[str] | None) -> Step:
    """The policy file served: valid (§3.2), text/plain, and covering the live MX (§4.1)."""
    text = fetched.body.decode("utf-8", "replace")
    found = check(text)
    details = [f"{p.level}: {p.message} [{p.rule}]" for p in found.problems]
    media = fetched.content_type.split(";", 1)[0].strip().lower()
    status = OK if found.valid and not found.problems else WARNING
    if media != "text/plain":
        details.insert(0, f"warning: Content-Type is {fetched.content_type or 'missing'!r}, "
                          "not text/plain [RFC 8461 §3.2]")
        status = WARNING
    if not found.valid:
        return Step(step=STEP, target=target, status=ERROR,
                    line="The policy file is invalid: senders report sts-policy-invalid.",
                    results=[ResultType.STS_POLICY_INVALID],
                    details=details, fix=["Correct it: tlsscope record check shows each error."])
    valid = (f"The policy is valid: mode {found.mode}, {len(found.mx_patterns)} mx line(s), "
             f"max_age {found.max_age}")
    if live_mx is None:
        return Step(step=STEP, target=target, status=status, details=details,
                    line=f"{valid}; the live MX are unknown (their lookup got no answer), so "
                    "its coverage is not checked.")
    coverage = [p for p in check(text, live_mx).problems if p.rule == "RFC 8461 §4.1"]
    uncovered = [p.token for p in coverage]
    details = [f"{p.level}: {p.message} [{p.rule}]" for p in coverage] + details
    if uncovered:
        return Step(step=STEP, target=target, status=ERROR, uncovered=uncovered,
                    line=f"The policy does not cover MX {', '.join(uncovered)}: under "
                    "enforce, senders refuse to deliver there; under testing they report it.",
                    details=[f"mx lines: {', '.join(found.mx_patterns)}", *details],
                    fix=["Add an mx line for each MX host (a wildcard covers exactly one "
                         "label), publish a new id in the _mta-sts record, or change the MX."])
    return Step(step=STEP, target=target, status=status, details=details,
                line=f"{valid}; live MX: {', '.join(live_mx) or 'none'}.")
