"""The web tests' dashboard (the `site` fixture in tests/web/conftest.py builds it): its users'
passwords, the hostile strings its reports carry, and a browser-like login."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple

import httpx

from tlsscope.store import Store

# Script and markup that would run or render if any page forgot to escape it.
XSS = ("<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">"
       "<b>bold</b>\"'&amp;")
FORMULA = '=HYPERLINK("http://evil.example","click")'
PASSWORDS = {"admin@test.example": "admin-password-1", "ana@acme.example": "acme-password-1",
             "bruno@beta.example": "beta-password-1", "carla@acme.example": "acme-readonly-1"}


def hostile_report(day: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return {
        "organization-name": f"Evil Corp {XSS}",
        "date-range": {"start-datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "end-datetime": (start + dt.timedelta(days=1)).strftime(
                           "%Y-%m-%dT%H:%M:%SZ")},
        "contact-info": f"mailto:{XSS}",
        "report-id": f"xss-{XSS}",
        "policies": [{
            "policy": {"policy-type": "sts", "policy-domain": "xss.example",
                       "policy-string": ["version: STSv1", "mode: enforce", f"mx: {XSS}",
                                         "max_age: 86400"],
                       "mx-host": [XSS]},
            "summary": {"total-successful-session-count": 10,
                        "total-failure-session-count": 7},
            "failure-details": [{
                "result-type": f"certificate-expired{XSS}", "sending-mta-ip": XSS,
                "receiving-mx-hostname": f"mx.{XSS}", "receiving-mx-helo": XSS,
                "receiving-ip": XSS, "failed-session-count": 7,
                "additional-information": XSS, "failure-reason-code": XSS}]}],
    }


def formula_report(day: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return {
        "organization-name": FORMULA,
        "date-range": {"start-datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "end-datetime": (start + dt.timedelta(days=1)).strftime(
                           "%Y-%m-%dT%H:%M:%SZ")},
        "contact-info": "@SUM(1+1)", "report-id": "+cmd|' /C calc'!A0",
        "policies": [{"policy": {"policy-type": "no-policy-found",
                                 "policy-domain": "xss.example"},
                      "summary": {"total-successful-session-count": 5,
                                  "total-failure-session-count": 0}}]}


class Site(NamedTuple):
    url: str
    store: Store
    tokens: dict[str, str]  # email → API token
    clients: dict[str, httpx.Client]  # one per user and kind, closed at the end

    def api(self, email: str) -> httpx.Client:
        key = f"api:{email}"
        if key not in self.clients:
            self.clients[key] = httpx.Client(
                base_url=self.url, timeout=30,
                headers={"authorization": f"Bearer {self.tokens[email]}"})
        return self.clients[key]

    def client(self) -> httpx.Client:
        """A fresh client without credentials (closed at the end)."""
        made = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        self.clients[f"plain:{len(self.clients)}"] = made
        return made


def login(site: Site, email: str) -> httpx.Client:
    """A browser-like client with a session cookie."""
    client = site.client()
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post("/login", data={"email": email, "password": PASSWORDS[email],
                                       "csrf": csrf.group(1), "next": "/"})
    assert done.status_code == 303, done.text
    return client
