"""The bulk write path (store/bulk.py: one statement per table, arrays through unnest and a
pipeline on PostgreSQL), on SQLite and on PostgreSQL: a batch that mixes new, duplicate and
conflicting reports, repeats of stored inputs, junk and upserts onto stored roll-ups leaves
exactly the rows and roll-ups that saving the same arrivals one by one leaves."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.support.postgres import PostgresServer
from tlsscope.parse import read_input
from tlsscope.receipts import DkimVerdict, Saved
from tlsscope.report import COUNT_MAX
from tlsscope.store import Arrival, Store, bulk, recheck_rows
from tlsscope.store import tables as t
from tlsscope.vocab import Channel

AT = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def _doc(org: str, report_id: str, domain: str, day: int, ok: int, failed: int,
         mode: str = "enforce") -> dict[str, Any]:
    details = [{"result-type": "certificate-expired", "receiving-mx-hostname": f"mx.{domain}",
                "receiving-ip": "192.0.2.1", "sending-mta-ip": "198.51.100.7",
                "failed-session-count": failed}] if failed else []
    return {"organization-name": org, "report-id": report_id, "contact-info": "tls@example.net",
            "date-range": {"start-datetime": f"2026-11-{day:02d}T00:00:00Z",
                           "end-datetime": f"2026-11-{day:02d}T23:59:59Z"},
            "policies": [{"policy": {"policy-type": "sts", "policy-domain": domain,
                                     "policy-string": ["version: STSv1", f"mode: {mode}",
                                                       f"mx: mx.{domain}", "max_age: 86400"],
                                     "mx-host": [f"mx.{domain}"]},
                          "summary": {"total-successful-session-count": ok,
                                      "total-failure-session-count": failed},
                          "failure-details": details}]}


def _arrival(data: bytes, source: str, *, channel: str = Channel.HTTPS,
             dkim: DkimVerdict | None = None, read: bool = True) -> Arrival:
    return Arrival(digest=hashlib.sha256(data).hexdigest(), source=source, data=data,
                   received_at=AT, result=read_input(data, source) if read else None,
                   dkim=dkim, channel=channel, peer="192.0.2.50")


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def _before() -> list[Arrival]:
    """Stored before the batch: what its upserts meet (roll-up rows, marks, a failing
    domain, a reporter) and what its repeats repeat."""
    return [_arrival(_json(_doc("Org A", "a-1", "one.example", 10, 100, 3)), "https:first"),
            _arrival(_json(_doc("Org B", "b-1", "two.example", 11, 50, 0)), "https:second")]


def _batch() -> list[Arrival]:
    first = _doc("Org A", "a-1", "one.example", 10, 100, 3)
    near_max = COUNT_MAX - 5
    mail_dkim = DkimVerdict(result="pass", domain="org-c.example", aligned=True,
                            tlsrpt_key=False, detail="")
    return [
        # new reports: onto stored roll-up rows (same domain, day, reporter) and new ones
        _arrival(_json(_doc("Org A", "a-2", "one.example", 10, 7, 2)), "https:new-1"),
        _arrival(_json(_doc("Org C", "c-1", "three.example", 12, 9, 0)), "smtp:mail-1",
                 channel=Channel.SMTP, dkim=mail_dkim),
        # two reports whose sums pass 2^63-1: the roll-up stops there
        _arrival(_json(_doc("Org D", "d-1", "four.example", 13, near_max, 0)), "https:big-1"),
        _arrival(_json(_doc("Org D", "d-2", "four.example", 13, near_max, 0)), "https:big-2"),
        # a stored report again, in another wrapper: a duplicate
        _arrival(gzip.compress(_json(first), mtime=0), "https:again-gzip"),
        # a stored report's key with other content: a conflict
        _arrival(_json(_doc("Org A", "a-1", "one.example", 10, 1, 0)), "https:conflict"),
        # the same report twice in the batch, in two wrappers: one stored, one duplicate
        _arrival(_json(_doc("Org E", "e-1", "one.example", 10, 4, 1)), "https:twin-1"),
        _arrival(gzip.compress(_json(_doc("Org E", "e-1", "one.example", 10, 4, 1)), mtime=0),
                 "https:twin-2"),
        # a stored input's bytes again (found known before reading: no result)
        _arrival(_json(_doc("Org B", "b-1", "two.example", 11, 50, 0)), "https:known",
                 read=False),
        # junk: a rejected input and one that is not a report
        _arrival(b'{"organization-name": "broken"', "https:broken"),
        _arrival(b"hello, this is not a report", "https:hello"),
    ]


def _saved_view(saved: Saved) -> tuple[Any, ...]:
    return (saved.digest, saved.outcome, saved.stored, saved.repeated, saved.conflicts,
            tuple(saved.reasons))


def _dump(store: Store) -> dict[str, Any]:
    """Every row the write path makes, without surrogate ids and write times."""
    r, p, d = t.reports, t.policies, t.failure_details
    out: dict[str, Any] = {}
    store.write(recheck_rows.fold_all)  # the writers' marks, as the re-checker reads them
    with store.engine.connect() as c:
        def rows(query: Any) -> Counter[tuple[Any, ...]]:
            return Counter(tuple(row) for row in c.execute(query))

        out["inputs"] = rows(select(*t.inputs.c))
        out["reports"] = rows(select(*[col for col in r.c if col.name not in
                                       ("id", "stored_at")]))
        out["policies"] = rows(select(r.c.key, *[col for col in p.c if col.name != "report"])
                               .join(r, r.c.id == p.c.report))
        out["failure_details"] = rows(select(r.c.key, *[col for col in d.c
                                                        if col.name != "report"])
                                      .join(r, r.c.id == d.c.report))
        rr = t.report_repeats
        out["report_repeats"] = rows(select(r.c.key, rr.c.input_sha256, rr.c.kind,
                                            rr.c.content_sha256).join(r, r.c.id == rr.c.report))
        out["daily_totals"] = rows(select(*t.daily_totals.c))
        out["daily_failures"] = rows(select(*t.daily_failures.c))
        dr = t.domain_reporters
        out["domain_reporters"] = rows(select(dr.c.domain, dr.c.organization_name,
                                              dr.c.first_day))
        # marks: one per transaction, so which pairs and domains are marked, not how often
        out["rollup_dirty"] = set(rows(select(t.rollup_dirty.c.domain, t.rollup_dirty.c.day)))
        out["stale_domains"] = set(rows(select(t.stale_domains.c.domain)))
        q = t.rechecks
        out["rechecks"] = rows(select(q.c.domain, q.c.failing_at.is_not(None), q.c.claimed_by))
        a = t.arrivals
        out["arrivals"] = rows(select(a.c.input_sha256, a.c.source, a.c.received_at,
                                      a.c.outcome))
    return out


@pytest.fixture
def two_urls(db_url: str, tmp_path: Path, postgres: PostgresServer | None) -> Iterator[list[str]]:
    """Two empty databases of the same engine."""
    if db_url.startswith("sqlite"):
        yield [db_url, f"sqlite:///{tmp_path / 'other.db'}"]
        return
    assert postgres is not None
    yield [db_url, postgres.create_database()]


def test_a_mixed_batch_stores_what_one_by_one_stores(two_urls: list[str]) -> None:
    with Store.open(two_urls[0]) as together, Store.open(two_urls[1]) as alone:
        for store in (together, alone):
            for arrival in _before():
                store.save([arrival])
        batch = _batch()
        in_one = together.save(batch)
        each = [alone.save([arrival])[0] for arrival in batch]
        assert [_saved_view(s) for s in in_one] == [_saved_view(s) for s in each]
        outcomes = Counter(s.outcome.value for s in in_one)
        assert outcomes == {"accepted": 5, "duplicate": 4, "rejected": 1, "not_a_report": 1}
        assert sum(s.conflicts for s in in_one) == 1
        dumped, expected = _dump(together), _dump(alone)
        for table in expected:
            assert dumped[table] == expected[table], table
    big = {row for row in dumped["daily_totals"] if row[0] == "four.example"}
    assert [row[6] for row in big] == [COUNT_MAX]  # successful: clamped at 2^63-1
    assert dumped["rechecks"] == Counter({("one.example", True, ""): 1,
                                          ("two.example", False, ""): 1,
                                          ("three.example", False, ""): 1,
                                          ("four.example", False, ""): 1})


def test_bulk_rows_keep_every_value_type(store: Store) -> None:
    """Arrays of every column type the writer sends, NULLs among them and columns that are
    all NULL, come back as they went in (PostgreSQL: one array parameter per column)."""
    rows = [{"sha256": f"{i:064x}", "source": src, "received_at": AT + dt.timedelta(seconds=i),
             "size": size, "kind": "json", "outcome": "accepted", "codec": "identity",
             "raw": raw, "raw_size": len(raw), "origin": "", "errors": "[]", "warnings": "[]",
             "reader_version": 1, "dkim_result": dkim, "dkim_domain": None,
             "dkim_aligned": aligned, "dkim_tlsrpt_key": None, "dkim_detail": "é\u2028"}
            for i, (src, size, raw, dkim, aligned) in enumerate([
                ("a'\"\\{},", 0, b"", None, None),
                ("NULL", 2**62, b"\x00\xff" * 3000, "pass", True),
                ("", 1, b"{}", None, False)])]

    def insert(connection: Any) -> list[Any]:
        return bulk.insert_new(connection, t.inputs, ("sha256",), rows, ("sha256", "size"))

    assert sorted(store.write(insert)) == [(r["sha256"], r["size"]) for r in rows]
    assert store.write(insert) == []  # all there now: none goes in again
    with store.engine.connect() as connection:
        back = [dict(row) for row in connection.execute(
            select(*[t.inputs.c[name] for name in rows[0]]).order_by(t.inputs.c.sha256))
            .mappings()]
    for row in back:
        row["received_at"] = row["received_at"].replace(tzinfo=dt.UTC)  # SQLite: naive UTC
        row["raw"] = bytes(row["raw"])
    assert back == rows


def test_a_pipelined_error_is_the_databases_and_undoes_the_batch(store: Store) -> None:
    """A statement refused inside the pipeline raises SQLAlchemy's error for it (what
    Store.save retries, or sets aside, by kind), and nothing of the transaction stays."""
    row = {"domain": "x.example", "organization_name": "Org", "first_day": dt.date(2026, 1, 1),
           "first_stored_at": AT}

    def twice(connection: Any) -> None:
        with bulk.pipelined(connection):
            bulk.insert_all(connection, t.domain_reporters, [row])
            bulk.insert_all(connection, t.domain_reporters, [row])

    with pytest.raises(IntegrityError) as raised:
        store.write(twice)
    assert isinstance(raised.value, DBAPIError)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM domain_reporters")).scalar() == 0
    store.write(lambda connection: bulk.insert_all(connection, t.domain_reporters, [row]))
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM domain_reporters")).scalar() == 1
