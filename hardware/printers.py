"""Receipt printers: real ones through python-escpos connections, and ``MemoryPrinter``, the fake.

Every job is laid out as one ``bytes`` value by ``receipt_layout`` and sent in one write: the
connection is opened for the job and closed after it, so a printer switched off between two sales,
unplugged or grabbed by CUPS is found again at the next job without restarting the till. Every
failure of a device library becomes a ``HardwareError`` with a stable code and a ``where`` (which
printer), because the print queue records it and the shopkeeper reads it; a failed print never
undoes the sale it follows.

``[printer]`` of ``lovemart.toml`` is read and checked by ``lovemart.settings``; this module takes the checked
values as a ``Connection`` (``Connection.usb(...)`` and the others) and a ``PrinterProfile``.

Device libraries (escpos, usb, serial) are imported only when a job is sent, so importing this
module, or running the tests and the central server, never needs them.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardware.errors import HardwareError
from hardware.profiles import PrinterProfile, profile_for
from hardware.receipt_layout import build_passbook_card, build_receipt, build_test_page
from ledger.messages import N_, Message
from ledger.receipts import ReceiptContent

DEFAULT_WIDTH = 58  # the cheap printer most villages have; a 32-column receipt also prints on 80 mm paper
DEFAULT_USB_TIMEOUT_MS = 3000
DEFAULT_SERIAL_TIMEOUT_S = 5.0
DEFAULT_NETWORK_TIMEOUT_S = 5.0
#: Bits on the wire per byte on a serial line (8 data bits, start and stop bits).
SERIAL_BITS_PER_BYTE = 10


class EscposPrinterBase(ABC):
    """A receipt printer that speaks ESC/POS; implements ``ledger.ports.ReceiptPrinter``.

    Subclasses only say how bytes reach the paper (``send``); laying out is the same for all.
    Jobs are serialised by a lock because the POS prints from a background task while a reprint
    may be asked for from the screen.
    """

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self._lock = threading.Lock()

    @property
    @abstractmethod
    def where(self) -> str:
        """Which printer, for messages: "USB 0416:5011", "192.168.1.50:9100", a path."""

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Send one whole job. Raises ``HardwareError`` when the printer cannot take it."""

    @abstractmethod
    def check(self) -> None:
        """Reach the printer without printing anything (``lovemart doctor``); ``HardwareError`` if it
        cannot be reached."""

    def _job(self, data: bytes) -> None:
        with self._lock:
            self.send(data)

    def print_receipt(self, receipt: ReceiptContent) -> None:
        self._job(build_receipt(receipt, self.profile))

    def print_test_page(self, when: str) -> None:
        self._job(build_test_page(self.profile, when))

    def print_passbook_card(
        self,
        household_id: str,
        household_name: str,
        village_name: str,
        card_no: int,
        code_text: str,
    ) -> None:
        self._job(build_passbook_card(household_id, household_name, village_name, card_no, code_text, self.profile))


# ---------------------------------------------------------------------------------------------------
# Connections


@dataclass(frozen=True)
class Connection:
    """How bytes reach a printer: the python-escpos connection type, its keyword arguments and a description.

    Made by the constructors below from values already checked (``lovemart.settings`` reads ``[printer]``);
    only this module knows python-escpos' names for them.
    """

    kind: str
    where: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def usb(
        cls,
        vendor_id: int,
        product_id: int,
        timeout_ms: int = DEFAULT_USB_TIMEOUT_MS,
        in_ep: int | None = None,
        out_ep: int | None = None,
    ) -> Connection:
        """A USB printer; ``timeout_ms`` always set: python-escpos' default waits for ever (cover open)."""
        params: dict[str, Any] = {"idVendor": vendor_id, "idProduct": product_id, "timeout": timeout_ms}
        for key, value in (("in_ep", in_ep), ("out_ep", out_ep)):  # the few models that differ from 0x82/0x01
            if value is not None:
                params[key] = value
        return cls("usb", f"USB {vendor_id:04x}:{product_id:04x}", params)

    @classmethod
    def serial(
        cls,
        port: str,
        baudrate: int = 9600,
        timeout_s: float = DEFAULT_SERIAL_TIMEOUT_S,
        dsrdtr: bool | None = None,
        xonxoff: bool | None = None,
    ) -> Connection:
        params: dict[str, Any] = {"devfile": port, "baudrate": baudrate, "timeout": float(timeout_s)}
        for key, value in (("dsrdtr", dsrdtr), ("xonxoff", xonxoff)):
            if value is not None:
                params[key] = value
        return cls("serial", f"{port} {baudrate} baud", params)

    @classmethod
    def network(cls, host: str, port: int = 9100, timeout_s: float = DEFAULT_NETWORK_TIMEOUT_S) -> Connection:
        return cls("network", f"{host}:{port}", {"host": host, "port": port, "timeout": float(timeout_s)})

    @classmethod
    def file(cls, path: str) -> Connection:
        """A device file (``/dev/usb/lp0``) or a file that captures each job."""
        return cls("file", path, {"devfile": path})

    @classmethod
    def dummy(cls) -> Connection:
        """python-escpos' ``Dummy``: the bytes stay in memory (``EscposReceiptPrinter.dummy_output``)."""
        return cls("dummy", "dummy", {})


# ---------------------------------------------------------------------------------------------------
# Translating device-library failures


def _usb_core() -> Any:
    """pyusb's ``usb.core`` when installed (it is only needed for USB printers), else None."""
    try:
        import usb.core  # type: ignore[import-untyped]
    except ImportError:
        return None
    return usb.core


def _errno_of(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    return code if isinstance(code, int) else None


# How a printer is reached, in the shopkeeper's words (``Connection.kind``), for the messages' ``where``.
VIA = (
    N_("printer.via.usb"),
    N_("printer.via.serial"),
    N_("printer.via.network"),
    N_("printer.via.file"),
    N_("printer.via.dummy"),
)


def _fault(exc: BaseException, conn: Connection, opening: bool) -> HardwareError:
    """The ``HardwareError`` for any failure of a device library while opening or writing.

    The shopkeeper is told which printer in words (``where``: "USB", "网络"); the device's own address
    (``device``: "USB 0416:5011") stays in the error for the log and the technician."""
    usb_core = _usb_core()
    where = conn.where
    fault = functools.partial(HardwareError, where=Message(f"printer.via.{conn.kind}"), device=where)
    code = _errno_of(exc)
    if usb_core is not None and isinstance(exc, usb_core.NoBackendError):
        return HardwareError("printer_library_missing", detail="libusb-1.0 (apt install libusb-1.0-0)")
    if isinstance(exc, ValueError):
        # pyserial refuses impossible settings (a baud rate the port cannot do) with ValueError.
        return HardwareError("printer_config", detail=str(exc))
    if isinstance(exc, IsADirectoryError):
        return HardwareError("printer_config", detail=f"{where} is a directory, not a printer device")
    if (usb_core is not None and isinstance(exc, usb_core.USBTimeoutError)) or (
        isinstance(exc, TimeoutError) and not opening
    ):
        return fault("printer_timeout")
    if _is_serial_timeout(exc) or code == errno.ETIMEDOUT:
        return fault("printer_timeout")
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return fault("printer_permission")
    if code == errno.EBUSY:
        return fault("printer_busy")
    if isinstance(exc, ConnectionRefusedError | ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return fault("printer_offline")
    if isinstance(exc, FileNotFoundError) or code in (errno.ENODEV, errno.ENXIO, errno.ENOENT, errno.EHOSTUNREACH):
        return fault("printer_not_found")
    return fault("printer_not_found" if opening else "printer_offline")


def _drain(port: Any, seconds: float) -> bool:
    """Wait until a serial port has sent what the kernel holds, at most ``seconds``.

    python-escpos closes a serial port with ``flush()`` (tcdrain), which waits without limit when the
    printer stops the line with flow control; waiting here first keeps the till's time bounded. On
    time-out the pending bytes are discarded so that closing returns at once.
    """
    deadline = time.monotonic() + seconds
    while port.out_waiting:
        if time.monotonic() >= deadline:
            with suppress(OSError):
                port.reset_output_buffer()
            return False
        time.sleep(0.02)
    return True


def _is_serial_timeout(exc: BaseException) -> bool:
    try:
        import serial  # type: ignore[import-untyped]
    except ImportError:
        return False
    return isinstance(exc, serial.SerialTimeoutException)


def _cause(exc: BaseException) -> BaseException:
    """The library error under python-escpos' ``DeviceNotFoundError``, which it raises inside its handler."""
    inner = exc.__cause__ or exc.__context__
    return inner if inner is not None and not isinstance(inner, AssertionError) else exc


# ---------------------------------------------------------------------------------------------------
# The real printer


class EscposReceiptPrinter(EscposPrinterBase):
    """A printer reached through a python-escpos ``Connection``, laid out for ``profile`` (default 58 mm)."""

    def __init__(self, connection: Connection, profile: PrinterProfile | None = None) -> None:
        self.connection = connection
        super().__init__(profile if profile is not None else profile_for(DEFAULT_WIDTH))
        self._dummy: Any = None

    @property
    def where(self) -> str:
        return self.connection.where

    @property
    def dummy_output(self) -> bytes | None:
        """Everything sent so far through a "dummy" connection (python-escpos ``Dummy.output``), else None."""
        if self.connection.kind != "dummy":
            return None
        return b"" if self._dummy is None else bytes(self._dummy.output)

    def send(self, data: bytes) -> None:
        conn = self.connection
        if conn.kind == "dummy":
            if self._dummy is None:
                self._dummy = self._escpos_class("Dummy")()
            self._dummy._raw(data)
            return
        device = self._open()
        serial_port: Any = device.device if conn.kind == "serial" else None
        budget = 0.0
        try:
            if serial_port is not None:
                # python-escpos sets no write timeout: a printer holding DSR low would block the till for
                # ever. A slow line needs time in proportion to the job: 9600 baud moves about 1 KB a second.
                budget = conn.params["timeout"] + len(data) * SERIAL_BITS_PER_BYTE / conn.params["baudrate"]
                serial_port.write_timeout = budget
            device._raw(data)
            if serial_port is not None and not _drain(serial_port, budget):
                raise HardwareError("printer_timeout", where=conn.where)
        except (OSError, ValueError) as exc:  # USBError and SerialException are OSErrors
            if serial_port is not None:
                with suppress(OSError):
                    serial_port.reset_output_buffer()  # or closing waits for the stuck bytes
            raise _fault(exc, conn, opening=False) from exc
        finally:
            with suppress(OSError):
                device.close()

    def check(self) -> None:
        conn = self.connection
        if conn.kind == "dummy":
            return
        if conn.kind == "file":
            # Opening a device file for writing would truncate a capture file: look, do not touch.
            path = Path(conn.params["devfile"])
            self._check_file(path)
            if not os.access(path if path.exists() else path.parent, os.W_OK):
                raise HardwareError("printer_permission", where=conn.where)
            return
        with self._lock:
            device = self._open()
            with suppress(OSError):
                device.close()

    def _open(self) -> Any:
        """A new, open python-escpos connection for one job."""
        conn = self.connection
        if conn.kind == "file":
            self._check_file(Path(conn.params["devfile"]))
        _keep_escpos_cache()
        from escpos.exceptions import DeviceNotFoundError  # type: ignore[import-untyped]

        name = {"usb": "Usb", "serial": "Serial", "network": "Network", "file": "File"}[conn.kind]
        device = self._escpos_class(name)(**conn.params)
        try:
            device.open()
        except DeviceNotFoundError as exc:
            raise _fault(_cause(exc), conn, opening=True) from exc
        except (OSError, ValueError) as exc:  # NoBackendError is a ValueError
            raise _fault(exc, conn, opening=True) from exc
        return device

    def _check_file(self, path: Path) -> None:
        """Refuse a device file that is not there instead of creating an ordinary file in its place.

        python-escpos opens the path for writing, which would quietly create ``/dev/usb/lp0`` as a
        plain file (when run as root) and "print" into it. A path outside ``/dev`` in an existing
        directory is allowed to be created: it captures jobs (each job replaces the file).
        """
        if path.exists():
            return
        if path.is_relative_to("/dev") or not path.parent.is_dir():
            raise HardwareError("printer_not_found", where=str(path))

    @staticmethod
    def _escpos_class(name: str) -> Callable[..., Any]:
        _keep_escpos_cache()
        try:
            import escpos.printer  # type: ignore[import-untyped]

            if name == "Usb":
                import usb.core  # noqa: F401  # escpos only says "RuntimeError" when pyusb is missing
            if name == "Serial":
                import serial  # noqa: F401
        except ImportError as exc:
            detail = f"{exc.name or exc} (pip install 'python-escpos[usb,serial]')"
            raise HardwareError("printer_library_missing", detail=detail) from exc
        cls: Callable[..., Any] = getattr(escpos.printer, name)
        return cls


# ---------------------------------------------------------------------------------------------------
# The fake


class MemoryPrinter(EscposPrinterBase):
    """The fake printer: keeps each job's bytes in ``jobs``; ``fail_with`` makes every job fail.

    Used by tests, by ``lovemart demo`` and by the apps when no printer is configured, so the same
    layout code runs as on a real printer and a failure (paper out, printer off) can be simulated.
    """

    def __init__(self, profile: PrinterProfile | None = None) -> None:
        super().__init__(profile if profile is not None else profile_for(DEFAULT_WIDTH))
        self.jobs: list[bytes] = []
        self.attempts = 0
        self._failure: HardwareError | None = None

    @property
    def where(self) -> str:
        return "memory"

    def fail_with(self, error: HardwareError | None) -> None:
        """Fail every following job with ``error`` (for example ``printer_offline``); None heals."""
        self._failure = error

    def send(self, data: bytes) -> None:
        self.attempts += 1
        if self._failure is not None:
            raise self._failure
        self.jobs.append(data)

    def check(self) -> None:
        if self._failure is not None:
            raise self._failure

    @property
    def last_job(self) -> bytes | None:
        return self.jobs[-1] if self.jobs else None


def _keep_escpos_cache() -> None:
    """Give python-escpos one lasting folder for its printer-capabilities cache.

    Without it, importing escpos makes a new temporary folder in every process (a till restarted
    daily would leave hundreds) and re-parses its capabilities file, about 0.3 s at the first print.
    """
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" in os.environ:
        return
    folder = Path(tempfile.gettempdir()) / f"lovemart-escpos-{os.getuid()}"
    with suppress(OSError):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)
