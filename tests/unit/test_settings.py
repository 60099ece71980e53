"""``lovemart.toml`` as typed settings: checked once at load, refused naming the key and the file, unknown keys
reported, written back with the technician's comments kept (``lovemart.settings``)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ledger.errors import LedgerError
from lovemart import settings as settings_mod
from lovemart.settings import (
    FileConnection,
    KioskSection,
    NetworkConnection,
    PosSection,
    ScannerSection,
    SerialConnection,
    Settings,
    SyncSection,
    UsbConnection,
)

COMMENTED = """\
# 幸福村爱心超市 — set up by 王师傅, 2026-03-02. Call 138xxxx before changing the printer.
language = "zh"  # the shopkeeper reads Chinese

[shop]
id = "S01"   # from the township's letter
device = "P1"

# The Xprinter on the counter (lsusb: 0416:5011)
[printer]
connection = "usb"
vendor_id = "0x0416"
product_id = 0x5011
width = 58   # the cheap one

[pos]
idle_lock_s = 120  # the shop is busy at noon
"""


def write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "lovemart.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    settings = settings_mod.load(tmp_path)
    assert settings == Settings(home=tmp_path)
    assert settings.printer.connection is None and settings.scanner == ScannerSection(decoder="zxing", camera=0)
    assert (settings.pos, settings.kiosk, settings.sync) == (PosSection(), KioskSection(), SyncSection())
    assert settings.ledger_path == tmp_path / "ledger.sqlite3" and settings.unknown == ()


def test_every_section_is_read_into_its_type(tmp_path: Path) -> None:
    write(
        tmp_path,
        COMMENTED
        + """
[scanner]
decoder = "zbar"
camera = "none"

[kiosk]
timeout_s = 30
village = "V02"
lockdown = false
ranking_size = "12"

[sync]
server = "https://township.example.cn"
hour = 23
attempts = 3
allow_plain_http = true
""",
    )
    settings = settings_mod.load(tmp_path)
    assert (settings.language, settings.shop.id, settings.shop.device) == ("zh", "S01", "P1")
    assert settings.printer.connection == UsbConnection(vendor_id=0x0416, product_id=0x5011, timeout_ms=3000)
    assert settings.printer.width == 58 and settings.pos.idle_lock_s == 120.0
    assert settings.scanner == ScannerSection(decoder="zbar", camera=None)
    assert (settings.kiosk.timeout_s, settings.kiosk.village, settings.kiosk.lockdown) == (30.0, "V02", False)
    assert settings.kiosk.ranking_size == 12  # a number in quotes is still the number
    assert settings.sync == SyncSection("https://township.example.cn", 23, 3, 1.0, 60.0, True)


@pytest.mark.parametrize(
    ("section", "connection"),
    [
        ('connection = "serial"\nport = "/dev/ttyUSB0"', SerialConnection("/dev/ttyUSB0")),
        ('connection = "network"\nhost = "192.168.1.50"\nport = 9100', NetworkConnection("192.168.1.50")),
        ('connection = "file"\npath = "printer-out.bin"', FileConnection(Path("HOME/printer-out.bin"))),
        ('connection = "none"', None),
        ("width = 80", None),  # a width but no connection: no printer
    ],
)
def test_printer_connections(tmp_path: Path, section: str, connection: object) -> None:
    write(tmp_path, f"[printer]\n{section}\n")
    found = settings_mod.load(tmp_path).printer.connection
    if isinstance(connection, FileConnection):  # a relative path is the shop folder's
        connection = FileConnection(tmp_path / connection.path.relative_to("HOME"))
    assert found == connection


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[pos]\nidle_lock_s = "soon"\n', "[pos] idle_lock_s", "0–86400"),
        ("[pos]\nlockdown = 1\n", "[pos] lockdown", "true / false"),
        ('[kiosk]\nlockdown = "false"\n', "[kiosk] lockdown", "true / false"),
        ("[sync]\nhour = 24\n", "[sync] hour", "0–23"),
        ('[sync]\nserver = "township.example.cn"\n', "[sync] server", "https://"),
        ('[printer]\nconnection = "bluetooth"\n', "[printer] connection", '"usb"'),
        ('[printer]\nconnection = "usb"\nvendor_id = "0xZZ"\nproduct_id = "0x5011"\n', "[printer] vendor_id", "0x"),
        ('[printer]\nconnection = "usb"\nvendor_id = 1\nproduct_id = 1\ntimeout_ms = 0\n', "timeout_ms", "100"),
        ('[printer]\nconnection = "network"\nhost = "h"\nport = 70000\n', "[printer] port", "1–65535"),
        ('[printer]\nconnection = "dummy"\nwidth = 57\n', "[printer] width", "58 / 80"),
        ('[printer]\nconnection = "dummy"\ncutter = "yes"\n', "[printer] cutter", "true / false"),
        ('[scanner]\ndecoder = "zbra"\n', "[scanner] decoder", '"zxing" / "zbar"'),
        ("language = 1\n", "language", '"..."'),
    ],
)
def test_a_bad_value_is_refused_naming_the_key_and_the_file(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LedgerError) as caught:
        settings_mod.load(tmp_path)
    error = caught.value
    assert error.code == "settings_value"
    zh, en = error.message("zh"), error.message("en")
    assert key in zh and str(path) in zh and expected in zh and "设置文件" in zh
    assert key in en and str(path) in en and "expected" in en


def test_a_missing_value_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[printer]\nconnection = "usb"\nvendor_id = "0x0416"\n')
    with pytest.raises(LedgerError) as caught:
        settings_mod.load(tmp_path)
    assert caught.value.code == "settings_missing"
    assert "[printer] product_id" in caught.value.message("zh") and str(path) in caught.value.message("zh")


def test_unknown_keys_are_reported_not_refused(tmp_path: Path) -> None:
    path = write(tmp_path, COMMENTED + '\n[printr]\nconnection = "usb"\n\n[kiosk]\ntimeout = 30\n')
    (tmp_path / "lovemart.toml").write_text(
        path.read_text(encoding="utf-8").replace('language = "zh"', 'language = "zh"\nlangauge = "en"'),
        encoding="utf-8",
    )
    settings = settings_mod.load(tmp_path)
    assert settings.unknown == ("langauge", "[printr]", "[kiosk] timeout")
    report = settings.unknown_report()
    assert isinstance(report, LedgerError) and report.code == "settings_unknown"
    assert "[printr]" in report.message("zh") and "不认识" in report.message("zh") and str(path) in report.message("zh")
    assert settings_mod.load(tmp_path / "elsewhere").unknown_report() is None


def test_a_file_with_comments_keeps_them_after_a_save(tmp_path: Path) -> None:
    path = write(tmp_path, COMMENTED)
    before = settings_mod.load(tmp_path)
    after = settings_mod.update(
        before, {"shop": {"device": "P2"}, "sync": {"server": "https://township.example.cn"}, "language": "en"}
    )
    text = path.read_text(encoding="utf-8")
    for line in COMMENTED.splitlines():
        if "device" not in line and "language" not in line:
            assert line in text, line  # every comment, key and blank line the technician wrote is still there
    assert 'language = "en"  # the shopkeeper reads Chinese' in text
    assert 'device = "P2"' in text and text.index('device = "P2"') < text.index("# The Xprinter")
    assert after == settings_mod.load(tmp_path)
    assert (after.shop.device, after.language, after.sync.server) == ("P2", "en", "https://township.example.cn")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it may hold the kiosk's PIN hash
    assert [p.name for p in tmp_path.iterdir()] == ["lovemart.toml"]  # no temporary file left behind

    settings_mod.update(after, {"pos": {"idle_lock_s": None}})  # None removes a key
    assert "idle_lock_s" not in path.read_text(encoding="utf-8") and settings_mod.load(tmp_path).pos == PosSection()


def test_a_save_of_a_bad_value_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, COMMENTED)
    with pytest.raises(LedgerError) as caught:
        settings_mod.update(settings_mod.load(tmp_path), {"sync": {"hour": 25}})
    assert caught.value.code == "settings_value" and "[sync] hour" in caught.value.message("zh")
    assert path.read_text(encoding="utf-8") == COMMENTED


def test_a_new_file_is_made_with_a_header(tmp_path: Path) -> None:
    home = tmp_path / "new"
    settings = settings_mod.update(settings_mod.load(home), {"shop": {"id": "S01", "device": "P1"}})
    text = (home / "lovemart.toml").read_text(encoding="utf-8")
    assert text.startswith("# Love Supermarket") and settings.shop.id == "S01"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("written", "device"),
    [
        ("0", 0),
        ("2", 2),
        ('"1"', 1),
        ("-1", None),
        ('"-1"', None),
        ('"none"', None),
        ('""', None),
        ('"/dev/video2"', "/dev/video2"),
        ("false", None),
    ],
)
def test_the_camera_setting(tmp_path: Path, written: str, device: object) -> None:
    write(tmp_path, f"[scanner]\ncamera = {written}\n")
    assert settings_mod.load(tmp_path).scanner.camera == device
