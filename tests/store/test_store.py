"""The store, on SQLite and on a real PostgreSQL: each report once, every input kept."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests.support import reads
from tests.support.ingest import FIX, ingest_paths
from tlsscope.parse import read_input
from tlsscope.store import Store
from tlsscope.store.migrate import current_revision, upgrade
from tlsscope.store.tables import metadata

MARCH = (dt.date(2025, 3, 1), dt.date(2025, 3, 31))


def test_migrations_from_empty_and_again(db_url: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tlsscope.store import migrate

    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD
    with Store.open(db_url) as store:  # an empty database: every migration runs
        assert current_revision(store.engine) == migrate.HEAD
        upgrade(store.engine)  # already at head: a no-op
        assert current_revision(store.engine) == migrate.HEAD
        inspector = inspect(store.engine)
        for table in metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
            indexes = {i["name"] for i in inspector.get_indexes(table.name)}
            assert indexes >= {i.name for i in table.indexes}, table.name


def test_ingest_then_again_changes_nothing(store: Store) -> None:
    first = ingest_paths(store, [FIX / "real"])
    assert (first.inputs, first.accepted, first.rejected) == (21, 21, 0)
    assert first.reports_stored == 21
    before = reads.stats(store, None, dt.date(2016, 1, 1), dt.date(2026, 12, 31))
    again = ingest_paths(store, [FIX / "real"])
    assert (again.inputs, again.duplicate, again.reports_stored) == (21, 21, 0)
    assert reads.stats(store, None, dt.date(2016, 1, 1), dt.date(2026, 12, 31)) == before
    assert len(reads.reports(store, limit=1000)) == 21


def test_same_report_in_another_wrapper_is_a_duplicate(store: Store, tmp_path: Path) -> None:
    for name in ("report.json.gz", "mail-rfc-shape.eml", "report.zip", "bom.json"):
        shutil.copy(FIX / "quirks" / name, tmp_path)
    totals = ingest_paths(store, [tmp_path])
    assert (totals.accepted, totals.duplicate, totals.conflicts) == (1, 3, 0)
    (summary,) = reads.reports(store)
    stored = reads.report(store, summary.key)
    assert stored is not None
    assert [r.kind for r in stored.repeats] == ["duplicate"] * 3
    march = reads.stats(store, "example.com", *MARCH)
    assert (march.reports, march.successful, march.failed) == (1, 900, 12)


def test_same_key_other_content_keeps_the_first_and_records_a_conflict(
        store: Store, tmp_path: Path) -> None:
    base = json.loads((FIX / "quirks" / "pretty-sorted.json").read_bytes())
    (tmp_path / "a.json").write_text(json.dumps(base))
    base["policies"][0]["summary"]["total-successful-session-count"] = 1
    (tmp_path / "b.json").write_text(json.dumps(base))
    totals = ingest_paths(store, [tmp_path / "a.json", tmp_path / "b.json"])
    assert (totals.accepted, totals.duplicate, totals.conflicts) == (1, 1, 1)
    (summary,) = reads.reports(store)
    assert summary.successful == 900
    stored = reads.report(store, summary.key)
    assert stored is not None and [r.kind for r in stored.repeats] == ["conflict"]


def test_sts_and_tlsa_sessions_are_counted_once(store: Store) -> None:
    ingest_paths(store, [FIX / "real" / "microsoft-dmarc-report-viewer-sts-plus-tlsa.json"])
    day = dt.date(2025, 5, 23)
    found = reads.stats(store, "random.net", day, day)
    assert (found.reports, found.successful, found.failed) == (1, 2, 0)
    assert {(b.name, b.successful) for b in found.by_policy} == {("sts enforce", 2), ("tlsa", 2)}
    (summary,) = reads.reports(store, domain="random.net")
    assert summary.successful == 2
    stored = reads.report(store, summary.key)
    assert stored is not None and stored.counted == [True, False]


def test_stored_report_reads_back_as_parsed(store: Store) -> None:
    for path in sorted((FIX / "real").iterdir()):
        ingest_paths(store, [path])
        parsed = read_input(path.read_bytes(), str(path), filename=path.name).reports[0]
        keys = [s.key for s in reads.reports(store, limit=1000)
                if s.report_id == parsed.report.report_id
                and s.organization_name == parsed.report.organization_name]
        stored = reads.report(store, keys[0])
        assert stored is not None
        expected = parsed.report
        for entry in expected.policies:  # the store keeps a missing policy-domain as absent
            entry.policy.policy_domain = (entry.policy.policy_domain or "").lower() or None
        assert stored.report == expected, path.name
        assert stored.warnings == parsed.warnings
        assert stored.source.source == str(path)


def test_quarantine_keeps_rejected_inputs_byte_for_byte(store: Store) -> None:
    bad = FIX / "quirks" / "error-truncated.json.gz"
    totals = ingest_paths(store, [bad, FIX / "quirks" / "mail-with-bad-report.eml"])
    assert totals.rejected == 2
    assert "truncated_gzip" in totals.rejections[0].reasons[0]
    held = reads.quarantine(store)
    assert [h.source for h in held] == [str(bad), str(FIX / "quirks" / "mail-with-bad-report.eml")]
    assert held[0].errors[0].code == "truncated_gzip"
    assert reads.raw(store, held[0].sha256) == bad.read_bytes()
    # the good report inside the mail with a bad part is stored all the same
    assert len(reads.reports(store)) == 1


def test_reread_adds_what_an_older_reader_missed_without_duplicates(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import tlsscope.pipeline as pipeline
    from tlsscope.notes import error
    from tlsscope.parse.results import InputResult

    def old_reader(data: bytes, source: str, **_: object) -> InputResult:
        return InputResult(source=source, kind="json", errors=[error("invalid_json", "old bug")])

    monkeypatch.setattr(pipeline, "read_input", old_reader)
    path = FIX / "real" / "google-mta-sts-exporter-sts.json"
    assert ingest_paths(store, [path]).rejected == 1
    assert reads.reports(store) == [] and len(reads.quarantine(store)) == 1
    monkeypatch.undo()
    for _ in range(2):
        for digest, source, data in reads.inputs(store):
            store.reread(digest, read_input(data, source))
    assert len(reads.reports(store)) == 1 and reads.quarantine(store) == []
    day = dt.date(2024, 2, 17)
    assert reads.stats(store, "example.com", day, day).successful == 53


def test_not_reports_are_kept_but_count_nothing(store: Store) -> None:
    totals = ingest_paths(store, [FIX / "quirks" / "not-dmarc-aggregate.xml",
                                  FIX / "quirks" / "mail-not-report-cron.eml"])
    assert totals.not_a_report == 2 and reads.reports(store) == []
    assert len(store.known([])) == 0


def test_report_filters(store: Store) -> None:
    ingest_paths(store, [FIX / "real"])
    found = reads.reports(store, domain="FOO-BAR.io")
    assert {s.organization_name for s in found} == {"Google Inc."}
    window = reads.reports(store, since=dt.date(2025, 6, 1), until=dt.date(2025, 6, 30))
    assert sorted(str(s.day) for s in window) == ["2025-06-01", "2025-06-14", "2025-06-14"]
    assert len(reads.reports(store, limit=5)) == 5
    assert len(reads.reports(store, limit=5, offset=20)) == 1
    assert reads.find(store, "zz") == []


def test_failure_groups_merge_sts_and_tlsa_views_of_the_same_sessions(store: Store,
                                                                       tmp_path: Path) -> None:
    detail = {"result-type": "certificate-expired", "receiving-mx-hostname": "mx2.example.org",
              "failed-session-count": 4}
    tlsa = {**detail, "result-type": "tlsa-invalid"}
    report = {
        "organization-name": "Org A", "contact-info": "a@a.example", "report-id": "ab-1",
        "date-range": {"start-datetime": "2026-03-02T00:00:00Z",
                       "end-datetime": "2026-03-02T23:59:59Z"},
        "policies": [
            {"policy": {"policy-type": "sts", "policy-domain": "example.org"},
             "summary": {"total-successful-session-count": 10,
                         "total-failure-session-count": 4}, "failure-details": [detail]},
            {"policy": {"policy-type": "tlsa", "policy-domain": "example.org"},
             "summary": {"total-successful-session-count": 10,
                         "total-failure-session-count": 4},
             "failure-details": [{**detail, "failed-session-count": 3}, tlsa]}]}
    path = tmp_path / "both.json"
    path.write_text(json.dumps(report))
    ingest_paths(store, [path])
    day = dt.date(2026, 3, 2)
    groups = reads.failures(store, "EXAMPLE.org", day, day)
    assert [(g.result_type, g.mx_host, g.reporters, g.policy_types, g.sessions)
            for g in groups] == [
        ("certificate-expired", "mx2.example.org", ["Org A"], ["sts", "tlsa"], 4),
        ("tlsa-invalid", "mx2.example.org", ["Org A"], ["tlsa"], 4)]
    assert (groups[0].first_day, groups[0].last_day) == (day, day)
    assert reads.failures(store, "example.org", day + dt.timedelta(days=1),
                          day + dt.timedelta(days=5)) == []
