"""A junk flood through the real HTTP intake keeps the sender's quarantine within its budget
(issue 13: 10,000 junk POSTs left 5,938 quarantined rows of up to 10 MB each)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import reads
from tests.support.served import Served, report
from tlsscope.store import Store

pytestmark = pytest.mark.server


def test_a_junk_flood_keeps_only_the_newest_junk_within_the_senders_budget(
        tmp_path: Path) -> None:
    served = Served(tmp_path, TLSSCOPE_QUARANTINE_MB_PER_SOURCE="1")
    try:
        junk = [b"{" + os.urandom(256 * 1024) for _ in range(8)]  # 2 MB from one address
        answers = [served.post_raw(body, "application/tlsrpt+json").status_code
                   for body in junk]
        good = served.post(report("after-the-flood"))
    finally:
        served.stop()
    assert answers == [400] * 8
    assert good.status_code == 201
    with Store.open(served.db) as store:
        held = reads.quarantine(store)
        assert len(held) == 8  # every junk input is listed, with its reasons
        kept = [i for i in held if i.kept]
        assert sum(i.size for i in kept) <= 1024 * 1024
        assert [i.kept for i in held] == [False] * (8 - len(kept)) + [True] * len(kept)
        assert len(kept) == 3
        assert [r.report_id for r in reads.reports(store)] == ["after-the-flood"]
    assert any(line["message"].startswith("quarantine over its budget")
               for line in served.lines())
