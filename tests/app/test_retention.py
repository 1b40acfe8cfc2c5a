"""Retention (app/retention.py) and an organisation's export and deletion (app/org_data.py),
on SQLite and on PostgreSQL: what is older than its owner's limits is gone, the roll-ups
equal a recount (and equal those of a store that only ever got what is left), other
organisations are untouched; sending IPs truncated at intake."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support import recount, sqlite
from tests.support.postgres import PostgresServer
from tlsscope.app import accounts, freshness, org_data, retention
from tlsscope.app.scope import OPERATOR
from tlsscope.parse import read_input
from tlsscope.pipeline import DomainGate, Prepared
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Arrival, Store, retention_rows
from tlsscope.store import tables as t

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # the reader refuses future days
TODAY = NOW.date()
SETTINGS = Settings(keep_reports_days=400, keep_inputs_days=400, keep_checks_days=400)
ROLLUPS = (t.daily_totals, t.daily_failures, t.domain_days, t.failure_days,
           t.failure_reporters, t.reporter_weeks)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path,
       postgres: PostgresServer | None) -> Iterator[Store]:
    if request.param == "sqlite":
        url = sqlite.copy(migrated_sqlite, tmp_path)
    elif postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    else:
        url = postgres.create_database()
    with Store.open(url) as store:
        yield store


def _doc(rid: str, day: dt.date, *domains: str, ip: str = "192.0.2.77") -> dict[str, Any]:
    policies = []
    for domain in domains:
        policies.append({
            "policy": {"policy-type": "sts", "policy-domain": domain,
                       "policy-string": ["version: STSv1", "mode: enforce", "mx: mx.example",
                                         "max_age: 86400"]},
            "summary": {"total-successful-session-count": 10 + domain.startswith("long"),
                        "total-failure-session-count": 2},
            "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": ip,
                                 "receiving-mx-hostname": "mx.example",
                                 "receiving-ip": "198.51.100.9", "failed-session-count": 2}]})
    return {"organization-name": f"Reporter {rid[-1]}", "report-id": rid,
            "contact-info": "a@b.example",
            "date-range": {"start-datetime": f"{day}T00:00:00Z",
                           "end-datetime": f"{day}T23:59:59Z"},
            "policies": policies}


def _arrival(doc: dict[str, Any] | bytes, received: dt.datetime) -> Arrival:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Arrival(hashlib.sha256(data).hexdigest(), "test", data, received,
                   read_input(data, "test"))


def _ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


# Short: reports 60 days, inputs 30, checks 30; Long: the installation's 400; free.example
# nobody's (the installation's).
REPORTS = [("s500", 500, ("short.example",)), ("s100", 100, ("short.example",)),
           ("s40", 40, ("short.example",)), ("s10", 10, ("short.example",)),
           ("l500", 500, ("long.example",)), ("l100", 100, ("long.example",)),
           ("f500", 500, ("free.example",)), ("f10", 10, ("free.example",)),
           ("m100", 100, ("short.example", "long.example"))]
KEPT = {"s40": ("short.example",), "s10": ("short.example",), "l100": ("long.example",),
        "f10": ("free.example",), "m100": ("long.example",)}


def _fill(store: Store) -> None:
    accounts.assign(store, "short.example", "Short")
    accounts.assign(store, "long.example", "Long")
    short = accounts.existing_organisation(store, "Short")
    store.write(retention_rows.set_limits, short, {
        "keep_reports_days": 60, "keep_inputs_days": 30, "keep_checks_days": 30})
    arrivals = [_arrival(_doc(rid, _ago(days), *domains),
                         dt.datetime.combine(_ago(days), dt.time(1), dt.UTC) + dt.timedelta(1))
                for rid, days, domains in REPORTS]
    arrivals.append(_arrival(b"not a report at all", NOW - dt.timedelta(days=450)))
    store.save(arrivals)
    with store.engine.begin() as connection:
        for domain, days in (("short.example", 40), ("short.example", 5), ("long.example", 40)):
            connection.execute(t.checks.insert().values(
                domain=domain, checked_at=NOW - dt.timedelta(days=days), status="ok",
                data="{}"))
    freshness.rollups_now(store)  # the coarse roll-ups built: the purge must keep them right


def _snapshot(store: Store, tables: Any = ROLLUPS) -> dict[str, set[tuple[Any, ...]]]:
    with store.engine.connect() as connection:
        return {table.name: {tuple(row) for row in connection.execute(select(table))}
                for table in tables}


def _expected(tmp_path: Path, migrated_sqlite: Path) -> dict[str, set[tuple[Any, ...]]]:
    """The roll-ups of a store that only ever got what is to be left."""
    (tmp_path / "fresh").mkdir()
    with Store.open(sqlite.copy(migrated_sqlite, tmp_path / "fresh")) as fresh:
        days = {rid: days for rid, days, _ in REPORTS}
        fresh.save([_arrival(_doc(rid, _ago(days[rid]), *domains), NOW)
                    for rid, domains in KEPT.items()])
        freshness.rollups_now(fresh)
        return _snapshot(fresh)


def _assert_consistent(store: Store) -> None:
    assert recount.from_reports(store) == recount.from_coarse(store)
    sessions, _ = recount.from_reports(store)
    with store.engine.connect() as connection:
        totals = {(d, str(day)): int(ok) + int(bad) for d, day, ok, bad in connection.execute(
            select(t.daily_totals.c.domain, t.daily_totals.c.day,
                   func.sum(t.daily_totals.c.counted_successful),
                   func.sum(t.daily_totals.c.counted_failed))
            .group_by(t.daily_totals.c.domain, t.daily_totals.c.day))}
    assert totals == dict(sessions)


def _report_ids(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(select(t.reports.c.report_id)).scalars())


def test_purge_removes_what_is_past_each_owner_s_limit(db: Store, tmp_path: Path,
                                                       migrated_sqlite: Path) -> None:
    _fill(db)
    dry = retention.purge(db, SETTINGS, NOW, dry_run=True)
    assert (dry.reports, dry.dry_run) == (4, True)
    assert _report_ids(db) == {rid for rid, _, _ in REPORTS}  # a dry run removes nothing
    result = retention.purge(db, SETTINGS, NOW)
    assert result.complete and result.reports == 4 and result.policies == 5
    assert _report_ids(db) == set(KEPT)
    with db.engine.connect() as connection:
        mixed = connection.execute(select(t.policies.c.policy_domain).join(
            t.reports, t.reports.c.id == t.policies.c.report)
            .where(t.reports.c.report_id == "m100")).scalars().all()
        assert mixed == ["long.example"]
        m100 = connection.execute(select(t.reports.c.successful).where(
            t.reports.c.report_id == "m100")).scalar_one()
        assert m100 == 11  # the sessions of the policy left
        inputs = {row[0]: row[1] for row in connection.execute(
            select(t.inputs.c.sha256, t.inputs.c.codec))}
        checks = sorted(connection.execute(select(t.checks.c.domain)).scalars())
        arrivals = connection.execute(select(func.count()).select_from(t.arrivals)).scalar()
    # 5 inputs left of 10: the junk and the four reports' went; s40's input (41 days, Short
    # keeps inputs 30) lost its bytes, its report stays; so did m100's, which held Short's
    # policy that went; the others keep theirs.
    assert len(inputs) == arrivals == 5
    assert sorted(inputs.values()).count("dropped") == 2
    assert checks == ["long.example", "short.example"]
    _assert_consistent(db)
    assert _snapshot(db) == _expected(tmp_path, migrated_sqlite)
    again = retention.purge(db, SETTINGS, NOW)
    assert (again.reports, again.policies, again.inputs_deleted, again.checks) == (0, 0, 0, 0)


def test_the_purge_stops_when_the_lease_is_lost_and_finishes_later(db: Store) -> None:
    _fill(db)
    asked = iter([True, True, False])
    first = retention.purge(db, SETTINGS, NOW, held=lambda: next(asked, False), chunk=1)
    assert not first.complete and first.reports < 4
    _assert_consistent(db)
    rest = retention.purge(db, SETTINGS, NOW, chunk=1)
    assert rest.complete and first.reports + rest.reports == 4
    _assert_consistent(db)


def test_the_purger_runs_once_a_day_under_the_lease(db: Store) -> None:
    _fill(db)
    clock = [NOW]
    purger = retention.Purger(db, SETTINGS, clock=lambda: clock[0])
    other = retention.Purger(db, SETTINGS, clock=lambda: clock[0])
    assert purger.run_once() is not None
    assert other.run_once() is None  # the lease is the first node's
    assert purger.run_once() is None  # not due: it ran today
    clock[0] = NOW + dt.timedelta(days=1, minutes=1)
    assert purger.run_once() is not None
    stop = threading.Event()
    stop.set()
    purger.run(stop)  # returns at once, giving the lease back
    assert other.run_once() is None  # taken, but not due


def test_export_then_delete_leaves_other_organisations_untouched(
        db: Store, tmp_path: Path, migrated_sqlite: Path) -> None:
    _fill(db)
    accounts.add_user(db, "ana@short.example", "a long password 1", "member", "Short")
    accounts.add_user(db, "bob@long.example", "a long password 2", "member", "Long")
    long_before = _snapshot(db, (t.checks, t.users, t.domains))
    exported = org_data.export_to_folder(db, OPERATOR, "Short", tmp_path / "out")
    assert exported.reports == 5 and exported.users == 1
    lines = [json.loads(line) for line in (tmp_path / "out" / "reports.jsonl").read_text()
             .splitlines()]
    mixed = next(r for r in lines if r["report-id"] == "m100")
    assert [p["policy"]["policy-domain"] for p in mixed["policies"]] == ["short.example"]
    assert mixed["tlsscope"]["policies_of_other_organisations"] == 1
    users = json.loads((tmp_path / "out" / "users.json").read_text())
    assert "password_hash" not in json.dumps(users) and users[0]["email"] == "ana@short.example"
    raw = sorted(p.name for p in (tmp_path / "out" / "raw").iterdir())
    assert len(raw) == 4 and all(name.endswith(".json") for name in raw)  # not m100's
    deleted = org_data.delete(db, OPERATOR, "Short")
    assert (deleted.reports, deleted.users, deleted.domains) == (4, 1, 1)
    assert _report_ids(db) == {rid for rid, _, _ in REPORTS} - {"s500", "s100", "s40", "s10"}
    assert "Short" not in dict(accounts.organisations(db)).values()
    after = _snapshot(db, (t.checks, t.users, t.domains))
    assert {r for r in after["checks"] if r[1] == "long.example"} == {
        r for r in long_before["checks"] if r[1] == "long.example"}
    assert {r[1] for r in after["users"]} == {"bob@long.example"}
    with db.engine.connect() as connection:
        left = connection.execute(select(func.count()).select_from(t.policies).where(
            t.policies.c.policy_domain == "short.example")).scalar()
        assert left == 0
    _assert_consistent(db)


def test_sending_ips_are_truncated_at_intake_by_the_owner_s_choice(db: Store) -> None:
    accounts.assign(db, "private.example", "Private")
    accounts.assign(db, "open.example", "Open")
    private = accounts.existing_organisation(db, "Private")
    db.write(retention_rows.set_limits, private, {"truncate_ips": True})
    raws = [RawInput(f"t/{n}.json", json.dumps(_doc(f"r{n}", TODAY, domain, ip=ip)).encode(),
                     f"{n}.json", None)
            for n, domain, ip in ((1, "private.example", "192.0.2.77"),
                                  (2, "private.example", "2001:db8:aa:bb::1"),
                                  (3, "open.example", "192.0.2.77"),
                                  (4, "other.example", "192.0.2.77"))]
    digests = [hashlib.sha256(r.data or b"").hexdigest() for r in raws]
    results = [read_input(r.data or b"", r.source) for r in raws]
    Prepared(raws, digests, [True] * 4, lambda: results).save(
        db, None, DomainGate.for_intake(Settings()))
    with db.engine.connect() as connection:
        ips = dict(connection.execute(
            select(t.policies.c.policy_domain, t.failure_details.c.sending_mta_ip)
            .join(t.failure_details, (t.failure_details.c.report == t.policies.c.report))
            .where(t.policies.c.policy_domain != "private.example")).all())
        private_ips = set(connection.execute(
            select(t.failure_details.c.sending_mta_ip).join(
                t.policies, t.failure_details.c.report == t.policies.c.report)
            .where(t.policies.c.policy_domain == "private.example")).scalars())
    assert private_ips == {"192.0.2.0/24", "2001:db8:aa::/48"}
    assert ips == {"open.example": "192.0.2.77", "other.example": "192.0.2.77"}
    # the installation's setting: every domain an organisation did not choose for
    gate = DomainGate.for_intake(Settings(truncate_sending_ips=True))
    (result,) = [read_input(json.dumps(_doc("r9", TODAY, "other.example")).encode(), "x")]
    detail = gate.private(db, result).reports[0].report.policies[0].details[0]
    assert detail.sending_mta_ip == "192.0.2.0/24"


def _notes(store: Store, rid: str) -> tuple[Any, Any, Any]:
    with store.engine.connect() as connection:
        row = connection.execute(select(t.reports.c.extras, t.reports.c.originals,
                                        t.reports.c.warnings)
                                 .where(t.reports.c.report_id == rid)).one()
    return json.loads(row[0]), json.loads(row[1]), json.loads(row[2])


def test_a_shared_report_s_notes_are_each_organisation_s_own(db: Store, tmp_path: Path) -> None:
    """Export and deletion keep of a report shared by A and B only the extras, originals
    and warnings of the report itself and of the organisation's own policies (exported with
    their indexes as the export lists them)."""
    accounts.assign(db, "a.example", "A")
    accounts.assign(db, "b.example", "B")
    doc = _doc("shared1", _ago(3), "b.example", "a.example")
    doc["x-report-note"] = 1
    doc["policies"][0]["x-b-secret"] = "B's own"
    doc["policies"][0]["failure-details"][0]["sending-mta-ip"] = "192.0.2.007"
    doc["policies"][1]["x-a-note"] = "A's own"
    doc["policies"][1]["failure-details"][0]["sending-mta-ip"] = "192.0.2.008"
    db.save([_arrival(doc, NOW)])
    org_data.export_to_folder(db, OPERATOR, "A", tmp_path / "a")
    (line,) = (tmp_path / "a" / "reports.jsonl").read_text().splitlines()
    assert "x-b-secret" not in line and "192.0.2.007" not in line
    told = json.loads(line)["tlsscope"]
    assert told["extras"] == {"$": {"x-report-note": 1}, "$.policies[0]": {"x-a-note": "A's own"}}
    assert {w["path"] for w in told["warnings"]} == {
        "$.x-report-note", "$.policies[0].x-a-note", "$.policies[0].failure-details[0]"
        ".sending-mta-ip"}
    assert set(told["originals"]) <= {"$.policies[0].failure-details[0].sending-mta-ip"}
    org_data.delete(db, OPERATOR, "B")
    extras, originals, warnings = _notes(db, "shared1")
    assert "x-b-secret" not in json.dumps([extras, originals, warnings])
    assert extras == {"$": {"x-report-note": 1}, "$.policies[1]": {"x-a-note": "A's own"}}
    assert all(not w["path"].startswith("$.policies[0]") for w in warnings)
    assert all(not path.startswith("$.policies[0]") for path in originals)
    freshness.rollups_now(db)
    _assert_consistent(db)


def test_an_ipv4_mapped_address_is_truncated_as_ipv4() -> None:
    from tlsscope.privacy import truncate

    assert truncate("::ffff:192.0.2.1") == "192.0.2.0/24"
    assert truncate("2002:c000:201::1") == "2002:c000:200::/40"  # 6to4: the IPv4 /24
    assert truncate("2001:db8:aa:bb::1") == "2001:db8:aa::/48"


def test_a_failed_purge_is_logged_and_tried_again(db: Store, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Any error of a purge: logged, recorded as failed, and the job goes on; the next try
    is not held back an hour."""
    real = retention.purge
    calls: list[int] = []
    stop = threading.Event()

    def flaky(*args: Any, **kwargs: Any) -> retention.PurgeResult:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError(42)
        done = real(*args, **kwargs)
        stop.set()
        return done

    monkeypatch.setattr(retention, "purge", flaky)
    purger = retention.Purger(db, SETTINGS, poll_seconds=0.01)
    purger.run(stop)
    assert len(calls) == 2
    (failed,) = [r for r in caplog.records if r.getMessage() == "retention purge failed"]
    assert failed.fields["why"] == "KeyError: 42"  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        counts = [json.loads(c) for c in connection.execute(
            select(t.retention_runs.c.counts).order_by(t.retention_runs.c.id)).scalars()]
    assert counts[0]["error"] == "KeyError: 42" and counts[1]["complete"]
