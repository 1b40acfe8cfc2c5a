"""What an alert says, in each channel's shape: a mail (text and HTML parts), the generic
signed JSON (docs/alerts.md is its contract), Slack (Block Kit), Microsoft Teams (an Adaptive
Card through a workflow webhook) and Discord (an embed).

Every string an alert carries may come from a report (an MX name, a reporter's name), so each
is made visible (tlsscope.visible: controls and bidi overrides shown as escapes, lone
surrogates replaced), cut to the channel's limits, and escaped for where it goes: HTML in the
mail, mrkdwn's &, < and > in Slack, Markdown in Teams and Discord, and Discord's mentions are
switched off (`allowed_mentions`).
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from markupsafe import escape

from tlsscope.alert.words import Words
from tlsscope.visible import visible

_MODES = ("enforce", "testing", "none")
FIXED = ("finding.likely_fixed", "finding.resolved")
_GREY, _FIXED_COLOUR = 0x546E7A, 0x2E7D32
_SEVERITY_COLOURS = {"critical": 0xB00020, "high": 0xE65100, "medium": 0xF9A825,
                     "info": _GREY}
# One chat message shows this many alerts in full; the rest are named in a last block that
# links to the delivery log (a message is one attempt: splitting it would send the first
# parts again at each retry).
CHAT_ALERTS = 9
MORE_CHARS = 2500  # of the titles that last block names
# What makes Markdown act (emphasis, code, links, headings, quotes, spoilers), not dots
# or hyphens, which Teams would show with their backslash.
_MARKDOWN = re.compile(r"([\\`*_\[\]#|>~<@])")


def clean(value: object, most: int = 500) -> str:
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    text = visible(text)
    return text if len(text) <= most else text[:most] + "…"


def url_of(public_url: str, alert: dict[str, Any]) -> str:
    base = public_url.rstrip("/")
    if not base:
        return ""
    data = alert["data"]
    if data.get("finding_id"):
        return f"{base}/findings/{int(data['finding_id'])}"
    if alert.get("domain"):
        return f"{base}/domains/{clean(alert['domain'], 253)}"
    return f"{base}/"


class Said:
    """One alert's sentences in the rule's language, every value cleaned."""

    def __init__(self, alert: dict[str, Any], words: Words, public_url: str) -> None:
        data = alert["data"]
        self.event = str(alert["event"])
        self.event_label = words(f"event.{self.event}")
        self.domain = clean(data.get("domain", ""), 253)
        self.title = clean(data.get("title", ""), 300)
        self.explanation = clean(data.get("explanation", ""), 3000)
        self.fix = [clean(step, 1000) for step in list(data.get("fix", []))[:8]]
        self.severity = str(data.get("severity", alert.get("severity", "")))
        # Good news reads as such: what was wrong, how severe it was, no steps to take.
        self.fixed = self.event in FIXED
        before = str(data.get("before_severity", ""))
        label = words(f"severity.{self.severity}")
        if self.fixed:
            self.severity_text = words("message.severity_was", severity=label)
            self.what = words("message.what_was")
            self.fix = []
            self.mode_text = words(f"message.fixed.{self.event}")
        else:
            self.severity_text = (words("message.severity_line", severity=label,
                                        before=words(f"severity.{before}"))
                                  if before and before != self.severity else label)
            self.what = words("message.what")
            mode = str(data.get("mode", ""))
            # "The reports do not say" only of a finding: a silence or a live check's
            # warning has no reports' mode to tell.
            self.mode_text = (words(f"mode.{mode}") if mode in _MODES else
                              words("mode.unknown") if self.event.startswith("finding.")
                              else "")
        self.severity_said = " ".join(filter(None, [f"{self.severity_text}.", self.mode_text]))
        self.colour = _FIXED_COLOUR if self.fixed else _SEVERITY_COLOURS.get(self.severity,
                                                                             _GREY)
        self.mx = clean(data.get("mx_host", ""), 253)
        self.ip = clean(data.get("receiving_ip", ""), 200)
        self.first_seen = clean(data.get("first_seen", ""), 10)
        self.last_seen = clean(data.get("last_seen", ""), 10)
        reporters = [clean(r, 80) for r in list(data.get("reporters", []))[:5]]
        self.sessions = int(data.get("sessions", 0) or 0)
        self.seen = words("message.seen", first=self.first_seen, last=self.last_seen,
                          sessions=words.number(self.sessions),
                          reporters=", ".join(reporters) or words("message.none")) \
            if self.sessions else ""
        where = [f"{words('message.domain')} {self.domain}"] if self.domain else []
        where += [f"{words('message.mx')} {self.mx}"] if self.mx else []
        where += [f"{words('message.ip')} {self.ip}"] if self.ip else []
        self.where = ", ".join(where)
        self.url = url_of(public_url, alert)
        self.test = self.event == "test"
        if self.test:
            self.title = words("message.sample_title")
            self.explanation = words("message.sample_text")
        self.headline = f"{self.event_label}: {self.title}"


def _more(said: list[Said], words: Words, public_url: str) -> tuple[list[Said], str, str]:
    """The alerts a chat message shows in full (CHAT_ALERTS; all of them when one more
    would do), and `_rest` of the others."""
    if len(said) <= CHAT_ALERTS + 1:
        return said, "", ""
    return (said[:CHAT_ALERTS], *_rest(said[CHAT_ALERTS:], words, public_url))


def _rest(rest: list[Said], words: Words, public_url: str) -> tuple[str, str]:
    """For alerts a message cannot show in full: a text that counts them and names them (as
    many titles as fit in MORE_CHARS), and the link to the delivery log."""
    lines = [words("message.and_more", count=words.number(len(rest)))]
    used = len(lines[0])
    for index, each in enumerate(rest):
        line = f"- {each.headline} ({each.domain})" if each.domain else f"- {each.headline}"
        if used + len(line) > MORE_CHARS:
            lines.append(words("message.and_more_titles",
                               count=words.number(len(rest) - index)))
            break
        lines.append(line)
        used += len(line) + 1
    base = public_url.rstrip("/")
    return "\n".join(lines), f"{base}/settings/alerts" if base else ""



def _text(said: Said, words: Words) -> str:
    lines = [f"{said.event_label}: {said.title}", ""]
    if said.where:
        lines.append(f"{words('message.where')}: {said.where}")
    if said.first_seen and not said.test:
        lines.append(f"{words('message.since')}: {said.first_seen}")
    if not said.test:
        lines.append(f"{words('message.severity')}: {said.severity_said}")
    lines += ["", f"{said.what}:", said.explanation]
    if said.seen:
        lines.append(said.seen)
    if said.fix:
        lines += ["", f"{words('message.fix')}:"] + [f"- {step}" for step in said.fix]
    if said.url:
        lines += ["", f"{words('message.open')}: {said.url}"]
    return "\n".join(lines)


def _html(said: Said, words: Words) -> str:
    colour = f"#{said.colour:06x}"
    parts = [f'<h2 style="margin:0 0 8px 0">{escape(said.event_label)}: {escape(said.title)}</h2>']
    rows = []
    if said.where:
        rows.append((words("message.where"), said.where))
    if said.first_seen and not said.test:
        rows.append((words("message.since"), said.first_seen))
    if not said.test:
        rows.append((words("message.severity"), said.severity_said))
    if rows:
        parts.append(f'<table style="border-left:4px solid {colour};padding-left:8px">' + "".join(
            f"<tr><th align=left valign=top>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in rows) + "</table>")
    parts.append(f"<h3>{escape(said.what)}</h3><p>{escape(said.explanation)}</p>")
    if said.seen:
        parts.append(f"<p>{escape(said.seen)}</p>")
    if said.fix:
        parts.append(f"<h3>{escape(words('message.fix'))}</h3><ul>"
                     + "".join(f"<li>{escape(step)}</li>" for step in said.fix) + "</ul>")
    if said.url:
        parts.append(f'<p><a href="{escape(said.url)}">{escape(words("message.open"))}</a></p>')
    return "\n".join(parts)


def mail(alerts: list[dict[str, Any]], lang: str, public_url: str, mail_from: str, to: str,
         now: dt.datetime) -> EmailMessage:
    """One mail for one alert or a batch: a text and an HTML part, in `lang`."""
    words = Words(lang)
    said = [Said(alert, words, public_url) for alert in alerts]
    message = EmailMessage()
    if len(said) == 1:
        subject = words("message.subject", event=said[0].event_label,
                        title=said[0].title[:120], domain=said[0].domain or "tlsscope")
    else:
        domains = sorted({s.domain for s in said if s.domain})
        subject = words("message.subject_batch", count=len(said),
                        domains=", ".join(domains[:3]) + (" …" if len(domains) > 3 else ""))
    message["Subject"] = subject.replace("\n", " ")
    message["From"] = mail_from
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or "tlsscope")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no replies, no loops
    message["X-Tlsscope-Delivery"] = ",".join(str(a["key"]) for a in alerts)[:900]
    separator = "\n\n" + "-" * 60 + "\n\n"
    text = separator.join(_text(s, words) for s in said) + "\n\n-- \n" + words("message.footer")
    html = ('<!doctype html><html lang="' + words.lang + '"><body style="font-family:sans-serif">'
            + "<hr>".join(_html(s, words) for s in said)
            + f'<p style="color:#666;font-size:small">{escape(words("message.footer"))}</p>'
            + "</body></html>")
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    message["Content-Language"] = words.lang  # after the parts: set_content drops Content-*
    return message


def generic(alert: dict[str, Any], public_url: str, now: dt.datetime,
            lang: str = "en") -> dict[str, Any]:
    """The generic webhook's body (docs/alerts.md): values as stored, not escaped (the
    receiver escapes for where it shows them); strings made valid UTF-8. A test alert
    (`tlsscope alerts test`) says it is one, in the rule's language."""
    data = alert["data"]
    if alert["event"] == "test":
        words = Words(lang)
        data = {**data, "title": words("message.sample_title"),
                "explanation": words("message.sample_text"), "severity": "info"}

    def plain(value: object) -> str:
        return str(value).encode("utf-8", "replace").decode("utf-8")

    return {
        "id": alert["key"], "event": alert["event"],
        "sent_at": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "finding": {
            "id": data.get("finding_id"), "domain": plain(data.get("domain", "")),
            "kind": plain(data.get("kind", "")), "severity": plain(data.get("severity", "")),
            "previous_severity": plain(data.get("before_severity", "")) or None,
            "status": plain(data.get("status", "")), "title": plain(data.get("title", "")),
            "explanation": plain(data.get("explanation", "")),
            "fix": [plain(step) for step in data.get("fix", [])],
            "url": url_of(public_url, alert) or None,
            "first_seen": data.get("first_seen"), "last_seen": data.get("last_seen"),
            "sessions": int(data.get("sessions", 0) or 0),
            "reporters": [plain(r) for r in data.get("reporters", [])],
            "mx_host": plain(data.get("mx_host", "")) or None,
            "receiving_ip": plain(data.get("receiving_ip", "")) or None,
            "result_type": plain(data.get("result_type", "")) or None,
            "policy_mode": plain(data.get("mode", "")) or None,
        },
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def slack(alerts: list[dict[str, Any]], lang: str, public_url: str) -> dict[str, Any]:
    """An incoming-webhook message with Block Kit blocks (header ≤ 150 characters, section
    text ≤ 3,000, at most 50 blocks: five per alert, CHAT_ALERTS of them, then one that
    names the rest) and a text fallback for notifications."""
    words = Words(lang)
    every = [Said(alert, words, public_url) for alert in alerts]
    shown, more, log_url = _more(every, words, public_url)
    blocks: list[dict[str, Any]] = []
    for said in shown:
        blocks.append({"type": "header", "text": {"type": "plain_text",
                                                  "text": said.headline[:150]}})
        body = [_slack_escape(said.mode_text)] if said.fixed else []  # the news comes first
        body.append(_slack_escape(said.explanation))
        if said.seen:
            body.append(_slack_escape(said.seen))
        if said.fix:
            body.append("*" + _slack_escape(words("message.fix")) + "*\n" + "\n".join(
                f"• {_slack_escape(step)}" for step in said.fix))
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "\n\n".join(body)[:3000]}})
        facts = [f"*{_slack_escape(words('message.severity'))}:* "
                 f"{_slack_escape(said.severity_text)}"]
        if said.where:
            facts.append(f"*{_slack_escape(words('message.where'))}:* "
                         f"{_slack_escape(said.where)}")
        if said.first_seen and not said.test:
            facts.append(f"*{_slack_escape(words('message.since'))}:* {said.first_seen}")
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": fact[:3000]} for fact in facts]})
        if said.url:
            blocks.append({"type": "actions", "elements": [{
                "type": "button", "text": {"type": "plain_text", "text": words("message.open")},
                "url": said.url[:3000]}]})
        blocks.append({"type": "divider"})
    if more:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": _slack_escape(more)[:3000]}})
        if log_url:
            blocks.append({"type": "actions", "elements": [{
                "type": "button", "text": {"type": "plain_text",
                                           "text": words("message.open_log")},
                "url": log_url[:3000]}]})
    fallback = "\n".join([said.headline for said in shown] + ([more] if more else []))
    return {"text": _slack_escape(fallback)[:3000], "blocks": blocks}


def teams(alerts: list[dict[str, Any]], lang: str, public_url: str) -> dict[str, Any]:
    """A Teams workflow webhook message carrying one Adaptive Card (version 1.4): CHAT_ALERTS
    alerts in full, then a block that names the rest."""
    words = Words(lang)
    every = [Said(alert, words, public_url) for alert in alerts]
    shown, more, log_url = _more(every, words, public_url)
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for said in shown:
        body.append({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
                     "text": _markdown(said.headline),
                     "color": "Good" if said.fixed else "Attention"})
        facts = [{"title": words("message.severity"), "value": _markdown(said.severity_text)}]
        if said.where:
            facts.append({"title": words("message.where"), "value": _markdown(said.where)})
        if said.first_seen and not said.test:
            facts.append({"title": words("message.since"), "value": said.first_seen})
        body.append({"type": "FactSet", "facts": facts})
        body.append({"type": "TextBlock", "wrap": True, "text": _markdown(said.explanation)})
        if said.seen:
            body.append({"type": "TextBlock", "wrap": True, "isSubtle": True,
                         "text": _markdown(said.seen)})
        if said.fixed:
            body.append({"type": "TextBlock", "wrap": True, "text": _markdown(said.mode_text)})
        if said.fix:
            body.append({"type": "TextBlock", "wrap": True, "weight": "Bolder",
                         "text": _markdown(words("message.fix"))})
            body.append({"type": "TextBlock", "wrap": True,
                         "text": "\n".join(f"- {_markdown(step)}" for step in said.fix)})
        if said.url and len(actions) < 4:
            actions.append({"type": "Action.OpenUrl", "title": f"{words('message.open')}: "
                            f"{said.domain}"[:80], "url": said.url})
    if more:
        body.append({"type": "TextBlock", "wrap": True,
                     "text": "\n\n".join(_markdown(line) for line in more.split("\n"))})
    if log_url:
        actions.append({"type": "Action.OpenUrl", "title": words("message.open_log"),
                        "url": log_url})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body, "actions": actions}
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": card}]}


DISCORD_CHARS = 5800  # of Discord's 6,000 for all a message's embeds


def _discord_embed(said: Said, words: Words, now: dt.datetime) -> dict[str, Any]:
    description = (_markdown(said.mode_text) + "\n\n" if said.fixed else "") + _markdown(
        said.explanation)
    if said.seen:
        description += "\n\n" + _markdown(said.seen)
    if said.fix:
        description += "\n\n**" + _markdown(words("message.fix")) + "**\n" + "\n".join(
            f"- {_markdown(step)}" for step in said.fix)
    embed: dict[str, Any] = {
        "title": said.headline[:256], "description": description[:1800],
        "color": said.colour, "timestamp": now.astimezone(dt.UTC).isoformat(),
        "fields": [{"name": words("message.severity"),
                    "value": _markdown(said.severity_text)[:1024], "inline": True}]}
    if said.where:
        embed["fields"].append({"name": words("message.where"),
                                "value": _markdown(said.where)[:1024], "inline": True})
    if said.first_seen and not said.test:
        embed["fields"].append({"name": words("message.since"), "value": said.first_seen,
                                "inline": True})
    if said.url:
        embed["url"] = said.url
    return embed


def _embed_size(embed: dict[str, Any]) -> int:
    return len(embed["title"]) + len(embed["description"]) + sum(
        len(f["name"]) + len(f["value"]) for f in embed["fields"])


def discord(alerts: list[dict[str, Any]], lang: str, public_url: str,
            now: dt.datetime) -> dict[str, Any]:
    """A Discord webhook message: one embed per alert (title ≤ 256, description ≤ 4,096,
    field values ≤ 1,024, at most 10 embeds and 6,000 characters in all), as many as fit,
    then one that names the rest; no mentions."""
    words = Words(lang)
    every = [Said(alert, words, public_url) for alert in alerts]
    embeds: list[dict[str, Any]] = []
    budget = DISCORD_CHARS - MORE_CHARS - 200  # room for the last embed, if it is needed
    most = len(every) if len(every) <= CHAT_ALERTS + 1 else CHAT_ALERTS
    for said in every[:most]:
        embed = _discord_embed(said, words, now)
        size = _embed_size(embed)
        if size > budget and embeds:
            break
        budget -= size
        embeds.append(embed)
    if len(embeds) < len(every):
        more, log_url = _rest(every[len(embeds):], words, public_url)
        last: dict[str, Any] = {"title": words("message.more_title")[:256],
                                "description": _markdown(more)[:MORE_CHARS + 100],
                                "color": _GREY, "fields": []}
        if log_url:
            last["url"] = log_url
        embeds.append(last)
    return {"content": "", "embeds": embeds, "allowed_mentions": {"parse": []}}
