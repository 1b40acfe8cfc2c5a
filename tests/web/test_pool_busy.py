"""A request that finds no free pooled connection within db_pool_timeout is answered 503
(retry), not 500."""

from __future__ import annotations

import httpx
import pytest

from tests.support.postgres import PostgresServer
from tests.support.webserver import Running
from tlsscope.app import accounts
from tlsscope.settings import Settings
from tlsscope.store import Pool, Store

pytestmark = pytest.mark.server


def test_a_busy_pool_is_a_503(postgres: PostgresServer | None) -> None:
    if postgres is None:
        pytest.skip("TLSSCOPE_TEST_POSTGRES=skip")
    store = Store.open(postgres.create_database(), pool=Pool(size=1, timeout=0.2))
    accounts.add_user(store, "ops@example.com", "a long passphrase 1", "admin", "")
    token = accounts.new_token(store, accounts.user(store, "ops@example.com"), "t")
    web = Running(store, Settings(dkim_verify="never"), dashboard=True)
    try:
        headers = {"authorization": f"Bearer {token}"}
        assert httpx.get(f"{web.url}/api/v1/domains", headers=headers).status_code == 200
        with store.engine.connect():  # the pool's one connection, held
            busy = httpx.get(f"{web.url}/api/v1/domains", headers=headers, timeout=30)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        assert "no free connection" in busy.json()["detail"]
        assert httpx.get(f"{web.url}/api/v1/domains", headers=headers).status_code == 200
    finally:
        web.stop()
        store.close()
