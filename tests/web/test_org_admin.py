"""An admin exports an organisation (a zip) and deletes it by typing its name, on the
settings page; nobody else can."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile

import httpx
import pytest

from tests.app.test_retention import _arrival, _doc
from tests.support.site import Site, login
from tlsscope.app.accounts import add_user, assign
from tlsscope.store import accounts

pytestmark = pytest.mark.server

ADMIN = "admin@test.example"
NAME = "Gone <b>Org</b>"


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/settings").text)
    assert found is not None
    return found.group(1)


def test_an_admin_exports_then_deletes_an_organisation(site: Site) -> None:
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    assign(site.store, "gone.example", NAME)
    add_user(site.store, "gone@gone.example", "its-own-password-1", "member", NAME)
    site.store.save([_arrival(_doc("gone-1", day, "gone.example"), dt.datetime.now(dt.UTC))])
    org = {name: org_id for org_id, name in site.store.read(accounts.organisations)}[NAME]
    member = login(site, "ana@acme.example")
    assert member.get(f"/settings/organisations/{org}/export").status_code == 404
    admin = login(site, ADMIN)
    page = admin.get("/settings").text
    assert "Gone &lt;b&gt;Org&lt;/b&gt;" in page and "<b>Org</b>" not in page
    got = admin.get(f"/settings/organisations/{org}/export")
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        lines = archive.read("tlsscope-export/reports.jsonl").decode().splitlines()
        assert [json.loads(line)["report-id"] for line in lines] == ["gone-1"]
        assert "password_hash" not in archive.read("tlsscope-export/users.json").decode()
    csrf = _csrf(admin)
    url = f"/settings/organisations/{org}"
    assert admin.post(url, data={"action": "delete", "name": NAME}).status_code == 403
    assert admin.post(url, data={"csrf": csrf, "action": "delete",
                                 "name": "Gone"}).status_code == 400
    assert NAME in dict(site.store.read(accounts.organisations)).values()
    done = admin.post(url, data={"csrf": csrf, "action": "delete", "name": NAME})
    assert done.status_code == 200
    assert NAME not in dict(site.store.read(accounts.organisations)).values()
    assert "gone@gone.example" not in {u.email for u in site.store.read(accounts.users)}
