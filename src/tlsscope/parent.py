"""Worker processes that end with their parent.

A pool's workers (`ingest --jobs`, `parse --jobs`) wait on a queue whose other end their
siblings also hold: when the parent is killed (kill -9, the OOM killer) they never see
end-of-file and would wait for ever. Each worker watches its parent instead.
"""

from __future__ import annotations

import os
import threading

POLL_SECONDS = 1.0


def exit_with_parent() -> None:
    """In a worker: exit once the process that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(POLL_SECONDS):
            if os.getppid() != parent:
                os._exit(1)

    stop = threading.Event()
    threading.Thread(target=watch, name="tlsscope-parent-watch", daemon=True).start()
