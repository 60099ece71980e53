"""The device commands from a shop's home: scan, receipt, printer test, passbook cards (DESIGN.md §10)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ledger.errors import LedgerError
from lovemart import settings as settings_mod
from tests.cli_harness import first_redeemable, run
from tests.server_harness import free_port


class LoopbackPrinter:
    """A network receipt printer on 127.0.0.1: accepts jobs and keeps the bytes of each."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while data := conn.recv(65536):
                    chunks.append(data)
                self.jobs.append(b"".join(chunks))

    def close(self) -> None:
        """Stop accepting, and wait until a job still being read is kept (the command has hung up by now)."""
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() below; close() alone does not on Linux
        except OSError:
            pass
        self.server.close()
        self.thread.join(timeout=10)


def set_printer(home: Path, section: dict | None) -> None:
    set_section(home, "printer", section)


DEMO_HOUSEHOLDS = 12  # the demo shop of this module (tests/conftest.py: demo_template, home)


def text_lines(data: bytes) -> list[str]:
    from lovemart_tools.escpos_reader import receipt_text_lines

    return receipt_text_lines(data)


def test_dead_printer_keeps_the_sale_and_reprint_prints_it_later(capsys, home: Path) -> None:
    set_printer(home, {"connection": "network", "host": "127.0.0.1", "port": free_port(), "timeout_s": 2})
    household = first_redeemable(capsys, home)
    code, sold, err = run(capsys, home, "redeem", household["passbook"], "SOAP=1")
    assert code == 0, err
    assert sold["printed"] is False
    code, pending, _ = run(capsys, home, "receipt", "pending")
    assert sold["receipt_no"] in [p["receipt_no"] for p in pending["pending"]]
    code, refused, err = run(capsys, home, "receipt", "reprint", sold["receipt_no"])
    assert code == 1 and refused["error"]["code"].startswith("printer_")
    code, after, _ = run(capsys, home, "balance", household["passbook"])
    assert after["balance"] == sold["balance_after"]  # the sale stands

    printer = LoopbackPrinter()
    try:
        set_printer(home, {"connection": "network", "host": "127.0.0.1", "port": printer.port, "width": 80})
        code, done, err = run(capsys, home, "receipt", "reprint", sold["receipt_no"])
        assert code == 0, err
        assert done == {"receipt_no": sold["receipt_no"], "printed": True, "reprint": True}
    finally:
        printer.close()
    (job,) = printer.jobs
    lines = text_lines(job)
    assert any("重印" in line for line in lines)
    assert any(household["name"] in line for line in lines)
    code, pending, _ = run(capsys, home, "receipt", "pending")
    assert sold["receipt_no"] not in [p["receipt_no"] for p in pending["pending"]]
    code, audit, _ = run(capsys, home, "audit", "verify")
    assert audit["ok"]


def test_redeem_prints_on_a_working_printer(capsys, home: Path) -> None:
    printer = LoopbackPrinter()
    try:
        set_printer(home, {"connection": "network", "host": "127.0.0.1", "port": printer.port, "width": 58})
        household = first_redeemable(capsys, home)
        code, sold, err = run(capsys, home, "redeem", household["passbook"], "SOAP=1")
        assert code == 0 and sold["printed"] is True, err
    finally:
        printer.close()
    (job,) = printer.jobs
    lines = text_lines(job)
    assert any(sold["receipt_no"] in line for line in lines)
    assert not any("重印" in line for line in lines)


@pytest.mark.parametrize("width, columns", [(58, 32), (80, 48)])
def test_receipt_bytes_of_any_receipt(capsys, home: Path, tmp_path: Path, width: int, columns: int) -> None:
    from hardware.receipt_layout import display_width

    household = first_redeemable(capsys, home)
    code, sold, _ = run(capsys, home, "redeem", household["passbook"], "SOAP=2")
    out = tmp_path / "r.bin"
    code, data, err = run(capsys, home, "receipt", sold["receipt_no"], "--out", str(out), "--width", str(width))
    assert code == 0, err
    raw = out.read_bytes()
    assert data["bytes"] == len(raw) and data["width"] == width
    lines = text_lines(raw)
    assert lines == data["lines"]
    assert any(household["name"] in line for line in lines)
    assert all(display_width(line) <= columns for line in lines)


def test_receipt_refusals_change_nothing(capsys, home: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.bin"
    code, data, err = run(capsys, home, "receipt", "S01-P1-999999", "--out", str(out))
    assert code == 1 and data["error"]["code"] == "receipt_unknown" and "S01-P1-999999" in err
    assert not out.exists()
    set_printer(home, None)
    code, data, err = run(capsys, home, "printer", "test")
    assert code == 1 and data["error"]["code"] == "printer_not_configured"
    with pytest.raises(LedgerError) as refused:  # lovemart.settings will not write a wrong value...
        set_printer(home, {"connection": "usb", "vendor_id": "zz", "product_id": "0x5011"})
    assert refused.value.code == "settings_value"
    config = home / "lovemart.toml"  # ...and refuses one written by hand, naming it, before any command runs
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[printer]\nconnection = "usb"\nvendor_id = "zz"\n', encoding="utf-8"
    )
    code, data, err = run(capsys, home, "printer", "test")
    assert code == 1 and data["error"]["code"] == "settings_value" and "[printer] vendor_id" in err


def test_printer_test_page_on_a_file_printer(capsys, home: Path) -> None:
    set_printer(home, {"connection": "file", "path": "lp0.bin", "width": 80})
    code, data, err = run(capsys, home, "printer", "test")
    assert code == 0, err
    lines = text_lines((home / "lp0.bin").read_bytes())
    assert any("1234567890" in line for line in lines)
    assert any(ch >= "\u4e00" for line in lines for ch in line)  # Chinese text came through


def test_passbook_cards_sheet_scans_back(capsys, home: Path, tmp_path: Path) -> None:
    from hardware.cards import card_images_from_pdf
    from hardware.decode import make_decoder

    out = tmp_path / "cards.pdf"
    code, data, err = run(capsys, home, "passbook", "cards", "--out", str(out))
    assert code == 0, err
    code, households, _ = run(capsys, home, "households", "list")
    expected = {h["passbook"] for h in households["households"] if h["passbook"]}
    assert data["cards"] == len(expected)
    decoder = make_decoder("zxing")
    read = set()
    for image in card_images_from_pdf(out, dpi=200):
        read.update(d.text for d in decoder.decode(np.asarray(image.convert("L"))))
    assert read == expected
    code, data, _ = run(capsys, home, "passbook", "cards", "--out", str(tmp_path / "x.pdf"), "--village", "NOPE")
    assert code == 1 and data["error"]["code"] == "village_unknown" and not (tmp_path / "x.pdf").exists()


def _card_png(tmp_path: Path, name: str, household_id: str, code_text: str) -> Path:
    from hardware.cards import CardFace, render_card_image

    image = render_card_image(CardFace(household_id, "测试户", "幸福村", 1, code_text), dpi=200)
    path = tmp_path / name
    image.save(path)
    return path


def test_scan_reports_every_code_and_checks_the_passbook(capsys, home: Path, tmp_path: Path) -> None:
    from ledger.passbook import make_code

    household = first_redeemable(capsys, home)
    good = _card_png(tmp_path, "good.png", household["household_id"], household["passbook"])
    for decoder in ("zxing", "zbar"):
        code, data, err = run(capsys, home, "scan", str(good), "--decoder", decoder)
        assert code == 0, err
        assert {c["text"] for c in data["codes"]} == {household["passbook"]}
        assert {c["format"] for c in data["codes"]} == {"QRCode", "Code128"}
        assert data["passbook"]["valid"] is True and data["passbook"]["household_id"] == household["household_id"]

    foreign = make_code(b"another township", household["household_id"], 1)
    cases = {
        "forged.png": (foreign, "passbook_forged"),
        "unknown.png": (None, "passbook_unknown"),
    }
    for name, (text, reason) in cases.items():
        if text is None:
            from lovemart.bootstrap import shop_parts

            with shop_parts(home).store().read() as unit:
                text = make_code(unit.township().passbook_key, "ZZ9999", 1)
        path = _card_png(tmp_path, name, "ZZ9999", text)
        code, data, err = run(capsys, home, "scan", str(path))
        assert code == 1 and data["passbook"]["valid"] is False and data["error"]["code"] == reason, name
        assert err.strip()

    code, reissued, _ = run(capsys, home, "passbook", "reissue", household["household_id"])
    code, data, _ = run(capsys, home, "scan", str(good))
    assert code == 1 and data["error"]["code"] == "passbook_revoked" and data["passbook"]["card_no"] == 1

    blank = tmp_path / "blank.png"
    Image.new("L", (640, 480), 200).save(blank)
    code, data, err = run(capsys, home, "scan", str(blank))
    assert code == 1 and data["codes"] == [] and data["passbook"] is None and data["error"]["code"] == "scan_empty"

    listed = run(capsys, home, "households", "list")[1]["households"]
    other = next(h for h in listed if h["household_id"] != household["household_id"] and h["passbook"])
    two = Image.new("L", (1400, 700), 255)
    two.paste(Image.open(_card_png(tmp_path, "a.png", "A", reissued["passbook"])), (0, 0))
    two.paste(Image.open(_card_png(tmp_path, "b.png", "B", other["passbook"])), (700, 0))
    two.save(tmp_path / "two.png")
    code, data, _ = run(capsys, home, "scan", str(tmp_path / "two.png"))
    assert code == 1 and len({c["text"] for c in data["codes"]}) == 2 and data["error"]["code"] == "scan_several"

    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    code, data, err = run(capsys, home, "scan", str(not_image))
    assert code == 1 and data["error"]["code"] == "image_unreadable"


# ----- lovemart doctor --------------------------------------------------------------------------------------


def set_section(home: Path, name: str, values: dict | None) -> None:
    """``[name]`` of the shop's lovemart.toml replaced by ``values`` (None: no such section)."""
    settings = settings_mod.update(settings_mod.load(home), {name: None})
    if values is not None:
        settings_mod.update(settings, {name: values})


def test_doctor_on_the_demo_shop_checks_everything_and_prints_nothing(capsys, home: Path) -> None:
    set_section(home, "scanner", {"decoder": "zxing", "camera": -1})
    captured = home / "printer-out.bin"
    before = captured.read_bytes() if captured.exists() else None
    code, report, err = run(capsys, home, "doctor")
    assert code == 0 and report["ok"], err
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses == {
        "ledger": "ok",
        "printer": "ok",
        "scanner": "ok",
        "camera": "ok",
        "server": "warn",  # a standalone demo shop: said, not failed
        "clock": "ok",
        "permissions": "ok",  # the shop's folder and ledger: this user's only
        "chain": "ok",  # checked from the checkpoint the demo's audit recorded (ledger.integrity)
        "audit": "ok",
        "balances": "ok",
        "backup": "warn",  # no copy yet: the first day close (or lovemart backup) makes one
    }
    assert (captured.read_bytes() if captured.exists() else None) == before


def test_doctor_names_a_dead_printer_then_the_receipts_it_left_waiting(capsys, home: Path) -> None:
    set_section(home, "scanner", {"camera": -1})
    set_printer(home, {"connection": "network", "host": "127.0.0.1", "port": free_port(), "timeout_s": 2})
    household = first_redeemable(capsys, home)
    code, sold, _ = run(capsys, home, "redeem", household["passbook"], "SOAP=1")
    assert code == 0 and sold["printed"] is False
    code, report, _ = run(capsys, home, "doctor")
    printer_check = next(c for c in report["checks"] if c["name"] == "printer")
    assert code == 1 and not report["ok"] and printer_check["status"] == "fail"
    assert "127.0.0.1" in printer_check["message"]

    printer = LoopbackPrinter()
    try:
        set_printer(home, {"connection": "network", "host": "127.0.0.1", "port": printer.port, "timeout_s": 2})
        code, report, _ = run(capsys, home, "doctor", "--lang", "en")
        printer_check = next(c for c in report["checks"] if c["name"] == "printer")
        assert (
            code == 0 and printer_check["status"] == "warn" and "1 receipts did not print" in printer_check["message"]
        )
        assert all(job == b"" for job in printer.jobs)  # reached, nothing printed
    finally:
        printer.close()


def test_doctor_without_a_ledger_says_what_to_do(capsys, tmp_path: Path) -> None:
    code, report, _ = run(capsys, tmp_path / "empty", "doctor")
    ledger_check = next(c for c in report["checks"] if c["name"] == "ledger")
    assert code == 1 and ledger_check["status"] == "fail" and "lovemart provision" in ledger_check["message"]


def test_doctor_clock_checks() -> None:
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from lovemart.commands.doctor import check_clock

    now = datetime(2026, 11, 22, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    assert check_clock(now, now + timedelta(minutes=2), None).status == "ok"
    assert check_clock(now, now + timedelta(minutes=30), None).status == "fail"  # off the township's clock
    later = SimpleNamespace(created_at=(now + timedelta(hours=2)).isoformat())
    assert check_clock(now, None, later).status == "fail"  # behind the ledger's last sale: set back
    earlier = SimpleNamespace(created_at=(now - timedelta(hours=2)).isoformat())
    assert check_clock(now, None, earlier).status == "ok"
