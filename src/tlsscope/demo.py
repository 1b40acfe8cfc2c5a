"""Sample data for `make run` (`tlsscope demo`): six weeks of realistic TLS reports for four
domains of two organisations (and one nobody owns), with a story behind each, so that every
page and every kind of finding has something to show.

- shop.example (Acme Retail, MTA-STS enforce): mx2's certificate expired 6 days ago; Google
  and Microsoft report certificate-expired there since; a failure spike.
- news.example (Acme Retail, testing): STARTTLS was missing on mx3 four weeks ago (fixed);
  clean for the last two weeks: ready for enforce.
- clinic.example (Beta Health, DANE + MTA-STS): tlsa-invalid after a key roll 9 days ago;
  one reporter cannot fetch the policy; a backup MX outside the policy's mx lines.
- legacy.example (unassigned): no policy at all, an MX without STARTTLS, a reporter gone
  silent and a new one.
Plus one report POSTed over HTTPS by a sender never seen before (an unconfirmed finding), and
one input that is not a report, for the quarantine.

The reports are RFC 8460 §4 JSON, dated relative to `today`; the same `today` gives the same
reports (a fixed random seed).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from collections.abc import Iterator
from typing import Any

from tlsscope.receive.files import RawInput
from tlsscope.vocab import Channel

DAYS = 42
REPORTERS = {"Google Inc.": 1.0, "Microsoft Corporation": 0.6, "Mail.ru": 0.15,
             "Yahoo Inc.": 0.25}


def _policy(domain: str, kind: str, mode: str, mx: list[str]) -> dict[str, Any]:
    if kind == "sts":
        return {"policy-type": "sts", "policy-domain": domain,
                "policy-string": ["version: STSv1", f"mode: {mode}",
                                  *(f"mx: {m}" for m in mx), "max_age: 604800"],
                "mx-host": mx}
    if kind == "tlsa":
        return {"policy-type": "tlsa", "policy-domain": domain,
                "policy-string": ["3 1 1 " + "5e" * 32], "mx-host": mx}
    return {"policy-type": "no-policy-found", "policy-domain": domain}


def _report(org: str, day: dt.date, domain: str, policy: dict[str, Any], ok: int,
            failures: list[tuple[str, int, str, str]], serial: int) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    details = [{"result-type": result, "sending-mta-ip": f"198.51.100.{(n * 7) % 250 + 1}",
                "receiving-mx-hostname": mx, "receiving-ip": ip, "failed-session-count": n}
               for result, n, mx, ip in failures if n > 0]
    return {
        "organization-name": org,
        "date-range": {"start-datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "end-datetime": (start + dt.timedelta(seconds=86399))
                       .strftime("%Y-%m-%dT%H:%M:%SZ")},
        "contact-info": f"smtp-tls-reporting@{org.split()[0].lower().replace('.', '')}.example",
        "report-id": f"{day:%Y%m%d}.{serial:04d}.{domain}@{org.split()[0].lower()}",
        "policies": [{"policy": policy,
                      "summary": {"total-successful-session-count": ok,
                                  "total-failure-session-count": sum(d["failed-session-count"]
                                                                     for d in details)},
                      "failure-details": details}]}


def reports(today: dt.date) -> Iterator[tuple[str, bytes]]:
    """(file name, gzipped JSON) of every sample report, oldest first."""
    rng = random.Random(8460)
    serial = 0
    for back in range(DAYS, 0, -1):
        day = today - dt.timedelta(days=back)
        for org, share in REPORTERS.items():
            for domain, policy, ok, failures in _day(rng, day, back, org, share):
                serial += 1
                body = json.dumps(_report(org, day, domain, policy, ok, failures, serial))
                name = f"{org.split()[0].lower()}!{domain}!{day:%Y%m%d}!{serial}.json.gz"
                yield name, gzip.compress(body.encode(), mtime=0)


def _volume(rng: random.Random, base: int, share: float) -> int:
    return max(1, int(base * share * rng.uniform(0.8, 1.2)))


def _day(rng: random.Random, day: dt.date, back: int, org: str,
         share: float) -> Iterator[tuple[str, dict[str, Any], int, list[Any]]]:
    shop_mx = ["mx1.shop.example", "mx2.shop.example"]
    ok = _volume(rng, 4000, share)
    failures: list[tuple[str, int, str, str]] = []
    if back <= 6 and org in ("Google Inc.", "Microsoft Corporation"):
        failures.append(("certificate-expired", _volume(rng, 700, share),
                         "mx2.shop.example", "203.0.113.12"))
        if back == 1:  # a spike on the latest day
            failures.append(("validation-failure", _volume(rng, 900, share),
                             "mx1.shop.example", "203.0.113.11"))
    elif rng.random() < 0.2:
        failures.append(("validation-failure", rng.randint(1, 3), "mx1.shop.example",
                         "203.0.113.11"))
    yield "shop.example", _policy("shop.example", "sts", "enforce", shop_mx), ok, failures

    news_mx = ["mx1.news.example", "mx3.news.example"]
    failures = []
    if 22 <= back <= 30:
        failures.append(("starttls-not-supported", _volume(rng, 120, share),
                         "mx3.news.example", "203.0.113.33"))
    yield ("news.example", _policy("news.example", "sts", "testing", news_mx),
           _volume(rng, 1500, share), failures)

    if org != "Mail.ru":
        clinic = ["mx.clinic.example"]
        failures = []
        if back <= 9:
            failures.append(("tlsa-invalid", _volume(rng, 60, share), "mx.clinic.example",
                             "192.0.2.40"))
        yield ("clinic.example", _policy("clinic.example", "tlsa", "", clinic),
               _volume(rng, 300, share), failures)
        sts_failures: list[tuple[str, int, str, str]] = []
        if org == "Yahoo Inc." and back <= 12:
            sts_failures.append(("sts-policy-fetch-error", _volume(rng, 40, share), "", ""))
        if org == "Google Inc." and back % 3 == 0:
            sts_failures.append(("validation-failure", _volume(rng, 12, share),
                                 "backup.clinic-hosting.net", "192.0.2.77"))
        yield ("clinic.example", _policy("clinic.example", "sts", "enforce",
                                         ["mx.clinic.example"]),
               _volume(rng, 300, share), sts_failures)

    silent = org == "Mail.ru" and back <= 5
    newcomer = org == "Yahoo Inc." and back > 2
    if not silent and not newcomer:
        yield ("legacy.example", _policy("legacy.example", "none", "", []),
               _volume(rng, 200, share),
               [("starttls-not-supported", _volume(rng, 25, share), "mail.legacy.example",
                 "192.0.2.90")])


def raw_inputs(today: dt.date) -> Iterator[RawInput]:
    received = dt.datetime.combine(today, dt.time(6), dt.UTC)
    for name, data in reports(today):
        yield RawInput(f"demo/{name}", data, name, received)
    # One report POSTed by a sender never seen before, with no authentication (RFC 8460 §7):
    # its finding is shown, but unconfirmed (analyze/confirm.py), not critical.
    yesterday = today - dt.timedelta(days=1)
    forged = _report("Unknown Mailer", yesterday, "shop.example",
                     _policy("shop.example", "sts", "enforce", ["mx1.shop.example"]), 0,
                     [("certificate-host-mismatch", 1, "mx1.shop.example", "203.0.113.11")], 0)
    yield RawInput("https:198.51.100.200", json.dumps(forged).encode(), None, received,
                   channel=Channel.HTTPS, peer="198.51.100.200")
    yield RawInput("demo/not-a-report.json", b'{"organization-name": "Broken Sender", '
                   b'"report-id": 42, "policies": "none"}', "not-a-report.json", received)
