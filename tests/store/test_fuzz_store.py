"""The fuzz campaign (tests/support/fuzzing.py) stored on both databases: whatever the reader
makes of a hostile input, accepted or rejected, the store takes it. PostgreSQL refuses NUL in
text, which SQLite keeps; before the fixes, 8 of 3,000 inputs failed there alone."""

from __future__ import annotations

import pytest

from tests.support import reads
from tests.support.fuzzing import campaign
from tlsscope.store import Store


@pytest.mark.slow
def test_every_fuzzed_result_is_stored(store: Store) -> None:
    tally = campaign(inputs=4_000, seed=8460, store=store, deadline=30)
    assert tally.inputs >= 1_000, tally.summary()
    assert tally.clean, tally.summary()
    assert reads.quarantine(store), "rejected inputs are kept too"
