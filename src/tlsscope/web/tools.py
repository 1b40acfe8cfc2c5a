"""The record tools of the Tools page: this installation's rua, a TLSRPT record or an MTA-STS
policy generated, pasted texts validated (RFC 8460 §3, RFC 8461 §3)."""

from __future__ import annotations

from typing import Any

from tlsscope.parse.records import check_all, sts_policy, sts_record, tlsrpt_record
from tlsscope.settings import Settings
from tlsscope.web.i18n import Words


def rua_for(settings: Settings) -> list[str]:
    """The rua URIs that reach this installation: its report addresses and its HTTPS
    endpoint (RFC 8460 §3)."""
    rua = [f"mailto:{address}" for address in settings.rua_addresses]
    if settings.public_url:
        rua.append(settings.public_url.rstrip("/") + "/v1/tlsrpt")
    return rua


def tlsrpt_text(rua: list[str]) -> str:
    try:
        return tlsrpt_record(rua)
    except ValueError:
        return ""


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def record(action: str, rua: str, mx: str, mode: str, text: str,
           words: Words) -> dict[str, Any]:
    """Generate a record or policy, or validate texts; errors are values, not exceptions."""
    try:
        if action == "tlsrpt":
            value = tlsrpt_record(_split(rua))
            return {"blocks": [{"title": words("tools.publish_tlsrpt"), "text": value}]}
        if action == "mta-sts":
            policy = sts_policy(_split(mx), mode if mode in ("testing", "enforce", "none")
                                else "testing", 604_800)
            return {"blocks": [
                {"title": words("tools.serve_policy"), "text": policy},
                {"title": words("tools.publish_sts"), "text": sts_record()}]}
        if action == "check":
            if not text.strip():
                return {"error": words("tools.nothing"), "blocks": []}
            (found, *_) = check_all([text.strip()])
            return {"blocks": [], "problems": found.problems, "valid": found.valid,
                    "kind": found.kind}
    except ValueError as exc:
        return {"error": str(exc), "blocks": []}
    return {"error": f"unknown action {action!r}", "blocks": []}
