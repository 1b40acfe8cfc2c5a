"""Hostile reports next to good ones, on SQLite and on PostgreSQL: a report the reader accepts
is always storable, and one bad input never takes its batch down with it (issue 13)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.support import reads
from tests.support.ingest import FIX, ingest_paths
from tlsscope.report import COUNT_MAX
from tlsscope.store import Store
from tlsscope.store import tables as t

GOOD = FIX / "quirks" / "pretty-sorted.json"
DAY = dt.date(2025, 3, 11)


def _variant(tmp_path: Path, name: str, change: Any, *, raw: dict[str, str] | None = None,
             ) -> Path:
    doc = json.loads(GOOD.read_bytes())
    change(doc)
    text = json.dumps(doc)
    for placeholder, literal in (raw or {}).items():  # JSON text json.dumps would not write
        text = text.replace(json.dumps(placeholder), literal)
    path = tmp_path / name
    path.write_text(text, encoding="ascii")
    return path


def _poisoned(doc: dict[str, Any]) -> None:
    doc["organization-name"] = "Bad\ud800Mailer"
    doc["report-id"] = "id\x00with-nul"
    doc["x-vendor\udc00"] = {"note\x00": ["\ud83d", "fine"]}
    policy = doc["policies"][0]["policy"]
    policy["policy-string"][0] = "version: STSv1\x00"
    policy["mx-host"][0] = "mx1\ud800.example.com"
    row = doc["policies"][0]["failure-details"][0]
    row["additional-information"] = "see\x00here"
    row["receiving-mx-helo"] = "\udfff"


def test_a_report_with_nul_and_lone_surrogates_is_stored_beside_a_good_one(
        store: Store, tmp_path: Path) -> None:
    """`ingest good.json bad.json` stored neither: the batch failed on encoding (SQLite) or on
    NUL in text (PostgreSQL), on every retry."""
    bad = _variant(tmp_path, "bad.json", _poisoned)
    totals = ingest_paths(store, [GOOD, bad])
    assert (totals.accepted, totals.rejected, totals.reports_stored) == (2, 0, 2)
    (stored,) = [reads.report(store, s.key) for s in reads.reports(store)
                 if "Bad" in s.organization_name]
    assert stored is not None
    report = stored.report
    assert report.organization_name == "Bad\ufffdMailer"
    assert report.report_id == "id\ufffdwith-nul"
    assert report.policies[0].policy.policy_string[0] == "version: STSv1\ufffd"  # type: ignore[index]
    assert report.policies[0].details[0].additional_information == "see\ufffdhere"
    paths = {w.path for w in stored.warnings if w.code == "text_replaced"}
    assert {"$.organization-name", "$.report-id", "$.policies[0].policy.policy-string[0]",
            "$.policies[0].policy.mx-host[0]", "$.x-vendor\ufffd",
            "$.policies[0].failure-details[0].additional-information",
            "$.policies[0].failure-details[0].receiving-mx-helo"} <= paths
    assert stored.extras["$"] == {"x-vendor\ufffd": {"note\ufffd": ["\ufffd", "fine"]}}
    assert reads.stats(store, "example.com", DAY, DAY).reports == 2


def test_a_stored_poisoned_report_reads_back_and_rereads(store: Store, tmp_path: Path) -> None:
    bad = _variant(tmp_path, "bad.json", _poisoned)
    ingest_paths(store, [bad])
    from tlsscope.parse import read_input

    for digest, source, data in reads.inputs(store):
        saved = store.reread(digest, read_input(data, source))
        assert saved.repeated == 1
    # The original, exactly.
    assert reads.raw(store, next(iter(reads.inputs(store)))[0]) == bad.read_bytes()


def test_a_file_name_that_is_not_text_is_stored(store: Store, tmp_path: Path) -> None:
    """A Linux file name of invalid UTF-8 arrives as a string with lone surrogates."""
    odd = tmp_path / "r\udcff.json"  # os.fsdecode(b"r\xff.json")
    odd.write_bytes(GOOD.read_bytes())
    totals = ingest_paths(store, [odd])
    assert totals.reports_stored == 1


def test_counts_above_2_63_are_refused_not_clamped(store: Store) -> None:
    totals = ingest_paths(store, [FIX / "quirks" / "counts-huge.json"])
    assert (totals.rejected, totals.reports_stored) == (1, 0)
    (reason,) = totals.rejections[0].reasons
    assert reason.startswith("invalid_count: session count is 1180591620717411303424, more "
                             "than 2^63-1")
    assert reason.endswith("[$.policies[0].summary.total-successful-session-count]")
    (kept,) = reads.quarantine(store)
    assert kept.errors[0].code == "invalid_count"


def test_roll_ups_stop_at_2_63_instead_of_failing_every_later_batch(
        store: Store, tmp_path: Path) -> None:
    """Each report fits; their sum does not. PostgreSQL refused the upsert (bigint out of
    range), and with it every later batch that touched the same day; SQLite turned the sum
    into a float."""
    big = 3 * 2**61  # each fits (below 2^63-1), two together do not

    def huge(report_id: str) -> Any:
        def change(doc: dict[str, Any]) -> None:
            doc["report-id"] = report_id
            doc["policies"][0]["summary"]["total-successful-session-count"] = big
        return change

    first = _variant(tmp_path, "a.json", huge("a"))
    second = _variant(tmp_path, "b.json", huge("b"))
    third, fourth = _variant(tmp_path, "c.json", huge("c")), _variant(tmp_path, "d.json", huge("d"))
    assert ingest_paths(store, [first]).reports_stored == 1
    assert ingest_paths(store, [second]).reports_stored == 1  # the upsert saturates
    assert ingest_paths(store, [third, fourth]).reports_stored == 2  # the batch's sum too
    totals = t.daily_totals
    rows = store.read(lambda c: c.execute(select(totals.c.reports, totals.c.successful)
                                          .where(totals.c.domain == "example.com")).all())
    assert [tuple(row) for row in rows] == [(4, COUNT_MAX)]
    assert isinstance(rows[0][1], int)  # not a float (SQLite's answer to an overflow)
    assert sorted(s.successful for s in reads.reports(store)) == [big] * 4  # each report exact


def test_too_many_failure_rows_are_quarantined_with_the_count(store: Store,
                                                               tmp_path: Path) -> None:
    """1,000,000 empty rows in 3.3 KB of gzip blocked the intake 25 s and took ~600 MB."""
    rows = "[" + "{}," * 999_999 + "{}]"
    plain = _variant(tmp_path, "rows.json", lambda d: d["policies"][0].update(
        {"failure-details": "@ROWS@"}), raw={"@ROWS@": rows})
    bomb = tmp_path / "rows.json.gz"
    bomb.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    plain.unlink()
    assert bomb.stat().st_size < 10_000
    totals = ingest_paths(store, [GOOD, bomb])
    assert (totals.accepted, totals.rejected, totals.reports_stored) == (1, 1, 1)
    (reason,) = totals.rejections[0].reasons
    assert reason.startswith("too_many_rows: the report has 1,000,000 failure-details rows, "
                             "more than max_failure_details (10,000)")
