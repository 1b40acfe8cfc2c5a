"""`tlsscope digest` and `tlsscope users digest`, run as real processes: a preview written to
a folder, a digest sent through a real SMTP server on loopback, and the refusals."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.cli import tlsscope
from tests.support.digests import ANA, OPS, ORG, story
from tests.support.mailsink import mail_sink, parts
from tlsscope.alert import digest
from tlsscope.app import accounts
from tlsscope.store import Store, digest_rows

pytestmark = pytest.mark.server

PUBLIC = {"TLSSCOPE_PUBLIC_URL": "https://tlsscope.example.net"}


def _db(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def test_a_preview_writes_each_recipients_digest_and_sends_nothing(
        store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    out = tmp_path / "preview"
    done = tlsscope("digest", "--org", ORG, "--preview", str(out), "--db", _db(store),
                    env=PUBLIC)
    assert done.returncode == 0, done.stderr
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(f"{who}{suffix}" for who in (ANA, OPS)
                           for suffix in (".eml", ".html", ".txt"))
    assert sorted(done.stdout.decode().split()) == sorted(str(out / name) for name in names)
    eml = email.message_from_bytes((out / f"{ANA}.eml").read_bytes(),
                                   policy=email.policy.default)
    assert eml["To"] == ANA and str(eml["Subject"]).startswith("[tlsscope] Resumo semanal: Acme")
    assert eml["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert isinstance(eml, EmailMessage)
    text, html = parts(eml)
    assert text == (out / f"{ANA}.txt").read_text() and html == (out / f"{ANA}.html").read_text()
    assert "Taxa de sucesso" in text and '<table role="presentation" class="chart"' in html
    # --lang for everyone; every domain without --org: one file for the installation.
    done = tlsscope("digest", "--preview", str(tmp_path / "all"), "--lang", "pt",
                    "--period", "month", "--db", _db(store))
    assert done.returncode == 0, done.stderr
    assert "Resumo mensal: todos os domínios" in (tmp_path / "all" / "installation.txt"
                                                  ).read_text()


def test_send_goes_through_the_relay_and_says_to_whom(store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    store.write(digest_rows.opt_out, "gone@else.example", dt.datetime.now(dt.UTC))
    with mail_sink() as (sink, port):
        env = {**PUBLIC, "TLSSCOPE_SMTP_URL": f"smtp+plain://127.0.0.1:{port}"}
        done = tlsscope("digest", "--org", ORG, "--send", "--to", "boss@else.example",
                        "--to", "gone@else.example", "--db", _db(store), env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode().startswith(
            "sent to boss@else.example: [tlsscope] Weekly digest: Acme, ")
        assert "skipped gone@else.example: it unsubscribed" in done.stderr.decode()
        assert [to for to, _ in sink.mails] == [["boss@else.example"]]
        done = tlsscope("digest", "--org", ORG, "--send", "--db", _db(store), env=env)
        assert done.returncode == 0, done.stderr
        assert sorted(line.split(":")[0] for line in done.stdout.decode().splitlines()) == [
            f"sent to {ANA}", f"sent to {OPS}"]
        assert len(sink.mails) == 3


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--send",), 2, "no smtp_url is set: digests cannot be sent"),
    (("--send", "--preview", "x"), 2, "give one of --send or --preview DIR"),
    ((), 2, "give one of --send or --preview DIR"),
    (("--preview", "x", "--to", "a@b.example"), 2, "--to is for --send"),
    (("--preview", "x", "--period", "year"), 2, "--period must be one of day, week, month"),
    (("--preview", "x", "--lang", "fr"), 2, "--lang must be one of en, pt"),
    (("--preview", "x", "--org", "Nobody"), 1, "no organisation named 'Nobody'"),
])
def test_refusals(store: Store, args: tuple[str, ...], code: int, message: str) -> None:
    done = tlsscope("digest", *args, "--db", _db(store))
    assert done.returncode == code, done.stderr
    assert done.stderr.decode().startswith(f"Error: {message}")


def test_users_subscribe_from_the_cli(store: Store, tmp_path: Path) -> None:
    story(store, tmp_path)
    user_id = accounts.user(store, ANA).id
    done = tlsscope("users", "digest", ANA, "month", "--db", _db(store))
    assert done.returncode == 0 and done.stdout.decode() == f"{ANA}: digest month\n"
    assert digest.subscription(store, user_id) == "month"
    assert tlsscope("users", "digest", ANA, "none", "--db", _db(store)).returncode == 0
    assert digest.subscription(store, user_id) == ""
    bad = tlsscope("users", "digest", ANA, "yearly", "--db", _db(store))
    assert bad.returncode == 1 and b"period must be one of day, week, month or none" in bad.stderr
    nobody = tlsscope("users", "digest", "nobody@else.example", "week", "--db", _db(store))
    assert nobody.returncode == 1 and b"no user" in nobody.stderr
    shown = tlsscope("users", "digest", "--help").stdout
    assert b"day, week or month" in shown and b"unsubscribes them" in shown
