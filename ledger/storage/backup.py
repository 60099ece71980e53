"""Copies of a SQLite ledger made while it is in use, and put in place whole or not at all.

A file copy of a live SQLite database can catch it half written (the WAL not yet checkpointed into the
main file, a page changing under the copy): the copy then fails its integrity check, or worse, passes it
with the last sales missing. SQLite's online backup API copies a consistent snapshot page by page while
the POS goes on selling (``online_backup``).

Every copy is written to ``<name>.partial`` and renamed when complete and flushed to the disk, so a power
cut or a killed process leaves at most a ``.partial`` file (cleared by the next copy), never a backup that
looks whole and is not. The same holds for restoring (``put_in_place``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ledger.errors import LedgerError

PAGES_PER_STEP = 256  # 1 MB a step at 4 KB pages: the POS's writes are held only for a step at a time
Progress = Callable[[int, int, int], object]  # sqlite3's (status, remaining, total) after each step


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def online_backup(source: Path, dest: Path, progress: Progress | None = None) -> Path:
    """Copy the ledger at ``source`` to ``dest`` with SQLite's backup API; ``dest`` appears only when whole.

    Raises ``LedgerError("backup_failed")`` when the source cannot be read or the destination written (a
    full disk, a USB stick pulled out); the ``.partial`` file is removed then.
    """
    partial = partial_of(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove(partial)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            out = sqlite3.connect(partial)
            try:
                src.backup(out, pages=PAGES_PER_STEP, progress=progress)
                # One file, no WAL beside it: the copy is a plain database anyone can open.
                out.execute("PRAGMA journal_mode=DELETE")
            finally:
                out.close()
        finally:
            src.close()
        _flush(partial)
        os.replace(partial, dest)
        _flush_dir(dest.parent)
    except (sqlite3.Error, OSError) as failure:
        _remove(partial)
        raise LedgerError("backup_failed", path=str(dest), detail=str(failure)[:200]) from failure
    return dest


def _remove(partial: Path) -> None:
    """A cut-short copy and the rollback journal SQLite may have left beside it."""
    partial.unlink(missing_ok=True)
    partial.with_name(partial.name + "-journal").unlink(missing_ok=True)


def integrity_problems(path: Path) -> list[str]:
    """SQLite's own check of a database file (pages, indexes); [] when sound. Opens it read-only."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("PRAGMA integrity_check").fetchall()
        finally:
            db.close()
    except sqlite3.Error as failure:
        return [str(failure)]
    found = [str(r[0]) for r in rows]
    return [] if found == ["ok"] else found


def put_in_place(prepared: Path, ledger: Path) -> None:
    """Make ``prepared`` (a checked copy, closed, no WAL) the ledger at ``ledger`` in one rename.

    The ledger must be closed by everyone, and its WAL checkpointed away first: SQLite would otherwise read
    the old WAL into the new file. Before the rename the old ledger is whole; after it, the new one is.
    """
    for suffix in ("-wal", "-shm"):
        leftover = ledger.with_name(ledger.name + suffix)
        if leftover.exists() and leftover.stat().st_size > 0 and suffix == "-wal":
            raise LedgerError("restore_ledger_open", path=str(ledger))
        leftover.unlink(missing_ok=True)
    _flush(prepared)
    os.replace(prepared, ledger)
    _flush_dir(ledger.parent)


def checkpoint(ledger: Path) -> None:
    """Fold the WAL into the ledger file and empty it (the last step before the file is replaced)."""
    try:
        db = sqlite3.connect(ledger)
        try:
            busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            db.close()
    except sqlite3.Error as failure:
        raise LedgerError("restore_ledger_open", path=str(ledger)) from failure
    if busy:
        raise LedgerError("restore_ledger_open", path=str(ledger))


def _flush(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _flush_dir(folder: Path) -> None:
    """The rename itself must reach the disk, or a power cut can bring back the old name."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
