"""A fleet: several `tlsscope serve` nodes on one real PostgreSQL (issue 16). Reports posted
to all of them at once are stored once each and counted once; each background job is done
once per fleet (re-checks, alerts, the analyst's passes); a node killed with -9 hands its
lease over within the bound; nodes started together on an empty database all come up."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from tests.support import recount
from tests.support.cli import tlsscope
from tests.support.fakenet import environment
from tests.support.hooks import receiver
from tests.support.postgres import PostgresServer
from tests.support.scenarios import Day, Failure, report
from tests.support.served import Served
from tlsscope.alert import log as alert_log
from tlsscope.alert import rules
from tlsscope.app import accounts
from tlsscope.app.scope import OPERATOR
from tlsscope.store import Store, leases
from tlsscope.store import tables as t

pytestmark = pytest.mark.server

LEASE = 3.0
YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
DOMAINS = [f"d{n:02}.example" for n in range(12)] + ["good.example", "mail.example"]


@pytest.fixture
def db(postgres: PostgresServer | None) -> str:
    if postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    return postgres.create_database()


def _body(domain: str, org: str, day: dt.date, failed: int) -> bytes:
    failures = (Failure("certificate-expired", failed, f"mx1.{domain}", "127.0.0.5"),
                ) if failed else ()
    return gzip.compress(json.dumps(report(domain, Day(org, day, 40, failures))).encode())


def _nodes(tmp_path: Path, db: str, count: int, **env: str) -> list[Served]:
    """`count` nodes started at the same instant, each answering once all are up."""
    folders = [tmp_path / f"node{n}" for n in range(count)]
    for folder in folders:
        folder.mkdir()
    nodes = [Served.node(folder, db, env) for folder in folders]
    try:
        for node in nodes:
            node.wait_healthy()
    except BaseException:
        for node in nodes:
            print(node.log.read_text())
            node.stop()
        raise
    return nodes


def _wait(what: str, condition: object, seconds: float, nodes: list[Served]) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what}: not within {seconds} s\n" + "\n".join(
                node.log.read_text()[-3000:] for node in nodes))
        time.sleep(0.1)
    return time.monotonic() - started


def test_two_nodes_started_together_on_an_empty_database_both_come_up(
        tmp_path: Path, db: str) -> None:
    nodes = _nodes(tmp_path, db, 2, TLSSCOPE_HTTP_RATE_PER_MINUTE="60",
                   TLSSCOPE_HTTP_RATE_BURST="50")
    try:
        with Store.open(db) as store:
            assert [u.email for u in accounts.users(store)] == ["admin@localhost"]
        made = [line for node in nodes for line in node.lines()
                if line["message"].startswith("first run: an admin was created")]
        assert len(made) == 1  # one node made the admin; the other found it
        # The rate limit is the fleet's: 200 POSTs spread over both nodes get the burst (50)
        # and the rate (1 a second) once, not once per node (that would let 100 and more
        # through). One body, stored once: the others are "already stored".
        body = _body("d00.example", "Rate", YESTERDAY, 0)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda n: nodes[n % 2].post(body).status_code, range(200)))
        seconds = time.monotonic() - started
        let_through = sum(code != 429 for code in codes)
        assert set(codes) == {200, 201, 429}
        assert seconds < 40 and 50 <= let_through <= 50 + seconds + 3, (let_through, seconds)
    finally:
        for node in nodes:
            node.to_group(signal.SIGTERM)
        for node in nodes:
            node.exits_within(30)
    assert [node.process.returncode for node in nodes] == [0, 0]


def test_three_nodes_store_once_count_once_and_do_each_job_once(
        tmp_path: Path, db: str, nameserver: str) -> None:
    with Store.open(db) as store, receiver([204]) as hook:
        rules.create(store, OPERATOR, channel="generic", target=hook.url, min_severity="info")
        admin = accounts.user(store, "admin@localhost") if accounts.users(store) else None
        if admin is None:
            accounts.add_user(store, "ops@example.com", "a long passphrase 1", "admin", "")
            admin = accounts.user(store, "ops@example.com")
        token = accounts.new_token(store, admin, "reader")
        env = {**environment(nameserver), "TLSSCOPE_LEASE_SECONDS": str(LEASE),
               "TLSSCOPE_CHECK_EVERY_HOURS": "24", "TLSSCOPE_CHECK_ON_FAILURE": "true",
               "TLSSCOPE_CHECK_UNOWNED": "true", "TLSSCOPE_CHECK_POLL_SECONDS": "0.2",
               "TLSSCOPE_CHECK_TIMEOUT": "2", "TLSSCOPE_ALERTS_ALLOW_PRIVATE": "true",
               "TLSSCOPE_ALERTS_POLL_SECONDS": "0.2", "TLSSCOPE_ALERTS_SILENT_DAYS": "0"}
        nodes = _nodes(tmp_path, db, 3, **env)
        try:
            _post_everywhere_while_reading(nodes, token)
            _connections_within_the_pools(store)
            _counted_once(store, nodes)
            _checked_once_each(store, nodes)
            _alerted_once_each(store, hook.ids(), nodes)
            _lease_handed_over(store, nodes)
        finally:
            for node in nodes:
                node.stop()


ACKED: Counter[str] = Counter()


def _post_everywhere_while_reading(nodes: list[Served], token: str) -> None:
    """Distinct reports spread over the nodes, and the same reports sent to every node at
    once, while readers ask each node for stats."""
    distinct = [(f"Org {n % 5}", YESTERDAY - dt.timedelta(days=n // 70), DOMAINS[n % 14],
                 n % 3) for n in range(210)]
    same = [(f"Twice {n}", YESTERDAY, DOMAINS[n % 14], 1) for n in range(30)]
    answers: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()
    read_errors: list[str] = []

    def post(node: Served, key: str, body: bytes) -> None:
        answer = node.post(body)
        with lock:
            answers.append((key, answer.status_code))

    def read(node: Served) -> None:
        while not stop.is_set():
            answer = httpx.get(f"{node.url}/api/v1/domains/d00.example/stats", timeout=30,
                               headers={"authorization": f"Bearer {token}"})
            if answer.status_code not in (200, 404):
                read_errors.append(f"{answer.status_code} {answer.text[:200]}")

    readers = [threading.Thread(target=read, args=(node,)) for node in nodes]
    for thread in readers:
        thread.start()
    with ThreadPoolExecutor(12) as pool:
        for n, (org, day, domain, failed) in enumerate(distinct):
            pool.submit(post, nodes[n % 3], f"{org}/{day}/{domain}",
                        _body(domain, org, day, failed))
        for org, day, domain, failed in same:
            body = _body(domain, org, day, failed)
            for node in nodes:
                pool.submit(post, node, f"{org}/{day}/{domain}", body)
    stop.set()
    for thread in readers:
        thread.join()
    assert not read_errors, read_errors[:3]
    codes = Counter(code for _, code in answers)
    assert set(codes) <= {200, 201}, codes
    by_key: dict[str, list[int]] = {}
    for key, code in answers:
        by_key.setdefault(key, []).append(code)
    assert len(by_key) == 240
    # each report stored by exactly one node; the others answer "already stored"
    assert all(codes.count(201) == 1 for codes in by_key.values()), by_key
    ACKED.clear()
    ACKED.update(by_key.keys())


def _connections_within_the_pools(store: Store) -> None:
    """8 connections a node at most (db_pool_web + db_pool_writer + db_pool_analyst), and
    this test's own."""
    with store.engine.connect() as connection:
        count = connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        ).scalar_one()
    assert count <= 3 * 8 + 2, count


def _counted_once(store: Store, nodes: list[Served]) -> None:
    with store.engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(t.reports)).scalar_one()
    assert stored == len(ACKED) == 240

    def rebuilt() -> bool:
        with store.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(t.rollup_dirty)
                                      ).scalar_one() == 0
    _wait("the analyst rebuilt the roll-ups", rebuilt, 60, nodes)
    truth = recount.from_reports(store)
    assert recount.from_rollups(store) == truth
    assert recount.from_coarse(store) == truth
    assert sum(truth[0].values()) == 240 * 40 + sum(
        n % 3 for n in range(210)) + 30


def _checked_once_each(store: Store, nodes: list[Served]) -> None:
    def counts() -> Counter[str]:
        with store.engine.connect() as connection:
            return Counter(dict(connection.execute(
                select(t.checks.c.domain, func.count()).group_by(t.checks.c.domain)).all()))

    _wait("every domain re-checked", lambda: set(counts()) == set(DOMAINS), 90, nodes)
    time.sleep(3)  # 15 more polls of each node: none checks a domain again
    assert counts() == Counter({domain: 1 for domain in DOMAINS})
    rechecked = [line["domain"] for node in nodes for line in node.lines()
                 if line["message"] == "domain re-checked"]
    assert sorted(rechecked) == sorted(DOMAINS)
    assert len({node.port for node in nodes for line in node.lines()
                if line["message"] == "domain re-checked"}) >= 2  # the work was shared


def _alerted_once_each(store: Store, ids: list[str], nodes: list[Served]) -> None:
    def settled() -> bool:
        found = alert_log.deliveries(store, OPERATOR, 10_000)
        return bool(found) and all(d.state == "delivered" for d in found)

    _wait("every alert delivered", settled, 90, nodes)
    time.sleep(1)
    found = alert_log.deliveries(store, OPERATOR, 10_000)
    assert {(d.state, d.attempts) for d in found} == {("delivered", 1)}
    assert len(ids) == len(set(ids)) == len(found)


def _lease_handed_over(store: Store, nodes: list[Served]) -> None:
    now = dt.datetime.now(dt.UTC)
    holder = store.read(leases.holder, "analyst", now)
    assert holder is not None
    shown = tlsscope("jobs", "--json", "--db", store.engine.url.render_as_string(False))
    said = json.loads(shown.stdout)
    assert [(j["job"], j["holder"], j["current"]) for j in said["leases"]
            if j["job"] == "analyst"] == [("analyst", holder, True)]
    assert said["rechecks"]["domains"] == len(DOMAINS) and said["rechecks"]["due"] == 0
    pid = int(holder.split(":")[1])
    (dead,) = [node for node in nodes if pid in node.pids("analyst")]
    os.killpg(dead.process.pid, signal.SIGKILL)
    dead.process.wait(10)
    took = _wait("another node took the analyst's lease", lambda: store.read(
        leases.holder, "analyst", dt.datetime.now(dt.UTC)) not in (None, holder), 30, nodes)
    assert took <= LEASE + 2.0  # the lease's time, and a second of the analyst's pause
    # the new holder does the work: a report with failures gets its findings computed
    alive = [node for node in nodes if node is not dead]
    assert alive[0].post(_body("d00.example", "After", YESTERDAY, 2)).status_code == 201

    def recomputed() -> bool:
        with store.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(t.stale_domains)
                                      ).scalar_one() == 0 and connection.execute(
                select(func.count()).select_from(t.rollup_dirty)).scalar_one() == 0
    _wait("the new holder recomputed", recomputed, 30, alive)
