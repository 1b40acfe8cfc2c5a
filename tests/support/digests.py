"""The digest tests' story: example.com, owned by Acme, healthy from 1 to 8 February 2026;
from 9 to 15 February mx2's certificate has expired (Google and Microsoft report it, Mail.ru
only reaches mx1). The week of the digest sent on Monday 16 February is 9..15 February, the
week before it 2..8 February. Acme has a member who reads Portuguese and one who wants a
daily digest; an admin gets the installation's; Acme's alert rule mails ops@acme.example."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, Failure, daily, write
from tests.support.stories import DOMAIN, REPORTERS
from tlsscope.alert import digest, rules
from tlsscope.app import accounts, freshness
from tlsscope.app.scope import OPERATOR
from tlsscope.store import Store

ORG = "Acme"
NOW = dt.datetime(2026, 2, 16, 8, tzinfo=dt.UTC)  # a Monday, after digest_hour (7)
WEEK = (dt.date(2026, 2, 9), dt.date(2026, 2, 15))
ANA, DIA, ADMIN, OPS = ("ana@acme.example", "dia@acme.example", "admin@ops.example",
                        "ops@acme.example")
PASSWORD = "digest-password-1"
PER_DAY_OK = sum(ok for _, ok in REPORTERS)  # 1,240
PER_DAY_FAILED = 6  # Google 4, Microsoft 2


def days(first: dt.date, count: int, broken: bool) -> list[Day]:
    out = []
    for day in daily(first, count):
        for org, ok in REPORTERS:
            failures = [Failure("certificate-expired", 4 if org == "Google LLC" else 2,
                                f"mx2.{DOMAIN}", receiving_ip="192.0.2.2",
                                reason="X509_V_ERR_CERT_HAS_EXPIRED")] \
                if broken and org != "Mail.ru" else []
            out.append(Day(org, day, ok, failures))
    return out


def stored(store: Store, folder: Path, entries: list[Day], now: dt.datetime) -> None:
    """Reports ingested, roll-ups rebuilt, findings computed as of `now` (their events')."""
    ingest_paths(store, write(folder, DOMAIN, entries))
    freshness.rollups_now(store)
    freshness.findings_now(store, now=now)


def story(store: Store, folder: Path) -> None:
    stored(store, folder / "healthy", days(dt.date(2026, 2, 1), 8, False),
           dt.datetime(2026, 2, 9, 6, tzinfo=dt.UTC))
    stored(store, folder / "broken", days(WEEK[0], 7, True),
           dt.datetime(2026, 2, 12, 6, tzinfo=dt.UTC))
    accounts.assign(store, DOMAIN, ORG)
    people = ((ANA, "member", ORG, "pt", "week"), (DIA, "member", ORG, "", "day"),
              (ADMIN, "admin", "", "en", "week"))
    for email, role, organisation, lang, period in people:
        user_id = accounts.add_user(store, email, PASSWORD, role, organisation, lang)
        digest.subscribe(store, OPERATOR, user_id, period)
    rules.create(store, OPERATOR, channel="email", target=OPS, organisation=ORG)
