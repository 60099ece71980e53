"""The composition root (``lovemart.bootstrap``): the real parts of a shop folder and the fake set for tests.

No Kivy, no device: what is built from which setting, lazily, and what the fakes are."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.camera import CameraScanner
from hardware.errors import HardwareError
from hardware.printers import EscposReceiptPrinter, MemoryPrinter
from hardware.scanner import FakeScanner
from hardware.speech import MemorySpeaker
from ledger.errors import LedgerError
from ledger.ports import SyncStatus
from lovemart import settings as settings_mod
from lovemart.bootstrap import NotConnected, Scanners, camera_scanners, fake_parts, shop_parts
from lovemart.settings import ScannerSection
from tests.conftest import FakeClock, ShopFixture


def test_the_real_parts_of_an_empty_folder_are_made_only_when_asked_for(tmp_path: Path) -> None:
    parts = shop_parts(tmp_path / "shop")
    assert not parts.exists and not (tmp_path / "shop").exists()  # nothing made by looking
    with pytest.raises(LedgerError) as no_ledger:
        parts.store()
    assert no_ledger.value.code == "not_configured"
    with pytest.raises(HardwareError) as no_printer:
        parts.printer()
    assert no_printer.value.code == "printer_not_configured"
    sync = parts.sync()
    assert sync.status() == SyncStatus(configured=False)  # a standalone shop: "not connected", not an error
    sync.close()
    store = parts.store(create=True)
    assert parts.exists and parts.store() is store  # one ledger per process
    parts.close()


def test_the_real_parts_follow_the_settings(tmp_path: Path) -> None:
    home = tmp_path / "shop"
    changes: dict[str, dict[str, str | int]] = {
        "printer": {"connection": "file", "path": "out.bin", "width": 80},
        "scanner": {"camera": -1},
    }
    settings = settings_mod.update(settings_mod.load(home), changes)
    parts = shop_parts(home, settings)
    printer = parts.printer()
    assert isinstance(printer, EscposReceiptPrinter) and printer.where == str(home / "out.bin")
    assert printer.profile.columns == 48
    assert parts.scanners() == Scanners()  # camera = -1: the USB scanner only
    assert parts.pos_lock().path == home / "pos.lock"


def test_camera_scanners(tmp_path: Path) -> None:
    camera = camera_scanners(ScannerSection(decoder="zxing", camera=2))
    (device,) = camera.devices
    assert isinstance(device, CameraScanner) and camera.wanted_camera and not camera.problems
    assert camera.preview() == device.latest_frame  # the apps' mirror shows this camera
    assert Scanners((FakeScanner(), device)).preview() == device.latest_frame
    assert Scanners((FakeScanner(),)).preview() is None  # a wedge or a fake has no picture to show
    # A decoder that cannot load: no camera, and the reason kept for the app to say.
    broken = camera_scanners(ScannerSection(decoder="nothing", camera=0))
    assert broken.devices == () and broken.wanted_camera and broken.problems[0].code == "decoder_unknown"


def test_fake_parts_are_hardwares_fakes_around_the_given_store(shop: ShopFixture, tmp_path: Path) -> None:
    monotonic = FakeClock()
    parts = fake_parts(tmp_path, store=shop.store, monotonic=monotonic)
    printer = parts.printer()
    assert isinstance(printer, MemoryPrinter) and parts.printer() is printer and printer.profile.columns == 32
    (scanner,) = parts.scanners().devices
    assert isinstance(scanner, FakeScanner)
    assert isinstance(parts.speaker(), MemorySpeaker)
    assert parts.store() is shop.store and parts.monotonic is monotonic
    assert parts.sync().status() == SyncStatus(configured=False)
    parts.close()
    with shop.store.read() as unit:  # the store is the test's: closing the parts leaves it open
        assert unit.identity().shop_id == "S1"


def test_fake_parts_take_the_devices_a_test_hands_in(tmp_path: Path) -> None:
    class Port:
        def status(self) -> SyncStatus:
            return SyncStatus(configured=True, waiting=3)

        def sync_now(self) -> SyncStatus:
            return SyncStatus(configured=True)

    printer, scanner, speaker = MemoryPrinter(), FakeScanner(), MemorySpeaker(available=False)
    parts = fake_parts(tmp_path, printer=printer, scanners=[scanner], speaker=speaker, sync=Port())
    assert parts.printer() is printer and parts.scanners().devices == (scanner,) and parts.speaker() is speaker
    sync = parts.sync()
    assert isinstance(sync, NotConnected) and sync.status().waiting == 3
    assert not parts.exists  # no store given and no ledger in the folder
