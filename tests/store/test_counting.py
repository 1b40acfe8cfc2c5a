"""The one counting rule, everywhere: generated reports give the same domain totals in the
reader, the `parse --json` contract, the rows and roll-ups, `stats` (before and after the
coarse roll-ups are rebuilt) and the facts the detectors read; and migration 0009 brings a
store counted by the old rule to exactly what a fresh ingest gives."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

import tlsscope.report
from tests.support import reads
from tlsscope.app import freshness
from tlsscope.parse import read_input
from tlsscope.parse.contract import report_entry
from tlsscope.parse.results import ReadReport
from tlsscope.store import Arrival, Store
from tlsscope.store import tables as t
from tlsscope.store.rows import ReportRows, Rollup

ALL_TIME = (dt.date(2000, 1, 1), dt.date(2100, 1, 1))
KINDS = ("sts", "tlsa", "no-policy-found")


def _doc(org: str, rid: str, day: int, policies: list[tuple[str, str, int, int]]) -> bytes:
    entries = []
    for domain, kind, ok, failed in policies:
        policy: dict[str, Any] = {"policy-type": kind, "policy-domain": domain}
        if kind == "sts":
            policy["policy-string"] = ["version: STSv1", f"mode: {('enforce', 'testing')[ok % 2]}",
                                       "mx: mx.example", "max_age: 86400"]
        details = [{"result-type": "certificate-expired", "receiving-mx-hostname": "mx.example",
                    "failed-session-count": failed}] if failed else []
        entries.append({"policy": policy, "summary": {"total-successful-session-count": ok,
                                                      "total-failure-session-count": failed},
                        "failure-details": details})
    return json.dumps({"organization-name": org, "report-id": rid, "contact-info": "a@b.example",
                       "date-range": {"start-datetime": f"2026-11-{day:02d}T00:00:00Z",
                                      "end-datetime": f"2026-11-{day:02d}T23:59:59Z"},
                       "policies": entries}).encode()


def _arrival(data: bytes) -> Arrival:
    return Arrival(hashlib.sha256(data).hexdigest(), "gen", data, dt.datetime.now(dt.UTC),
                   read_input(data, "gen"))


policy_st = st.tuples(st.sampled_from(("a.example", "b.example")), st.sampled_from(KINDS),
                      st.integers(0, 50), st.integers(0, 9))
report_st = st.tuples(st.sampled_from(("Google Inc.", "Microsoft Corporation")),
                      st.integers(1, 3), st.lists(policy_st, min_size=1, max_size=5))


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(report_st, min_size=1, max_size=6))
def test_every_consumer_gives_the_same_domain_totals(tmp_path_factory: pytest.TempPathFactory,
                                                     reports: list[Any]) -> None:
    datas = [_doc(org, f"r{i}", day, policies) for i, (org, day, policies) in enumerate(reports)]
    arrivals = [_arrival(data) for data in datas]
    read_all = [r for a in arrivals for r in (a.result.reports if a.result else [])]
    assert len(read_all) == len(reports)
    truth: Counter[str] = Counter()
    for read in read_all:
        for domain, (ok, failed) in read.report.domain_totals().items():
            truth[domain] += ok + failed
    contract: Counter[str] = Counter()
    rollup = Rollup()
    for read in read_all:
        for domain, sums in report_entry(read)["domain_totals"].items():
            contract[domain] += sums["successful"] + sums["failed"]
        rows = ReportRows(read, "x", dt.datetime.now(dt.UTC))
        rollup.add(rows)
        assert rows.report["successful"] + rows.report["failed"] == sum(
            ok + failed for ok, failed in read.report.domain_totals().values())
    assert contract == truth
    rolled: Counter[str] = Counter()
    for row in rollup.totals_rows():
        rolled[row["domain"]] += row["counted_successful"] + row["counted_failed"]
    assert +rolled == +truth
    db = tmp_path_factory.mktemp("db") / "t.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.save(arrivals)
        for domain in truth:
            unrebuilt = reads.stats(store, domain, *ALL_TIME)  # read from the fine roll-ups
            facts = reads.facts(store, domain, *ALL_TIME)
            counted = sum(p.successful + p.failed for p in facts.policies if p.counted)
            assert unrebuilt.successful + unrebuilt.failed == truth[domain] == counted
            failed_rows = sum(r.sessions for r in facts.failures if r.counted)
            assert sum(b.failed for b in unrebuilt.by_result_type) == failed_rows
        freshness.rollups_now(store)
        for domain in truth:
            rebuilt = reads.stats(store, domain, *ALL_TIME)
            assert rebuilt.successful + rebuilt.failed == truth[domain]
        everything = reads.stats(store, None, *ALL_TIME)
        assert everything.successful + everything.failed == sum(truth.values())
        assert everything.reports == sum(len(r.report.domain_totals()) for r in read_all)


def _old_rule(entries: Any) -> list[bool]:
    """Before 0009: per domain, only the policy type with the most sessions counted."""
    sums: dict[tuple[str, str], int] = {}
    for domain, kind, sessions in entries:
        sums[(domain, kind)] = sums.get((domain, kind), 0) + sessions
    best: dict[str, tuple[int, str]] = {}
    for (domain, kind), sessions in sums.items():
        if domain not in best or sessions > best[domain][0]:
            best[domain] = (sessions, kind)
    return [best[domain][1] == kind for domain, kind, _ in entries]


CASES = [
    ("Google Inc.", 1, [("a.example", "no-policy-found", 1, 0), ("a.example", "sts", 0, 5),
                        ("a.example", "sts", 0, 8)]),
    ("Microsoft Corporation", 1, [("a.example", "tlsa", 2, 0), ("a.example", "sts", 2, 0)]),
    ("Microsoft Corporation", 2, [("a.example", "sts", 3, 1), ("a.example", "tlsa", 3, 1),
                                  ("b.example", "no-policy-found", 7, 0),
                                  ("b.example", "sts", 1, 2)]),
    ("Google Inc.", 2, [("a.example", "sts", 10, 2)]),
    ("Google Inc.", 3, [("b.example", "no-policy-found", 4, 0), ("b.example", "tlsa", 9, 3)]),
]


def _tables(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with store.engine.connect() as connection:
        for table, order in ((t.policies, "report, idx"), (t.reports, "id"),
                             (t.daily_totals, "domain, day, policy_type, mode, organization_name"),
                             (t.daily_failures, "domain, day, organization_name, policy_type, "
                                                "result_type, receiving_mx_hostname")):
            # provenance (0010): reports stored before it count as from known reporters
            columns = [c for c in table.c if c.name not in (
                "stored_at", "input_sha256", "location", "key", "reporter_new")]
            out[table.name] = [tuple(row) for row in connection.execute(
                select(*columns).order_by(text(order)))]
    return out


def _downgrade(store: Store, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from tlsscope.store import migrate

    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    with store.engine.connect().execution_options(tlsscope_write=True) as connection:
        with connection.begin():
            config.attributes["connection"] = connection
            command.downgrade(config, revision)


def test_migration_0009_recounts_a_store_counted_by_the_old_rule(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrivals = [_arrival(_doc(org, f"m{i}", day, p)) for i, (org, day, p) in enumerate(CASES)]
    with Store.open(db_url) as store:
        with monkeypatch.context() as patch:
            patch.setattr(tlsscope.report, "counted", _old_rule)
            old = [read_input(a.data, "gen") for a in arrivals]
            store.save([a._replace(result=r) for a, r in zip(arrivals, old, strict=True)])
        before = reads.stats(store, "a.example", *ALL_TIME)
        assert before.successful + before.failed == 13 + 2 + 4 + 12  # no-policy-found lost
        _downgrade(store, "0009")  # the schema 0009 found (0010 came later)
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    with Store.open(db_url) as migrated:
        after = reads.stats(migrated, "a.example", *ALL_TIME)
        assert after.successful + after.failed == 1 + 13 + 2 + 4 + 12
        migrated_tables = _tables(migrated)
        freshness.rollups_now(migrated)
        rebuilt = reads.stats(migrated, "b.example", *ALL_TIME)
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with Store.open(fresh_url) as fresh:
        fresh.save(arrivals)
        assert _tables(fresh) == migrated_tables
        freshness.rollups_now(fresh)
        assert reads.stats(fresh, "b.example", *ALL_TIME) == rebuilt
    assert isinstance(old[0].reports[0], ReadReport)


def test_migration_0010_gives_stored_reports_their_provenance(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from tlsscope.store import migrate

    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    engine = create_engine(db_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
        now = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
        for i, (source, dkim, aligned) in enumerate([
                ("https:192.0.2.7", None, None), ("smtp:192.0.2.8 from a@b", "pass", True),
                ("imap:u@h/INBOX#3", "fail", False), ("<stdin>", None, None),
                ("/var/reports/x.json", None, None)]):
            digest = f"{i:064d}"
            connection.execute(text(
                "INSERT INTO inputs (sha256, source, received_at, size, kind, outcome, codec, "
                "raw, errors, warnings, reader_version, dkim_result, dkim_aligned) VALUES "
                "(:d, :s, :now, 1, 'json', 'accepted', 'identity', :raw, '[]', '[]', 1, :k, :a)"),
                {"d": digest, "s": source, "now": now, "raw": b"{}", "k": dkim, "a": aligned})
            connection.execute(text(
                "INSERT INTO reports (key, organization_name, report_id, start_at, end_at, day, "
                "input_sha256, location, content_sha256, successful, failed, warnings, extras, "
                "originals, stored_at) VALUES (:key, 'Org', :rid, :now, :now, :day, :d, '', "
                "'c', 1, 0, '[]', '{}', '{}', :now)"),
                {"key": f"k{i}", "rid": f"r{i}", "now": now, "day": now.date(), "d": digest})
        connection.execute(text(
            "INSERT INTO daily_totals VALUES ('a.example', :day, 'sts', 'enforce', 'Org', 5, 5, "
            "0, 5, 0)"), {"day": now.date()})
    engine.dispose()
    with Store.open(db_url) as store:
        r = t.reports
        with store.engine.connect() as connection:
            rows = [(row[0], bool(row[1]), bool(row[2])) for row in connection.execute(
                select(r.c.channel, r.c.authenticated, r.c.reporter_new).order_by(r.c.id))]
            reporters = connection.execute(select(t.domain_reporters.c.domain,
                                                  t.domain_reporters.c.first_day)).all()
    assert rows == [("https", False, False), ("smtp", True, False), ("imap", False, False),
                    ("stdin", True, False), ("file", True, False)]
    assert [(d, str(day)[:10]) for d, day in reporters] == [("a.example", "2026-11-30")]
