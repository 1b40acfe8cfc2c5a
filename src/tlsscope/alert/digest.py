"""The digest: a periodic mail per user or organisation that sums up each domain (see
docs/alerts.md). Subscriptions are kept per user (`users.digest`).

    subscribe / subscription    a user's digest: daily, weekly, monthly or none
    period_of(name, today)      the last complete day, week (Monday..Sunday) or month, UTC
    recipients(store, ...)      who gets an audience's digest of a period
    build(store, ...)           an audience's digest in one language: per domain the summary,
                                the success rate and its trend, the findings opened and
                                resolved, what to do first, the days for its chart
    prepare / send / preview    the mails for the CLI (`tlsscope digest`)
    scheduled(store, settings)  serve's step: the digests that are due, each sent once

The mail itself (text and HTML parts, the chart) is digest_mail's; the signed
List-Unsubscribe link and the one-click opt-out are digest_unsubscribe's.

An audience is the installation (every domain: admins and the installation's alert rules
get it) or one organisation (its domains: its other users and its rules). A digest's mark
(`digests_sent`, one per audience, recipient, period and first day) is taken before the
mail goes to the relay and given back when the relay refuses it: several serve nodes send
it once; killed between the two, that one mail is lost, never doubled.

Every string from a report (domain, reporter and MX names, in the summary's sentences too)
is made visible here (render.clean); digest_mail escapes it in the HTML part.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from tlsscope.alert import channels, digest_mail, digest_unsubscribe
from tlsscope.alert.render import clean
from tlsscope.alert.words import DEFAULT, LANGS
from tlsscope.analyze import catalog
from tlsscope.app import findings, stats
from tlsscope.app.scope import OPERATOR, Scope
from tlsscope.errors import Invalid, NotFound
from tlsscope.settings import Settings
from tlsscope.store import Store, accounts, alerts_rows, digest_rows
from tlsscope.store.alerts_rows import RuleRow
from tlsscope.store.digest_rows import Subscriber
from tlsscope.vocab import FindingStatus, severity_rank

PERIODS = ("day", "week", "month")
DEFAULT_PERIOD = "week"  # what the alert rules' addresses get on schedule
MAX_DOMAINS = 50  # domains told of in one digest, those in most trouble first
GRACE = dt.timedelta(days=1)  # a digest not sent a day after it was due is not sent
RETRY = dt.timedelta(minutes=10)  # after the relay refused a digest
_retry_at: dict[tuple[str, str, dt.date], dt.datetime] = {}
log = logging.getLogger("tlsscope.alerts")


def subscribe(store: Store, scope: Scope, user_id: int, period: str) -> None:
    """Subscribe a user to the digest of `period` ("" : unsubscribe). A user changes their
    own; an admin anyone's. Subscribing takes away the address's one-click opt-out."""
    if period not in ("", *PERIODS):
        raise Invalid("period", f"period must be one of {', '.join(PERIODS)} (or empty: none)")
    if user_id != scope.user.id:
        scope.require_admin()
    user = store.read(accounts.user_by_id, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    store.write(digest_rows.set_digest, user_id, period)
    if period:
        store.write(digest_rows.opt_in, user.email)


def subscription(store: Store, user_id: int) -> str:
    """The period of the user's digest ("" : none)."""
    return store.read(digest_rows.digest_of, user_id)


# Periods ----------------------------------------------------------------------------------

class Period(NamedTuple):
    name: str  # day | week | month
    first: dt.date
    last: dt.date

    def before(self) -> Period:
        """The period before: the day, the week or the calendar month."""
        return period_of(self.name, self.first)


def period_of(name: str, today: dt.date) -> Period:
    """The last complete period before `today`: yesterday, last Monday..Sunday, last month."""
    if name not in PERIODS:
        raise Invalid("period", f"period must be one of {', '.join(PERIODS)}")
    if name == "day":
        day = today - dt.timedelta(days=1)
        return Period(name, day, day)
    if name == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return Period(name, monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
    last = today.replace(day=1) - dt.timedelta(days=1)
    return Period(name, last.replace(day=1), last)


def due(name: str, now: dt.datetime, settings: Settings) -> tuple[Period, dt.datetime]:
    """The period whose digest was due last (at or before `now`), and when: daily ones each
    day at digest_hour UTC, weekly ones on digest_weekday, monthly ones on the 1st."""
    today, early = now.date(), now.hour < settings.digest_hour
    if name == "day":
        day = today - dt.timedelta(days=1) if early else today
    elif name == "week":
        day = today - dt.timedelta(days=(today.weekday() - settings.digest_weekday) % 7)
        day -= dt.timedelta(days=7) if day == today and early else dt.timedelta()
    else:
        day = today.replace(day=1)
        if day == today and early:
            day = (day - dt.timedelta(days=1)).replace(day=1)
    moment = dt.datetime.combine(day, dt.time(settings.digest_hour), dt.UTC)
    return period_of(name, day), moment


# Audiences and recipients -----------------------------------------------------------------

class Audience(NamedTuple):
    key: str  # "all" | "org:<id>"
    name: str  # the organisation's ("" : the installation)
    organisation: int | None


INSTALLATION = Audience("all", "", None)


class Recipient(NamedTuple):
    email: str
    lang: str


def audience(store: Store, organisation: str | None) -> Audience:
    if organisation is None:
        return INSTALLATION
    found = store.read(accounts.organisation_id, organisation)
    if found is None:
        raise NotFound(f"no organisation named {organisation[:80]!r}")
    return Audience(f"org:{found}", organisation, found)


def audiences(store: Store) -> list[Audience]:
    return [INSTALLATION, *(Audience(f"org:{oid}", name, oid)
                            for oid, name in store.read(accounts.organisations))]


def _chosen(subscribers: list[Subscriber], rules: list[RuleRow], optouts: set[str],
            who: Audience, period: str, scheduled: bool) -> list[Recipient]:
    """Subscribed users (admins: the installation's digest), then the addresses of the
    audience's mail rules (on schedule: in the weekly digest, unless the address is a user
    who chose a digest), minus the opted-out addresses."""
    out: dict[str, Recipient] = {}
    for user in subscribers:
        mine = user.admin if who.organisation is None else (
            not user.admin and user.organisation == who.organisation)
        if mine and user.period == period:
            out.setdefault(user.email.lower(), Recipient(user.email, user.lang or DEFAULT))
    chose = {user.email.lower() for user in subscribers if user.period}
    if not scheduled or period == DEFAULT_PERIOD:
        for rule in rules:
            address = rule.target.lower()
            if rule.channel != "email" or rule.organisation != who.organisation or (
                    scheduled and address in chose):
                continue
            out.setdefault(address, Recipient(rule.target, rule.lang or DEFAULT))
    return [r for key, r in out.items() if key not in optouts]


def recipients(store: Store, who: Audience, period: str,
               scheduled: bool = False) -> list[Recipient]:
    return _chosen(store.read(digest_rows.subscribers), store.read(alerts_rows.rules),
                   store.read(digest_rows.opted_out), who, period, scheduled)


# What a digest says -----------------------------------------------------------------------

class Line(NamedTuple):
    title: str  # cleaned
    severity: str


class DaySum(NamedTuple):
    day: dt.date
    ok: int
    failed: int
    reported: bool


class Section(NamedTuple):
    """One domain's part of a digest: every string in it cleaned (render.clean)."""

    domain: str
    url: str  # the domain's dashboard page ("" without public_url)
    sentences: list[str]
    rate: float | None
    before: float | None
    sessions: int
    failed: int
    opened: list[Line]
    resolved: list[Line]
    first: tuple[str, str] | None  # (title, its first fix) of the most severe open finding
    days: list[DaySum]


class Digest(NamedTuple):
    audience: Audience
    period: Period
    lang: str
    sections: list[Section]
    more: int  # domains not told of (beyond MAX_DOMAINS)
    dashboard: str  # "" without public_url


def _domains(store: Store, who: Audience) -> list[str]:
    return [row.name for row in store.read(accounts.all_domains)
            if who.organisation is None or row.organisation == who.organisation]


def _days(period: Period, totals: Iterable[tuple[dt.date, int, int]]) -> list[DaySum]:
    by_day = {day: (ok, failed) for day, ok, failed in totals}
    span = (period.last - period.first).days + 1
    out = []
    for offset in range(span):
        day = period.first + dt.timedelta(days=offset)
        ok, failed = by_day.get(day, (0, 0))
        out.append(DaySum(day, ok, failed, day in by_day))
    return out


def build(store: Store, who: Audience, period: Period, lang: str,
          public_url: str = "") -> Digest:
    """The audience's digest of the period in `lang`: the domains in most trouble first."""
    names = _domains(store, who)
    scope = OPERATOR if who.organisation is None else Scope(OPERATOR.user, names)
    before = period.before()
    start = dt.datetime.combine(period.first, dt.time(), dt.UTC)
    end = dt.datetime.combine(period.last + dt.timedelta(days=1), dt.time(), dt.UTC)
    changed: dict[str, list[digest_rows.FindingEvent]] = {}
    for event in store.read(digest_rows.finding_events, names, start, end):
        changed.setdefault(event.domain, []).append(event)
    ranked = []
    for name in names:
        now_stats = stats.stats(store, scope, name, period.first, period.last)
        open_now = findings.listing(store, scope, name, lang)
        worst = severity_rank(open_now[0].finding.severity) if open_now else 99
        ranked.append(((worst, -now_stats.failed, name), name, now_stats, open_now))
    ranked.sort(key=lambda item: item[0])
    base = public_url.rstrip("/")
    sections = []
    for _, name, now_stats, open_now in ranked[:MAX_DOMAINS]:
        then = stats.stats(store, scope, name, before.first, before.last)
        said = stats.summary(store, scope, name, period.first, period.last, lang, now_stats)
        events = changed.get(name, [])

        def lines(kind: str, events: list[digest_rows.FindingEvent] = events) -> list[Line]:
            return [Line(clean(findings.decoded(e.finding, lang).title, 300), e.severity)
                    for e in events if e.event == kind]

        first = next((view.finding for view in open_now
                      if view.finding.status != FindingStatus.RESOLVED and view.finding.fix),
                     None)
        sections.append(Section(
            domain=clean(name, 253), url=f"{base}/domains/{quote(name, safe='')}" if base else "",
            sentences=[clean(s, 2000) for s in said.sentences], rate=said.success_rate,
            before=catalog.success_rate(then.successful, then.failed),
            sessions=said.sessions, failed=said.failed, opened=lines("opened"),
            resolved=lines("resolved"),
            first=(clean(first.title, 300), clean(first.fix[0], 1000)) if first else None,
            days=_days(period, ((d.day, d.successful, d.failed) for d in now_stats.days))))
    return Digest(who, period, lang if lang in LANGS else DEFAULT, sections,
                  max(0, len(ranked) - MAX_DOMAINS), f"{base}/" if base else "")


# Sending ----------------------------------------------------------------------------------

class Prepared(NamedTuple):
    to: str  # "" : a preview for the audience
    message: EmailMessage
    digest: Digest


class Outcome(NamedTuple):
    to: str
    delivered: bool
    error: str


def _messages(store: Store, settings: Settings, who: Audience, period: Period,
              people: list[Recipient], now: dt.datetime,
              built: dict[str, Digest] | None = None) -> list[Prepared]:
    """One mail per recipient; each language's digest built once (kept in `built`)."""
    built = {} if built is None else built
    key = digest_unsubscribe.signing_key(store) if people else b""
    sender = channels.mail_from(settings)
    out = []
    for person in people:
        lang = person.lang if person.lang in LANGS else DEFAULT
        if lang not in built:
            built[lang] = build(store, who, period, lang, settings.public_url)
        signed = digest_unsubscribe.token(key, person.email, lang)
        link = digest_unsubscribe.unsubscribe_url(settings.public_url, signed)
        out.append(Prepared(person.email,
                            digest_mail.mail(built[lang], sender, person.email, link, now),
                            built[lang]))
    return out


def prepare(store: Store, settings: Settings, organisation: str | None, period: str,
            to: list[str] | None = None, lang: str | None = None,
            now: dt.datetime | None = None) -> list[Prepared]:
    """The digests of the last complete `period` for `tlsscope digest`: to `to` (else the
    audience's recipients), in `lang` (else each one's); opted-out addresses are left out.
    Without anyone to send to, one digest for the audience itself (a preview)."""
    from tlsscope.alert.rules import email_address

    if lang is not None and lang not in LANGS:
        raise Invalid("lang", f"lang must be one of {', '.join(LANGS)}")
    now = now or dt.datetime.now(dt.UTC)
    who = audience(store, organisation)
    chosen = period_of(period, now.date())
    if to:
        optouts = store.read(digest_rows.opted_out)
        people = [Recipient(email_address(a), lang or DEFAULT) for a in to]
        people = [p for p in people if p.email.lower() not in optouts]
    else:
        people = [Recipient(p.email, lang or p.lang)
                  for p in recipients(store, who, period)]
    if people or to:
        return _messages(store, settings, who, chosen, people, now)
    digest = build(store, who, chosen, lang or DEFAULT, settings.public_url)
    return [Prepared("", digest_mail.mail(digest, channels.mail_from(settings), "", "", now),
                     digest)]


def _mark(who: Audience, to: str) -> str:
    return f"{who.key}|{to.lower()}"


def send(store: Store, settings: Settings, prepared: list[Prepared],
         now: dt.datetime | None = None) -> list[Outcome]:
    """Hand each mail to the relay; a sent one is marked so the schedule does not send it
    again."""
    if not settings.smtp_url:
        raise Invalid("smtp_url", "no smtp_url is set: digests cannot be sent")
    out = []
    for item in prepared:
        if not item.to:
            continue  # a preview for nobody
        sent = channels.send_mail(settings, item.message, [item.to])
        if sent.delivered:
            period = item.digest.period
            store.write(digest_rows.mark, _mark(item.digest.audience, item.to),
                        period.name, period.first, now or dt.datetime.now(dt.UTC))
        out.append(Outcome(item.to, sent.delivered, sent.error))
    return out


def _file_name(text: str) -> str:
    name = "".join(c if c.isascii() and (c.isalnum() or c in "@.-_+") else "_" for c in text)
    return name.strip(".")[:120] or "digest"


def preview(prepared: list[Prepared], folder: Path) -> list[Path]:
    """Each digest as FOLDER/<recipient or organisation>.eml, .html and .txt; nothing sent."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for item in prepared:
        stem = _file_name(item.to or item.digest.audience.name or "installation")
        text, html = (item.message.get_body((kind,)) for kind in ("plain", "html"))
        assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
        for suffix, content in ((".eml", item.message.as_bytes()),
                                (".txt", str(text.get_content()).encode()),
                                (".html", str(html.get_content()).encode())):
            path = folder / f"{stem}{suffix}"
            path.write_bytes(content)
            written.append(path)
    return written


def scheduled(store: Store, settings: Settings,
              now: dt.datetime | None = None) -> list[Outcome]:
    """serve's step (every few seconds): send the digests that are due and not sent yet,
    each once (its mark is taken first). Cheap when nothing is due: a few small reads."""
    now = now or dt.datetime.now(dt.UTC)
    if not settings.smtp_url:
        return []
    subscribers = store.read(digest_rows.subscribers)
    rules = store.read(alerts_rows.rules)
    if not any(u.period for u in subscribers) and not any(r.channel == "email" for r in rules):
        return []
    optouts = store.read(digest_rows.opted_out)
    out: list[Outcome] = []
    for name in PERIODS:
        period, moment = due(name, now, settings)
        if now >= moment + GRACE:
            continue
        marks = store.read(digest_rows.sent_marks, name, period.first)
        for who in audiences(store):
            people = [p for p in _chosen(subscribers, rules, optouts, who, name, True)
                      if _mark(who, p.email) not in marks
                      and _retry_at.get((_mark(who, p.email), name, period.first), now) <= now]
            out += _send_due(store, settings, who, period, people, now)
    return out


def _send_due(store: Store, settings: Settings, who: Audience, period: Period,
              people: list[Recipient], now: dt.datetime) -> list[Outcome]:
    out = []
    built: dict[str, Digest] = {}
    for person in people:
        mark = _mark(who, person.email)
        if not store.write(digest_rows.mark, mark, period.name, period.first, now):
            continue  # another node took it
        sent = None
        try:
            (item,) = _messages(store, settings, who, period, [person], now, built)
            sent = channels.send_mail(settings, item.message, [person.email])
        finally:
            # Given back to be tried again, unless the relay refused it for good (a 5xx).
            if sent is None or (not sent.delivered and sent.retry):
                store.write(digest_rows.release, mark, period.name, period.first)
                _retry_at[(mark, period.name, period.first)] = now + RETRY
        fields = {"digest": period.name, "first_day": period.first.isoformat(),
                  "audience": who.key, "to": person.email}
        if sent.delivered:
            _retry_at.pop((mark, period.name, period.first), None)
            log.info("digest sent", extra={"fields": fields})
        else:
            log.warning("digest not sent", extra={"fields": {**fields, "error": sent.error}})
        out.append(Outcome(person.email, sent.delivered, sent.error))
    return out
