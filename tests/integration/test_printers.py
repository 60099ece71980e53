"""Printers over real connections on this machine: a loopback TCP "printer", files, a pseudo-terminal.

No mocks: the network printer talks to a real socket server in a thread, the file printer writes a
real file, and the serial printer writes to a pty nobody reads, which stalls like a printer with its
cover open.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.errors import HardwareError
from hardware.printers import Connection, EscposReceiptPrinter, MemoryPrinter
from hardware.profiles import profile_for
from hardware.receipt_layout import build_receipt, build_test_page
from ledger.errors import DeviceFault
from lovemart_tools.escpos_reader import last_text, receipt_text_lines
from tests.receipt_samples import receipt
from tests.server_harness import free_port

# ---------------------------------------------------------------------------------------------------
# A loopback network printer


class LoopbackPrinter:
    """A TCP server on 127.0.0.1 that accepts one connection and keeps (or ignores) what it is sent."""

    def __init__(self, read: bool = True) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if not read:
            # A small receive window so a sender stalls after a few megabytes at most.
            self.server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port: int = self.server.getsockname()[1]
        self.received = bytearray()
        self.done = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(read,), daemon=True)
        self.thread.start()

    def _serve(self, read: bool) -> None:
        conn, _ = self.server.accept()
        with conn:
            if read:
                while chunk := conn.recv(65536):
                    self.received.extend(chunk)
            else:
                self.release.wait(10)
        self.done.set()

    def close(self) -> None:
        self.release.set()
        self.server.close()


@pytest.fixture
def loopback() -> Iterator[LoopbackPrinter]:
    server = LoopbackPrinter()
    yield server
    server.close()


def network(port: int, timeout_s: float = 2) -> Connection:
    return Connection.network("127.0.0.1", port, timeout_s)


def stall_size() -> int:
    """A payload far larger than the kernel's socket send buffer can grow to, so sending it must stall."""
    try:
        wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, ValueError, IndexError):
        wmem_max = 4 * 1024 * 1024
    return 8 * max(wmem_max, 4 * 1024 * 1024)


def test_network_printer_receives_exactly_the_receipt_bytes(loopback: LoopbackPrinter) -> None:
    printer = EscposReceiptPrinter(network(loopback.port), profile_for(80))
    printer.print_receipt(receipt())
    assert loopback.done.wait(5)
    assert bytes(loopback.received) == build_receipt(receipt(), profile_for(80))
    assert printer.where == f"127.0.0.1:{loopback.port}"


def test_network_printer_connection_refused_is_a_hardware_error() -> None:
    port = free_port()
    printer = EscposReceiptPrinter(network(port))
    with pytest.raises(HardwareError) as caught:
        printer.print_receipt(receipt())
    assert caught.value.code in ("printer_offline", "printer_not_found")
    # The shopkeeper reads which printer in words; the address stays in the error for the log.
    assert "小票打印机（网络）" in caught.value.message("zh") and caught.value.params["device"] == f"127.0.0.1:{port}"
    assert isinstance(caught.value, DeviceFault)


def test_network_printer_that_stops_reading_times_out_in_time() -> None:
    stalled = LoopbackPrinter(read=False)
    try:
        printer = EscposReceiptPrinter(network(stalled.port, timeout_s=0.3))
        start = time.monotonic()
        with pytest.raises(HardwareError) as caught:
            printer.send(b"\x00" * stall_size())
        elapsed = time.monotonic() - start
    finally:
        stalled.close()
    assert caught.value.code == "printer_timeout"
    assert elapsed < 0.3 + 1.5


# ---------------------------------------------------------------------------------------------------
# File and serial


def test_file_printer_writes_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "lp0"
    printer = EscposReceiptPrinter(Connection.file(str(path)), profile_for(58))
    printer.print_receipt(receipt())
    assert path.read_bytes() == build_receipt(receipt(), profile_for(58))
    printer.print_test_page("2024-05-01 08:00:00")  # each job replaces the previous one in a plain file
    assert path.read_bytes() == build_test_page(profile_for(58), "2024-05-01 08:00:00")


@pytest.mark.parametrize("where", ["missing-dir/lp0", "/dev/usb/lp-lovemart-missing"])
def test_file_printer_missing_device_is_not_found_and_not_created(tmp_path: Path, where: str) -> None:
    path = where if where.startswith("/") else str(tmp_path / where)
    printer = EscposReceiptPrinter(Connection.file(path))
    with pytest.raises(HardwareError) as caught:
        printer.print_receipt(receipt())
    assert caught.value.code == "printer_not_found"
    assert path in caught.value.message("en")
    assert not Path(path).exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_file_printer_without_permission(tmp_path: Path) -> None:
    path = tmp_path / "lp0"
    path.write_bytes(b"")
    path.chmod(0o444)
    with pytest.raises(HardwareError) as caught:
        EscposReceiptPrinter(Connection.file(str(path))).print_receipt(receipt())
    assert caught.value.code == "printer_permission"


def test_serial_printer_missing_port_is_not_found() -> None:
    printer = EscposReceiptPrinter(Connection.serial("/dev/ttyLOVEMART-missing", 9600))
    with pytest.raises(HardwareError) as caught:
        printer.print_receipt(receipt())
    assert caught.value.code == "printer_not_found"
    assert "（串口）" in caught.value.message("zh")
    assert caught.value.params["device"].startswith("/dev/ttyLOVEMART-missing")


def test_serial_printer_that_stops_the_line_times_out() -> None:
    master, slave = os.openpty()  # nobody reads the master: the pty buffer fills like a stalled printer
    try:
        port = os.ttyname(slave)
        printer = EscposReceiptPrinter(Connection.serial(port, 4_000_000, 0.2, dsrdtr=False), profile_for(80))
        start = time.monotonic()
        with pytest.raises(HardwareError) as caught:
            printer.send(b"\x00" * 100_000)
        elapsed = time.monotonic() - start
        os.set_blocking(master, False)
        with contextlib.suppress(BlockingIOError):
            while os.read(master, 65536):  # the printer comes back and swallows what was stuck
                pass
        printer.print_receipt(receipt())  # the next job goes through: the port was closed cleanly
        assert os.read(master, 65536) == build_receipt(receipt(), profile_for(80))
    finally:
        os.close(master)
        os.close(slave)
    assert caught.value.code == "printer_timeout"
    assert elapsed < 0.2 + 100_000 * 10 / 4_000_000 + 1.5


def test_usb_printer_that_is_not_there() -> None:
    printer = EscposReceiptPrinter(Connection.usb(0x0001, 0x0001))
    with pytest.raises(HardwareError) as caught:
        printer.print_receipt(receipt())
    # Without libusb on the machine the library is reported missing instead; either way, a clear message.
    assert caught.value.code in ("printer_not_found", "printer_library_missing")
    assert printer.where == "USB 0001:0001"


def test_dummy_connection_keeps_what_python_escpos_received() -> None:
    printer = EscposReceiptPrinter(Connection.dummy(), profile_for(80))
    assert printer.dummy_output == b""
    printer.print_receipt(receipt())
    printer.print_receipt(receipt(reprint=True))
    profile = profile_for(80)
    assert printer.dummy_output == build_receipt(receipt(), profile) + build_receipt(receipt(reprint=True), profile)


# ---------------------------------------------------------------------------------------------------
# Settings


def printer_from(tmp_path: Path, printer_section: str) -> Any:
    """The printer the bootstrap makes of a ``[printer]`` section (``lovemart.settings`` checks it)."""
    from lovemart import settings as settings_mod
    from lovemart.bootstrap import printer_of

    (tmp_path / "lovemart.toml").write_text(f"[printer]\n{printer_section}\n", encoding="utf-8")
    return printer_of(settings_mod.load(tmp_path).printer)


def test_printers_from_settings(tmp_path: Path) -> None:
    usb = printer_from(tmp_path, 'connection = "usb"\nvendor_id = "0x0416"\nproduct_id = 0x5011\nwidth = 58')
    assert usb.where == "USB 0416:5011" and usb.profile.columns == 32
    assert usb.connection.params["timeout"] == 3000  # never python-escpos' default of "wait for ever"
    eighty = printer_from(tmp_path, 'connection = "network"\nhost = "192.168.1.50"\nwidth = "80mm"\ncutter = false')
    assert eighty.profile.columns == 48 and not eighty.profile.has_cutter and eighty.where == "192.168.1.50:9100"
    serial = printer_from(tmp_path, 'connection = "serial"\nport = "/dev/ttyUSB0"\nbaudrate = 9600')
    assert serial.where == "/dev/ttyUSB0 9600 baud"
    file = printer_from(tmp_path, 'connection = "file"\npath = "out.bin"')
    assert file.where == str(tmp_path / "out.bin")  # relative to the shop's folder


@pytest.mark.parametrize("section", ["", 'connection = "none"', 'connection = ""', "width = 58"])
def test_no_printer_configured(tmp_path: Path, section: str) -> None:
    with pytest.raises(HardwareError) as caught:
        printer_from(tmp_path, section)
    assert caught.value.code == "printer_not_configured"


# ---------------------------------------------------------------------------------------------------
# The fake


def test_memory_printer_keeps_jobs_and_fails_on_demand(tmp_path: Path) -> None:
    printer = printer_from(tmp_path, 'connection = "memory"\nwidth = 80')
    assert isinstance(printer, MemoryPrinter)
    printer.print_receipt(receipt())
    assert printer.jobs == [build_receipt(receipt(), profile_for(80))]
    assert last_text(printer)[:2] == ["幸福村爱心超市", "兑换小票"]

    paper_out = HardwareError("printer_offline", where="memory")
    printer.fail_with(paper_out)
    with pytest.raises(HardwareError) as caught:
        printer.print_receipt(receipt(reprint=True))
    assert caught.value is paper_out
    assert len(printer.jobs) == 1 and printer.attempts == 2

    printer.fail_with(None)
    printer.print_receipt(receipt(reprint=True))
    assert "【重印】" in receipt_text_lines(printer.jobs[-1])
    assert len(printer.jobs) == 2
