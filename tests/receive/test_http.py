"""HTTPS intake (RFC 8460 §5.4) against the app served by uvicorn, with real requests."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import reads
from tests.support.webserver import Running
from tlsscope.settings import Settings
from tlsscope.store import Store, findings_rows, queries

pytestmark = pytest.mark.server

FIX = Path(__file__).parents[1] / "fixtures"
REPORT = (FIX / "quirks" / "pretty-sorted.json").read_bytes()
GZIP = "application/tlsrpt+gzip"


def post(web: Running, body: bytes, ctype: str | None = GZIP,
         **headers: str) -> httpx.Response:
    sent = dict(headers)
    if ctype is not None:
        sent["content-type"] = ctype
    return httpx.post(f"{web.url}/v1/tlsrpt", content=body, headers=sent, timeout=30)


def test_report_is_stored_then_a_duplicate_is_still_a_success(web: Running) -> None:
    first = post(web, gzip.compress(REPORT))
    assert first.status_code == 201, first.text
    assert first.json()["reports_stored"] == 1
    again = post(web, gzip.compress(REPORT, mtime=5))  # other bytes, same report
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert len(reads.reports(web.store)) == 1
    # Once idle, the intake thread recomputes the findings of the report's domain.
    deadline = time.monotonic() + 15
    while web.store.read(findings_rows.stale_domains) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert web.store.read(findings_rows.stale_domains) == []


@pytest.mark.parametrize(("ctype", "warning"), [
    ("application/tlsrpt+json", None),
    (None, "missing_media_type"),
    ("application/octet-stream", "nonstandard_media_type"),
    ("application/tlsrpt+gzip", "declared_type_mismatch"),
])
def test_types_are_tolerated_and_warned_about(web: Running, ctype: str | None,
                                              warning: str | None) -> None:
    answer = post(web, REPORT, ctype)
    assert answer.status_code == 201, answer.text
    stored = reads.report(web.store, reads.reports(web.store)[0].key)
    assert stored is not None
    codes = {w.code for w in stored.source.warnings}
    assert codes == ({warning} if warning else set())


def test_json_sent_with_content_encoding_gzip(web: Running) -> None:
    answer = post(web, gzip.compress(REPORT), "application/tlsrpt+json",
                  **{"content-encoding": "gzip"})
    assert answer.status_code == 201


def test_bad_input_is_a_4xx_that_says_why_and_is_quarantined(web: Running) -> None:
    truncated = gzip.compress(REPORT)[:-30]
    answer = post(web, truncated)
    assert answer.status_code == 400
    assert answer.json()["errors"][0].startswith("truncated_gzip")
    (held,) = reads.quarantine(web.store)
    assert reads.raw(web.store, held.sha256) == truncated
    assert held.source.startswith("https:127.0.0.1")


def test_bad_json_names_the_position(web: Running) -> None:
    answer = post(web, b'{"organization-name": "x",', "application/tlsrpt+json")
    assert answer.status_code == 400
    assert "line 1 column" in answer.json()["errors"][0]


def test_not_a_report_is_415(web: Running) -> None:
    answer = post(web, b'<?xml version="1.0"?><feedback></feedback>', "application/xml")
    assert answer.status_code == 415
    assert "DMARC" in answer.json()["errors"][0]


def test_bomb_and_oversize(web: Running, settings: Settings) -> None:
    bomb = gzip.compress(b"{" + b" " * (8 * 1024 * 1024))
    answer = post(web, bomb)
    assert answer.status_code == 413
    assert answer.json()["errors"][0].startswith("decompressed_too_large")
    big = b"{" + b" " * settings.http_max_body_bytes
    assert post(web, big).status_code == 413


def test_slow_body_times_out(web: Running) -> None:
    def trickle() -> Iterator[bytes]:
        yield REPORT[:100]
        time.sleep(3)
        yield REPORT[100:]

    answer = httpx.post(f"{web.url}/v1/tlsrpt", content=trickle(), timeout=30,
                        headers={"content-type": "application/tlsrpt+json",
                                 "content-length": str(len(REPORT))})
    assert answer.status_code == 408


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'rl.db'}")
    # one a minute after the burst: no token comes back while the test runs, however slow
    web = Running(store, Settings(http_rate_per_minute=1, http_rate_burst=3,
                                  dkim_verify="never"))
    try:
        codes = [post(web, b"{}", "application/tlsrpt+json").status_code for _ in range(5)]
        assert codes[:3] == [415, 415, 415] and codes[3:] == [429, 429]
        limited = post(web, b"{}", "application/tlsrpt+json")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    finally:
        web.stop()
        store.close()


def test_openapi_documents_the_intake(web: Running) -> None:
    spec = httpx.get(f"{web.url}/openapi.json").json()
    assert "/v1/tlsrpt" in spec["paths"]


def _provenance(store: Store) -> list[tuple[str, str, bool, bool]]:
    from sqlalchemy import select

    from tlsscope.store import tables as t

    r = t.reports
    with store.engine.connect() as connection:
        return [(row[0], row[1], bool(row[2]), bool(row[3])) for row in connection.execute(
            select(r.c.channel, r.c.peer, r.c.authenticated, r.c.reporter_new).order_by(r.c.id))]


def test_https_reports_record_their_provenance(web: Running) -> None:
    assert post(web, REPORT, "application/tlsrpt+json").status_code == 201
    again = REPORT.replace(b'"report-id"', b'"report-id": "another", "x-old-id"', 1)
    assert post(web, again, "application/tlsrpt+json").status_code == 201
    # HTTPS carries no authentication (RFC 8460 §7); the first report of a reporter is new
    assert _provenance(web.store) == [("https", "127.0.0.1", False, True),
                                      ("https", "127.0.0.1", False, False)]


@pytest.mark.parametrize("name", ["<script>alert('pd')</script>", "=cmd|' /c calc'!a0"])
def test_a_policy_domain_that_is_not_a_domain_name_is_quarantined(web: Running,
                                                                  name: str) -> None:
    import json

    doc = json.loads(REPORT)
    doc["policies"][0]["policy"]["policy-domain"] = name
    answer = post(web, json.dumps(doc).encode(), "application/tlsrpt+json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0].startswith("invalid_policy_domain")
    again = post(web, json.dumps(doc).encode(), "application/tlsrpt+json")  # sent again
    assert again.status_code == 400 and again.json()["errors"] == answer.json()["errors"]
    assert reads.reports(web.store) == [] and len(reads.quarantine(web.store)) == 1
    assert web.store.read(queries.all_domains) == []


def test_accept_domains_refuses_other_domains_with_403(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt
    import json

    from tlsscope.pipeline import DomainGate
    from tlsscope.store import accounts

    monkeypatch.setattr(DomainGate, "REFRESH_SECONDS", 0.0)  # read the owners at every batch
    store = Store.open(f"sqlite:///{tmp_path / 'gate.db'}")
    running = Running(store, Settings(http_rate_per_minute=0, dkim_verify="never",
                                      accept_domains="assigned"))
    try:
        refused = post(running, REPORT, "application/tlsrpt+json")
        assert refused.status_code == 403, refused.text
        assert refused.json()["outcome"] == "refused"
        assert "does not take reports about" in refused.json()["errors"][0]
        assert reads.reports(store) == [] and reads.quarantine(store) == []
        org = store.write(accounts.organisation, "Acme")
        for name in {p["policy"]["policy-domain"] for p in json.loads(REPORT)["policies"]}:
            store.write(accounts.assign_domain, name, org, dt.datetime.now(dt.UTC))
        assert post(running, REPORT, "application/tlsrpt+json").status_code == 201
    finally:
        running.stop()
        store.close()
