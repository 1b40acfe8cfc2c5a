"""Rejected inputs (admins): listed with their reasons, their bytes, and read again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple

from tlsscope.app.scope import Scope
from tlsscope.errors import NotFound
from tlsscope.parse.reader import read_input
from tlsscope.settings import Settings
from tlsscope.store import Store, inputs, queries
from tlsscope.store.models import StoredInput


def held(store: Store, scope: Scope) -> list[StoredInput]:
    scope.require_admin()
    return store.read(queries.quarantine)


def raw(store: Store, scope: Scope, digest: str) -> bytes:
    """A rejected input byte for byte; `NotFound` when it is not in the quarantine, or when
    its bytes were dropped to keep its sender within the quarantine's budget."""
    return _held_bytes(store, scope, digest)[1]


def _held_bytes(store: Store, scope: Scope, digest: str) -> tuple[str, bytes]:
    """(source, bytes) of a quarantined input that still has its bytes."""
    found = (store.read(inputs.stored, digest)
             if digest in {i.sha256 for i in held(store, scope)} else None)
    if found is None or found[1] is None:
        raise NotFound()
    return found[0], found[1]


def every_one(store: Store, scope: Scope) -> Iterator[tuple[StoredInput, bytes | None]]:
    """Each rejected input with its bytes (None: dropped), for an export."""
    for each in held(store, scope):
        found = store.read(inputs.stored, each.sha256)
        yield each, found[1] if found is not None else None


def reingest(store: Store, settings: Settings, scope: Scope, digest: str) -> str:
    """Read one quarantined input again: "accepted" or "still_rejected"; `NotFound` when it
    is not there (or has no bytes left)."""
    source, data = _held_bytes(store, scope, digest)
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
    for digest, source, data in stored_inputs(store):
        inputs += 1
        saved = store.reread(digest, read_input(data, source, settings=settings,
                                                filename=os.path.basename(source)))
        added += saved.stored
        changed += (digest in before) != (saved.outcome.value == "rejected")
    return Reread(inputs, added, changed, len(held(store, scope)))


def stored_inputs(store: Store) -> Iterator[tuple[str, str, bytes]]:
    """Every stored input as (sha256, source, bytes), oldest first (not the junk whose bytes
    were dropped: there is nothing to read again)."""
    for digest in store.read(inputs.digests):
        found = store.read(inputs.stored, digest)
        if found is not None and found[1] is not None:
            yield digest, found[0], found[1]
