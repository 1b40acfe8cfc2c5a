"""gzip and zip with size caps (the bomb guard), checked before the memory is spent.

Two caps: each gzip stream or zip member inflates to `cap` bytes at most, and everything one
input inflates to, across all its members and layers (a zip of gzips of zips), draws on one
`Budget`. gzip is inflated in bounded steps: output never grows past what is allowed, whatever
the stream claims. Concatenated members (RFC 1952 §2.2) are all read; stray bytes after the
last member (a mail gateway's CRLF) are ignored with a warning. zip members are checked
against both caps by their declared sizes (all of them, before any is inflated) and again
while they are read, since a header can lie; they are read one at a time, as the reader asks.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from tlsscope.errors import DecompressError, SizeLimitError
from tlsscope.notes import Note, warning

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 256 * 1024


class BudgetExceeded(SizeLimitError):
    """The input as a whole inflates past its budget: nothing more of it is read."""

    code = "decompressed_budget_exceeded"


class Budget:
    """What is left of one input's decompressed budget (max_total_decompressed_bytes)."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = self.left = limit

    def spend(self, size: int) -> None:
        self.left -= size

    def exceeded(self, what: str = "inflates to more than") -> BudgetExceeded:
        return BudgetExceeded(f"the input {what} {self.limit:,} bytes across all its members "
                              "and layers (max_total_decompressed_bytes); not read further")


class Inflated(NamedTuple):
    data: bytes
    warnings: list[Note]


def gunzip(data: bytes, cap: int, budget: Budget | None = None) -> Inflated:
    budget = budget or Budget(cap)
    limit = min(cap, budget.left)
    out = bytearray()
    warnings: list[Note] = []
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
            while inflater.unconsumed_tail and len(out) <= limit:
                out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
        except zlib.error as exc:
            raise DecompressError(f"corrupt gzip data: {exc}", f"byte {len(data) - len(rest)}",
                                  code="corrupt_gzip") from None
        if len(out) > limit:
            if limit < cap:
                raise budget.exceeded()
            raise SizeLimitError(f"gzip data inflates to more than {cap:,} bytes (the size cap)",
                                 code="decompressed_too_large")
        if not inflater.eof:
            raise DecompressError(f"gzip data is truncated: the stream ends after {len(data):,} "
                                  f"bytes, {len(out):,} bytes inflated", code="truncated_gzip")
        rest = inflater.unused_data
        if not rest.startswith(GZIP_MAGIC):
            break
    if rest:
        warnings.append(warning("trailing_bytes", f"{len(rest)} stray bytes after the gzip "
                                "stream ignored", f"byte {len(data) - len(rest)}"))
    budget.spend(len(out))
    return Inflated(bytes(out), warnings)


class Member(NamedTuple):
    name: str
    data: bytes


def unzip(data: bytes, cap: int, max_members: int,
          budget: Budget | None = None) -> Iterator[Member]:
    """The members of a zip archive, one at a time: a member is inflated when asked for."""
    budget = budget or Budget(cap * max_members)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError) as exc:
        raise DecompressError(f"corrupt or unsupported zip archive: {exc}",
                              code="corrupt_zip") from None
    with archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
        if len(files) > max_members:
            raise SizeLimitError(f"zip archive has {len(files)} members, more than "
                                 f"{max_members}", code="too_many_members")
        if sum(info.file_size for info in files) > budget.left:
            raise budget.exceeded("has zip members that declare more than")
        for info in files:
            yield Member(info.filename, _read_member(archive, info, cap, budget))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int,
                 budget: Budget) -> bytes:
    where = f"zip member {info.filename!r}"
    if info.flag_bits & 0x1:
        raise DecompressError("zip member is encrypted", where, code="encrypted_zip")
    if info.file_size > cap:
        raise SizeLimitError(f"zip member declares {info.file_size:,} bytes, more than the "
                             f"cap of {cap:,}", where, code="decompressed_too_large")
    limit = min(cap, budget.left)
    buffer = bytearray()
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(min(_CHUNK, limit + 1 - len(buffer))):
                buffer += chunk
                if len(buffer) > limit:
                    if limit < cap:
                        raise budget.exceeded()
                    raise SizeLimitError(f"zip member inflates to more than {cap:,} bytes",
                                         where, code="decompressed_too_large")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            ValueError) as exc:
        raise DecompressError(f"corrupt zip member: {exc}", where, code="corrupt_zip") from None
    budget.spend(len(buffer))
    return bytes(buffer)
