"""The shared Kivy kit, driven offscreen by real touches and keys (see tests/kivy_harness.py).

Kivy itself is imported inside the tests: ``tests.kivy_harness`` must set the offscreen environment before
the first ``import kivy``, and sorted imports put third-party ``kivy`` above it. ``ui.*`` sorts after
``tests.*``, so those may stay at the top.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hardware.wedge import KeyboardWedge
from ledger import messages
from ledger.errors import LedgerError
from tests import kivy_harness as kh
from tests.conftest import FakeClock
from ui import fonts
from ui import theme as ui_theme
from ui.app import KitApp
from ui.background import BackgroundRunner, run_in_background
from ui.fonts import find_cjk_font, register_fonts, registered_bold_font, registered_font
from ui.i18n import translator
from ui.lockdown import LockdownMixin
from ui.messages import error_text
from ui.scanning import ScanBridge, bind_wedge, char_for_key, key_for_char
from ui.widgets import ConfirmDialog, MessageBanner, NumericKeypad, ask, toast

ROOT = Path(__file__).resolve().parents[2]

DEMO_KV = """
BoxLayout:
    orientation: 'vertical'
    HeaderBar:
        id: header
        title: _('ui.app_title')
        status: _('ui.please_wait')
    MessageBanner:
        id: banner
        size_hint_y: None
        height: theme.header_height
    BoxLayout:
        padding: theme.padding
        spacing: theme.padding
        BoxLayout:
            orientation: 'vertical'
            spacing: theme.spacing
            Label:
                id: balance
                text: '1234'
                font_size: theme.font_huge
                color: theme.TEXT
            BigButton:
                id: redeem
                text: _('ui.ok')
        NumericKeypad:
            id: keypad
            prompt: _('ui.pin_prompt')
            size_hint_x: 0.45
"""


class DemoApp(KitApp):
    def build(self):
        from kivy.lang import Builder

        return Builder.load_string(DEMO_KV)


class LockedApp(LockdownMixin, DemoApp):
    pass


class SettingsSpyApp(DemoApp):
    """An unlocked app that records F1, to show the harness's key path really reaches open_settings."""

    opened = 0

    def open_settings(self, *args):
        self.opened += 1
        return True


@pytest.fixture
def app():
    demo = DemoApp()
    with kh.running(demo):
        yield demo


# ---------------------------------------------------------------- import hygiene, pure parts


def test_importing_ui_loads_no_kivy() -> None:
    code = "import sys, ui, ui.messages, ui.fonts; sys.exit(1 if 'kivy' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_kit_words_come_from_the_catalogues() -> None:
    assert messages.text("ui.ok", "zh") == "确定" and messages.text("ui.ok", "en_GB") == "OK"
    assert messages.text("no_such_id", "zh") == "no_such_id"


def test_error_text_uses_the_ledger_message_and_hides_other_errors() -> None:
    refusal = LedgerError("insufficient_points", needed=30, redeemable=12)
    assert error_text(refusal, "zh") == "积分不足：需要 30 分，可兑换积分只有 12 分。"
    assert error_text(refusal, "en").startswith("Not enough points")
    assert error_text(OSError("/secret/path"), "en") == messages.text("ui.unexpected_error", "en")


def test_palette_contrast_is_high_enough_for_elderly_readers() -> None:
    for role, (fill, text) in ui_theme.ROLES.items():
        assert ui_theme.contrast_ratio(text, fill) >= 4.5, role
    assert ui_theme.contrast_ratio(ui_theme.TEXT, ui_theme.BACKGROUND) >= 7
    assert ui_theme.contrast_ratio(ui_theme.TEXT_MUTED, ui_theme.BACKGROUND) >= 7
    assert ui_theme.contrast_ratio(ui_theme.WARNING, ui_theme.HEADER) >= 4.5  # header status in trouble


def test_sizes_follow_the_window_height() -> None:
    m = ui_theme.metrics_for(600)
    assert m.touch >= 64 and m.font_huge >= 600 / 8
    assert ui_theme.metrics_for(1200).touch == 2 * m.touch


def test_key_map_round_trips_a_passbook_code() -> None:
    code = "LM1:XF0001:1:ABCDEF"
    assert "".join(char_for_key(*key_for_char(c)) for c in code) == code
    assert char_for_key(ord(";"), ["shift"]) == ":"
    assert char_for_key(ord("a"), ["capslock"]) == "A"
    assert char_for_key(ord("c"), ["ctrl"]) is None
    assert char_for_key(13) is None and char_for_key(282) is None
    assert char_for_key(257, []) == "1"  # keypad 1


# ---------------------------------------------------------------- fonts and theme on a real window


def test_default_font_is_the_simplified_chinese_face(app) -> None:
    from kivy.uix.label import Label

    wqy = find_cjk_font()
    assert wqy is not None and register_fonts() == wqy == registered_font()
    textures = {}
    for char in "直角骨":
        label = Label(text=char, font_size=48)
        label.texture_update()
        assert label._label.options["font_name_r"] == wqy
        texture = label.texture
        assert texture is not None and texture.width > 0 and texture.height > 0
        pixels = texture.pixels
        assert any(pixels[3::4]), f"{char} drew no ink"
        textures[char] = pixels
    # A font without the glyphs draws the same empty box for all three.
    assert len(set(textures.values())) == 3


def test_bold_text_is_drawn_with_the_simplified_chinese_bold_face(app) -> None:
    from kivy.uix.label import Label

    bold = registered_bold_font()
    assert bold is not None and bold.endswith(fonts.BOLD_FILE)
    ink = {}
    for weight in (False, True):
        label = Label(text="合计 14 分", font_size=48, bold=weight)
        label.texture_update()
        assert label._label.options["font_name_r"] == (bold if weight else registered_font())
        ink[weight] = sum(1 for alpha in label.texture.pixels[3::4] if alpha > 128)
    assert ink[True] > ink[False] * 1.2  # heavier strokes, not the same pixels under another name


def test_balance_digits_stand_taller_than_an_eighth_of_the_window(app) -> None:
    balance = kh.find(app.root, "balance")
    kh.pump(2)
    width, height = balance.texture.size
    alpha = balance.texture.pixels[3::4]
    rows = [y for y in range(height) if any(alpha[y * width : (y + 1) * width])]
    ink_height = max(rows) - min(rows) + 1
    assert ink_height >= kh.window().height / 8
    assert kh.find(app.root, "redeem").height >= 64 and kh.find(app.root, "key_5").height >= 64


# ---------------------------------------------------------------- widgets by real taps


def test_keypad_types_digits_by_taps_and_ok_fires_once_on_a_double_tap(app) -> None:
    keypad: NumericKeypad = kh.find(app.root, "keypad")
    confirmed: list[str] = []
    keypad.bind(on_confirm=lambda _w, text: confirmed.append(text))
    ok = kh.find(keypad, "key_ok")
    clock = FakeClock()
    ok.debounce_clock = clock

    kh.tap(ok)
    assert confirmed == []  # nothing typed, nothing to confirm
    for digit in "1234":
        kh.tap(kh.find(keypad, f"key_{digit}"))
    assert keypad.text == "1234"

    clock.now += 1.0
    kh.tap(ok)
    kh.tap(ok)  # the panel bounced: same instant
    assert confirmed == ["1234"] and ok.bounces == 1
    clock.now += 0.5  # past the 0.4 s debounce: a deliberate second press counts
    kh.tap(ok)
    assert confirmed == ["1234", "1234"]


def test_keypad_masks_pins_and_edits(app) -> None:
    keypad = kh.find(app.root, "keypad")
    keypad.masked = True
    for key in ("key_9", "key_8", "key_7", "key_back"):
        kh.tap(kh.find(keypad, key))
    assert keypad.text == "98" and keypad.display_text == "●●"
    assert kh.find(keypad, "display").text == "●●"
    kh.tap(kh.find(keypad, "key_clear"))
    assert keypad.text == "" and kh.find(keypad, "display").text == translator()("ui.pin_prompt")


def test_language_switch_rerenders_kv_labels(app) -> None:
    ok = kh.find(app.root, "redeem")
    header = kh.find(app.root, "header")
    assert ok.text == "确定" and header.title == "爱心超市"
    kh.tap(kh.find(header, "language"))
    assert app.lang == "en" and ok.text == "OK" and header.title == "Love Supermarket"
    assert app.tr("ui.cancel") == "Cancel"
    app.lang = "zh"
    kh.pump(1)
    assert ok.text == "确定"


def test_message_banner_hides_after_its_time(app) -> None:
    banner: MessageBanner = kh.find(app.root, "banner")
    banner.show(app.error_text(LedgerError("bad_pin")), "error", timeout_s=0.3)
    kh.pump(2)
    assert banner.shown and banner.opacity == 1 and banner.full_text == "密码不对。"
    frames = kh.pump_until(lambda: not banner.shown, timeout_s=5)
    assert frames > 0 and banner.opacity == 0
    banner.show("请稍候", timeout_s=0)  # stays until tapped
    kh.tap(banner)
    assert not banner.shown


def test_confirm_dialog_answers_once(app) -> None:
    answers: list[bool] = []
    dialog = ask("兑换 2 袋大米，共 60 分？", answers.append)
    kh.pump(2)
    assert isinstance(dialog, ConfirmDialog) and dialog.parent is kh.window()
    yes = kh.find(dialog, "yes")
    kh.tap(yes)
    assert answers == [True] and dialog.parent is None
    # The redeem button under the (gone) dialog is reachable again.
    assert kh.find(None, "redeem").get_root_window() is not None


def test_toast_comes_and_goes_without_blocking_taps(app) -> None:
    note = toast("已打印", duration_s=0.2)
    keypad = kh.find(app.root, "keypad")
    kh.tap(kh.find(keypad, "key_7"))
    assert note.parent is kh.window() and keypad.text == "7"
    kh.pump_until(lambda: note.parent is None, timeout_s=5)


# ---------------------------------------------------------------- threads to the UI thread


def test_run_in_background_delivers_on_the_main_thread(app) -> None:
    seen: dict[str, object] = {}
    run_in_background(
        lambda: threading.current_thread().name,
        on_done=lambda worker: seen.update(worker=worker, done_on=threading.current_thread()),
    )

    def refuse() -> None:
        raise LedgerError("disk_full")

    run_in_background(refuse, on_error=lambda exc: seen.update(error=exc, error_on=threading.current_thread()))
    kh.wait_background()
    assert str(seen["worker"]).startswith("lovemart-bg")
    assert seen["done_on"] is threading.main_thread() and seen["error_on"] is threading.main_thread()
    assert isinstance(seen["error"], LedgerError) and seen["error"].code == "disk_full"


def test_background_runner_drain_and_cancel() -> None:
    runner = BackgroundRunner(max_workers=1)
    gate = threading.Event()
    got: list[int] = []
    task = runner.submit(lambda: gate.wait(5) and 1, on_done=got.append)
    kept = runner.submit(lambda: 2, on_done=got.append)
    task.cancel()
    assert runner.pending == 2
    gate.set()
    runner.drain(timeout_s=5)
    assert got == [2] and kept.future.result() == 2 and runner.pending == 0
    runner.shutdown()


def test_scan_bridge_delivers_scans_from_another_thread_on_the_ui_thread(app) -> None:
    received: list[tuple[str, str, bool]] = []
    bridge = ScanBridge(lambda text, source: received.append((text, source, threading.current_thread().name)))
    sender = threading.Thread(target=lambda: bridge.submit("LM1:XF0001:1:ABCDEF", "camera"), name="camera")
    sender.start()
    sender.join(5)
    assert received == []  # not yet: only the UI thread delivers
    kh.pump_until(lambda: received, timeout_s=5)
    assert received == [("LM1:XF0001:1:ABCDEF", "camera", threading.main_thread().name)]
    bridge.close()
    bridge.submit("LATE", "camera")
    kh.pump(2)
    assert len(received) == 1 and bridge.dropped == 1


def test_keyboard_wedge_burst_becomes_one_scan(app) -> None:
    scans: list[tuple[str, str]] = []
    bridge = ScanBridge(lambda text, source: scans.append((text, source)))
    wedge = KeyboardWedge(on_scan=bridge, max_gap_s=0.5)
    binding = bind_wedge(wedge)
    try:
        kh.type_burst("LM1:XF0001:1:ABCDEF")
        kh.pump_until(lambda: scans, timeout_s=5)
        assert scans == [("LM1:XF0001:1:ABCDEF", "wedge")]
        # Escape is not a character: the wedge leaves it to the app.
        assert kh.press_key(27) is False
    finally:
        binding.detach()


# ---------------------------------------------------------------- lock-down


def test_lockdown_keeps_the_kiosk_open() -> None:
    from kivy.base import EventLoop
    from kivy.config import Config
    from kivy.uix.settings import Settings

    locked = LockedApp()
    with kh.running(locked):
        win = kh.window()
        kh.pump(2)
        assert win.show_cursor is False and win.fullscreen == "auto"
        kh.press_key(27)  # Escape
        kh.pump(2)
        assert EventLoop.status == "started" and locked.root.get_root_window() is win
        assert not Config.getboolean("kivy", "exit_on_escape")
        win.dispatch("on_request_close")  # the window manager's close
        assert locked.lockdown.vetoed == 1 and kh.close_requests() == 0  # refused by the app itself
        Config.set("kivy", "exit_on_escape", "1")  # even if something turned Escape back on…
        kh.press_key(27)
        assert locked.lockdown.vetoed == 2 and kh.close_requests() == 0  # …its close request is refused
        kh.press_key(282)  # F1
        kh.pump(2)
        assert not kh.find_all(None, lambda w: isinstance(w, Settings))
    assert Config.getboolean("kivy", "exit_on_escape") is True and kh.window().show_cursor is True


def test_unlocked_app_lets_escape_f1_and_close_through_so_the_lockdown_test_means_something() -> None:
    spy = SettingsSpyApp()
    with kh.running(spy):
        kh.press_key(282)
        assert spy.opened == 1
        kh.press_key(27)
        kh.window().dispatch("on_request_close")
        assert kh.close_requests() == 2  # the app would have closed twice; only the harness refused


LOCKED_KIOSK_SIGTERM = """
import os, signal, sys
os.environ.update(SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", KIVY_NO_CONFIG="1", KIVY_LOG_MODE="PYTHON")
from ui.lockdown import configure_before_window
configure_before_window(fullscreen=False)
from kivy.base import EventLoop
from kivy.core.window import Window
Window.bind(on_request_close=lambda *a, **k: True)  # a locked kiosk refuses every close request
os.kill(os.getpid(), signal.SIGTERM)
for _ in range(5):
    EventLoop.idle(); Window.mainloop()
sys.exit(3)  # still alive: SIGTERM became a refused close request
"""


def test_a_locked_kiosk_still_ends_on_sigterm(tmp_path: Path) -> None:
    import signal

    env = {k: v for k, v in os.environ.items() if k != "SDL_NO_SIGNAL_HANDLERS"}
    env["KIVY_HOME"] = str(tmp_path)  # SIGTERM skips any clean-up the child could do itself
    result = subprocess.run([sys.executable, "-c", LOCKED_KIOSK_SIGTERM], cwd=ROOT, env=env, timeout=60)
    assert result.returncode == -signal.SIGTERM


# ---------------------------------------------------------------- harness and screenshots


def test_one_window_serves_app_after_app() -> None:
    first, second = DemoApp(), DemoApp()
    kh.start_app(first)
    win = kh.window()
    kh.start_app(second)  # stops the first
    assert kh.window() is win and first.root.parent is None and second.root.parent is win
    kh.tap(kh.find(second.root, "key_3"))
    assert kh.find(second.root, "keypad").text == "3"
    kh.stop_app(second)
    assert not kh.window().children


def test_screenshot_of_the_demo_layout(app, tmp_path: Path) -> None:
    from PIL import Image

    kh.find(app.root, "banner").show("积分不足：需要 30 分", "error", timeout_s=0)
    small = kh.screenshot(tmp_path / "small.png", size=(800, 480))  # a resize really happens before the shot
    path = kh.screenshot(tmp_path / "shots" / "demo.png", size=(1024, 600))
    assert path == tmp_path / "shots" / "demo.png" and not list(tmp_path.rglob("*0001.png"))
    with Image.open(small) as image:
        assert image.size == (800, 480)
    with Image.open(path) as image:
        assert image.size == (1024, 600)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 20  # a drawn screen, not a blank buffer
