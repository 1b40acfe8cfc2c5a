"""The dashboard in a real browser (Debian's Chromium driven by Playwright): log in, open
every page, change the date range, switch language, follow a finding to its reports, run a
live check, and prove that report strings full of script and HTML never execute."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.site import PASSWORDS, XSS, Site

pytestmark = pytest.mark.server


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(base_url=site.url, locale="en-US")
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
    yield tab
    context.close()
    assert problems == []  # no script error, no CSP violation, no alert() anywhere


def log_in(page: Page, email: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.fill("#email", email)
    page.fill("#password", PASSWORDS[email])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your domains")


def test_every_page_the_date_range_and_a_finding_to_its_reports(page: Page) -> None:
    log_in(page, "admin@test.example")
    rows = page.locator("#domains tbody tr")
    expect(rows).to_have_count(6)  # the demo's four, xss.example and old.example
    assert page.locator("canvas.spark").count() == 6

    page.click("#domains a:text('shop.example')")
    expect(page.locator("h1")).to_have_text("shop.example")
    assert page.evaluate("Chart.getChart('timeline') !== undefined")
    assert page.evaluate("Chart.getChart('timeline').data.datasets.length") == 2
    assert page.evaluate("Chart.getChart('chart-mx').data.labels[0]") == "mx2.shop.example"
    expect(page.locator("#summary")).to_contain_text("mx2.shop.example")

    page.select_option("#days", "7")
    expect(page).to_have_url(re.compile(r"days=7"))
    page.locator("#days-table").evaluate("t => t.closest('details').open = true")
    assert page.locator("#days-table tbody tr").count() <= 7
    assert page.evaluate("Chart.getChart('timeline').data.labels.length") <= 7

    page.click("#findings a:text('expired')")
    expect(page.locator("h1")).to_contain_text("expired")
    expect(page.locator("#evidence")).to_contain_text("Google Inc.")
    assert page.evaluate("Chart.getChart('mx-timeline') !== undefined")
    page.locator("#evidence tbody a").first.click()
    expect(page.locator("#reading")).to_contain_text("mx2.shop.example")
    expect(page.locator("#raw pre")).to_contain_text('"organization-name"')

    for path, heading in (("/reports", "Reports"), ("/quarantine", "Quarantine"),
                          ("/tools", "Tools"), ("/settings", "Settings")):
        page.goto(path)
        expect(page.locator("h1")).to_have_text(heading)
    page.goto("/quarantine")
    expect(page.locator("#quarantine")).to_contain_text("not-a-report.json")


def test_reports_search_and_pagination(page: Page) -> None:
    log_in(page, "admin@test.example")
    page.goto("/reports")
    page.select_option("#f-domain", "clinic.example")
    page.select_option("#f-result", "tlsa-invalid")
    page.click("#filters button")
    expect(page).to_have_url(re.compile(r"result_type=tlsa-invalid"))
    domains = page.locator("#reports tbody td:nth-child(3)").all_inner_texts()
    assert domains and set(domains) == {"clinic.example"}
    page.goto("/reports")
    page.click("a[rel=next]")
    expect(page.locator(".pager span")).to_have_text("Page 2")


def test_language_follows_the_user_and_the_browser(page: Page, browser: Browser,
                                                   site: Site) -> None:
    log_in(page, "ana@acme.example")
    page.select_option("#lang", "pt")
    expect(page.locator("h1")).to_have_text("Seus domínios")
    page.goto("/domains/shop.example")
    expect(page.locator("#summary h2")).to_have_text("Em linguagem simples")
    expect(page.locator("#findings")).to_contain_text("expirou")  # catalog texts too
    page.select_option("#lang", "en")
    expect(page.locator("#summary h2")).to_have_text("In plain language")
    # Before logging in, the browser's language decides.
    context = browser.new_context(base_url=site.url, locale="pt-BR")
    tab = context.new_page()
    tab.goto("/login")
    expect(tab.locator("h1")).to_have_text("Entrar")
    context.close()


def test_live_check_and_record_tools(page: Page) -> None:
    log_in(page, "admin@test.example")
    page.goto("/tools")
    expect(page.locator("#setup-record")).to_contain_text(
        "v=TLSRPTv1; rua=mailto:tls-reports@reports.test.example,"
        "https://tlsrpt.test.example/v1/tlsrpt")
    page.fill("#g-text", "v=TLSRPTv1; rua=tls@example.com")
    page.click("#generate form:nth-of-type(3) button")
    expect(page.locator("#record-out")).to_contain_text("Invalid")
    page.fill("#c-domain", "good.example")  # served by the fake internet
    page.click("#live-check button")
    expect(page.locator("#check-live")).to_contain_text(
        "mx1.good.example offers STARTTLS with a valid, trusted certificate", timeout=30_000)


def test_the_alerts_page_adds_tests_and_removes_a_rule(page: Page) -> None:
    log_in(page, "ana@acme.example")
    page.goto("/settings")
    page.click("nav.tabs a:text('Alerts')")
    expect(page.locator("h1")).to_have_text("Alerts")
    page.fill("#a-target", "browser@acme-ops.example")
    page.fill("#a-domains", "shop.example")
    page.select_option("#a-severity", "high")
    page.check("input[name=events][value='finding.opened']")
    page.click("#new-rule button[type=submit]")
    expect(page.locator("#created")).to_contain_text("added")
    row = page.locator("#rules tr", has_text="browser@acme-ops.example")
    expect(row).to_contain_text("shop.example")
    expect(row).to_contain_text("finding.opened")
    row.locator("button.test").click()
    expect(page.locator("#tested")).to_contain_text("no smtp_url is set")  # mail: no relay here
    expect(page.locator("#log")).to_contain_text("no smtp_url is set")
    page.locator("#rules tr", has_text="browser@acme-ops.example").locator(
        "button.remove").click()
    expect(page.locator("#rules")).not_to_contain_text("browser@acme-ops.example")


def test_phone_sized_screen(browser: Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, viewport={"width": 390, "height": 844},
                                  is_mobile=True)
    tab = context.new_page()
    log_in(tab, "admin@test.example")
    for path in ("/", "/domains/shop.example", "/reports", "/settings/alerts"):
        tab.goto(path)
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
    context.close()


def test_report_strings_never_execute(page: Page, site: Site) -> None:
    log_in(page, "ana@acme.example")
    api = site.api("admin@test.example")
    hostile = next(r for r in api.get("/api/v1/reports", params={"domain": "xss.example"}
                                      ).json() if r["report_id"].startswith("xss-"))
    findings = api.get("/api/v1/findings", params={"domain": "xss.example"}).json()
    assert findings
    paths = ["/", "/domains/xss.example", "/reports?domain=xss.example",
             f"/reports/{hostile['key']}", *(f"/findings/{v['id']}" for v in findings)]
    for path in paths:
        page.goto(path)
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("b:text('bold')").count() == 0, path  # no markup was rendered
        assert page.locator("img[src=x]").count() == 0, path
    page.goto(f"/reports/{hostile['key']}")
    shown = page.locator("main").inner_text()
    assert "<script>window.__xss=1</script>" in shown  # the text shows literally
    assert f"Evil Corp {XSS}" in shown
