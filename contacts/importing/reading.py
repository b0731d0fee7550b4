"""Reading and cleaning a file in batches, beside the work that writes them (PRODUCT I6).

Cleaning a row (email, phone, country, custom fields…) is pure Python, and so is planning and
writing a batch: in one process they take turns on the interpreter. A large file is therefore
read and cleaned by a second process (reader_process.py), which needs no database, while this
one plans and writes; the batches come back pickled through a pipe, about one batch ahead.
A small file is read in a thread instead (a process costs about a second to start).

Batches are cut every `batch_size` data rows of the file, whatever the process, so a resumed
run finds the same batches again.
"""

import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from contacts.importing.rows import CleanRow, RowCleaner, RowInvalid
from contacts.importing.sources import SourceError, SourceInfo, source_rows

Batch = tuple[list[CleanRow], list[RowInvalid], int]  # valid rows, invalid rows, rows read
PROCESS_ABOVE_BYTES = 4 * 1024 * 1024


def batches_read(path: Path, info: SourceInfo, cleaner: RowCleaner, batch_size: int):
    """(valid rows, invalid rows, data rows read) per `batch_size` data rows of the file."""
    valid: list[CleanRow] = []
    invalid: list[RowInvalid] = []
    count = 0
    for row_number, values in source_rows(path, info):
        try:
            valid.append(cleaner.clean(row_number, values))
        except RowInvalid as error:
            invalid.append(error)
        count += 1
        if count == batch_size:
            yield valid, invalid, count
            valid, invalid, count = [], [], 0
    if count:
        yield valid, invalid, count


def cleaned_batches(
    path: Path, info: SourceInfo, cleaner_args: dict[str, Any], batch_size: int
) -> Iterator[Batch]:
    """The file's batches, read and cleaned ahead of the caller (see the module's doc)."""
    if path.stat().st_size < PROCESS_ABOVE_BYTES:
        cleaner = RowCleaner.from_args(cleaner_args)
        return read_ahead(batches_read(path, info, cleaner, batch_size))
    return _from_process(path, info, cleaner_args, batch_size)


# In a thread ----------------------------------------------------------------------------------


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


_THREAD_END = object()


def read_ahead(items: Iterator, depth: int = 1) -> Iterator:
    """The items of `items`, produced by a thread up to `depth` items ahead of the consumer.

    An error in the producer is raised in the consumer; a consumer that stops early stops
    the producer.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_THREAD_END)
        except BaseException as error:  # handed to the consumer, which raises it
            put(_Raised(error))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    thread = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _THREAD_END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


# In a process ---------------------------------------------------------------------------------


def _from_process(
    path: Path, info: SourceInfo, cleaner_args: dict[str, Any], batch_size: int
) -> Iterator[Batch]:
    process = subprocess.Popen(
        [sys.executable, "-m", "contacts.importing.reader_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=settings.BASE_DIR,
    )
    try:
        args = {"path": str(path), "info": info.as_json(), "cleaner": cleaner_args}
        pickle.dump({**args, "batch_size": batch_size}, process.stdin)
        process.stdin.close()
        while True:
            try:
                kind, payload = pickle.load(process.stdout)
            except EOFError:
                process.wait()
                raise RuntimeError(
                    f"The process reading the file stopped (exit code {process.returncode})."
                ) from None
            if kind == "end":
                return
            if kind == "source_error":
                raise SourceError(payload)
            if kind == "crash":
                raise RuntimeError(f"Reading the file failed:\n{payload}")
            rows, problems, count = payload
            valid = [CleanRow(*row) for row in rows]
            yield valid, [RowInvalid(*problem) for problem in problems], count
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
