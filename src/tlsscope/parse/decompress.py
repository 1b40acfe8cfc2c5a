"""gzip and zip with size caps (the bomb guard), checked before the memory is spent.

gzip is inflated in bounded steps: output never grows past the cap, whatever the stream
claims. Concatenated members (RFC 1952 §2.2) are all read; stray bytes after the last member
(a mail gateway's CRLF) are ignored with a warning. zip members are checked against the cap by
their declared size and again while they are read, since a header can lie.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import NamedTuple

from tlsscope.errors import DecompressError, SizeLimitError
from tlsscope.findings import Finding, warning

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 256 * 1024


class Inflated(NamedTuple):
    data: bytes
    warnings: list[Finding]


def gunzip(data: bytes, cap: int) -> Inflated:
    out = bytearray()
    warnings: list[Finding] = []
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, cap + 1 - len(out))
            while inflater.unconsumed_tail and len(out) <= cap:
                out += inflater.decompress(inflater.unconsumed_tail, cap + 1 - len(out))
        except zlib.error as exc:
            raise DecompressError(f"corrupt gzip data: {exc}", f"byte {len(data) - len(rest)}",
                                  code="corrupt_gzip") from None
        if len(out) > cap:
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
    return Inflated(bytes(out), warnings)


class Member(NamedTuple):
    name: str
    data: bytes


def unzip(data: bytes, cap: int, max_members: int) -> list[Member]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError) as exc:
        raise DecompressError(f"corrupt or unsupported zip archive: {exc}",
                              code="corrupt_zip") from None
    members: list[Member] = []
    with archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
        if len(files) > max_members:
            raise SizeLimitError(f"zip archive has {len(files)} members, more than "
                                 f"{max_members}", code="too_many_members")
        for info in files:
            members.append(Member(info.filename, _read_member(archive, info, cap)))
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    where = f"zip member {info.filename!r}"
    if info.flag_bits & 0x1:
        raise DecompressError("zip member is encrypted", where, code="encrypted_zip")
    if info.file_size > cap:
        raise SizeLimitError(f"zip member declares {info.file_size:,} bytes, more than the "
                             f"cap of {cap:,}", where, code="decompressed_too_large")
    buffer = bytearray()
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(min(_CHUNK, cap + 1 - len(buffer))):
                buffer += chunk
                if len(buffer) > cap:
                    raise SizeLimitError(f"zip member inflates to more than {cap:,} bytes",
                                         where, code="decompressed_too_large")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            ValueError) as exc:
        raise DecompressError(f"corrupt zip member: {exc}", where, code="corrupt_zip") from None
    return bytes(buffer)
