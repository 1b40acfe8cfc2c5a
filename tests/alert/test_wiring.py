"""Every process that stores findings or checks tells the alert rules: each entry point wires
the outbox (tlsscope.alert.wire) before it opens its store, so no change goes untold."""

from __future__ import annotations

import inspect

from tlsscope import alert, analyst, intake, serve
from tlsscope.app import events
from tlsscope.cli import app as cli_app


def test_wire_subscribes_once_and_unwire_takes_it_away() -> None:
    alert.wire()
    alert.wire()
    assert events._finding_subscribers.count(alert._finding_changed) == 1
    assert events._check_subscribers.count(alert._check_done) == 1
    alert.unwire()
    assert alert._finding_changed not in events._finding_subscribers
    alert.wire()  # the autouse fixture unwires after the test


def test_each_writing_entry_point_wires_before_it_opens_its_store() -> None:
    for function in (analyst._analyst_main, intake._writer_main, serve.serve,
                     cli_app.open_store):
        source = inspect.getsource(function)
        assert "alert.wire()" in source, function.__qualname__
        assert source.index("alert.wire()") < max(source.find("Store.open("),
                                                  source.find("first_admin(")), function
