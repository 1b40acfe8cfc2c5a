"""Intake under attack: good POSTs keep flowing while a stalling, a poisoning and a bomb input
are posted among them (issue 13).

    python bench/attack.py [--seconds 6]

One `tlsscope serve` on loopback (SQLite, DKIM checked against a nameserver that never
answers). For each attack, a sender posts distinct good reports one after another for
`--seconds` while another posts five distinct attack inputs (distinct bytes: a copy already
stored would be recognised by its digest and not read again); the good POSTs' latencies are
printed (p50, p99, max), and every acknowledged good report is checked to be stored exactly
once. Exit status 1 if one is missing, stored twice, or refused.

    stall    a mail with 20 DKIM signatures (every key lookup waits for its timeout)
    poison   a JSON report with a lone surrogate and a NUL in its strings
    bomb     a zip of 200 gzips, each inflating to 50 MB of zeros
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from tests.support.faults import silent_server  # noqa: E402
from tests.support.served import Served, report  # noqa: E402

from tlsscope.store import Store, queries  # noqa: E402

MAIL = (HERE.parent / "tests" / "fixtures" / "quirks" / "mail-rfc-shape.eml").read_bytes()


def stall() -> list[tuple[bytes, str]]:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption())
    message = MAIL.replace(b"\n", b"\r\n")
    for n in range(20):
        message = dkim.sign(message, f"s{n}".encode(), b"mailer.example", key) + message
    return [(f"X-Attempt: {n}\r\n".encode() + message, "message/rfc822") for n in range(5)]


def poison() -> list[tuple[bytes, str]]:
    doc = json.loads(gzip.decompress(report("poison")))
    doc["organization-name"] = "bad\ud800name\u0000"
    out = []
    for n in range(5):
        doc["report-id"] = f"poison-{n}"
        out.append((json.dumps(doc).encode(), "application/tlsrpt+json"))
    return out


def bomb() -> list[tuple[bytes, str]]:
    member = io.BytesIO()
    with gzip.GzipFile(fileobj=member, mode="wb", compresslevel=9) as gz:
        for _ in range(50):
            gz.write(bytes(1 << 20))
    out = []
    for attempt in range(5):
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
            for n in range(200):
                zipped.writestr(f"a{attempt}-r{n}.json.gz", member.getvalue())
        out.append((archive.getvalue(), "application/zip"))
    return out


def run(served: Served, name: str, attack: list[tuple[bytes, str]], seconds: float) -> bool:
    latencies: list[float] = []
    acknowledged: list[str] = []
    refused: list[int] = []
    stop = threading.Event()

    def good() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            rid = f"{name}-good-{n}"
            started = time.perf_counter()
            answer = served.post(report(rid), timeout=120)
            latencies.append(time.perf_counter() - started)
            if answer.status_code in (200, 201):
                acknowledged.append(rid)
            else:
                refused.append(answer.status_code)

    answers: list[str] = []

    def attacker() -> None:
        time.sleep(1)
        for body, kind in attack:
            started = time.perf_counter()
            status = served.post_raw(body, kind).status_code
            answers.append(f"{status} {time.perf_counter() - started:.1f}s")

    threads = [threading.Thread(target=good), threading.Thread(target=attacker)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(300)
    with Store.open(served.db) as store:
        listed = store.read(queries.list_reports, domain=None, since=None, until=None,
                            limit=100_000, offset=0)
        stored = [r.report_id for r in listed
                  if r.report_id.startswith(f"{name}-good-")]
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    ok = sorted(stored) == sorted(acknowledged) and not refused
    print(f"| {name} | {len(acknowledged)} | {statistics.median(ordered) * 1000:.0f} ms | "
          f"{p99 * 1000:.0f} ms | {ordered[-1] * 1000:.0f} ms | {', '.join(answers)} | "
          f"{'all stored once' if ok else f'LOST or refused: {refused}'} |")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    attacks = {"none": [(report(f"baseline-{n}"), "application/tlsrpt+gzip") for n in range(5)],
               "stall": stall(),
               "poison": poison(), "bomb": bomb()}
    with tempfile.TemporaryDirectory() as folder, silent_server() as nameserver:
        served = Served(Path(folder), TLSSCOPE_DNS_NAMESERVER=nameserver,
                        TLSSCOPE_DKIM_VERIFY="live", TLSSCOPE_READ_SECONDS="5")
        try:
            print("| attack | good POSTs | p50 | p99 | max | attack answers (time) "
                  "| good reports |")
            print("|---|---:|---:|---:|---:|---|---|")
            results = [run(served, name, attack, args.seconds)
                       for name, attack in attacks.items()]
        finally:
            served.stop()
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
