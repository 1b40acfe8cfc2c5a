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
_SEVERITY_COLOURS = {"critical": 0xB00020, "high": 0xE65100, "medium": 0xF9A825,
                     "info": 0x546E7A}
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
        before = str(data.get("before_severity", ""))
        label = words(f"severity.{self.severity}")
        self.severity_text = (words("message.severity_line", severity=label,
                                    before=words(f"severity.{before}"))
                              if before and before != self.severity else label)
        mode = str(data.get("mode", ""))
        self.mode_text = words("mode." + (mode if mode in _MODES else "unknown"))
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


def _text(said: Said, words: Words) -> str:
    lines = [f"{said.event_label}: {said.title}", ""]
    if said.where:
        lines.append(f"{words('message.where')}: {said.where}")
    if said.first_seen and not said.test:
        lines.append(f"{words('message.since')}: {said.first_seen}")
    if not said.test:
        lines.append(f"{words('message.severity')}: {said.severity_text}. {said.mode_text}")
    lines += ["", f"{words('message.what')}:", said.explanation]
    if said.seen:
        lines.append(said.seen)
    if said.fix:
        lines += ["", f"{words('message.fix')}:"] + [f"- {step}" for step in said.fix]
    if said.url:
        lines += ["", f"{words('message.open')}: {said.url}"]
    return "\n".join(lines)


def _html(said: Said, words: Words) -> str:
    colour = f"#{_SEVERITY_COLOURS.get(said.severity, 0x546E7A):06x}"
    parts = [f'<h2 style="margin:0 0 8px 0">{escape(said.event_label)}: {escape(said.title)}</h2>']
    rows = []
    if said.where:
        rows.append((words("message.where"), said.where))
    if said.first_seen and not said.test:
        rows.append((words("message.since"), said.first_seen))
    if not said.test:
        rows.append((words("message.severity"), f"{said.severity_text}. {said.mode_text}"))
    if rows:
        parts.append(f'<table style="border-left:4px solid {colour};padding-left:8px">' + "".join(
            f"<tr><th align=left valign=top>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in rows) + "</table>")
    parts.append(f"<h3>{escape(words('message.what'))}</h3><p>{escape(said.explanation)}</p>")
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


def generic(alert: dict[str, Any], public_url: str, now: dt.datetime) -> dict[str, Any]:
    """The generic webhook's body (docs/alerts.md): values as stored, not escaped (the
    receiver escapes for where it shows them); strings made valid UTF-8."""
    data = alert["data"]

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
    text ≤ 3,000, at most 50 blocks) and a text fallback for notifications."""
    words = Words(lang)
    blocks: list[dict[str, Any]] = []
    fallback = []
    for alert in alerts[:12]:
        said = Said(alert, words, public_url)
        fallback.append(f"{said.event_label}: {said.title}")
        blocks.append({"type": "header", "text": {
            "type": "plain_text", "text": f"{said.event_label}: {said.title}"[:150]}})
        body = [_slack_escape(said.explanation)]
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
    return {"text": _slack_escape("\n".join(fallback))[:3000], "blocks": blocks[:50]}


def teams(alerts: list[dict[str, Any]], lang: str, public_url: str) -> dict[str, Any]:
    """A Teams workflow webhook message carrying one Adaptive Card (version 1.4)."""
    words = Words(lang)
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for alert in alerts[:12]:
        said = Said(alert, words, public_url)
        body.append({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
                     "text": _markdown(f"{said.event_label}: {said.title}")})
        facts = [{"title": words("message.severity"), "value": _markdown(said.severity_text)}]
        if said.where:
            facts.append({"title": words("message.where"), "value": _markdown(said.where)})
        if said.first_seen and not said.test:
            facts.append({"title": words("message.since"), "value": said.first_seen})
        body.append({"type": "FactSet", "facts": facts})
        body.append({"type": "TextBlock", "wrap": True, "text": _markdown(said.explanation)})
        if said.fix:
            body.append({"type": "TextBlock", "wrap": True, "weight": "Bolder",
                         "text": _markdown(words("message.fix"))})
            body.append({"type": "TextBlock", "wrap": True,
                         "text": "\n".join(f"- {_markdown(step)}" for step in said.fix)})
        if said.url and len(actions) < 5:
            actions.append({"type": "Action.OpenUrl", "title": words("message.open"),
                            "url": said.url})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body, "actions": actions}
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": card}]}


def discord(alerts: list[dict[str, Any]], lang: str, public_url: str,
            now: dt.datetime) -> dict[str, Any]:
    """A Discord webhook message: one embed per alert (at most 10; title ≤ 256, description
    ≤ 4,096, field values ≤ 1,024, all embeds ≤ 6,000 characters), no mentions."""
    words = Words(lang)
    embeds: list[dict[str, Any]] = []
    budget = 5800
    for alert in alerts[:10]:
        said = Said(alert, words, public_url)
        description = _markdown(said.explanation)
        if said.fix:
            description += "\n\n**" + _markdown(words("message.fix")) + "**\n" + "\n".join(
                f"- {_markdown(step)}" for step in said.fix)
        embed: dict[str, Any] = {
            "title": f"{said.event_label}: {said.title}"[:256],
            "description": description[:min(4096, max(0, budget - 600))],
            "color": _SEVERITY_COLOURS.get(said.severity, 0x546E7A),
            "timestamp": now.astimezone(dt.UTC).isoformat(),
            "fields": [{"name": words("message.severity"),
                        "value": _markdown(said.severity_text)[:1024], "inline": True}]}
        if said.where:
            embed["fields"].append({"name": words("message.where"),
                                    "value": _markdown(said.where)[:1024], "inline": True})
        if said.url:
            embed["url"] = said.url
        size = len(embed["title"]) + len(embed["description"]) + sum(
            len(f["name"]) + len(f["value"]) for f in embed["fields"])
        if size > budget:
            break
        budget -= size
        embeds.append(embed)
    return {"content": "", "embeds": embeds, "allowed_mentions": {"parse": []}}
