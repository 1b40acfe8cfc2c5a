"""Screenshots of every dashboard page, from the demo data, for the README and docs/
(`make screenshots`). Runs Debian's Chromium through Playwright against a dashboard served on
loopback from a temporary SQLite database."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from tlsscope.intake import Intake
from tlsscope.settings import Settings
from tlsscope.store import Store
from tlsscope.web.app import create_app

OUT = Path(__file__).parent / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PORT = 8765


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    db = f"sqlite:///{folder / 'demo.db'}"
    subprocess.run([sys.executable, "-m", "tlsscope", "demo", "--db", db], check=True,
                   stdout=subprocess.DEVNULL)
    settings = Settings(rua_addresses=["tls-reports@example.net"],
                        public_url="https://tlsrpt.example.net", check_every_hours=0,
                        check_on_failure=False)
    store = Store.open(db)
    intake = Intake(store, settings)
    server = uvicorn.Server(uvicorn.Config(create_app(intake, settings, store=store),
                                           host="127.0.0.1", port=PORT, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{PORT}"
    OUT.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/login")
            page.fill("#email", "admin@demo.example")
            page.fill("#password", "tlsscope-admin")
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            shots = {"overview": "/", "domain": "/domains/shop.example",
                     "reports": "/reports?domain=shop.example", "tools": "/tools",
                     "settings": "/settings", "quarantine": "/quarantine"}
            for name, path in shots.items():
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            page.goto(base + "/domains/shop.example")
            page.click("#findings a >> nth=0")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / "finding.png"), full_page=True)
            page.locator("#evidence tbody a").first.click()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / "report.png"), full_page=False)
            phone = browser.new_context(viewport={"width": 390, "height": 844},
                                        is_mobile=True, storage_state=page.context.storage_state())
            tab = phone.new_page()
            tab.goto(base + "/domains/shop.example")
            tab.wait_for_load_state("networkidle")
            tab.screenshot(path=str(OUT / "phone-domain.png"), full_page=False)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        intake.close()
        store.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
