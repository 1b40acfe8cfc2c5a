"""What a fleet's nodes share in the store, on SQLite and PostgreSQL: leases (one holder,
taken over once expired), the re-check queue (marked in the report's transaction, claimed
once), the login throttle and the HTTP rate limit (counted across nodes)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tlsscope.app.lease import Lease
from tlsscope.app.limits import LoginThrottle, RateLimiter
from tlsscope.store import Store, leases, recheck_rows

R = TypeVar("R")

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    assert store.write(leases.take, "analyst", "node-a", 30, T0)
    assert not store.write(leases.take, "analyst", "node-b", 30, T0 + dt.timedelta(seconds=29))
    assert store.write(leases.take, "analyst", "node-a", 30, T0 + dt.timedelta(seconds=20))
    # renewed at +20: still node-a's at +49, node-b's once that renewal has run out
    assert not store.write(leases.take, "analyst", "node-b", 30, T0 + dt.timedelta(seconds=49))
    assert store.read(leases.holder, "analyst", T0 + dt.timedelta(seconds=49)) == "node-a"
    assert store.write(leases.take, "analyst", "node-b", 30, T0 + dt.timedelta(seconds=51))
    assert store.read(leases.holder, "analyst", T0 + dt.timedelta(seconds=51)) == "node-b"
    store.write(leases.release, "analyst", "node-a")  # not its own any more: nothing happens
    assert store.read(leases.holder, "analyst", T0 + dt.timedelta(seconds=52)) == "node-b"
    store.write(leases.release, "analyst", "node-b")
    assert store.read(leases.holder, "analyst", T0 + dt.timedelta(seconds=52)) is None
    assert store.write(leases.take, "other", "node-a", 30, T0)  # leases are by name


def test_nodes_asking_at_once_get_one_lease(db_url: str) -> None:
    stores = [Store.open(db_url) for _ in range(4)]
    won: list[str] = []
    start = threading.Barrier(len(stores))

    def ask(n: int) -> None:
        start.wait()
        if stores[n].write(leases.take, "imap:x", f"node-{n}", 30, T0):
            won.append(f"node-{n}")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert len(won) == 1


def test_the_lease_object_renews_and_hands_over(store: Store) -> None:
    now = [T0]
    a = Lease(store, "retention", 30, holder="a", clock=lambda: now[0])
    b = Lease(store, "retention", 30, holder="b", clock=lambda: now[0])
    assert a.held() and not b.held()
    for _ in range(10):  # a keeps asking every 5 s: it keeps renewing
        now[0] += dt.timedelta(seconds=5)
        assert a.held() and not b.held()
    now[0] += dt.timedelta(seconds=31)  # a died (stopped asking): b takes over
    assert b.held()
    assert not a.held()
    b.release()
    assert a.held()


def folded(store: Store, read: Callable[..., R], *args: Any) -> R:
    """What a node reads of the queue: the writers' marks folded in first (as Rechecker
    does)."""
    store.write(recheck_rows.fold_all)
    return store.read(read, *args)


RULES = recheck_rows.Rules(every=dt.timedelta(hours=24), on_failure=True,
                           min_gap=dt.timedelta(minutes=60), owned_only=False)


def test_failures_queue_a_domain_and_a_check_answers_them(store: Store) -> None:
    store.write(recheck_rows.queue, ["a.example", "b.example"], {"b.example"}, T0)
    # never checked: both due, the failing one first
    assert folded(store, recheck_rows.due, RULES, T0) == ["b.example", "a.example"]
    assert store.write(recheck_rows.claim, RULES, T0, "n1", dt.timedelta(minutes=10)) == [
        "b.example"]
    # claimed: another node is not given it
    assert store.write(recheck_rows.claim, RULES, T0, "n2", dt.timedelta(minutes=10)) == [
        "a.example"]
    assert store.write(recheck_rows.claim, RULES, T0, "n3", dt.timedelta(minutes=10)) == []
    store.write(recheck_rows.checked, "b.example", T0, True)
    store.write(recheck_rows.checked, "a.example", T0, True)
    assert folded(store, recheck_rows.failing) == set()
    assert folded(store, recheck_rows.due, RULES, T0 + dt.timedelta(hours=1)) == []
    # a failure stored after the check started is not answered by it
    later = T0 + dt.timedelta(minutes=5)
    store.write(recheck_rows.queue, ["a.example"], {"a.example"}, later)
    store.write(recheck_rows.checked, "a.example", T0 + dt.timedelta(minutes=1), True)
    assert folded(store, recheck_rows.failing) == {"a.example"}
    assert folded(store, recheck_rows.due, RULES, T0 + dt.timedelta(minutes=30)) == []  # the gap
    assert folded(store, recheck_rows.due, RULES, T0 + dt.timedelta(minutes=62)) == ["a.example"]
    # an inconclusive check is a try: it waits for the gap, and the failure stays
    store.write(recheck_rows.checked, "a.example", T0 + dt.timedelta(minutes=62), False)
    assert folded(store, recheck_rows.due, RULES, T0 + dt.timedelta(minutes=100)) == []
    assert folded(store, recheck_rows.due, RULES, T0 + dt.timedelta(minutes=123)) == ["a.example"]
    assert folded(store, recheck_rows.failing) == {"a.example"}
    # the schedule: a day after its check, b is due again
    assert folded(store, recheck_rows.due, RULES, T0 + dt.timedelta(hours=24)) == [
        "a.example", "b.example"]


def test_a_claim_of_a_node_that_died_expires(store: Store) -> None:
    store.write(recheck_rows.queue, ["a.example"], set(), T0)
    hold = dt.timedelta(minutes=10)
    assert store.write(recheck_rows.claim, RULES, T0, "dead", hold) == ["a.example"]
    assert store.write(recheck_rows.claim, RULES, T0 + dt.timedelta(minutes=9), "n2",
                       hold) == []
    assert store.write(recheck_rows.claim, RULES, T0 + dt.timedelta(minutes=11), "n2",
                       hold) == ["a.example"]


def test_nodes_claiming_at_once_check_each_domain_once(db_url: str) -> None:
    setup = Store.open(db_url)
    domains = [f"d{n:02}.example" for n in range(40)]
    setup.write(recheck_rows.queue, domains, set(), T0)
    stores = [setup] + [Store.open(db_url) for _ in range(2)]
    taken: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(stores))

    def work(n: int) -> None:
        start.wait()
        while got := stores[n].write(recheck_rows.claim, RULES, T0, f"n{n}",
                                     dt.timedelta(minutes=10)):
            with lock:
                taken.extend(got)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert sorted(taken) == domains  # every domain once, none twice


def test_the_login_throttle_counts_across_nodes(db_url: str) -> None:
    now = [1_000_000.0]
    nodes = [LoginThrottle(Store.open(db_url), failures=3, window=900,
                           clock=lambda: now[0]) for _ in range(2)]
    email = "ana@example.com"
    assert [nodes[n % 2].attempt("192.0.2.1", email) for n in range(3)] == [0, 0, 0]
    assert nodes[0].attempt("192.0.2.1", email) == 900  # three wrong passwords, on two nodes
    assert nodes[1].attempt("192.0.2.1", email) == 900  # (a refused try is not counted)
    assert nodes[1].attempt("192.0.2.2", email) == 0  # another address
    # a browser that logged in as ana on node 0 is known to node 1 (the cookie is signed)
    device = nodes[0].remember(email)
    assert nodes[1].attempt("192.0.2.1", email, device) == 0
    nodes[1].succeeded("192.0.2.1", email, device)
    assert nodes[1].attempt("192.0.2.1", email, device + "x") == 900  # forged: the address
    assert nodes[1].attempt("192.0.2.1", "bob@example.com", device) == 0
    now[0] += 600
    assert nodes[0].attempt("192.0.2.1", email) == 300
    nodes[1].succeeded("192.0.2.1", email)  # forgets the failures, not only its own try
    assert nodes[0].attempt("192.0.2.1", email) == 0
    # hostile input: a 100 KB address with a lone surrogate and NUL is a key like any other
    hostile = "\ud800\x00" + "a" * 100_000 + "@example.com"
    assert nodes[0].attempt("192.0.2.1", hostile) == 0
    assert nodes[1].attempt("192.0.2.1", hostile, "\x00.\ud800") == 0
    for node in nodes:
        node.store.close()


def test_parallel_guesses_get_no_more_tries(db_url: str) -> None:
    """Many wrong passwords at once, on two nodes, for one email and address: ten tries."""
    nodes = [LoginThrottle(Store.open(db_url), failures=10) for _ in range(2)]
    start = threading.Barrier(8)
    answers: list[int] = []

    def guess(n: int) -> None:
        start.wait()
        for _ in range(6):
            answers.append(nodes[n % 2].attempt("192.0.2.9", "ana@example.com"))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for node in nodes:
        node.store.close()
    assert len(answers) == 48 and answers.count(0) == 10


def test_the_rate_limit_is_shared_by_the_nodes(db_url: str) -> None:
    now = [1_000_000.0]
    nodes = [RateLimiter(60, 5, Store.open(db_url), clock=lambda: now[0]) for _ in range(2)]

    async def asks(count: int) -> list[int]:
        return [await nodes[n % 2].retry_after("198.51.100.7") for n in range(count)]

    assert asyncio.run(asks(8)) == [0] * 5 + [1] * 3  # the burst, across both nodes
    now[0] += 2.5  # one request per second comes back
    assert asyncio.run(asks(3)) == [0, 0, 1]
    assert asyncio.run(nodes[0].retry_after("198.51.100.8")) == 0  # another client
    now[0] += 3600  # idle buckets are full again
    assert asyncio.run(asks(5)) == [0] * 5
    for node in nodes:
        assert node.store is not None
        node.store.close()
