"""`tlsscope alerts` as a user drives it, a real process on a real SQLite file, with a real
webhook receiver on loopback: add (prints the id; the secret once, on stderr), list (no
secret, a webhook's host only), deliver (findings brought up to date, the alert sent), log,
test, remove; and the refusals, each a one-line error with its exit code."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.support.cli import ingest, tlsscope
from tests.support.hooks import receiver
from tests.support.scenarios import Failure

pytestmark = pytest.mark.server
PRIVATE = {"TLSSCOPE_ALERTS_ALLOW_PRIVATE": "true"}


def test_add_deliver_log_test_remove(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'alerts.db'}"
    with receiver([204]) as hook:
        added = tlsscope("alerts", "add", "--webhook", hook.url, "--min-severity", "info",
                         "--db", db, env=PRIVATE)
        assert added.returncode == 0, added.stderr
        rule_id = added.stdout.decode().strip()
        assert rule_id.isdigit()
        secret = added.stderr.decode().split("Signing secret (shown this once): ")[1].split()[0]
        assert secret.startswith("whsec_")
        listed = tlsscope("alerts", "list", "--json", "--db", db)
        assert listed.returncode == 0
        (rule,) = json.loads(listed.stdout)
        assert rule["target"] == "http://127.0.0.1/…" and rule["signed"] is True
        assert secret not in listed.stdout.decode() and "/hook" not in listed.stdout.decode()

        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        ingest(tmp_path / "r", db, "mail.example",
               (Failure("certificate-expired", 40, "mx1.mail.example"),), yesterday)
        warned = tlsscope("alerts", "add", "--email", "postmaster@mail.example", "--db", db)
        assert warned.returncode == 0
        assert "mail.example, a domain this installation monitors" in warned.stderr.decode()
        assert "smtp_url is not set" in warned.stderr.decode()

        sent = tlsscope("alerts", "deliver", "--db", db, env=PRIVATE)
        assert sent.returncode == 0, sent.stderr
        # The webhook's alert is sent; the mail rule's waits: no relay is set, and it says so.
        assert sent.stdout.decode().startswith("1 delivered, 1 to retry later, 0 failed")
        assert "(email), delivery" in sent.stderr.decode()
        assert "no smtp_url is set" in sent.stderr.decode()
        (request,) = hook.requests
        body = json.loads(request.body)
        assert body["event"] == "finding.opened" and body["finding"]["domain"] == "mail.example"
        assert request.headers["x-tlsscope-signature"].startswith("t=")
        again = tlsscope("alerts", "deliver", "--db", db, env=PRIVATE)  # the mail is not due
        assert again.stdout.decode().startswith("0 delivered, 0 to retry later")
        assert len(hook.requests) == 1

        tested = tlsscope("alerts", "test", rule_id, "--db", db, env=PRIVATE)
        assert tested.returncode == 0 and tested.stdout.decode().startswith("delivered")
        assert json.loads(hook.requests[1].body)["event"] == "test"

        logged = json.loads(tlsscope("alerts", "log", "--json", "--db", db).stdout)
        by_channel = {(entry["channel"], entry["test"]): entry for entry in logged}
        assert by_channel[("generic", True)]["state"] == "delivered"
        assert by_channel[("email", False)]["state"] == "pending"
        opened = by_channel[("generic", False)]
        assert opened["state"] == "delivered" and opened["tries"][0]["status"] == 204
        assert opened["alerts"][0]["event"] == "finding.opened"
        assert secret not in json.dumps(logged)

    removed = tlsscope("alerts", "remove", rule_id, "--db", db)
    assert removed.returncode == 0
    gone = tlsscope("alerts", "remove", rule_id, "--db", db)
    assert gone.returncode == 1 and gone.stderr.decode().startswith("Error: no alert rule")
    assert [r["channel"] for r in json.loads(
        tlsscope("alerts", "list", "--json", "--db", db).stdout)] == ["email"]


@pytest.mark.parametrize(("args", "message"), [
    (["--webhook", "http://127.0.0.1:9/x"], "alerts_allow_private"),
    (["--webhook", "http://10.0.0.1/x"], "not a public address"),
    (["--email", "a@b.example", "--webhook", "https://h.example/x"], "give one of"),
    ([], "give one of"),
    (["--email", "not an address"], "is not an e-mail address"),
    (["--email", "a@b.example\r\nBcc: x@y.example"], "is not an e-mail address"),
    (["--webhook", "ftp://h.example/x"], "an https:// (or http://) URL"),
    (["--webhook", "https://h.example/x", "--format", "pager"], "--format must be one of"),
    (["--email", "a@b.example", "--min-severity", "urgent"], "min-severity must be one of"),
    (["--email", "a@b.example", "--batch", "weekly"], "batch must be one of"),
    (["--email", "a@b.example", "--quiet", "22-7"], "quiet hours must be HH:MM-HH:MM"),
    (["--email", "a@b.example", "--timezone", "Mars/Base"], "not a time zone"),
    (["--email", "a@b.example", "--org", "Nobody"], "no organisation named"),
    (["--email", "a@b.example", "--secret", "s"], "only a generic webhook signs"),
    (["--email", "a@b.example", "--event", "finding.exploded"], "is not one of"),
    (["--email", "a@b.example", "--kind", "certifcate"], "'certifcate' is not one of"),
    (["--webhook", "http://[fe80::1%25eth0]/x"], "scoped to an interface"),
])
def test_bad_rules_are_refused_with_a_clear_error(tmp_path: Path, args: list[str],
                                                  message: str) -> None:
    done = tlsscope("alerts", "add", *args, "--db", f"sqlite:///{tmp_path / 'a.db'}")
    error = done.stderr.decode()
    assert done.returncode in (1, 2) and error.startswith("Error: "), error
    assert message in error and "Traceback" not in error


@pytest.mark.parametrize("args", [
    ["alerts", "remove", "99999999999999999999999"], ["alerts", "test", str(2**63)],
    ["alerts", "remove", "0"], ["users", "revoke", "99999999999999999999999"]])
def test_an_id_that_names_no_row_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    done = tlsscope(*args, "--db", f"sqlite:///{tmp_path / 'a.db'}")
    error = done.stderr.decode()
    assert done.returncode == 2 and "is not in the range 1<=x<=" in error, error
    assert "Traceback" not in error


def test_a_preview_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    done = tlsscope("digest", "--preview", "/proc/tlsscope-nowhere", "--db",
                    f"sqlite:///{tmp_path / 'a.db'}")
    error = done.stderr.decode()
    assert done.returncode == 2 and error.startswith(
        "Error: cannot write the preview to /proc/tlsscope-nowhere: "), error


def test_the_same_rule_twice_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    first = tlsscope("alerts", "add", "--email", "Ops@Example.org", "--kind", "starttls",
                     "--db", db)
    assert first.returncode == 0, first.stderr
    again = tlsscope("alerts", "add", "--email", "ops@example.org", "--kind", "starttls",
                     "--db", db)
    error = again.stderr.decode()
    assert again.returncode == 2 and error.startswith(
        f"Error: rule {first.stdout.decode().strip()} says the same already"), error
    daily = tlsscope("alerts", "add", "--email", "ops@example.org", "--kind", "starttls",
                     "--batch", "daily", "--db", db)
    assert daily.returncode == 0, daily.stderr  # the same, another way: a rule of its own
