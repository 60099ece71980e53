"""A shop's folder: its ledger opened with faults in words, files kept private, written whole or not at all.

The parts of a shop are put together in ``lovemart.bootstrap``; this module holds what they share about the
folder itself: ``open_checked`` (a damaged ledger, a full disk or a read-only folder become refusals a
shopkeeper can act on), the modes that keep the passbook key and the tokens this user's only,
``replace_file`` (a synced temporary file renamed over the old one) and the secrets kept in files of their own.
SQLAlchemy is imported when a ledger is opened, so ``lovemart server`` or ``lovemart --help`` never pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.storage import SqlLedgerStore


def open_checked(path: Path) -> SqlLedgerStore:
    """Open a ledger file, turning a damaged file, a full disk or a read-only folder into a refusal a
    shopkeeper can act on. The folder and the file are made (or tightened to) this user's only first: the
    ledger holds the township's passbook key, and whoever reads it can forge passbooks."""
    from ledger.storage import DatabaseFailure as DBAPIError
    from ledger.storage import open_ledger

    try:
        make_private(path)
        return open_ledger(path)
    except (DBAPIError, OSError) as exc:
        refusal = local_fault(exc, path.parent)
        if refusal is None:
            raise
        raise refusal from exc


# ----- the shop's folder: private, and its faults in words -------------------------------------------------

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
LEDGER_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private(ledger: Path) -> None:
    """Create the ledger's folder (0700) and an empty ledger file (0600) if missing, and tighten them when
    they are wider. SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, so making
    the file first is what keeps them private too; existing ones are tightened as well.

    Tightening is best effort: a folder owned by someone else stays as it is, and ``lovemart doctor``
    says so.
    """
    import os

    folder = ledger.parent
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(folder, PRIVATE_DIR)
    if not ledger.exists():
        os.close(os.open(ledger, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for candidate in [ledger] + [Path(str(ledger) + suffix) for suffix in LEDGER_SIDE_FILES]:
        if candidate.exists():
            _tighten(candidate, PRIVATE_FILE)


def make_owner_only(path: Path) -> None:
    """Tighten a file that holds a secret (or a hash of one) to this user's only, if it is wider."""
    _tighten(path, PRIVATE_FILE)


def _shared_dirs() -> set[Path]:
    return {Path("/"), Path.home().resolve(), Path("/srv"), Path("/var/lib"), Path("/opt")}


def _tighten(path: Path, mode: int) -> None:
    import os
    import stat

    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode) and (info.st_mode & stat.S_ISVTX or path.resolve() in _shared_dirs()):
            return  # /tmp, /, a home folder: shared by design, never ours to close (doctor still says so)
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
            os.chmod(path, stat.S_IMODE(info.st_mode) & mode)
    except OSError:
        pass  # not ours to change, or a read-only disk: opening goes on, doctor reports it


def local_fault(exc: BaseException, folder: Path) -> LedgerError | None:
    """The refusal for a failure of this PC itself (full disk, read-only or forbidden folder, a ledger file
    that will not open), or None when ``exc`` is something else.

    SQLite says only "unable to open database file" or "attempt to write a readonly database" for
    several causes, so the folder is looked at to say which one it is.
    """
    import errno

    from ledger.storage import DatabaseFailure as DBAPIError
    from ledger.storage import translate_db_error

    if isinstance(exc, LedgerError):
        return exc
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return LedgerError("disk_full")
        if exc.errno == errno.EROFS:
            return LedgerError("home_readonly", path=str(folder))
        if exc.errno in (errno.EACCES, errno.EPERM):
            return LedgerError("home_no_access", path=str(exc.filename or folder))
        return None
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig).lower()
    if "readonly database" in text:
        return _folder_fault(folder) or LedgerError("ledger_readonly")
    if "unable to open database file" in text:
        return _folder_fault(folder) or LedgerError("ledger_unopenable", path=str(folder))
    return translate_db_error(exc)


def _folder_fault(folder: Path) -> LedgerError | None:
    """Why nothing can be written in ``folder``: a read-only mount, no permission, or None if neither."""
    import os

    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        if os.statvfs(probe).f_flag & os.ST_RDONLY:
            return LedgerError("home_readonly", path=str(folder))
    except OSError:
        return None
    if not os.access(probe, os.W_OK | os.X_OK):
        return LedgerError("home_no_access", path=str(folder))
    return None


def read_secret(path: Path) -> str | None:
    """A token kept in a file of its own (``write_secret``), or None when there is none."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def write_secret(path: Path, secret: str) -> None:
    """Write a token readable by this user only, whole or not at all (a half-written token locks a shop
    out, and a token cannot be asked for again). Never in ``lovemart.toml``, which people copy and show."""
    replace_file(path, (secret + "\n").encode("ascii"), mode=0o600)


def replace_file(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` whole or not at all (a temporary file beside it, synced, then renamed over it), so a
    full disk or a crash never leaves half a file. ``mode`` is set before a byte is written."""
    import os
    import stat
    import tempfile

    try:
        existing = path.stat().st_mode
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing):
        # A device or a pipe (/dev/usb/lp0, /dev/full): written to, never renamed over. Run as root, a
        # rename would silently put a plain file where the device was.
        with path.open("wb") as f:
            f.write(data)
            f.flush()
        return
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
