"""One dashboard for the web tests: the demo data (tlsscope.demo), a domain whose reports
carry script and HTML in every string field, two tenants and their users, served by uvicorn
on loopback."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakenet import fake_internet
from tests.support.fakenet import settings as fakenet_settings
from tests.support.site import PASSWORDS, Site, formula_report, hostile_report
from tests.support.webserver import Running
from tlsscope.app import freshness
from tlsscope.app.accounts import add_user, assign, new_token
from tlsscope.app.ingest import load as ingest
from tlsscope.demo import raw_inputs
from tlsscope.receive.files import RawInput
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.store import accounts as account_rows


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("dashboard")
    internet = fake_internet()
    setup = internet.__enter__()
    settings = fakenet_settings(
        setup, dkim_verify="never", http_rate_per_minute=0,
        rua_addresses=["tls-reports@reports.test.example"],
        public_url="https://tlsrpt.test.example", check_every_hours=0, check_on_failure=False)
    store = Store.open(f"sqlite:///{folder / 'site.db'}")
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    old = hostile_report(yesterday - dt.timedelta(days=400))  # only old reports: old.example
    old["policies"][0]["policy"]["policy-domain"] = "old.example"
    old["report-id"] = "old-report"
    extra = [RawInput(f"test/{name}.json", json.dumps(body).encode(), f"{name}.json", None)
             for name, body in (("hostile", hostile_report(yesterday)),
                                ("formula", formula_report(yesterday)), ("old", old))]
    totals = ingest(store, [*raw_inputs(dt.datetime.now(dt.UTC).date()), *extra], settings)
    assert totals.reports_stored > 700 and totals.rejected == 1, totals
    freshness.findings_now(store)
    add_user(store, "admin@test.example", PASSWORDS["admin@test.example"], "admin", "")
    add_user(store, "ana@acme.example", PASSWORDS["ana@acme.example"], "member", "Acme Retail")
    add_user(store, "carla@acme.example", PASSWORDS["carla@acme.example"], "readonly",
             "Acme Retail")
    add_user(store, "bruno@beta.example", PASSWORDS["bruno@beta.example"], "member",
             "Beta Health")
    for domain, owner in (("shop.example", "Acme Retail"), ("news.example", "Acme Retail"),
                          ("xss.example", "Acme Retail"), ("clinic.example", "Beta Health")):
        assign(store, domain, owner)
    tokens = {}
    for user in store.read(account_rows.users):
        tokens[user.email] = new_token(store, user, "tests", "admin")  # scope: as the role allows
    running = Running(store, settings, dashboard=True)
    clients: dict[str, httpx.Client] = {}
    try:
        yield Site(running.url, store, tokens, clients)
    finally:
        for client in clients.values():
            client.close()
        running.stop()
        store.close()
        internet.__exit__(None, None, None)


@pytest.fixture(scope="session")
def private_site(site: Site) -> Iterator[Site]:
    """The same store and users behind a second dashboard whose alerts may go to private and
    loopback addresses (alerts_allow_private), as the tests' webhook receivers are."""
    settings = Settings(alerts_allow_private=True, http_rate_per_minute=0, alerts_timeout=5.0,
                        public_url="https://tlsrpt.test.example")
    running = Running(site.store, settings, dashboard=True)
    clients: dict[str, httpx.Client] = {}
    try:
        yield site._replace(url=running.url, clients=clients)
    finally:
        for client in clients.values():
            client.close()
        running.stop()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, as installed by `make test` (no `playwright install`)."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": CHROMIUM_ARGS}
