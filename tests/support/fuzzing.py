"""The fuzz campaign: seeded mutations of the real fixtures and the quirks, hostile values put
anywhere in a report, and hostile containers, each read by `read_input`, printed through the
`parse --json` contract and stored.

    tally = campaign(inputs=5000, seed=1, store=Store.open(url))

A `Tally` counts what went wrong, by kind and exception class: exceptions that escaped
`read_input`, `reader_failure` errors (the catch-all, whose message is a raw exception text),
results the contract cannot encode as JSON, and results the store cannot save. A clean run
has all four empty. Run longer by hand: `python -m tests.support.fuzzing 100000`.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import hashlib
import io
import json
import random
import re
import sys
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlsscope.parse import InputResult, Outcome, read_input
from tlsscope.parse.contract import encode_entry
from tlsscope.store import Arrival, Store

FIX = Path(__file__).parents[1] / "fixtures"
SEED_FILES = sorted((FIX / "real").iterdir()) + sorted((FIX / "quirks").iterdir())

# Values that broke the reader or the store once (issue 13), and their neighbours.
HOSTILE_STRINGS = ["\ud800", "a\udfffb", "\ud83d", "x\x00y", "\x00", "\ufffe", "\u202eevil",
                   "2024-01-01T00:00:00Z\x00", "mx\x00.example.com", "\ud800.example.com",
                   "9999-12-31T23:30:00-05:00", "0001-01-01T00:00:00+05:00",
                   "9999-12-31T23:59:59+00:01", "0001-01-01T00:00:00Z", "\u00b2", "\u0663",
                   "\uff11\uff12"]
HOSTILE_RAW = [b"1.0e9999999999999999999", b"-1.0e9999999999999999999", b"1e400",
               b"9" * 5000, b"-1", b"18446744073709551616", b"9223372036854775808",
               b"9223372036854775807", b"-9223372036854775809", b"1e-400", b"0.5",
               b"[" * 1500 + b"]" * 1500, b"[" * 900 + b"]" * 900, b'{"a":' * 1200 + b"1" +
               b"}" * 1200, b'"\\ud800"', b'"\\u0000"', b'"a\\udc00\\u0000"',
               b'"2024-01-01' + b" " * 3000 + b'x"']
POLICY_STRINGS = [
    ["version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: \u00b2"],
    ["version: STSv1", "mode: testing", "max_age: " + "9" * 5000],
    ["version: STSv1", "mode: testing", "max_age: \u0663\u0663"],
    ["\u00b2 1 1 abcd"], ["9" * 5000 + " 1 1 abcdef"], ["3 1 1 " + "a" * 100],
    ["[" * 1500 + "]" * 1500], ['["' + "2 1 1 ab\\u0000" + '"]'], ["[\"\\ud800\"]"],
    ["version: STSv1\x00", "mode: enforce\ud800"],
]
HOSTILE_NAMES = ["a!example.com!" + "9" * 5000 + "!1.json", "a!example.com!\u00b2!1.json",
                 "\ud800.json.gz", "r\x00.json"]
_RAW_MARK = re.compile(rb'"\\u0001RAW(\d+)\\u0001"')


@dataclass
class Tally:
    inputs: int = 0
    accepted: int = 0
    rejected: int = 0
    escaped: Counter[str] = field(default_factory=Counter)
    reader_failure: Counter[str] = field(default_factory=Counter)
    unencodable: Counter[str] = field(default_factory=Counter)
    unstorable: Counter[str] = field(default_factory=Counter)
    slowest: tuple[float, str] = (0.0, "")
    examples: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.escaped or self.reader_failure or self.unencodable or self.unstorable)

    def note(self, kind: str, name: str, source: str) -> None:
        getattr(self, kind)[name] += 1
        self.examples.setdefault(f"{kind}:{name}", source)

    def summary(self) -> str:
        return (f"{self.inputs} inputs in {self.seconds:.1f} s ({self.accepted} accepted, "
                f"{self.rejected} rejected); escaped {dict(self.escaped)}; reader_failure "
                f"{dict(self.reader_failure)}; unencodable {dict(self.unencodable)}; "
                f"unstorable {dict(self.unstorable)}; slowest {self.slowest[0]:.2f} s "
                f"({self.slowest[1]}); examples {self.examples}")


# --- mutations ---------------------------------------------------------------------------------

def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not buf:
            break
        at = rng.randrange(len(buf))
        op = rng.randrange(7)
        if op == 0:
            buf[at] = rng.randrange(256)
        elif op == 1:
            del buf[at:at + rng.randint(1, 64)]
        elif op == 2:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3:
            end = min(len(buf), at + rng.randint(1, 200))
            buf[at:at] = buf[at:end]
        elif op == 4:
            del buf[at:]
        elif op == 5:
            buf[at:at] = rng.choice(HOSTILE_RAW)
        else:
            buf[at:at] = rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"null", b"-1",
                                     b"1e999", b"\\u0000", b"\\ud800", b"\r\n--", b"=?utf-8?b?",
                                     b"\x1f\x8b", b"\n\nFrom ", b"\x00"])
    return bytes(buf)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


def _hostile_value(rng: random.Random, raws: list[bytes]) -> Any:
    pick = rng.randrange(4)
    if pick == 0:
        return rng.choice(HOSTILE_STRINGS)
    if pick == 1:
        raws.append(rng.choice(HOSTILE_RAW))
        return f"\x01RAW{len(raws) - 1}\x01"
    if pick == 2:
        return list(rng.choice(POLICY_STRINGS))
    return copy.deepcopy(rng.choice([2**63, 2**64, -1, 2**63 - 1, 2**62, [{}] * rng.randint(1, 9),
                       {"\ud800": "\x00"}, {"x\x00": [1, "\udfff"]}]))


def mutate_json(doc: Any, rng: random.Random) -> bytes:
    doc = copy.deepcopy(doc)
    raws: list[bytes] = []
    paths = _paths(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        target = doc
        try:
            for step in path[:-1]:
                target = target[step]
            if not path:
                continue
            if rng.random() < 0.15 and isinstance(target, dict):
                target[rng.choice(HOSTILE_STRINGS[:6]) + "k"] = _hostile_value(rng, raws)
            elif rng.random() < 0.2 and path[-1] == "policy-string":
                target[path[-1]] = list(rng.choice(POLICY_STRINGS))
                if rng.random() < 0.5:
                    target["policy-type"] = rng.choice(["sts", "tlsa"])
            else:
                target[path[-1]] = _hostile_value(rng, raws)
        except (KeyError, IndexError, TypeError):
            continue
    text = json.dumps(doc).encode()
    return _RAW_MARK.sub(lambda m: raws[int(m.group(1))], text)


def deep_mime(levels: int, rfc822: bool) -> bytes:
    if rfc822:
        body = b"Content-Type: application/json\n\n{}\n"
        for _ in range(levels):
            body = b"Content-Type: message/rfc822\n\n" + body
        return body
    parts = b"".join(f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n".encode()
                     for i in range(levels))
    return b"Content-Type: multipart/mixed; boundary=b0\n\n" + parts + b"--end\n"


def as_mail(payload: bytes, name: str) -> bytes:
    import base64

    body = base64.encodebytes(gzip.compress(payload, mtime=0))
    return (b"From: r@sender.example\nTo: tls@example.com\nSubject: Report Domain: example.com\n"
            b"TLS-Report-Domain: example.com\nTLS-Report-Submitter: sender.example\n"
            b'MIME-Version: 1.0\nContent-Type: multipart/report; report-type="tlsrpt"; '
            b'boundary="B"\n\n--B\nContent-Type: text/plain\n\nA report.\n--B\n'
            b'Content-Type: application/tlsrpt+gzip\nContent-Transfer-Encoding: base64\n'
            b'Content-Disposition: attachment; filename="' + name.encode("utf-8", "replace")
            + b'"\n\n' + body + b"--B--\n")


def as_zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name.encode("utf-8", "replace").decode("utf-8"), data)
    return buffer.getvalue()


def _json_docs() -> list[Any]:
    docs = []
    for path in SEED_FILES:
        data = path.read_bytes()
        if data.startswith(b"\x1f\x8b"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                continue
        try:
            doc = json.loads(data.removeprefix(b"\xef\xbb\xbf"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict | list):
            docs.append(doc)
    return docs


class Inputs:
    """A seeded, endless source of hostile inputs: (data, source, filename)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.files = [(p.name, p.read_bytes()) for p in SEED_FILES if p.is_file()]
        self.docs = _json_docs()

    def next(self, number: int) -> tuple[bytes, str, str | None]:
        rng = self.rng
        name, original = rng.choice(self.files)
        op = rng.random()
        if op < 0.35:
            data = mutate_bytes(original, rng)
        elif op < 0.8:
            data, name = mutate_json(rng.choice(self.docs), rng), "json"
        elif op < 0.85:
            data, name = deep_mime(rng.choice([25, 200, 1200]), rng.random() < 0.5), "mime"
        elif op < 0.87:
            data = (b"From a@b Mon Jan  1 00:00:00 2024\n\n" + original + b"\n\nFrom "
                    + b"a" * rng.choice([100, 2000, 6000]) + b"\n\n" + original)
            name = "mbox"
        elif op < 0.88:
            rows = b",".join([b"{}"] * rng.choice([100, 12_000]))
            data = (b'{"organization-name":"o","report-id":"r","date-range":{"start-datetime":'
                    b'"2024-01-01T00:00:00Z","end-datetime":"2024-01-01T23:59:59Z"},"policies":'
                    b'[{"policy":{"policy-type":"no-policy-found"},"summary":{'
                    b'"total-successful-session-count":0,"total-failure-session-count":0},'
                    b'"failure-details":[' + rows + b"]}]}")
            name = "rows"
        elif op < 0.91:
            data = self._reshaped(rng)
            name = "reshaped"
        else:
            data = mutate_json(rng.choice(self.docs), rng)
            wrap = rng.randrange(3)
            if wrap == 0:
                data = gzip.compress(data, mtime=0)
            elif wrap == 1:
                data = as_mail(data, rng.choice([*HOSTILE_NAMES, "r.json.gz"]))
            else:
                data = as_zip([(rng.choice([*HOSTILE_NAMES, "a.json"]), data),
                               ("b.json", mutate_json(rng.choice(self.docs), rng))])
            name = "wrapped"
        filename = rng.choice(HOSTILE_NAMES) if rng.random() < 0.05 else name
        return data, f"{name}~{number}", filename


    def _reshaped(self, rng: random.Random) -> bytes:
        """Hostile JSON in another shape: UTF-16, an array of reports, bare base64, a mail
        whose headers are hostile too."""
        data = mutate_json(rng.choice(self.docs), rng)
        shape = rng.randrange(4)
        if shape == 0:
            return data.decode("ascii", "replace").encode(rng.choice(["utf-16", "utf-16-le"]))
        if shape == 1:
            return b"[" + data + b"," + mutate_json(rng.choice(self.docs), rng) + b"]"
        if shape == 2:
            import base64

            return base64.encodebytes(gzip.compress(data, mtime=0))
        header = rng.choice([b"Subject: Report Domain: ex\x00ample.com Report-ID: <\xff\xfe>\n",
                             b"TLS-Report-Domain: \x00\n", b"TLS-Report-Submitter: \xed\xa0\x80\n",
                             b"Subject: =?utf-8?b?AAAA?=\n"])
        return header + as_mail(data, rng.choice([*HOSTILE_NAMES, "r\x00.json.gz"]))


# --- the checks --------------------------------------------------------------------------------

_FAILURE = re.compile(r"\((\w+): ")


def check_encodes(result: InputResult) -> None:
    """The `parse --json` entry must be valid JSON (RFC 8259: no lone surrogates)."""
    entry = encode_entry(result).json
    json.loads(entry.decode("utf-8"))


def campaign(inputs: int, seed: int = 1, store: Store | None = None,
             deadline: float = 600.0, batch: int = 25,
             on_input: Callable[[bytes, InputResult], None] | None = None) -> Tally:
    tally = Tally()
    source = Inputs(seed)
    pending: list[Arrival] = []
    started = time.monotonic()
    for number in range(inputs):
        if time.monotonic() - started > deadline:
            break
        data, name, filename = source.next(number)
        tally.inputs += 1
        began = time.monotonic()
        try:
            result = read_input(data, name, filename=filename)
        except Exception as exc:  # loop guard: the campaign counts what escapes
            tally.note("escaped", type(exc).__name__, name)
            continue
        spent = time.monotonic() - began
        if spent > tally.slowest[0]:
            tally.slowest = (spent, name)
        if result.outcome is Outcome.ACCEPTED:
            tally.accepted += 1
        elif result.outcome is Outcome.REJECTED:
            tally.rejected += 1
        for finding in result.errors:
            if finding.code == "reader_failure":
                found = _FAILURE.search(finding.message)
                tally.note("reader_failure", found.group(1) if found else "?", name)
        try:
            check_encodes(result)
        except Exception as exc:  # loop guard: counted by class
            tally.note("unencodable", type(exc).__name__, name)
        if on_input is not None:
            on_input(data, result)
        if store is not None:
            digest = hashlib.sha256(data).hexdigest()
            pending.append(Arrival(digest, name, data, dt.datetime.now(dt.UTC), result))
            if len(pending) >= batch:
                _store(store, pending, tally)
                pending = []
    if store is not None and pending:
        _store(store, pending, tally)
    tally.seconds = time.monotonic() - started
    return tally


def _store(store: Store, arrivals: list[Arrival], tally: Tally) -> None:
    try:
        store.save(arrivals)
        return
    except Exception:  # loop guard: find which input of the batch failed, one by one
        pass
    for arrival in arrivals:
        try:
            store.save([arrival])
        except Exception as exc:  # loop guard: counted by class
            tally.note("unstorable", type(exc).__name__, arrival.source)


if __name__ == "__main__":
    import tempfile

    words = [w for w in sys.argv[1:] if not w.startswith("--")]
    count = int(words[0]) if words else 5000
    url = words[1] if len(words) > 1 else None
    with tempfile.TemporaryDirectory() as folder:
        opened = Store.open(url or f"sqlite:///{folder}/fuzz.db")
        try:
            print(campaign(count, seed=int(time.time()) if "--random" in sys.argv else 1,
                           store=opened).summary())
        finally:
            opened.close()
