"""What several test modules share (helpers, not tests)."""
