"""The composition root: a shop's parts, real or fake, built in one place from its settings.

``shop_parts(home)`` reads ``lovemart.toml`` once (``lovemart.settings``) and gives a ``ShopParts``: the ledger
(opened at first use), the receipt printer, the scanners, the keyboard wedge, the speaker, the sync port and
the clocks. Every program of the shop takes these parts: the ``lovemart`` commands get them as their second
argument, ``lovemart pos`` and ``lovemart kiosk`` build their apps out of them (``lovemart.pos_main``,
``lovemart.kiosk_main``), ``lovemart server`` finds its folder in them. Nothing else opens a ledger, makes a
printer or reads the settings.

``fake_parts(home, ...)`` gives the same set for tests, demos and screenshots: a ``MemoryPrinter``, a
``FakeScanner``, a ``MemorySpeaker``, sync "not connected", and whatever clock or store the caller hands in.

Devices are made when asked for, and their libraries imported then, so ``lovemart server`` or ``lovemart
--help`` load no device library, no Kivy and no SQLAlchemy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ledger.errors import DeviceFault, LedgerError
from ledger.ports import SyncPort, SyncStatus
from lovemart import settings as settings_mod
from lovemart.lock import PosLock
from lovemart.pictures import PictureShelf
from lovemart.settings import MemoryConnection, PrinterConnection, PrinterSection, ScannerSection, Settings

if TYPE_CHECKING:
    from hardware.camera import Frame
    from hardware.printers import Connection, EscposPrinterBase
    from hardware.scanner import OnScan, Scanner
    from hardware.speech import Speaker
    from hardware.wedge import KeyboardWedge
    from ledger.printing import PrintOutcome
    from ledger.storage import SqlLedgerStore

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]
Preview = Callable[[], "Frame | None"]


def local_now() -> datetime:
    return datetime.now().astimezone()


class Ledger:
    """The shop's ledger file, opened at first use and kept open for the process (``ledger()``).

    ``ledger(create=True)`` makes a new one; without it a folder with no ledger is refused with
    ``not_configured``. ``Ledger.of(store)`` wraps a store that is already open (tests), which ``close``
    then leaves to its owner.
    """

    def __init__(self, path: Path, store: SqlLedgerStore | None = None) -> None:
        self.path = path
        self._store = store
        self._owned = store is None

    @classmethod
    def of(cls, store: SqlLedgerStore, path: Path) -> Ledger:
        return cls(path, store)

    @property
    def exists(self) -> bool:
        return self._store is not None or self.path.exists()

    def __call__(self, *, create: bool = False) -> SqlLedgerStore:
        if self._store is None:
            if not create and not self.path.exists():
                raise LedgerError("not_configured")
            from lovemart.wiring import open_checked

            self._store = open_checked(self.path)
        return self._store

    def close(self) -> None:
        if self._store is not None and self._owned:
            self._store.close()
            self._store = None


class AppSync(SyncPort, Protocol):
    """The sync port the apps get: ``lovemart.sync_wiring.HomeSyncPort``, or a fake; closed when the app ends."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Scanners:
    """The scanners an app starts, and why a scanner the settings ask for is missing (said at start)."""

    devices: tuple[Scanner, ...] = ()
    problems: tuple[DeviceFault, ...] = ()
    wanted_camera: bool = False  # the settings name a camera (so its absence is worth a word)

    def preview(self) -> Preview | None:
        """The newest frame of the first scanner that has a camera picture (``CameraScanner.latest_frame``),
        for the apps' mirror (``ui.preview``); None when no scanner has one (a wedge, a fake)."""
        for scanner in self.devices:
            latest: Preview | None = getattr(scanner, "latest_frame", None)
            if callable(latest):
                return latest
        return None


@dataclass(frozen=True)
class ShopParts:
    """Everything a shop's programs are made of. Made by ``shop_parts`` (real) or ``fake_parts``.

    The devices are factories: a printer is found again at every call (one switched on after the till),
    scanners and the speaker are made once by the app that uses them.
    """

    settings: Settings
    store: Ledger
    printer: Callable[[], EscposPrinterBase]  # raises DeviceFault (printer_not_configured, a bad connection)
    scanners: Callable[[], Scanners]
    wedge: Callable[[OnScan], KeyboardWedge]
    speaker: Callable[[], Speaker]
    sync: Callable[[], AppSync]
    clock: Clock = local_now
    monotonic: Monotonic = time.monotonic

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def pictures(self) -> PictureShelf:
        """The goods' pictures, in the shop's folder beside the ledger (``lovemart items picture``)."""
        return PictureShelf(self.home / "pictures")

    @property
    def exists(self) -> bool:
        """There is a ledger in this folder."""
        return self.store.exists

    def print_now(self, txn_id: str) -> PrintOutcome:
        """Print the receipt of a transaction just committed; a printer fault leaves the job pending."""
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
        """One POS per ledger (``ledger_locked`` for the second)."""
        return PosLock(self.settings.lock_path)

    def close(self) -> None:
        self.store.close()


# ----- the real parts ----------------------------------------------------------------------------------------


def shop_parts(home: Path, settings: Settings | None = None) -> ShopParts:
    """The parts of the shop in ``home``, from its ``lovemart.toml`` (read and checked here unless given)."""
    settings = settings if settings is not None else settings_mod.load(home)
    ledger = Ledger(settings.ledger_path)

    def sync() -> AppSync:
        from lovemart.sync_wiring import HomeSyncPort

        return HomeSyncPort(settings, ledger)

    return ShopParts(
        settings=settings,
        store=ledger,
        printer=lambda: printer_of(settings.printer),
        scanners=lambda: camera_scanners(settings.scanner),
        wedge=keyboard_wedge,
        speaker=espeak_speaker,
        sync=sync,
    )


def printer_of(section: PrinterSection) -> EscposPrinterBase:
    """The receipt printer ``[printer]`` describes; ``printer_not_configured`` when there is none."""
    from hardware.errors import HardwareError
    from hardware.printers import EscposReceiptPrinter, MemoryPrinter
    from hardware.profiles import profile_for

    if section.connection is None:
        raise HardwareError("printer_not_configured")
    profile = profile_for(section.width, section.cutter)
    if isinstance(section.connection, MemoryConnection):
        return MemoryPrinter(profile)
    return EscposReceiptPrinter(printer_connection(section.connection), profile)


def printer_connection(connection: PrinterConnection) -> Connection:
    """python-escpos' connection for a ``[printer]`` connection (``hardware.printers.Connection``)."""
    from hardware.printers import Connection
    from lovemart.settings import (
        DummyConnection,
        FileConnection,
        NetworkConnection,
        SerialConnection,
        UsbConnection,
    )

    if isinstance(connection, UsbConnection):
        return Connection.usb(
            connection.vendor_id, connection.product_id, connection.timeout_ms, connection.in_ep, connection.out_ep
        )
    if isinstance(connection, SerialConnection):
        return Connection.serial(
            connection.port, connection.baudrate, connection.timeout_s, connection.dsrdtr, connection.xonxoff
        )
    if isinstance(connection, NetworkConnection):
        return Connection.network(connection.host, connection.port, connection.timeout_s)
    if isinstance(connection, FileConnection):
        return Connection.file(str(connection.path))
    if isinstance(connection, DummyConnection):
        return Connection.dummy()
    raise TypeError(f"no python-escpos connection for {connection!r}")


def camera_scanners(section: ScannerSection) -> Scanners:
    """The camera scanner ``[scanner]`` asks for; none when ``camera`` is off, or when its decoder cannot
    load (the reason is kept: the app says it, and the USB scanner and manual entry keep working)."""
    if section.camera is None:
        return Scanners()
    from hardware.camera import CameraScanner
    from hardware.decode import make_decoder

    try:
        decoder = make_decoder(section.decoder)
    except DeviceFault as fault:
        return Scanners(problems=(fault,), wanted_camera=True)
    return Scanners(devices=(CameraScanner(decoder, section.camera),), wanted_camera=True)


def keyboard_wedge(on_scan: OnScan) -> KeyboardWedge:
    from hardware.wedge import KeyboardWedge

    return KeyboardWedge(on_scan=on_scan)


def espeak_speaker() -> Speaker:
    from hardware.speech import EspeakSpeaker

    return EspeakSpeaker()


# ----- the fake parts ----------------------------------------------------------------------------------------


class NotConnected:
    """The sync port of a shop with no township server, or a fake one wrapped (``fake_parts(sync=...)``)."""

    def __init__(self, port: SyncPort | None = None) -> None:
        self.port = port
        self.closed = False

    def status(self) -> SyncStatus:
        return self.port.status() if self.port is not None else SyncStatus(configured=False)

    def sync_now(self) -> SyncStatus:
        return self.port.sync_now() if self.port is not None else SyncStatus(configured=False)

    def close(self) -> None:
        self.closed = True


def fake_parts(
    home: Path,
    *,
    store: SqlLedgerStore | None = None,
    settings: Settings | None = None,
    printer: EscposPrinterBase | None = None,
    scanners: Sequence[Scanner] | None = None,
    wedge: Callable[[OnScan], KeyboardWedge] | None = None,
    speaker: Speaker | None = None,
    sync: SyncPort | None = None,
    clock: Clock = local_now,
    monotonic: Monotonic = time.monotonic,
) -> ShopParts:
    """A shop's parts with fakes for every device, from the same bootstrap as the real ones.

    ``home`` holds the settings (read if there is a ``lovemart.toml``), the POS lock and the secrets' files;
    ``store`` is a ledger already open (else the folder's own, opened at first use). Devices not handed in
    are ``hardware``'s fakes: a ``MemoryPrinter`` of the settings' paper width, one ``FakeScanner`` (no
    repeat window), a ``MemorySpeaker`` with sound; sync is "not connected" unless a port is given.
    """
    from hardware.printers import MemoryPrinter
    from hardware.profiles import profile_for
    from hardware.scanner import FakeScanner
    from hardware.speech import MemorySpeaker

    settings = settings if settings is not None else settings_mod.load(home)
    ledger = Ledger.of(store, settings.ledger_path) if store is not None else Ledger(settings.ledger_path)
    the_printer = printer if printer is not None else MemoryPrinter(profile_for(settings.printer.width))
    found = Scanners(tuple(scanners) if scanners is not None else (FakeScanner(window_s=0),))
    the_speaker = speaker if speaker is not None else MemorySpeaker()
    return ShopParts(
        settings=settings,
        store=ledger,
        printer=lambda: the_printer,
        scanners=lambda: found,
        wedge=wedge if wedge is not None else keyboard_wedge,
        speaker=lambda: the_speaker,
        sync=lambda: NotConnected(sync),
        clock=clock,
        monotonic=monotonic,
    )
