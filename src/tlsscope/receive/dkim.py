"""DKIM for mailed reports (RFC 8460 §3, §5.3; RFC 6376), with dkimpy.

A report sent by mail MUST carry a valid DKIM signature by the reporting domain. Each
signature is checked with dkimpy's TLSRPT rules (`tlsrpt=True`: no `l=`; a key of service type
`tlsrpt`, `email` or `*`). The result is pass when one signature verifies and its `d=` is
aligned with the submitter (the `TLS-Report-Submitter` header): the same domain, or one inside
the other (relaxed, as Mail.ru's mail.ru and corp.mail.ru). DNS goes through an injectable
resolver (a nameserver address, for tests and for split-horizon setups).

    verify      one mail's verdict (receipts.DkimVerdict, stored with the input)
    DkimVerifier   the settings applied: which inputs are checked, and `dkim_required`
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tlsscope.notes import error
from tlsscope.receipts import DkimVerdict

if TYPE_CHECKING:
    from tlsscope.parse.results import InputResult
    from tlsscope.settings import Settings

DnsTxt = Callable[[str], str | None]


class DnsUnavailable(Exception):
    """A key lookup got no answer (a timeout, SERVFAIL): the mail's DKIM is a temporary error
    (RFC 8601 §2.7.1 temperror), not a failure."""

_SUBMITTER = re.compile(rb"^TLS-Report-Submitter:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


MAX_SIGNATURES = 5  # tried per mail; a reporter signs once or twice
BUDGET_SECONDS = 10.0  # for all the signatures of one mail, lookups included
CACHE_SECONDS = 3600.0  # a key or its absence, as the DNS said it, is reused this long
CACHE_SIZE = 1024


def resolver(nameserver: str | None = None, timeout: float = 3.0) -> DnsTxt:
    """TXT lookups with dnspython: the system's resolver, or HOST:PORT. A lookup that got no
    answer raises DnsUnavailable; a name without a key is None.

    Answers (a key, or none) are cached for CACHE_SECONDS; a lookup that got no answer at all
    (timeout, SERVFAIL) is not, so that one outage does not fail a selector for the life of
    the process.
    """
    from tlsscope.probe.dns import OK, Resolver

    client = Resolver(nameserver, timeout)
    cache: dict[str, tuple[float, str | None]] = {}

    def txt(name: str) -> str | None:
        now = time.monotonic()
        hit = cache.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        answer = client.txt(name)
        found = "".join(answer.values) if answer.status == OK and answer.values else None
        if answer.failed:
            raise DnsUnavailable(f"no answer for {name} ({answer.reason or answer.status})")
        if len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))  # the oldest entry
        cache[name] = (now + CACHE_SECONDS, found)
        return found

    return txt


def submitter(message: bytes) -> str | None:
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _SUBMITTER.search(head)
    return found.group(1).decode("ascii", "replace").strip().lower() or None if found else None


def _related(a: str, b: str) -> bool:
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def verify(message: bytes, lookup: DnsTxt) -> DkimVerdict:
    import dkim

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        text = lookup(name.decode("ascii", "replace").rstrip("."))
        return text.encode() if text else b""

    signer = dkim.DKIM(message, tlsrpt=True)
    count = len([h for h in signer.headers if h[0].lower() == b"dkim-signature"])
    if count == 0:
        return _verdict("none", "no DKIM-Signature header")
    who = submitter(message)
    failures = []
    if count > MAX_SIGNATURES:
        failures.append(f"{count} DKIM-Signature headers: only the first {MAX_SIGNATURES} "
                        "were tried")
    deadline = time.monotonic() + BUDGET_SECONDS
    unanswered = False  # a key lookup got no answer: temperror unless another one passes
    for index in range(min(count, MAX_SIGNATURES)):
        if time.monotonic() > deadline:
            failures.append(f"the DKIM budget of {BUDGET_SECONDS:g} s ran out after "
                            f"{index} signature(s)")
            break
        try:
            good = signer.verify(idx=index, dnsfunc=dnsfunc)
        except dkim.DKIMException as exc:
            good, reason = False, str(exc)
        except DnsUnavailable as exc:
            good, reason, unanswered = False, f"the key could not be looked up: {exc}", True
        else:
            reason = "signature does not verify"
        domain = signer.domain.decode() if signer.domain else None
        if not good:
            failures.append(f"{domain or '?'}: {reason}")
            continue
        aligned = bool(domain and who and _related(domain, who))
        try:
            key = lookup(f"{signer.selector.decode()}._domainkey.{domain}") or ""
        except DnsUnavailable:  # answered a moment ago, for the signature itself
            key = ""
        services = re.search(r"(?:^|;)\s*s\s*=\s*([^;]*)", key)
        tlsrpt_key = services is None or "tlsrpt" in services.group(1) or "*" in services.group(1)
        if aligned:
            return DkimVerdict(result="pass", domain=domain, aligned=True,
                               tlsrpt_key=tlsrpt_key,
                               detail=f"verified and aligned with the submitter {who}")
        failures.append(f"{domain}: verified, but not aligned with the submitter {who or '?'}")
    return _verdict("temperror" if unanswered else "fail", "; ".join(failures))


def _verdict(result: str, detail: str) -> DkimVerdict:
    """No signature that counts: no domain, not aligned."""
    return DkimVerdict(result=result, domain=None, aligned=False, tlsrpt_key=None, detail=detail)


class DkimVerifier:
    """DKIM of mailed reports (RFC 8460 §3): verified, and required if the settings say so.

    A mail that fails when a signature is required loses its reports to quarantine: it is
    rejected with `dkim_required`, and its raw bytes are kept like any rejected input.
    """

    def __init__(self, settings: Settings) -> None:
        self.lookup = resolver(settings.dns_nameserver or None)
        self.required = settings.dkim_required

    @classmethod
    def for_intake(cls, settings: Settings, live: bool) -> DkimVerifier | None:
        wanted = settings.dkim_verify == "always" or (settings.dkim_verify == "live" and live)
        return cls(settings) if wanted else None

    def check(self, data: bytes, result: InputResult) -> DkimVerdict | None:
        if result.kind != "mail":  # one message; an mbox holds many, each signed on its own
            return None
        verdict = verify(data, self.lookup)
        if self.required and not verdict.passed and result.reports:
            result.errors.append(error("dkim_required", f"DKIM is required and the mail has "
                                       f"no passing, aligned signature ({verdict.detail})"))
            result.reports = []
        return verdict
