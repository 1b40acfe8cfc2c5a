"""The report gauges of /metrics (tlsscope.app.metrics) on a real SQLite store: their sums equal
`tlsscope stats` over the same days, before and after the analyst rebuilds the roll-ups; the
per-domain caps keep the totals; certificates come from the latest conclusive check; hostile
report strings give a valid exposition."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ingest import ingest_paths
from tests.support.scenarios import Day, Failure, write
from tlsscope.app import checks, freshness
from tlsscope.app import metrics as gauges
from tlsscope.app.windows import today
from tlsscope.live_check import LiveCheck, Step
from tlsscope.settings import Settings
from tlsscope.store import Store, browse, queries
from tlsscope.web.metrics import exposition as _text

YESTERDAY = today() - dt.timedelta(days=1)


def _day(n: int) -> dt.date:
    return YESTERDAY - dt.timedelta(days=n)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store.open(f"sqlite:///{tmp_path / 'm.db'}") as opened:
        yield opened


def _samples(store: Store, settings: Settings | None = None) -> dict[str, list[Any]]:
    """Every sample of one scrape's report gauges, parsed back from the text format."""
    text = _text(gauges.families(gauges.Reading(store, settings or Settings())))
    out: dict[str, list[Any]] = defaultdict(list)
    for family in text_string_to_metric_families(text.decode()):
        out[family.name].extend(family.samples)
    return out


def _sum(samples: list[Any], **labels: str) -> float:
    return float(sum(s.value for s in samples
                     if all(s.labels.get(k) == v for k, v in labels.items())))


def _load(store: Store, folder: Path) -> None:
    mx = [Failure("certificate-expired", 7, "mx1.a.example"),
          Failure("starttls-not-supported", 3, "mx2.a.example", receiving_ip="")]
    paths = []
    for org in ("Google Inc.", "Microsoft Corporation"):
        paths += write(folder / org, "a.example", [
            Day(org, _day(0), 100, mx), Day(org, _day(3), 50, mx[:1]), Day(org, _day(6), 20),
            Day(org, _day(7), 999, mx), Day(org, today(), 999, mx)])  # outside both windows
    paths += write(folder / "b", "b.example", [Day("Mail.ru", _day(2), 40, mode="testing"),
                                               Day("Mail.ru", _day(0), 5, mode="none")])
    totals = ingest_paths(store, paths)
    assert totals.accepted == len(paths), totals


def _mark_every_day(store: Store, forget_last_days: bool = False) -> None:
    """As if every day had just been stored and not rebuilt yet (the coarse rows stale)."""
    from sqlalchemy import select, update

    from tlsscope.store import rollups
    from tlsscope.store import tables as t

    def mark(connection: Any) -> None:
        s = t.daily_totals
        pairs = connection.execute(select(s.c.domain, s.c.day).distinct()).all()
        rollups.mark(connection, [(row[0], row[1]) for row in pairs])
        connection.execute(update(t.domain_days).values(counted_successful=0, counted_failed=0))
        connection.execute(update(t.failure_days).values(counted_sessions=0))
        if forget_last_days:
            dr = t.domain_reporters
            connection.execute(update(dr).values(last_day=dr.c.first_day))

    store.write(mark)


def test_sums_equal_stats_over_both_windows_before_and_after_the_rebuild(
        store: Store, tmp_path: Path) -> None:
    _load(store, tmp_path / "reports")
    for rebuilt in (True, False):
        if not rebuilt:
            _mark_every_day(store)
        samples = _samples(store)
        for domain in ("a.example", "b.example"):
            for window, first in (("1d", YESTERDAY), ("7d", _day(6))):
                stats = store.read(queries.stats, domain, first, YESTERDAY)
                sessions = samples["tlsscope_sessions"]
                assert _sum(sessions, domain=domain, window=window, outcome="successful") \
                    == stats.successful, (domain, window, rebuilt)
                assert _sum(sessions, domain=domain, window=window, outcome="failed") \
                    == stats.failed
                by_mx = {b.name: b.failed for b in stats.by_mx}
                failed = samples["tlsscope_failed_sessions"]
                for mx, count in by_mx.items():
                    assert _sum(failed, domain=domain, window=window, mx=mx) == count
                assert _sum(failed, domain=domain, window=window) == stats.failed
    one_day = store.read(queries.stats, "a.example", YESTERDAY, YESTERDAY)
    assert one_day.successful == 200 and one_day.failed == 20  # the data are what we think
    policy = {(s.labels["policy_type"], s.labels["mode"]) for s in samples["tlsscope_sessions"]
              if s.labels["domain"] == "b.example"}
    assert policy == {("sts", "testing"), ("no-policy-found", "none")}
    assert {s.labels["mx"] for s in samples["tlsscope_failed_sessions"]} \
        == {"mx1.a.example", "mx2.a.example"}


def test_last_report_is_the_end_of_the_latest_day_per_reporter(
        store: Store, tmp_path: Path) -> None:
    _load(store, tmp_path / "reports")
    for rebuilt in (True, False):  # the days not rebuilt yet are read from daily_totals
        if not rebuilt:
            _mark_every_day(store, forget_last_days=True)
        last = {(s.labels["domain"], s.labels["reporter"]): s.value
                for s in _samples(store)["tlsscope_last_report_timestamp_seconds"]}
        assert last == {("a.example", "Google Inc."): gauges.day_end(today()),
                        ("a.example", "Microsoft Corporation"): gauges.day_end(today()),
                        ("b.example", "Mail.ru"): gauges.day_end(_day(0))}


def test_mx_hosts_and_reporters_beyond_top_n_are_summed_as_other(
        store: Store, tmp_path: Path) -> None:
    hosts = [Failure("certificate-expired", n + 1, f"mx{n}.c.example") for n in range(8)]
    paths = write(tmp_path / "c", "c.example", [Day("Google Inc.", _day(0), 10, hosts)])
    for n, org in enumerate(["Old One", "Older One", "New One", "Newest"]):
        started = _day(40 - 10 * n)
        paths += write(tmp_path / org, "c.example", [Day(org, started, 1), Day(org, _day(n), 1)])
    ingest_paths(store, paths)
    freshness.rollups_now(store)
    samples = _samples(store, Settings(metrics_top_n=3))
    failed = [s for s in samples["tlsscope_failed_sessions"] if s.labels["window"] == "1d"]
    by_mx = {s.labels["mx"]: s.value for s in failed}
    assert by_mx == {"mx7.c.example": 8, "mx6.c.example": 7, "mx5.c.example": 6,
                     "other": 1 + 2 + 3 + 4 + 5}
    reporters = {s.labels["reporter"]: s.value
                 for s in samples["tlsscope_last_report_timestamp_seconds"]}
    # the three that have reported longest; the rest at its latest day
    assert reporters == {"Old One": gauges.day_end(_day(0)),
                         "Older One": gauges.day_end(_day(1)),
                         "New One": gauges.day_end(_day(2)),
                         "other": gauges.day_end(_day(0))}  # Newest's _day(3), Google's _day(0)


def _check(domain: str, at: dt.datetime, status: str,
           certs: list[tuple[str, str, dt.datetime]]) -> LiveCheck:
    steps = [Step(step="mx", target=f"{host} [{ip}]", status="ok", line="ok", host=host,
                  expires=until.isoformat()) for host, ip, until in certs]
    steps.append(Step(step="mta-sts-policy", target=f"https://mta-sts.{domain}/ via 192.0.2.9",
                      status=status, line="policy", expires=(at + dt.timedelta(days=60))
                      .isoformat()))
    return LiveCheck(domain=domain, checked_at=at, status=status, seconds=1.0, steps=steps)


def test_certificates_come_from_the_latest_conclusive_check(store: Store) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    soon, later = now + dt.timedelta(days=5), now + dt.timedelta(days=80)
    checks.keep(store, _check("d.example", now - dt.timedelta(hours=2), "ok",
                              [("mx1.d.example", "192.0.2.1", later)]))
    checks.keep(store, _check("d.example", now - dt.timedelta(hours=1), "warning",
                              [("mx1.d.example", "192.0.2.1", soon),
                               ("mx1.d.example", "2001:db8::1", soon)]))
    checks.keep(store, _check("d.example", now, "inconclusive", []))  # no evidence
    samples = _samples(store)
    mx = {(s.labels["mx"], s.labels["ip"]): s.value
          for s in samples["tlsscope_certificate_expiry_timestamp_seconds"]}
    assert mx == {("mx1.d.example", "192.0.2.1"): soon.timestamp(),
                  ("mx1.d.example", "2001:db8::1"): soon.timestamp()}
    (policy,) = samples["tlsscope_policy_certificate_expiry_timestamp_seconds"]
    assert policy.labels == {"domain": "d.example", "host": "mta-sts.d.example"}
    assert policy.value == (now - dt.timedelta(hours=1) + dt.timedelta(days=60)).timestamp()


def test_hostile_strings_make_a_valid_exposition(store: Store, tmp_path: Path) -> None:
    org = 'Evil "org"\n} x{y="1"\\ \u202eelpmaxe\x1b[31m'
    mx = "mx." + "a" * 60_000 + ".e.example"  # within max_field_chars
    paths = write(tmp_path / "e", "e.example",
                  [Day(org, _day(0), 3, [Failure("\u202ecertificate-expired\n", 2, mx)])])
    assert ingest_paths(store, paths).accepted == 1
    text = _text(gauges.families(gauges.Reading(store, Settings()))).decode()
    assert "\x1b" not in text and "\u202e" not in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (reporter,) = families["tlsscope_last_report_timestamp_seconds"].samples
    assert reporter.labels["reporter"] == 'Evil "org"\\x0a} x{y="1"\\ \\u202eelpmaxe\\x1b[31m'
    (failed,) = [s for s in families["tlsscope_failed_sessions"].samples
                 if s.labels["window"] == "1d"]
    assert len(failed.labels["mx"]) == gauges.LABEL_CHARS
    # not one of RFC 8460's: kept (among the top N such), made visible
    assert failed.labels["result_type"] == "\\u202ecertificate-expired\\x0a"
    assert failed.value == 2


def test_domains_beyond_the_most_exported_are_counted(store: Store, tmp_path: Path) -> None:
    paths = []
    for n in range(5):
        paths += write(tmp_path / str(n), f"d{n}.example", [Day("Google Inc.", _day(0), n + 1)])
    ingest_paths(store, paths)
    samples = _samples(store, Settings(metrics_max_domains=2))
    assert {s.labels["domain"] for s in samples["tlsscope_sessions"]} \
        == {"d4.example", "d3.example"}  # the most sessions
    (omitted,) = samples["tlsscope_metrics_domains_omitted"]
    assert omitted.value == 3


def test_open_findings_are_counted_by_domain_severity_and_kind(
        store: Store, tmp_path: Path) -> None:
    _load(store, tmp_path / "reports")
    freshness.catch_up(store)
    samples = _samples(store)["tlsscope_open_findings"]
    assert samples, "the failing domain has findings"
    counts = store.read(browse.open_counts, None)
    for domain, by_severity in counts.items():
        for severity, count in by_severity.items():
            assert _sum(samples, domain=domain, severity=severity) == count


def test_report_strings_that_read_as_our_values_are_told_apart(
        store: Store, tmp_path: Path) -> None:
    paths = write(tmp_path / "o", "o.example",
                  [Day("other", _day(0), 3, [Failure("certificate-expired", 2, "(not given)")])])
    assert ingest_paths(store, paths).accepted == 1
    samples = _samples(store)
    (reporter,) = samples["tlsscope_last_report_timestamp_seconds"]
    assert reporter.labels["reporter"] == "other (so named)"
    assert {s.labels["mx"] for s in samples["tlsscope_failed_sessions"]} \
        == {"(not given) (so named)"}


def test_help_lines_escape_only_what_the_format_allows(store: Store) -> None:
    """The text format escapes backslash and newline in HELP; a quote stays as it is
    (promtool refuses `\\"` there)."""
    text = _text(gauges.families(gauges.Reading(store, Settings()))).decode()
    helps = [line for line in text.splitlines() if line.startswith("# HELP")]
    assert any('"other"' in line for line in helps)
    assert not any('\\"' in line for line in helps)
