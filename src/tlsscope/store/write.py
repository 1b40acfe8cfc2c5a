"""Write a batch of arrivals in one transaction: inputs, reports, rows, roll-ups, repeats.

Every statement is idempotent under races: inputs and reports are inserted with
`ON CONFLICT DO NOTHING ... RETURNING key`, so only the writer whose row went in adds that
report's rows and roll-up increments; the other records a repeat. A crash before commit leaves
nothing of the batch; after commit, all of it.
"""

from __future__ import annotations

import datetime as dt
import time
import weakref
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import BigInteger, Table, case, literal_column, select
from sqlalchemy.engine import Connection

from tlsscope.parse.clean import clean
from tlsscope.parse.results import InputResult, Outcome
from tlsscope.receipts import DkimVerdict, Saved
from tlsscope.store import bulk, junk, recheck_rows, rollups
from tlsscope.store import tables as t
from tlsscope.store.rows import BIGINT_MAX, ReportRows, Rollup, encode_findings
from tlsscope.vocab import OPERATOR_CHANNELS, PEER_CHANNELS, Channel

READER_VERSION = 1
_GZIP = b"\x1f\x8b"


class Arrival(NamedTuple):
    """An input as it arrived, and what the reader made of it (None: already stored)."""

    digest: str
    source: str
    data: bytes
    received_at: dt.datetime
    result: InputResult | None
    dkim: DkimVerdict | None = None
    channel: str = Channel.FILE  # tlsscope.vocab.Channel
    peer: str = ""  # the submitting address: the HTTPS client, the SMTP or LMTP peer

    @property
    def authenticated(self) -> bool:
        """Worth more than its word: ingested by the operator (files, stdin), or mailed with a
        passing DKIM signature aligned with the submitter (RFC 8460 §3). HTTPS reports carry
        no authentication (RFC 8460 §7), nor does mail that was not (or not well) signed."""
        if self.channel in OPERATOR_CHANNELS:
            return True
        return self.channel != Channel.HTTPS and self.dkim is not None and self.dkim.passed


def pack(data: bytes) -> tuple[str, bytes]:
    """Raw bytes as stored: zlib when it saves space (gzip and zip are left as they are, and
    so are small inputs: a 2 KB mail is mostly base64 and hardly shrinks)."""
    if data.startswith((_GZIP, b"PK\x03\x04")) or len(data) < 4096:
        return "identity", data
    packed = zlib.compress(data, 1)
    return ("zlib", packed) if len(packed) < len(data) * 0.9 else ("identity", data)


def unpack(codec: str, stored: bytes) -> bytes | None:
    """The bytes as they arrived; None once dropped (the quarantine's budget: store/junk.py)."""
    if codec == junk.DROPPED:
        return None
    return zlib.decompress(stored) if codec == "zlib" else stored


def _insert_new(connection: Connection, table: Table, key: str, rows: list[dict[str, Any]],
                returning: tuple[str, ...] = ()) -> dict[Any, Any]:
    """Insert rows whose key is not there yet; returns {key: first returned column} for them."""
    return {row[0]: row[1] if returning else None
            for row in bulk.insert_new(connection, table, (key,), rows, (key, *returning))}


def _add_up(connection: Connection, table: Table, rows: list[dict[str, Any]],
            measures: Sequence[str]) -> None:
    def upsert(statement: Any) -> Any:
        # Sums stop at BIGINT_MAX: a + b would overflow (PostgreSQL refuses the batch, for
        # ever), so a > MAX - b is asked instead (b is at most MAX, as Rollup gives it).
        top = literal_column(str(BIGINT_MAX), BigInteger)  # in the SQL text: no parameter
        return statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: case((table.c[name] > top - statement.excluded[name], top),
                             else_=table.c[name] + statement.excluded[name])
                  for name in measures})

    keys = [c.name for c in table.primary_key.columns]
    bulk.upsert(connection, table, rows, "add_up", keys, upsert)


def save(connection: Connection, batch: Sequence[Arrival], junk_budget: int = 0) -> list[Saved]:
    """`junk_budget`: bytes of raw junk kept per sender (store/junk.py); 0: no budget."""
    now = dt.datetime.now(dt.UTC)
    fresh = [a for a in batch if a.result is not None]
    input_rows = [_input_row(a) for a in fresh]
    new_inputs = set(_insert_new(connection, t.inputs, "sha256", input_rows))
    if junk_budget:
        junk.keep_within(connection, [row["origin"] for row in input_rows
                                      if row["sha256"] in new_inputs
                                      and row["outcome"] in junk.JUNK], junk_budget)
    stored_outcome = _known_outcomes(connection, [a.digest for a in batch
                                                  if a.digest not in new_inputs])
    by_arrival = {id(a): _report_rows(a, now) for a in fresh if a.digest in new_inputs}
    report_rows = [(a, rows) for a in fresh for rows in by_arrival.get(id(a), [])]
    winners = _store_reports(connection, [rows for _, rows in report_rows], now)
    repeats, repeat_rows = _repeats(connection, report_rows, winners, now)
    saved = [_outcome(a, new_inputs, stored_outcome, by_arrival.get(id(a), []), repeats)
             for a in batch]
    with bulk.pipelined(connection):  # the rest reads nothing back: one round-trip
        _write_children(connection, winners)
        bulk.insert_all(connection, t.report_repeats, repeat_rows)
        bulk.insert_all(connection, t.arrivals, [
            {"input_sha256": a.digest, "source": clean(a.source), "received_at": a.received_at,
             "outcome": s.outcome.value} for a, s in zip(batch, saved, strict=True)])
    return saved


def reread(connection: Connection, digest: str, result: InputResult) -> Saved:
    """A stored input read again by a newer reader: its verdict is updated, and reports it now
    yields that were never stored are added. Reports already stored are left alone (and, unlike
    a second arrival's, not recorded as repeats)."""
    now = dt.datetime.now(dt.UTC)
    rows = _report_rows(_stored_arrival(connection, digest, result), now)
    winners = _store_reports(connection, rows, now)
    with bulk.pipelined(connection):
        _write_children(connection, winners)
    more = {"origin": ""} if result.reports else {}  # carrying a report: never junk again
    connection.execute(t.inputs.update().where(t.inputs.c.sha256 == digest).values(
        outcome=result.outcome.value, errors=encode_findings(result.errors),
        warnings=encode_findings(result.warnings), reader_version=READER_VERSION, kind=result.kind,
        **more))
    return Saved(digest=digest, source=result.source, outcome=result.outcome,
                 stored=len(winners), repeated=len(rows) - len(winners),
                 reasons=_reasons(result))


def _report_rows(arrival: Arrival, now: dt.datetime) -> list[ReportRows]:
    """The rows of each report an arrival carries, with its provenance."""
    assert arrival.result is not None
    provenance = {"channel": arrival.channel, "peer": clean(arrival.peer[:200]),
                  "authenticated": arrival.authenticated}
    out = []
    for read in arrival.result.reports:
        rows = ReportRows(read, arrival.digest, now)
        rows.report.update(provenance)
        out.append(rows)
    return out


def _store_reports(connection: Connection, candidates: list[ReportRows],
                   now: dt.datetime) -> list[ReportRows]:
    """The one write sequence of reports, for new arrivals and re-read inputs alike: who
    reports what (before the reports, which it marks), then the first report row of each key
    (one stored already, or by another writer meanwhile, does not go in). Returns those (the
    winners), bound to their ids: the caller writes their rows next (_write_children)."""
    first: dict[str, ReportRows] = {}
    for rows in candidates:
        first.setdefault(rows.key, rows)
    _note_reporters(connection, list(first.values()), now)
    inserted = _insert_new(connection, t.reports, "key",
                           [rows.report for rows in first.values()], returning=("id",))
    winners = [rows for key, rows in first.items() if key in inserted]
    for rows in winners:
        rows.bind(inserted[rows.key])
    return winners


def _input_row(arrival: Arrival) -> dict[str, Any]:
    result, dkim = arrival.result, arrival.dkim
    assert result is not None
    codec, raw = pack(arrival.data)
    # Strings from outside the reader (a file name, DKIM's words on the mail) are cleaned
    # too: one NUL or lone surrogate must not make the batch unstorable (parse/clean.py).
    return {"sha256": arrival.digest, "source": clean(arrival.source),
            "received_at": arrival.received_at, "size": len(arrival.data), "kind": result.kind,
            "outcome": result.outcome.value, "codec": codec, "raw": raw, "raw_size": len(raw),
            "origin": junk.origin_of(arrival.channel, arrival.peer, bool(result.reports)),
            "errors": encode_findings(result.errors),
            "warnings": encode_findings(result.warnings), "reader_version": READER_VERSION,
            "dkim_result": dkim.result if dkim else None,
            "dkim_domain": clean(dkim.domain) if dkim and dkim.domain else None,
            "dkim_aligned": dkim.aligned if dkim else None,
            "dkim_tlsrpt_key": dkim.tlsrpt_key if dkim else None,
            "dkim_detail": clean(dkim.detail) if dkim else None}


def _known_outcomes(connection: Connection, digests: list[str]) -> dict[str, tuple[str, str]]:
    """Stored inputs' verdicts: sha256 → (outcome, errors as stored JSON)."""
    if not digests:
        return {}
    i = t.inputs
    query = select(i.c.sha256, i.c.outcome, i.c.errors).where(i.c.sha256.in_(digests))
    return {digest: (outcome, errors) for digest, outcome, errors in connection.execute(query)}


def _write_children(connection: Connection, winners: list[ReportRows]) -> None:
    policies = [p for rows in winners for p in rows.policies]
    details = [d for rows in winners for d in rows.details]
    bulk.insert_all(connection, t.policies, policies)
    bulk.insert_all(connection, t.failure_details, details)
    rollup = Rollup()
    for rows in winners:
        rollup.add(rows)
    _add_up(connection, t.daily_totals, rollup.totals_rows(),
            ("reports", "successful", "failed", "counted_successful", "counted_failed"))
    _add_up(connection, t.daily_failures, rollup.failures_rows(),
            ("sessions", "counted_sessions"))
    rollups.mark(connection, ((row["domain"], row["day"]) for row in rollup.totals_rows()))
    domains = {row["domain"] for row in rollup.totals_rows()} - {""}
    mark_stale(connection, sorted(domains))
    recheck_rows.queue(connection, domains, {p["policy_domain"] for p in policies
                                             if p["failed"]}, dt.datetime.now(dt.UTC))


# (domain, organisation) pairs known to be in domain_reporters, per engine: a batch whose
# pairs are all known skips the statement (the steady state). Only pairs found there already
# are remembered (a pair this transaction inserts might still be rolled back), and for a
# minute at most: retention and an organisation's deletion remove pairs (store/
# retention_rows.py), and another process's removal must not be hidden for longer.
_known_reporters: weakref.WeakKeyDictionary[Any, tuple[float, set[tuple[str, str]]]] = (
    weakref.WeakKeyDictionary())
_KNOWN_MAX = 200_000
KNOWN_SECONDS = 60.0


def _note_reporters(connection: Connection, candidates: list[ReportRows],
                    now: dt.datetime) -> None:
    """Record who reports each domain (domain_reporters), before the reports go in: a report
    whose organisation had never reported one of its domains is marked `reporter_new` (of
    several such reports in one batch, the first by day, as if stored one by one)."""
    remembered = _known_reporters.get(connection.engine)  # (not a time: the clock may be young)
    since, known = remembered or (0.0, set())
    if remembered is None or time.monotonic() - since > KNOWN_SECONDS \
            or len(known) > _KNOWN_MAX:
        since, known = time.monotonic(), set()
        _known_reporters[connection.engine] = (since, known)
    first: dict[tuple[str, str], dict[str, Any]] = {}
    owner: dict[tuple[str, str], int] = {}  # pair -> id() of the report that makes its row
    for rows in sorted(candidates, key=lambda r: r.report["day"]):
        for policy in rows.policies:
            pair = (policy["policy_domain"], rows.report["organization_name"])
            if pair[0] and pair not in known and pair not in first:
                first[pair] = {"domain": pair[0], "organization_name": pair[1],
                               "first_day": rows.report["day"], "first_stored_at": now,
                               "last_day": rows.report["day"]}
                owner[pair] = id(rows)
    if not first:
        return
    new = {(domain, org) for domain, org in bulk.insert_new(
        connection, t.domain_reporters, ("domain", "organization_name"), list(first.values()),
        ("domain", "organization_name"))}
    known.update(set(first) - new)
    for rows in candidates:
        org = rows.report["organization_name"]
        rows.report["reporter_new"] = any(
            pair in new and owner[pair] == id(rows)
            for pair in ((p["policy_domain"], org) for p in rows.policies))


def mark_stale(connection: Connection, domains: list[str]) -> None:
    """Their findings must be recomputed (see tables.stale_domains): a mark of this
    transaction's own, only inserted, so no writer waits for another's; a recomputation
    that read older marks takes only those away (findings_rows.settle)."""
    bulk.insert_all(connection, t.stale_domains, [{"domain": d} for d in sorted(set(domains))])


def _repeats(connection: Connection, report_rows: list[tuple[Arrival, ReportRows]],
             winners: list[ReportRows], now: dt.datetime,
             ) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """Every report row that did not go in: id(rows) → duplicate/conflict, and the
    report_repeats rows that record them."""
    won = {id(rows) for rows in winners}
    losers = [(a, rows) for a, rows in report_rows if id(rows) not in won]
    if not losers:
        return {}, []
    keys = list({rows.key for _, rows in losers})
    query = (select(t.reports.c.key, t.reports.c.id, t.reports.c.content_sha256)
             .where(t.reports.c.key.in_(keys)))
    stored = {key: (report, content) for key, report, content in connection.execute(query)}
    kinds = {id(rows): "duplicate" if stored[rows.key][1] == rows.content else "conflict"
             for _, rows in losers}
    return kinds, [
        {"report": stored[rows.key][0], "input_sha256": a.digest, "kind": kinds[id(rows)],
         "content_sha256": rows.content, "seen_at": now} for a, rows in losers]


def _outcome(arrival: Arrival, new_inputs: set[str],
             stored_outcome: dict[str, tuple[str, str]], mine: list[ReportRows],
             repeats: dict[int, str]) -> Saved:
    result = arrival.result
    if arrival.digest not in new_inputs or result is None:
        known, errors = stored_outcome.get(arrival.digest, (Outcome.DUPLICATE.value, "[]"))
        before = Outcome(known)
        again = Outcome.DUPLICATE if before is Outcome.ACCEPTED else before
        reasons = [_reason(e["code"], e["message"], e.get("path", ""))
                   for e in msgspec.json.decode(errors)] if before is Outcome.REJECTED else []
        return Saved(digest=arrival.digest, source=arrival.source, outcome=again,
                     reasons=reasons)
    repeated = [repeats[id(rows)] for rows in mine if id(rows) in repeats]
    outcome: Outcome
    if result.errors:
        outcome = Outcome.REJECTED
    elif not mine:
        outcome = Outcome.NOT_A_REPORT
    elif len(repeated) == len(mine):
        outcome = Outcome.DUPLICATE
    else:
        outcome = Outcome.ACCEPTED
    return Saved(digest=arrival.digest, source=arrival.source, outcome=outcome,
                 stored=len(mine) - len(repeated), repeated=len(repeated),
                 conflicts=repeated.count("conflict"), reasons=_reasons(result))


def _reasons(result: InputResult) -> list[str]:
    """Why an input was rejected (its errors), or why it is not a report."""
    if result.errors:
        return [_reason(e.code, e.message, e.path) for e in result.errors]
    if not result.reports:
        return [_reason(w.code, w.message) for w in result.warnings if w.code == "not_a_report"]
    return []


def _reason(code: str, message: str, path: str = "") -> str:
    """One reason, as receipts give it: `code: message [path]`."""
    return f"{code}: {message} [{path}]" if path else f"{code}: {message}"


_NAMED = frozenset(Channel) - OPERATOR_CHANNELS  # the receivers that name themselves


def channel_of(source: str) -> str:
    """The channel an input came by, from the source its receiver gave it."""
    head = source.split(":", 1)[0] if ":" in source else ""
    if head in _NAMED:
        return head
    return Channel.STDIN if source == "<stdin>" else Channel.FILE


def _stored_arrival(connection: Connection, digest: str, result: InputResult) -> Arrival:
    """A stored input's provenance, as it first arrived (for re-reading it)."""
    i = t.inputs
    row = connection.execute(select(i.c.source, i.c.dkim_result, i.c.dkim_domain,
                                    i.c.dkim_aligned, i.c.dkim_tlsrpt_key, i.c.dkim_detail)
                             .where(i.c.sha256 == digest)).mappings().first()
    source = row["source"] if row is not None else result.source
    dkim = (DkimVerdict(result=row["dkim_result"], domain=row["dkim_domain"],
                        aligned=bool(row["dkim_aligned"]), tlsrpt_key=row["dkim_tlsrpt_key"],
                        detail=row["dkim_detail"] or "")
            if row is not None and row["dkim_result"] is not None else None)
    channel = channel_of(source)
    peer = source.split(":", 1)[1].split(" ", 1)[0] if channel in PEER_CHANNELS else ""
    return Arrival(digest=digest, source=source, data=b"", received_at=dt.datetime.now(dt.UTC),
                   result=result, dkim=dkim, channel=channel, peer=peer)
