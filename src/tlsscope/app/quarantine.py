"""Rejected inputs (admins): listed with their reasons, their bytes, and read again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple

from tlsscope.app.scope import Scope
from tlsscope.errors import NotFound
from tlsscope.parse.reader import read_input
from tlsscope.settings import Settings
from tlsscope.store import Store, inputs, queries, write
from tlsscope.store.models import StoredInput


def held(store: Store, scope: Scope) -> list[StoredInput]:
    scope.require_admin()
    return store.read(queries.quarantine)


def raw(store: Store, scope: Scope, digest: str) -> bytes:
    """A rejected input byte for byte; `NotFound` when it is not in the quarantine, or when
    its bytes were dropped to keep its sender within the quarantine's budget."""
    scope.require_admin()
    data = _raw(store, digest) if digest in {i.sha256 for i in held(store, scope)} else None
    if data is None:
        raise NotFound()
    return data


def _raw(store: Store, digest: str) -> bytes | None:
    stored = store.read(queries.raw_input, digest)
    return None if stored is None else write.unpack(*stored)


def every_one(store: Store, scope: Scope) -> Iterator[tuple[StoredInput, bytes | None]]:
    """Each rejected input with its bytes (None: dropped), for an export."""
    for each in held(store, scope):
        yield each, _raw(store, each.sha256)


def reingest(store: Store, settings: Settings, scope: Scope, digest: str) -> str:
    """Read one quarantined input again: "accepted" or "still_rejected"; `NotFound` when it
    is not there (or has no bytes left)."""
    data = raw(store, scope, digest)
    source = next(i.source for i in held(store, scope) if i.sha256 == digest)
    saved = store.reread(digest, read_input(data, source, settings=settings,
                                            filename=os.path.basename(source)))
    return "still_rejected" if saved.outcome.value == "rejected" else "accepted"


class Reread(NamedTuple):
    inputs: int
    reports_added: int
    verdicts_changed: int
    still_rejected: int


def reingest_all(store: Store, settings: Settings, scope: Scope) -> Reread:
    """Read every stored input again with this reader; add what it now finds, duplicate
    nothing."""
    scope.require_admin()
    before = {each.sha256 for each in held(store, scope)}
    changed = added = inputs = 0
    for digest, source, data in _inputs(store):
        inputs += 1
        saved = store.reread(digest, read_input(data, source, settings=settings,
                                                filename=os.path.basename(source)))
        added += saved.stored
        changed += (digest in before) != (saved.outcome.value == "rejected")
    return Reread(inputs, added, changed, len(held(store, scope)))


def _inputs(store: Store) -> Iterator[tuple[str, str, bytes]]:
    """Every stored input as (sha256, source, bytes), oldest first (not the junk whose bytes
    were dropped: there is nothing to read again)."""
    for digest in store.read(inputs.digests):
        row = store.read(inputs.packed, digest)
        data = write.unpack(row[1], row[2]) if row is not None else None
        if row is not None and data is not None:
            yield digest, row[0], data
