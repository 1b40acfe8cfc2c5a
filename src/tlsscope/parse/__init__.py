"""Reading: bytes → `Report`s plus findings. Pure: no network, no database.

    envelope     what is this blob? json / gzip / zip / mail / mbox (magic bytes, not names)
    decompress   gzip and zip with size caps (the bomb guard)
    mime         the report parts of a mail, forwarded messages included
    mbox         an mbox split into messages as a stream
    json_report  RFC 8460 JSON → Report (fast path, tolerant path)
    lenient      the tolerant path's repairs; validate: checks both paths share
    crosscheck   headers, Subject and file name against the JSON (warnings)
    reader       one input → InputResult, recursing through containers
    contract     InputResult → the JSON contract of `tlsscope parse --json`
"""

from tlsscope.parse.reader import read_input
from tlsscope.parse.results import DuplicateTracker, InputResult, Outcome, ReadReport

__all__ = ["DuplicateTracker", "InputResult", "Outcome", "ReadReport", "read_input"]
