"""The composition root: turns a shop's home folder into real, wired parts.

Everything that touches the outside world is created here and handed to the services, so that the
apps and the command line never reach for storage or devices themselves. Heavy parts (storage,
later Kivy and device libraries) are imported when first needed, so ``lovemart server`` or
``lovemart --help`` load none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import LedgerError
from lovemart import settings as settings_mod
from lovemart.lock import PosLock

if TYPE_CHECKING:
    from hardware.printers import EscposPrinterBase
    from ledger.printing import PrintOutcome
    from ledger.storage import SqlLedgerStore


@dataclass
class ShopHome:
    """One shop's home folder: its settings, its ledger, its POS lock."""

    settings: settings_mod.Settings
    _store: SqlLedgerStore | None = field(default=None, repr=False)
    # Tests and the demo hand in a fake printer here; otherwise [printer] in lovemart.toml decides.
    printer_override: EscposPrinterBase | None = field(default=None, repr=False)

    @classmethod
    def at(cls, home: Path) -> ShopHome:
        return cls(settings_mod.load(home))

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def exists(self) -> bool:
        return self.settings.ledger_path.exists()

    def store(self, *, create: bool = False) -> SqlLedgerStore:
        """The shop's ledger; refuses with ``not_configured`` when there is none and ``create`` is false."""
        if self._store is None:
            if not create and not self.exists:
                raise LedgerError("not_configured")
            self._store = open_checked(self.settings.ledger_path)
        return self._store

    def printer_section(self) -> dict[str, object]:
        """``[printer]`` of lovemart.toml, with a relative file path taken from the home folder."""
        section = dict(self.settings.extra.get("printer") or {})
        path = section.get("path")
        if isinstance(path, str) and path and not Path(path).expanduser().is_absolute():
            section["path"] = str(self.home / path)
        return section

    def printer(self) -> EscposPrinterBase:
        """The receipt printer; raises ``HardwareError`` when none is configured or the settings are wrong."""
        if self.printer_override is not None:
            return self.printer_override
        from hardware.printers import printer_from_settings

        return printer_from_settings(self.printer_section())

    def paper_width(self) -> int:
        width = self.settings.extra.get("printer", {}).get("width", 58)
        return 80 if str(width) == "80" else 58

    def print_now(self, txn_id: str) -> PrintOutcome:
        """Print the receipt of a transaction just committed; a printer fault leaves the job pending."""
        from ledger.errors import DeviceFault
        from ledger.printing import PrintOutcome, print_job_of

        store = self.store()
        try:
            printer = self.printer()
        except DeviceFault as fault:
            with store.read() as unit:
                txn = unit.transaction(txn_id)
            return PrintOutcome(txn.receipt_no if txn else txn_id, False, fault)
        return print_job_of(store, txn_id, printer)

    def pos_lock(self) -> PosLock:
        return PosLock(self.settings.lock_path)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def open_checked(path: Path) -> SqlLedgerStore:
    """Open a ledger file, turning a damaged file into a refusal a shopkeeper can act on."""
    from sqlalchemy.exc import DBAPIError

    from ledger.storage import open_ledger
    from ledger.storage.store import translate_db_error

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return open_ledger(path)
    except DBAPIError as exc:
        translated = translate_db_error(exc)
        if translated is None:
            raise
        raise translated from exc


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
    import tempfile

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


def camera_preview(scanners: Sequence[Any]) -> Callable[[], Any] | None:
    """The newest frame of the first scanner that has a camera picture (``CameraScanner.latest_frame``), for
    the apps' mirror (``ui.preview``); None when no scanner has one (a wedge scanner, no camera)."""
    for scanner in scanners:
        latest = getattr(scanner, "latest_frame", None)
        if callable(latest):
            return latest  # type: ignore[no-any-return]
    return None


def camera_device(value: object) -> int | str | None:
    """``camera`` of ``[scanner]``: a device number, a device path, or None for no camera (-1, "none").

    Shared by the POS, the kiosk and ``lovemart doctor``, so one setting means the same camera everywhere.
    """
    if value is None or isinstance(value, bool):
        return None if value in (None, False) else 0
    text = str(value).strip()
    if text.lower() in ("", "none", "off", "no", "false", "-1"):
        return None
    try:
        number = int(text)
    except ValueError:
        return text  # /dev/video2, or a URL OpenCV understands
    return number if number >= 0 else None
