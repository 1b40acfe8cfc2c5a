"""The fast MIME reader gives exactly the parts the email package gives, or declines."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsscope.parse import mime_fast, mime_stdlib
from tlsscope.parse.mime import message_parts

FIX = Path(__file__).parents[1] / "fixtures"
MAILS = sorted((FIX / "quirks").glob("*.eml")) + sorted((FIX / "real").glob("*.eml"))


@pytest.mark.parametrize("path", MAILS, ids=lambda p: p.name)
def test_fast_reader_agrees_with_the_email_package(path: Path) -> None:
    data = path.read_bytes()
    expected = mime_stdlib.message_parts(data)
    try:
        fast = mime_fast.message_parts(data)
    except mime_fast.Declined:
        assert path.name in {"mail-rfc2231-filename.eml"}, "declined unexpectedly"
        assert message_parts(data) == expected
        return
    assert fast == expected


def test_rfc2231_goes_to_the_tolerant_reader() -> None:
    data = (FIX / "quirks" / "mail-rfc2231-filename.eml").read_bytes()
    with pytest.raises(mime_fast.Declined):
        mime_fast.message_parts(data)
    (part,) = message_parts(data)
    assert part.filename == "mailer.example!example.com!1741651200!1741737599!b7e2.json.gz"


REPORT = json.dumps({"organization-name": "x", "policies": []}).encode()
TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789'()+_,-./=?", min_size=1,
                max_size=30).filter(lambda s: not s.endswith(" "))


@settings(max_examples=150, deadline=None)
@given(boundary=TOKEN, crlf=st.booleans(), fold=st.booleans(), quoted=st.booleans(),
       encoding=st.sampled_from(["base64", "quoted-printable", "7bit"]),
       ctype=st.sampled_from(["application/tlsrpt+gzip", "application/octet-stream",
                              "application/tlsrpt+json", "text/plain", "image/png"]),
       name=st.none() | TOKEN, close=st.booleans(), preamble=st.booleans())
def test_generated_mails_agree(boundary: str, crlf: bool, fold: bool, quoted: bool,
                               encoding: str, ctype: str, name: str | None, close: bool,
                               preamble: bool) -> None:
    payload = gzip.compress(REPORT, mtime=0) if "gzip" in ctype or "octet" in ctype else REPORT
    if encoding == "base64":
        body = base64.encodebytes(payload).decode()
    elif encoding == "quoted-printable":
        body = payload.decode("latin-1").replace("=", "=3D")
    else:
        body = payload.decode("latin-1")
    b = f'"{boundary}"' if quoted or not boundary.isalnum() else boundary
    sep = "\n " if fold else " "
    name_param = f'; name="{name}"' if name else ""
    text = (
        "From: a@example.net\nTo: b@example.com\nSubject: Report Domain: example.com\n"
        f" Submitter: example.net\nTLS-Report-Domain: example.com\nMIME-Version: 1.0\n"
        f"Content-Type: multipart/report;{sep}report-type=tlsrpt; boundary={b}\n\n"
        + ("This is a MIME message.\n" if preamble else "")
        + f"--{boundary}\nContent-Type: text/plain\n\nhello\n"
        f"--{boundary}\nContent-Type: {ctype}{name_param}\n"
        f"Content-Transfer-Encoding: {encoding}\n\n{body}\n"
        + (f"--{boundary}--\n" if close else f"--{boundary}\n"))
    data = text.replace("\n", "\r\n").encode("latin-1") if crlf else text.encode("latin-1")
    try:
        fast = mime_fast.message_parts(data)
    except mime_fast.Declined:
        return
    assert fast == mime_stdlib.message_parts(data)
