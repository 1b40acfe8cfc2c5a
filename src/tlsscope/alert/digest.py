"""The digest: a periodic mail per user or organisation that sums up each domain (see
docs/alerts.md). Subscriptions are kept per user (`users.digest`).

    period_of(name, today)      the last complete day, week (Monday..Sunday) or month, UTC
    recipients(store, ...)      who gets an audience's digest of a period
    build(store, ...)           an audience's digest in one language: per domain the summary,
                                the success rate and its trend, the findings opened and
                                resolved, what to do first, a chart of the days
    prepare / send / preview    the mails for the CLI (`tlsscope digest`)
    scheduled(store, settings)  serve's step: the digests that are due, each sent once
    unsubscribe(store, token)   the one-click opt-out (RFC 8058) of web/unsubscribe.py

An audience is the installation (every domain: admins and the installation's alert rules
get it) or one organisation (its domains: its other users and its rules). A digest's mark
(`digests_sent`, one per audience, recipient, period and first day) is taken before the
mail goes to the relay and given back when the relay refuses it: several serve nodes send
it once; killed between the two, that one mail is lost, never doubled.

Every string from a report (domain, reporter and MX names, in the summary's sentences too)
is made visible (render.clean) and escaped in the HTML part.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import secrets as random
from collections.abc import Iterable
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from markupsafe import escape

from tlsscope.alert import channels
from tlsscope.alert.render import clean
from tlsscope.alert.words import DEFAULT, LANGS, Words
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
MAX_LISTED = 10  # findings listed as opened (or resolved) per domain
GRACE = dt.timedelta(days=1)  # a digest not sent a day after it was due is not sent
RETRY = dt.timedelta(minutes=10)  # after the relay refused a digest
_SALT = b"tlsscope digest unsubscribe\x00"
_BAR_PX = 240
_OK_COLOUR, _FAILED_COLOUR = "#2e7d32", "#c62828"
# Folded at 998: a List-Unsubscribe URL is one long word, which the default policy (78)
# would turn into encoded words that no mail client reads as a link.
_POLICY = default_policy.clone(max_line_length=998)
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
    store.write(alerts_rows.set_digest, user_id, period)
    if period:
        store.write(digest_rows.opt_in, user.email)


def subscription(store: Store, user_id: int) -> str:
    """The period of the user's digest ("" : none)."""
    return store.read(alerts_rows.digest_of, user_id)


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
                   store.read(alerts_rows.opted_out), who, period, scheduled)


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


# The mail ---------------------------------------------------------------------------------

def _trend(section: Section, words: Words, period: str) -> str:
    previous = words(f"digest.previous_{period}")
    if section.rate is None:
        return words("digest.rate_none")
    rate = words.number(round(section.rate, 1))
    if section.before is None:
        return words("digest.trend_new", rate=rate, previous=previous)
    points = round(section.rate - section.before, 1)
    key = "trend_same" if points == 0 else "trend_up" if points > 0 else "trend_down"
    return words(f"digest.{key}", rate=rate, previous=previous,
                 points=words.number(abs(points)),
                 before=words.number(round(section.before, 1)))


def _day_label(day: dt.date, words: Words) -> str:
    return f"{words('digest.weekdays').split()[day.weekday()]} {day.isoformat()}"


def _listed(lines: list[Line], words: Words) -> list[str]:
    shown = [f"[{words(f'severity.{x.severity}')}] {x.title}" for x in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(words("digest.and_more", count=words.number(len(lines) - MAX_LISTED)))
    return shown


def _text_chart(days: list[DaySum], words: Words) -> list[str]:
    most = max((d.ok + d.failed for d in days), default=0) or 1
    out = [f"{words('digest.chart_text')}:"]
    for d in days:
        label = _day_label(d.day, words)
        total = d.ok + d.failed
        if not d.reported:
            out.append(f"  {label}  {words('digest.no_data')}")
            continue
        width = max(1, round(30 * total / most)) if total else 0
        bad = min(width, max(1, round(width * d.failed / total))) if d.failed else 0
        bar = "█" * (width - bad) + "░" * bad
        rate = catalog.success_rate(d.ok, d.failed)
        shown = f"{words.number(rate)} %" if rate is not None else "-"
        out.append(f"  {label}  {bar:<30}  {shown:>7}  {words.number(total)}")
    return out


def _text(digest: Digest, words: Words, unsubscribe: str) -> str:
    period = digest.period
    lines = [_title(digest, words), _dates(period, words)]
    if not digest.sections:
        lines += ["", words("digest.no_domains")]
    for section in digest.sections:
        lines += ["", f"== {section.domain} ==", "", *section.sentences, "",
                  f"{words('digest.rate')}: {_trend(section, words, period.name)}"]
        for kind, listed in (("opened", section.opened), ("resolved", section.resolved)):
            lines.append(f"{words(f'digest.{kind}')}:"
                         + ("" if listed else f" {words(f'digest.{kind}_none')}"))
            lines += [f"- {item}" for item in _listed(listed, words)]
        first = f"{section.first[0]}: {section.first[1]}" if section.first \
            else words("digest.first_none")
        lines += [f"{words('digest.first')}: {first}", "", *_text_chart(section.days, words)]
        if section.url:
            lines.append(f"{words('digest.open_domain', domain=section.domain)}: {section.url}")
    if digest.more:
        lines += ["", words("digest.more", count=words.number(digest.more))]
    if digest.dashboard:
        lines += ["", f"{words('digest.open_dashboard')}: {digest.dashboard}"]
    lines += ["", "-- ", words("digest.footer")]
    if unsubscribe:
        lines.append(f"{words('digest.unsubscribe')}: {unsubscribe}")
    return "\n".join(lines) + "\n"


def _html_chart(days: list[DaySum], words: Words) -> str:
    """A table of bars (one row a day) that mail clients show: widths by inline style and
    bgcolor, no script, no image."""
    most = max((d.ok + d.failed for d in days), default=0) or 1
    rows = []
    for d in days:
        total = d.ok + d.failed
        label = f'<td style="padding:1px 8px 1px 0;white-space:nowrap">' \
                f"{escape(_day_label(d.day, words))}</td>"
        if not d.reported or not total:
            rows.append(f'<tr>{label}<td colspan="2" style="color:#777">'
                        f"{escape(words('digest.no_data'))}</td></tr>")
            continue
        width = max(1, round(_BAR_PX * total / most))
        bad = min(width, max(2, round(width * d.failed / total))) if d.failed else 0
        cells = "".join(
            f'<td width="{px}" bgcolor="{colour}" style="width:{px}px;height:12px;'
            f'background:{colour};font-size:1px;line-height:12px">&nbsp;</td>'
            for px, colour in ((width - bad, _OK_COLOUR), (bad, _FAILED_COLOUR)) if px)
        rate = catalog.success_rate(d.ok, d.failed)
        rows.append(f'<tr>{label}<td style="width:{_BAR_PX}px"><table role="presentation" '
                    f'cellpadding="0" cellspacing="0" style="border-collapse:collapse">'
                    f"<tr>{cells}</tr></table></td>"
                    f'<td style="padding-left:8px;white-space:nowrap">'
                    f"{escape(words.number(rate or 0.0))} % · {escape(words.number(total))}"
                    "</td></tr>")
    return (f"<p><b>{escape(words('digest.chart'))}</b></p>"
            '<table role="presentation" class="chart" cellpadding="0" cellspacing="0" '
            'style="border-collapse:collapse;font-size:12px">' + "".join(rows) + "</table>")


def _html_section(section: Section, words: Words, period: str) -> str:
    parts = [f'<h2 style="margin:24px 0 8px 0">{escape(section.domain)}</h2>',
             *(f"<p>{escape(s)}</p>" for s in section.sentences),
             f"<p><b>{escape(words('digest.rate'))}:</b> "
             f"{escape(_trend(section, words, period))}</p>"]
    for kind, listed in (("opened", section.opened), ("resolved", section.resolved)):
        parts.append(f"<p><b>{escape(words(f'digest.{kind}'))}:</b>"
                     + ("" if listed else f" {escape(words(f'digest.{kind}_none'))}") + "</p>")
        if listed:
            parts.append("<ul>" + "".join(f"<li>{escape(item)}</li>"
                                          for item in _listed(listed, words)) + "</ul>")
    first = (f"{escape(section.first[0])}: {escape(section.first[1])}" if section.first
             else escape(words("digest.first_none")))
    parts += [f"<p><b>{escape(words('digest.first'))}:</b> {first}</p>",
              _html_chart(section.days, words)]
    if section.url:
        parts.append(f'<p><a href="{escape(section.url)}">'
                     f"{escape(words('digest.open_domain', domain=section.domain))}</a></p>")
    return "\n".join(parts)


def _html(digest: Digest, words: Words, unsubscribe: str) -> str:
    period = digest.period
    body = [f'<h1 style="font-size:20px">{escape(_title(digest, words))}</h1>',
            f"<p>{escape(_dates(period, words))}</p>"]
    if not digest.sections:
        body.append(f"<p>{escape(words('digest.no_domains'))}</p>")
    body += [_html_section(s, words, period.name) for s in digest.sections]
    if digest.more:
        body.append(f"<p>{escape(words('digest.more', count=words.number(digest.more)))}</p>")
    if digest.dashboard:
        body.append(f'<p><a href="{escape(digest.dashboard)}">'
                    f"{escape(words('digest.open_dashboard'))}</a></p>")
    footer = escape(words("digest.footer"))
    if unsubscribe:
        footer += f' <a href="{escape(unsubscribe)}">{escape(words("digest.unsubscribe"))}</a>'
    body.append(f'<hr><p style="color:#666;font-size:small">{footer}</p>')
    return (f'<!doctype html><html lang="{digest.lang}"><head><meta charset="utf-8">'
            f"<title>{escape(_title(digest, words))}</title></head>"
            '<body style="font-family:sans-serif;max-width:720px">' + "\n".join(body)
            + "</body></html>")


def _dates(period: Period, words: Words) -> str:
    return words("digest.dates", first=period.first.isoformat(), last=period.last.isoformat())


def _title(digest: Digest, words: Words) -> str:
    who = clean(digest.audience.name, 120) or words("digest.installation")
    return words(f"digest.title_{digest.period.name}", scope=who)


def mail(digest: Digest, mail_from: str, to: str, unsubscribe: str,
         now: dt.datetime) -> EmailMessage:
    """The digest as a mail to `to` ("": a preview for nobody), with its one-click
    unsubscribe link (RFC 2369 List-Unsubscribe, RFC 8058 List-Unsubscribe-Post)."""
    words = Words(digest.lang)
    period = digest.period
    message = EmailMessage()
    message["Subject"] = words("digest.subject", title=_title(digest, words),
                               dates=_dates(period, words))
    message["From"] = mail_from
    if to:
        message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or "tlsscope")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no replies, no loops
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_text(digest, words, unsubscribe), cte="quoted-printable")
    message.add_alternative(_html(digest, words, unsubscribe), subtype="html",
                            cte="quoted-printable")
    message["Content-Language"] = digest.lang  # after the parts: set_content drops Content-*
    message.policy = _POLICY  # the parts are encoded already: only the headers' folding
    return message


# The unsubscribe token --------------------------------------------------------------------

def _key(store: Store) -> bytes:
    return store.write(alerts_rows.secret, "digest", random.token_hex(32)).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(key: bytes, email: str, lang: str) -> str:
    """"<payload>.<mac>": the address and its language, signed (HMAC-SHA256)."""
    payload = f"{lang}:{email.lower()}".encode()
    return f"{_b64(payload)}.{_b64(hmac.new(key, _SALT + payload, hashlib.sha256).digest())}"


def _verified(key: bytes, text: str) -> tuple[str, str]:
    bad = Invalid("t", "this unsubscribe link is not valid: it was cut or changed")
    payload_text, _, mac_text = text.partition(".")
    if not payload_text or not mac_text or len(text) > 1200:
        raise bad
    try:
        payload = base64.urlsafe_b64decode(payload_text + "=" * (-len(payload_text) % 4))
        mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    if not hmac.compare_digest(mac, hmac.new(key, _SALT + payload, hashlib.sha256).digest()):
        raise bad
    lang, _, email = payload.decode("utf-8", "replace").partition(":")
    if "@" not in email:
        raise bad
    return email, lang if lang in LANGS else DEFAULT


def unsubscribe_url(public_url: str, signed: str) -> str:
    base = public_url.rstrip("/")
    return f"{base}/digest/unsubscribe?t={signed}" if base else ""


def reader(store: Store, signed: str) -> tuple[str, str]:
    """The address and language a token names; `Invalid` for a forged or cut one."""
    return _verified(_key(store), signed)


def unsubscribe(store: Store, signed: str, now: dt.datetime | None = None) -> tuple[str, str]:
    """Record the opt-out of the address the token names (RFC 8058 one-click): it gets no
    more digests (a user's subscription becomes none, as their Settings page then says).
    Returns (address, language)."""
    email, lang = reader(store, signed)
    store.write(alerts_rows.opt_out, email, now or dt.datetime.now(dt.UTC))
    user = store.read(accounts.find_user, email)
    if user is not None:
        store.write(alerts_rows.set_digest, user.id, "")
    log.info("digest unsubscribed", extra={"fields": {"email": email}})
    return email, lang


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
    key = _key(store) if people else b""
    sender = channels.mail_from(settings)
    out = []
    for person in people:
        lang = person.lang if person.lang in LANGS else DEFAULT
        if lang not in built:
            built[lang] = build(store, who, period, lang, settings.public_url)
        link = unsubscribe_url(settings.public_url, token(key, person.email, lang))
        out.append(Prepared(person.email, mail(built[lang], sender, person.email, link, now),
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
        optouts = store.read(alerts_rows.opted_out)
        people = [Recipient(email_address(a), lang or DEFAULT) for a in to]
        people = [p for p in people if p.email.lower() not in optouts]
    else:
        people = [Recipient(p.email, lang or p.lang)
                  for p in recipients(store, who, period)]
    if people or to:
        return _messages(store, settings, who, chosen, people, now)
    digest = build(store, who, chosen, lang or DEFAULT, settings.public_url)
    return [Prepared("", mail(digest, channels.mail_from(settings), "", "", now), digest)]


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
    optouts = store.read(alerts_rows.opted_out)
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
