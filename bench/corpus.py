"""Deterministic benchmark inputs: reports shaped like the real senders', written to bench/data/.

Nothing here is timed. Sending IPs come from a pool of 512 addresses (one sender's outbound
pool) and each domain has three MX addresses, as in real traffic. `small` is a two-policy
report with five failure rows (about 2 KB, the
shape used in shared/notes/STACK-NOTES.md); `large` has 2 x 1,000 rows; `huge` one policy with
5,000 rows; `mixed/` is a folder of JSON, gzip and mail inputs for the end-to-end run.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
REAL = Path(__file__).parents[1] / "tests" / "fixtures" / "real"


def report(rows_per_policy: int, *, seed: int = 0, day: int = 11, domain: str = "example.com",
           org: str = "Google Inc.") -> dict[str, Any]:
    rng = random.Random(seed)
    kinds = ["certificate-expired", "starttls-not-supported", "certificate-host-mismatch",
             "validation-failure", "certificate-not-trusted"]

    def row(i: int) -> dict[str, Any]:
        mx = i % 3 + 1
        out = {"result-type": kinds[i % len(kinds)],
               # a sender's outbound pool (a few hundred addresses), the domain's MX addresses
               "sending-mta-ip": f"209.85.{rng.randrange(128, 130)}.{rng.randrange(256)}",
               "receiving-mx-hostname": f"mx{mx}.{domain}",
               "receiving-ip": f"203.0.113.{(sum(map(ord, domain)) + mx) % 256}",
               "failed-session-count": rng.randrange(1, 50)}
        if i % 2:
            out["failure-reason-code"] = "X509_V_ERR_CERT_HAS_EXPIRED"
        return out

    sts_rows = [row(i) for i in range(rows_per_policy)]
    tlsa_rows = [row(i + 7) for i in range(rows_per_policy)]
    return {
        "organization-name": org,
        "date-range": {"start-datetime": f"2025-03-{day:02d}T00:00:00Z",
                       "end-datetime": f"2025-03-{day:02d}T23:59:59Z"},
        "contact-info": "smtp-tls-reporting@google.com",
        "report-id": f"2025-03-{day:02d}T00:00:00Z_{domain}_{seed}",
        "policies": [
            {"policy": {"policy-type": "sts",
                        "policy-string": ["version: STSv1", "mode: enforce",
                                          f"mx: mx1.{domain}", f"mx: *.mail.{domain}",
                                          "max_age: 604800"],
                        "policy-domain": domain, "mx-host": [f"mx1.{domain}", f"*.mail.{domain}"]},
             "summary": {"total-successful-session-count": rng.randrange(100, 100000),
                         "total-failure-session-count": sum(r["failed-session-count"]
                                                            for r in sts_rows)},
             "failure-details": sts_rows},
            {"policy": {"policy-type": "tlsa",
                        "policy-string": ["3 1 1 6007EEE553E85D8DF007A845D19EC343283D4E416E9A33F9E"
                                          "F3040C8B7C285BC"],
                        "policy-domain": f"mx1.{domain}"},
             "summary": {"total-successful-session-count": rng.randrange(100, 100000),
                         "total-failure-session-count": sum(r["failed-session-count"]
                                                            for r in tlsa_rows)},
             "failure-details": tlsa_rows},
        ],
    }


def compact(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def small() -> bytes:
    doc = report(3)
    doc["policies"][1]["failure-details"] = doc["policies"][1]["failure-details"][:2]
    doc["policies"][1]["summary"]["total-failure-session-count"] = sum(
        r["failed-session-count"] for r in doc["policies"][1]["failure-details"])
    return compact(doc)


def large() -> bytes:
    return compact(report(1000))


def huge() -> bytes:
    doc = report(5000)
    del doc["policies"][1]
    return compact(doc)


def mail(doc: dict[str, Any]) -> bytes:
    payload = base64.encodebytes(gzip.compress(compact(doc), mtime=0)).decode()
    domain = doc["policies"][0]["policy"]["policy-domain"]
    return (
        "From: noreply-smtp-tls-reporting@google.com\nTo: tls@example.com\n"
        f"Subject: Report Domain: {domain} Submitter: google.com Report-ID: <{doc['report-id']}>\n"
        f"TLS-Report-Domain: {domain}\nTLS-Report-Submitter: google.com\n"
        "Date: Wed, 12 Mar 2025 02:17:43 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; boundary="b"; report-type=tlsrpt\n\n'
        "--b\nContent-Type: text/plain\n\nThis is an aggregate TLS report from google.com\n"
        "--b\nContent-Type: application/tlsrpt+gzip\nContent-Transfer-Encoding: base64\n"
        f'Content-Disposition: attachment; filename="google.com!{domain}!1741651200!'
        f'1741737599!001.json.gz"\n\n{payload}--b--\n').encode()


def mixed(count: int) -> Path:
    """`count` inputs: a third JSON, a third gzip, a third mail; small, realistic reports."""
    folder = DATA / f"mixed-{count}"
    if folder.is_dir() and len(list(folder.iterdir())) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        doc = report(1 + i % 3, seed=i, day=1 + i % 28, domain=f"d{i % 40}.example")
        kind = i % 3
        if kind == 0:
            (folder / f"r{i:05d}.json").write_bytes(compact(doc))
        elif kind == 1:
            (folder / f"r{i:05d}.json.gz").write_bytes(gzip.compress(compact(doc), mtime=0))
        else:
            (folder / f"r{i:05d}.eml").write_bytes(mail(doc))
    return folder


def big_mbox(target_bytes: int) -> Path:
    path = DATA / f"big-{target_bytes // 1_000_000}MB.mbox"
    if path.exists() and path.stat().st_size >= target_bytes:
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    real = (REAL / "google-tlsrpt-digest-success-1.eml").read_bytes().replace(b"\r\n", b"\n")
    written = 0
    with path.open("wb") as out:
        i = 0
        while written < target_bytes:
            message = real if i % 2 else mail(report(2, seed=i, day=1 + i % 28))
            chunk = b"From tlsrpt@example.net Wed Mar 12 02:17:43 2025\n" + message + b"\n"
            out.write(chunk)
            written += len(chunk)
            i += 1
    return path
