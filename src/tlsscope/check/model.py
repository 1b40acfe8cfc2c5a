"""One step's result of a live check (defined with the other facts in analyze/live.py)."""

from __future__ import annotations

from tlsscope.analyze.live import ERROR, OK, WARNING, LiveCheck, Step, worst

__all__ = ["ERROR", "OK", "WARNING", "LiveCheck", "Step", "worst"]
