"""A real Dovecot IMAP server for the tests, from a temporary configuration.

Runs as root (CI) with the `dovecot` user for mail, or unprivileged (not needed here). Plain
IMAP on a free loopback port; the users file holds one user with a known password.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER, PASSWORD = "tlsrpt@example.com", "s3cret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Dovecot:
    def __init__(self, tls_pem: Path | None = None) -> None:
        """`tls_pem`: a PEM with the key and the certificate chain; then IMAP offers STARTTLS
        and a second listener speaks implicit TLS (`self.tls_port`)."""
        if not Path("/usr/sbin/dovecot").exists():
            raise RuntimeError("Dovecot not installed (apt-get install dovecot-imapd)")
        self.folder = Path(tempfile.mkdtemp(prefix="tlsscope-dovecot-"))
        self.folder.chmod(0o755)
        self.port = _free_port()
        self.tls_port = _free_port() if tls_pem else 0
        ssl = f"ssl = yes\nssl_cert = <{tls_pem}\nssl_key = <{tls_pem}" if tls_pem else "ssl = no"
        mail = self.folder / "mail"
        mail.mkdir()
        shutil.chown(mail, "dovecot", "dovecot")
        (self.folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.config = self.folder / "dovecot.conf"
        self.config.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.folder}/run
state_dir = {self.folder}/state
log_path = {self.folder}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.folder}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
""")
        self.start()

    def start(self) -> None:
        # it daemonises: inherited pipes would stay open, so no output is captured
        subprocess.run(["/usr/sbin/dovecot", "-c", str(self.config)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Dovecot did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run(["doveadm", "-c", str(self.config), "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30, check=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, mailbox: str = "INBOX") -> str:
        return f"imap+plain://{USER.replace('@', '%40')}@127.0.0.1:{self.port}/{mailbox}"

    def append(self, *messages: bytes) -> None:
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(USER, PASSWORD)
        for message in messages:
            client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), message)
        client.logout()

    def count(self, mailbox: str) -> int:
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(USER, PASSWORD)
        status, data = client.select(mailbox, readonly=True)
        client.logout()
        return int(data[0] or b"") if status == "OK" else -1



def skip_unless_available() -> None:
    import pytest

    if os.environ.get("TLSSCOPE_TEST_DOVECOT") == "skip":
        pytest.skip("TLSSCOPE_TEST_DOVECOT=skip")
