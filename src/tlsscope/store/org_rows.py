"""One organisation's data, read out for its export and removed at the end of its deletion
(app/org_data.py); its reports and live checks go first, in chunks (store/retention_rows.py).

Only what is the organisation's is read: of a report that also covers other organisations'
domains, the policies of its own domains (the others are counted, not shown) and of the
report's notes, unknown members and values as sent those about itself or them; a raw input
only when every report it carries (or carried a copy of) is about its domains alone. No
password hash, token hash, alert target or webhook secret is ever read out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from tlsscope.store import tables as t
from tlsscope.store.retention_rows import (
    leftovers,
    only_policies,
    organisation_page,
    remove_policies,
)
from tlsscope.store.write import unpack

_PAGE = 500
_json = msgspec.json.Decoder()


def _loads(text: str | None) -> Any:
    return None if text is None else _json.decode(text)


def organisation(connection: Connection, organisation_id: int) -> dict[str, Any]:
    o = t.organisations
    row = connection.execute(select(o).where(o.c.id == organisation_id)).mappings().one()
    return dict(row)


def domains(connection: Connection, organisation_id: int) -> list[dict[str, Any]]:
    d = t.domains
    return [dict(row) for row in connection.execute(
        select(d.c.name, d.c.added_at).where(d.c.organisation == organisation_id)
        .order_by(d.c.name)).mappings()]


def users(connection: Connection, organisation_id: int) -> list[dict[str, Any]]:
    """Its users (never their password hashes), each with its API tokens (never their
    hashes)."""
    u, k = t.users, t.api_tokens
    found = [dict(row) for row in connection.execute(
        select(u.c.id, u.c.email, u.c.name, u.c.role, u.c.lang, u.c.created_at, u.c.disabled,
               u.c.digest).where(u.c.organisation == organisation_id).order_by(u.c.id))
             .mappings()]
    for user in found:
        user["api_tokens"] = [dict(row) for row in connection.execute(
            select(k.c.name, k.c.scope, k.c.created_at, k.c.last_used_at, k.c.expires_at)
            .where(k.c.user == user["id"]).order_by(k.c.id)).mappings()]
    return found


def alert_rules(connection: Connection, organisation_id: int) -> list[dict[str, Any]]:
    """Its alert rules, without where they send to and their secrets."""
    a = t.alert_rules
    hidden = {"target", "secret", "organisation"}
    columns = [c for c in a.columns if c.name not in hidden]
    out = []
    for row in connection.execute(select(*columns).where(a.c.organisation == organisation_id)
                                  .order_by(a.c.id)).mappings():
        rule = dict(row)
        for name in ("domains", "kinds", "events"):
            rule[name] = _loads(rule[name])
        out.append(rule)
    return out


def report_page(connection: Connection, names: Sequence[str], after: int,
                limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Up to `limit` reports (ids above `after`) about these domains, in RFC 8460's shape
    with the policies of these domains only, and what tlsscope knows of each (`tlsscope`);
    and the last id (the next page's `after`)."""
    p, r, d = t.policies, t.reports, t.failure_details
    if not names:
        return after, []
    ids = list(connection.execute(
        select(p.c.report).where(p.c.policy_domain.in_(list(names)), p.c.report > after)
        .group_by(p.c.report).order_by(p.c.report).limit(limit)).scalars())
    if not ids:
        return after, []
    own = set(names)
    policies: dict[int, list[Any]] = {}
    others: dict[int, int] = {}
    for row in connection.execute(select(p).where(p.c.report.in_(ids))
                                  .order_by(p.c.report, p.c.idx)).mappings():
        if row["policy_domain"] in own:
            policies.setdefault(row["report"], []).append(row)
        else:
            others[row["report"]] = others.get(row["report"], 0) + 1
    details: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in connection.execute(select(d).where(d.c.report.in_(ids))
                                  .order_by(d.c.report, d.c.policy_idx, d.c.idx)).mappings():
        details.setdefault((row["report"], row["policy_idx"]), []).append({
            key.replace("_", "-"): value for key, value in row.items()
            if key not in ("report", "policy_idx", "idx") and value is not None})
    out = []
    for row in connection.execute(select(r).where(r.c.id.in_(ids)).order_by(r.c.id)).mappings():
        out.append(_report(row, policies.get(row["id"], []), details, others.get(row["id"], 0)))
    return max(ids), out


def _report(row: Any, policies: list[Any], details: dict[tuple[int, int], list[Any]],
            others: int) -> dict[str, Any]:
    # the reader's notes, unknown members and values as sent: the report's own, and its
    # policies' renumbered as they are listed here (another organisation's left out)
    own = {k: _loads(v) for k, v in only_policies(
        row, {policy["idx"]: i for i, policy in enumerate(policies)}).items()}
    entries = []
    for policy in policies:
        entry: dict[str, Any] = {
            "policy": {key: value for key, value in (
                ("policy-type", policy["policy_type"]),
                ("policy-string", _loads(policy["policy_strings"])),
                ("policy-domain", policy["policy_domain"]),
                ("mx-host", _loads(policy["mx_host"]))) if value is not None},
            "summary": {"total-successful-session-count": policy["successful"],
                        "total-failure-session-count": policy["failed"]}}
        if policy["details_listed"]:
            entry["failure-details"] = details.get((row["id"], policy["idx"]), [])
        entries.append(entry)
    return {
        "organization-name": row["organization_name"],
        "date-range": {"start-datetime": row["start_at"], "end-datetime": row["end_at"]},
        "contact-info": row["contact_info"], "report-id": row["report_id"],
        "policies": entries,
        "tlsscope": {"key": row["key"], "day": row["day"], "stored_at": row["stored_at"],
                     "channel": row["channel"], "authenticated": row["authenticated"],
                     "input_sha256": row["input_sha256"], "location": row["location"],
                     "warnings": own["warnings"], "extras": own["extras"],
                     "originals": own["originals"],
                     "policies_of_other_organisations": others}}


def exclusive_inputs(connection: Connection, digests: Sequence[str],
                     names: Sequence[str]) -> set[str]:
    """Which of these inputs carry (or carried copies of) reports about these domains only."""
    p, r, rr = t.policies, t.reports, t.report_repeats
    own, mixed = set(names), set()
    for start in range(0, len(digests), _PAGE):
        page = list(digests[start:start + _PAGE])
        for query in (select(r.c.input_sha256, p.c.policy_domain).join(p, p.c.report == r.c.id)
                      .where(r.c.input_sha256.in_(page)),
                      select(rr.c.input_sha256, p.c.policy_domain)
                      .join(p, p.c.report == rr.c.report).where(rr.c.input_sha256.in_(page))):
            for digest, domain in connection.execute(query.distinct()):
                if domain not in own:
                    mixed.add(digest)
    return set(digests) - mixed


def raw_input(connection: Connection, digest: str) -> tuple[dict[str, Any], bytes | None] | None:
    """An input's record (source, arrival, verdict) and its bytes (None: not kept)."""
    i = t.inputs
    row = connection.execute(select(i).where(i.c.sha256 == digest)).mappings().first()
    if row is None:
        return None
    record = {key: row[key] for key in ("sha256", "source", "received_at", "size", "kind",
                                        "outcome", "dkim_result", "dkim_domain")}
    return record, unpack(row["codec"], row["raw"])


def check_page(connection: Connection, names: Sequence[str], after: int,
               limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Up to `limit` live checks of these domains (ids above `after`), and the last id."""
    c = t.checks
    if not names:
        return after, []
    rows = list(connection.execute(select(c).where(c.c.domain.in_(list(names)), c.c.id > after)
                                   .order_by(c.c.id).limit(limit)).mappings())
    return (rows[-1]["id"] if rows else after), [
        {"domain": row["domain"], "checked_at": row["checked_at"], "status": row["status"],
         "result": _loads(row["data"])} for row in rows]


def findings(connection: Connection, names: Sequence[str]) -> list[dict[str, Any]]:
    """The findings of these domains, each with its status history."""
    f, fe = t.findings, t.finding_events
    out = []
    for start in range(0, len(names), _PAGE):
        page = list(names[start:start + _PAGE])
        for row in connection.execute(select(f).where(f.c.domain.in_(page))
                                      .order_by(f.c.domain, f.c.id)).mappings():
            events = [dict(e) for e in connection.execute(
                select(fe.c.at, fe.c.status, fe.c.severity).where(fe.c.finding == row["id"])
                .order_by(fe.c.id)).mappings()]
            out.append({"domain": row["domain"], "kind": row["kind"], "status": row["status"],
                        "severity": row["severity"], "first_seen": row["first_seen"],
                        "last_seen": row["last_seen"], "finding": _loads(row["data"]),
                        "history": events})
    return out


def drop(connection: Connection, organisation_id: int, names: Sequence[str]) -> dict[str, int]:
    """The last of an organisation's deletion, in one transaction (its reports and checks
    went before, in chunks): the policies of its domains stored since (as those went), what
    derives from its domains, its alert rules and what they sent, its users with their
    sessions, tokens and digest records, its domains, and itself. A report stored after
    this is about domains nobody owns, with its own roll-ups."""
    after = 0
    while page := organisation_page(connection, organisation_id, after, _PAGE):
        after = max(c.report for c in page)
        remove_policies(connection, [(c.report, c.idx) for c in page
                                     if c.organisation == organisation_id])
    leftovers(connection, names)
    a, ad, aa, al = t.alert_rules, t.alert_deliveries, t.alert_attempts, t.alerts
    rules = list(connection.execute(select(a.c.id).where(a.c.organisation == organisation_id))
                 .scalars())
    if rules:
        deliveries = select(ad.c.id).where(ad.c.rule.in_(rules)).scalar_subquery()
        connection.execute(delete(al).where(al.c.rule.in_(rules)))
        connection.execute(delete(al).where(al.c.delivery.in_(deliveries)))
        connection.execute(delete(aa).where(aa.c.delivery.in_(deliveries)))
        connection.execute(delete(ad).where(ad.c.rule.in_(rules)))
        connection.execute(delete(a).where(a.c.id.in_(rules)))
    u = t.users
    people = connection.execute(select(u.c.id, u.c.email).where(
        u.c.organisation == organisation_id)).all()
    ids, emails = [row[0] for row in people], [row[1] for row in people]
    if ids:
        connection.execute(delete(t.sessions).where(t.sessions.c.user.in_(ids)))
        connection.execute(delete(t.api_tokens).where(t.api_tokens.c.user.in_(ids)))
        connection.execute(delete(t.digest_optouts).where(t.digest_optouts.c.email.in_(emails)))
        connection.execute(delete(u).where(u.c.id.in_(ids)))
    sent = t.digests_sent
    connection.execute(delete(sent).where(sent.c.scope.startswith(f"org:{organisation_id}:",
                                                                  autoescape=True)))
    connection.execute(delete(t.domains).where(t.domains.c.organisation == organisation_id))
    connection.execute(delete(t.organisations).where(t.organisations.c.id == organisation_id))
    return {"users": len(ids), "alert_rules": len(rules), "domains": len(names)}
