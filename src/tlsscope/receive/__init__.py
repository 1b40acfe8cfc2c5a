"""Arrival: the world becomes `RawInput`s (bytes, where they came from, when)."""
