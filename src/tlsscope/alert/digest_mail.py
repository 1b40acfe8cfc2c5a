"""The digest as a mail: a text part and an HTML part, each with a chart of the days (see
docs/alerts.md). tlsscope.alert.digest builds the Digest and sends what this renders.

    mail(digest, mail_from, to, unsubscribe, now)   the mail, with its one-click unsubscribe
                                                     headers (RFC 2369, RFC 8058)

Both parts say the same: the title and dates, per domain the summary, the success rate and
its trend on the period before, the findings opened and resolved (MAX_LISTED of each), what
to do first, the chart (text bars; an HTML table of bars with inline widths, no script, no
image), the links. The digest's strings are made visible already (render.clean, in build);
the HTML part escapes every one of them.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from markupsafe import escape

from tlsscope.alert.render import clean
from tlsscope.alert.words import Words
from tlsscope.analyze import catalog

if TYPE_CHECKING:  # digest imports this module to send what it renders
    from tlsscope.alert.digest import DaySum, Digest, Line, Period, Section

MAX_LISTED = 10  # findings listed as opened (or resolved) per domain
_BAR_PX = 240
_OK_COLOUR, _FAILED_COLOUR = "#2e7d32", "#c62828"
# Folded at 998: a List-Unsubscribe URL is one long word, which the default policy (78)
# would turn into encoded words that no mail client reads as a link.
_POLICY = default_policy.clone(max_line_length=998)


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

