"""One step's result of a live check (defined in tlsscope/live_check.py), and
the step of a lookup that got no answer."""

from __future__ import annotations

from tlsscope.live_check import ERROR, INCONCLUSIVE, OK, WARNING, LiveCheck, Step, worst
from tlsscope.probe.dns import Answer

__all__ = ["ERROR", "INCONCLUSIVE", "OK", "WARNING", "LiveCheck", "Step", "no_answer", "worst"]


def no_answer(step: str, target: str, what: str, answer: Answer, host: str = "",
              details: list[str] | None = None) -> Step:
    """An inconclusive step: the lookup of `what` ("MX of example.com") failed, so nothing
    is known about those records, and nothing is advised about them."""
    return Step(step=step, target=target, status=INCONCLUSIVE, host=host,
                line=f"Could not look up {what}: {answer.reason or 'no answer'}.",
                details=details or [])
