"""A whole live check of a domain: every step, then what changed since the previous check.

    run(domain, options, previous) → LiveCheck

Steps 1-4 (records, policy, MX hosts, DANE) probe the network; step 5 compares with the
previous stored check: a policy file changed while the _mta-sts id stayed the same (senders
keep their cached copy, RFC 8461 §3.1), and MX hosts that came or went.

A lookup that gets no answer (probe/dns.py: timeout, refused, SERVFAIL) makes its step
`inconclusive`, never an error with advice to publish records that may well exist; the check's
status is then inconclusive unless another step is an error (model.worst), and an MX set that
could not be looked up (`mx_known` false) is not compared with the previous one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from typing import NamedTuple

from tlsscope.check.dane_step import dane
from tlsscope.check.model import OK, WARNING, LiveCheck, Step, worst
from tlsscope.check.mx_step import mx
from tlsscope.check.policy_step import policy
from tlsscope.check.records_step import mta_sts_record, tlsrpt
from tlsscope.parse.records import check as check_text
from tlsscope.policy_text import mx_matches
from tlsscope.probe.dns import Resolver, mx_hosts
from tlsscope.settings import Settings


class Options(NamedTuple):
    nameserver: str = ""  # HOST:PORT, "" for the system's resolver
    timeout: float = 10.0
    smtp_port: int = 25
    https_port: int = 443
    ca_file: str = ""
    allow_private: bool = False
    warn_days: int = 14

    @classmethod
    def of(cls, settings: Settings) -> Options:
        return cls(settings.dns_nameserver, settings.check_timeout, settings.check_smtp_port,
                   settings.check_https_port, settings.check_ca_file,
                   settings.check_allow_private, settings.check_expiry_warning_days)


def normalise(domain: str) -> str:
    return domain.strip().lower().rstrip(".")


def run(domain: str, options: Options, previous: LiveCheck | None = None,
        now: dt.datetime | None = None) -> LiveCheck:
    """Check `domain` live. Raises ValueError for a malformed `options.nameserver`."""
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    domain = normalise(domain)
    resolver = Resolver(options.nameserver or None, options.timeout)
    verify: str | bool = options.ca_file or True
    steps = tlsrpt(resolver, domain, options.timeout, verify, options.allow_private)
    record_step, sts_id = mta_sts_record(resolver, domain)
    steps.append(record_step)
    found_mx = resolver.mx(domain)
    hosts = mx_hosts(found_mx)
    policy_steps, fetches = policy(resolver, domain, None if found_mx.failed else hosts,
                                   options.https_port, options.timeout, verify,
                                   options.allow_private, now=now, warn_days=options.warn_days)
    steps.extend(policy_steps)
    mx_steps, probes = mx(resolver, domain, found_mx, options.smtp_port, options.timeout,
                          options.ca_file or None, now=now, warn_days=options.warn_days,
                          allow_private=options.allow_private)
    steps.extend(mx_steps)
    steps.extend(dane(resolver, hosts, probes))
    body = next((f.body for f in fetches if f.status_code == 200 and not f.oversize), b"")
    parsed = check_text(body.decode("utf-8", "replace")) if body else None
    result = LiveCheck(
        domain=domain, checked_at=now, status=OK, seconds=0.0, steps=steps,
        mx_hosts=sorted(hosts), mx_known=not found_mx.failed, sts_id=sts_id or "",
        policy_sha256=hashlib.sha256(body).hexdigest() if body else "",
        policy_mx=parsed.mx_patterns if parsed else [],
        policy_mode=(parsed.mode or "") if parsed else "")
    if previous is not None:
        steps.extend(changes(previous, result))
    result.status = worst(steps)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def changes(previous: LiveCheck, current: LiveCheck) -> list[Step]:
    """What changed since the previous check, as steps."""
    since = f"since the check of {previous.checked_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    out: list[Step] = []
    if (previous.sts_id and previous.sts_id == current.sts_id and previous.policy_sha256
            and current.policy_sha256 and previous.policy_sha256 != current.policy_sha256):
        out.append(Step(
            step="mta-sts-policy-id", target=f"_mta-sts.{current.domain}", status=WARNING,
            line=f"The policy file changed {since}, but the _mta-sts record's id is still "
            f"{current.sts_id!r}: senders that cached the old policy keep using it until its "
            "max_age runs out (RFC 8461 §3.1).",
            details=[f"policy sha256 was {previous.policy_sha256[:16]}…, now "
                     f"{current.policy_sha256[:16]}…"],
            fix=["Publish a new id in the _mta-sts record whenever the policy changes: "
                 "tlsscope record mta-sts prints one."]))
    if not (previous.mx_known and current.mx_known):
        return out
    added = sorted(set(current.mx_hosts) - set(previous.mx_hosts))
    removed = sorted(set(previous.mx_hosts) - set(current.mx_hosts))
    if added or removed:
        uncovered = [h for h in added if current.policy_mx
                     and not any(mx_matches(p, h) for p in current.policy_mx)]
        details = [f"added: {', '.join(added)}"] if added else []
        details += [f"removed: {', '.join(removed)}"] if removed else []
        line = f"The MX hosts changed {since}."
        if uncovered:
            line += f" The policy's mx lines do not cover {', '.join(uncovered)}."
        out.append(Step(step="mx-drift", target=current.domain, uncovered=uncovered,
                        status=WARNING if uncovered else OK, line=line, details=details,
                        fix=["Update the policy's mx lines and its id before (or with) the MX "
                             "change."] if uncovered else []))
    return out
