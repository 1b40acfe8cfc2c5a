"""Read many inputs, on several cores when there are many, always in input order.

Files are handed to worker processes in chunks by path (a worker reads the file itself and
applies `transform`, e.g. encoding the JSON contract, so the parent only writes); results come
back in order, with a bounded number of chunks in flight so memory stays flat. Small batches,
stdin and mbox files are read in this process: an mbox is a stream, split here message by
message, whatever its size.
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from tlsscope.notes import error
from tlsscope.parent import exit_with_parent
from tlsscope.parse.reader import read_input
from tlsscope.parse.results import InputResult
from tlsscope.receive.files import RawInput, expand, iter_inputs
from tlsscope.settings import Settings

if TYPE_CHECKING:
    from concurrent.futures import Future

CHUNK = 48  # inputs per task: enough to amortise the hand-over between processes
IN_FLIGHT = 8  # chunks queued per worker at most
PARALLEL_FROM = 2 * CHUNK  # fewer files than this are read in this process
# A worker's answer meaning "this file is an mbox: stream it in the parent". Compared by value:
# it crosses a process boundary, so it is not the same object on the way back.
_MBOX = "\x00tlsscope:mbox"

T = TypeVar("T")
_settings = Settings()
_transform: Callable[[InputResult], Any] = lambda result: result  # noqa: E731


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def read_raw(raw: RawInput, settings: Settings) -> InputResult:
    if raw.data is None:
        problem = error("unreadable_input", raw.problem or "unreadable")
        return InputResult(source=raw.source, errors=[problem])
    return read_input(raw.data, raw.source, settings=settings, filename=raw.filename)


def keep(result: InputResult) -> InputResult:
    return result


def read_all(paths: Iterable[str], settings: Settings, jobs: int,
             transform: Callable[[InputResult], T]) -> Iterator[T]:
    """Every input's result, passed through `transform` (a module-level function)."""
    files = list(expand(paths))
    if jobs <= 1 or len(files) < PARALLEL_FROM or "-" in files:
        for raw in iter_inputs(files, settings.max_input_bytes):
            yield transform(read_raw(raw, settings))
        return
    import multiprocessing  # here: reading one file (the common case) needs neither
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    gc.freeze()  # objects made so far are shared with the workers: keep the collector off them
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init,
                             initargs=(settings, transform)) as pool:
        window: deque[tuple[list[str], Future[list[Any]]]] = deque()
        for start in range(0, len(files), CHUNK):
            chunk = files[start:start + CHUNK]
            window.append((chunk, pool.submit(_read_chunk, chunk)))
            if len(window) >= IN_FLIGHT * jobs:
                yield from _collect(*window.popleft(), settings, transform)
        while window:
            yield from _collect(*window.popleft(), settings, transform)


def _collect(chunk: list[str], done: Future[list[Any]], settings: Settings,
             transform: Callable[[InputResult], T]) -> Iterator[T]:
    for path, result in zip(chunk, done.result(), strict=True):
        if isinstance(result, str) and result == _MBOX:
            for raw in iter_inputs([path], settings.max_input_bytes):
                yield transform(read_raw(raw, settings))
        else:
            yield result


def _init(settings: Settings, transform: Callable[[InputResult], Any]) -> None:
    global _settings, _transform
    _settings, _transform = settings, transform
    gc.disable()  # a short-lived reader: report objects form no cycles worth collecting
    exit_with_parent()


def _read_chunk(paths: list[str]) -> list[Any]:
    """In a worker: read each file, transform its result; in order."""
    results: list[Any] = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read(_settings.max_input_bytes + 1)
        except OSError as exc:
            raw = RawInput(path, None, problem=f"cannot read: {exc.strerror or exc}")
            results.append(_transform(read_raw(raw, _settings)))
            continue
        if data.startswith(b"From "):
            results.append(_MBOX)
        elif len(data) > _settings.max_input_bytes:
            raw = RawInput(path, None, problem=f"input is more than the cap of "
                           f"{_settings.max_input_bytes:,} bytes")
            results.append(_transform(read_raw(raw, _settings)))
        else:
            results.append(_transform(read_input(data, path, settings=_settings,
                                                 filename=os.path.basename(path))))
    return results
