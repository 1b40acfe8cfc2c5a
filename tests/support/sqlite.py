"""SQLite stores for tests, migrated once: a session makes one migrated store file
(`migrated`), and each test's store starts as a copy of it (`copy`), as if freshly migrated,
for 3 ms instead of 0.1 s."""

from __future__ import annotations

import shutil
from pathlib import Path

from tlsscope.store import Store


def migrated(folder: Path) -> Path:
    """A store file in `folder` with every migration applied (and closed: no WAL left)."""
    path = folder / "tlsscope.db"
    Store.open(f"sqlite:///{path}").close()
    return path


def copy(migrated: Path, folder: Path) -> str:
    """The URL of a copy of `migrated` in `folder`, tlsscope.db as the fixtures name it."""
    path = folder / "tlsscope.db"
    for suffix in ("", "-wal", "-shm"):  # closing checkpoints the WAL; copy it if not
        source = migrated.with_name(migrated.name + suffix)
        if source.exists():
            shutil.copyfile(source, path.with_name(path.name + suffix))
    return f"sqlite:///{path}"
