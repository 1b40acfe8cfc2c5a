"""The actions behind the Tools and Settings pages (and `tlsscope users`): records, live
checks, re-reading a quarantined input, domains, users and organisations. Blocking work; the
pages run it in a thread."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from tlsscope.analyze.live import LiveCheck
from tlsscope.check.run import Options, run
from tlsscope.parse.reader import read_input
from tlsscope.parse.records import check_all, sts_policy, sts_record, tlsrpt_record
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.store import accounts as account_rows
from tlsscope.web.auth import hash_password
from tlsscope.web.i18n import Words

MIN_PASSWORD = 10


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


def live_check(store: Store, settings: Settings, domain: str, keep: bool) -> LiveCheck:
    """Check a domain now; kept only when the user may see the domain (as its evidence unless
    inconclusive: store/checks_rows.py)."""
    result = run(domain, Options.of(settings), store.latest_check(domain) if keep else None)
    if keep:
        store.save_check(result)
    return result


def reingest(store: Store, settings: Settings, digest: str) -> str:
    """Read one quarantined input again: "accepted", "still_rejected" or "missing"."""
    held = {i.sha256: i for i in store.quarantine()}
    data = store.raw(digest) if digest in held else None
    if data is None:
        return "missing"
    source = held[digest].source
    saved = store.reread(digest, read_input(data, source, settings=settings,
                                            filename=os.path.basename(source)))
    return "still_rejected" if saved.outcome.value == "rejected" else "accepted"


def assign(store: Store, domain: str, organisation: str) -> None:
    now = dt.datetime.now(dt.UTC)
    org = store.write(account_rows.organisation, organisation) if organisation else None
    store.write(account_rows.assign_domain, domain, org, now)


def add_user(store: Store, email: str, password: str, role: str, organisation: str,
             lang: str = "") -> int:
    """Raises ValueError naming what is wrong."""
    if "@" not in email or len(email) > 254:
        raise ValueError("email: give an address such as ana@example.com")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    if role != "admin" and not organisation:
        raise ValueError("organisation: members and read-only users belong to one")
    org = store.write(account_rows.organisation, organisation) if organisation else None
    return store.write(account_rows.add_user, email, email.split("@")[0], hash_password(password),
                       role, org, lang, dt.datetime.now(dt.UTC))


def set_role(store: Store, user: account_rows.User, role: str, organisation: str | None
             ) -> None:
    """A new role, and organisation (None: the user's own; "": none). Raises ValueError
    naming what is wrong. A member or read-only user belongs to an organisation."""
    if organisation is None:
        org = user.organisation
    else:
        org = store.write(account_rows.organisation, organisation) if organisation else None
    if role != "admin" and org is None:
        raise ValueError("organisation: members and read-only users belong to one")
    store.write(account_rows.set_role, user.id, role, org)


def existing_organisation(store: Store, name: str) -> int:
    """The id of the organisation named `name`; raises ValueError when there is none."""
    found = store.read(account_rows.organisation_id, name)
    if found is None:
        raise ValueError(f"no organisation {name!r}")
    return found
