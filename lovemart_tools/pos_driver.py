"""The POS driven offscreen: ``pos_screenshots`` (``lovemart screenshots``) and ``bench_pos`` (the POS part
of ``lovemart bench kiosk``).

They start the real app as ``lovemart pos`` wires it (``lovemart.pos_main.build_pos``), in an offscreen
window (``SDL_VIDEODRIVER=offscreen``), frame by frame, without blocking in ``App.run``, with a
``MemoryPrinter`` and a ``FakeScanner``, on a private copy of the shop's ledger (or a fresh demo shop).
Kivy reads its environment and command line when first imported, so everything Kivy is imported inside
the functions, after the environment is set.
"""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import LedgerError
from ledger.messages import Message
from ledger.search import initials
from lovemart.bootstrap import ShopParts, fake_parts, shop_parts
from lovemart.pos_main import build_pos
from lovemart_tools import offscreen
from lovemart_tools.measure import percentile, rss_mb

if TYPE_CHECKING:
    from pos.app import PosApp

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((1280, 800), (1024, 600))
BENCH_SCANS = 200
BENCH_REDEMPTIONS = 1000
BENCH_SEED = 2026
BENCH_SIZE = (1024, 600)


def _copy_ledger(home: ShopParts, target: Path) -> ShopParts:
    """A private copy of a shop: its settings (ledger path made local), a consistent snapshot of its
    ledger, taken with SQLite's backup API so a POS writing meanwhile cannot tear it, and its goods' pictures."""
    import shutil

    from lovemart import settings as settings_mod

    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    if home.settings.config_path.exists():
        shutil.copyfile(home.settings.config_path, target / settings_mod.CONFIG_NAME)
    settings_mod.update(settings_mod.load(target), {"ledger": {"path": "ledger.sqlite3"}})
    source = sqlite3.connect(str(home.settings.ledger_path))
    try:
        with contextlib.closing(sqlite3.connect(str(target / "ledger.sqlite3"))) as dest:
            source.backup(dest)
    finally:
        source.close()
    if home.pictures.folder.is_dir():  # the goods' pictures show on the tiles as at the shop
        shutil.copytree(home.pictures.folder, target / home.pictures.folder.name)
    return shop_parts(target)


def _demo_copy(home: ShopParts, target: Path, households: int = 200) -> ShopParts:
    """A copy of ``home``'s shop, or a fresh demo shop when ``home`` has none, in ``target``."""
    if home.exists:
        return _copy_ledger(home, target)
    from lovemart_tools import demo

    fresh = shop_parts(target)
    demo.run(fresh, households=households)
    return fresh


@dataclass
class _Samples:
    """Demo data for the pictures: a household with points, one with few, goods with stock.

    The layout check looks at these pictures, so they show the demo's longest on purpose: ``rich`` is the
    family whose names take the most room, and ``long_skus`` the goods with the longest names, longest first.
    """

    rich: str
    poor: str
    skus: list[str]
    long_skus: list[str]


def _samples(store: Any) -> _Samples:
    from ledger.model import HouseholdStatus
    from ledger.passbook import make_code

    with store.read() as unit:
        key = unit.township().passbook_key
        policy = unit.policy()
        rows = [r for r in unit.households() if r.card_no and r.household.status == HouseholdStatus.ACTIVE]
        levels = unit.stock_levels()
        items = [i for i in unit.items() if i.active and levels.get(i.sku, 0) >= 5]
    skus = [i.sku for i in items]
    longest = sorted(items, key=lambda i: (-len(f"{i.name} {i.unit}"), i.sku))
    cart_points = sum(i.points for i in longest[:3]) + (longest[0].points if longest else 0)
    by_points = sorted(rows, key=lambda r: r.balance)
    families = [
        r for r in rows if len(r.household.members) >= 3 and r.balance - policy.redeemable_floor > cart_points + 10
    ]
    rich = max(
        families,
        key=lambda r: (sum(len(m.name) for m in r.household.members), len(r.household.head_name), r.balance),
        default=None,
    )
    poor = next((r for r in by_points if 5 < r.balance - policy.redeemable_floor < 30), by_points[0])
    if rich is None:
        raise LedgerError("household_unknown", household_id="-")
    return _Samples(
        make_code(key, rich.household.household_id, rich.card_no or 1),
        make_code(key, poor.household.household_id, poor.card_no or 1),
        skus,
        [i.sku for i in longest],
    )


def _login(app: PosApp, manager: bool = True) -> None:
    """Log in as the demo's manager (or clerk) the way the login screen does, without tapping."""
    choices = app.session.operators()
    chosen = next((c for c in choices if c.is_manager == manager), choices[0])
    pins = {"01": "1234", "02": "0000"}
    result = app.session.login(chosen.operator_id, pins.get(chosen.operator_id, "1234"))
    app.logged_in(result.same_operator)
    offscreen.frames(2)


def _close_dialogs() -> None:
    from kivy.core.window import Window
    from kivy.uix.modalview import ModalView

    for child in list(Window.children):
        if isinstance(child, ModalView):
            child.dismiss(animation=False)
    offscreen.frames(2)


def pos_screenshots(
    home: ShopParts, out_dir: Path, sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES, lang: str = "zh"
) -> list[Path]:
    """A PNG of every POS screen at every size, as ``pos-<screen>-<w>x<h>.png`` in ``out_dir``, in ``lang``
    (the "redeem-en" picture is in English whatever ``lang`` is).

    Works on a private copy of ``home``'s ledger (or a fresh demo shop), with a ``MemoryPrinter`` and a
    ``FakeScanner``, so taking pictures never changes a real shop. Kivy must not have opened a window
    with another driver in this process; the caller runs this in a fresh process.
    """
    from hardware.errors import HardwareError
    from hardware.printers import MemoryPrinter
    from hardware.scanner import FakeScanner

    sizes = list(sizes)
    if not sizes:
        return []
    offscreen.prepare(max(sizes, key=lambda s: s[0] * s[1]))  # the largest: a window can shrink, never grow
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="lovemart-pos-shots-") as tmp:
        shop = _demo_copy(home, Path(tmp))
        printer = MemoryPrinter()
        scanner = FakeScanner(window_s=0)
        app = build_pos(
            fake_parts(shop.home, store=shop.store(), printer=printer, scanners=[scanner]),
            lockdown=False,
            freeze_gc=False,
            idle_lock_s=0,
        )

        def shot(name: str) -> None:
            offscreen.frames(2)
            for size in sizes:
                written.append(offscreen.save_screenshot(out_dir / f"pos-{name}-{size[0]}x{size[1]}.png", size))

        with offscreen.running(app):
            app.lang = lang
            offscreen.frames(3)
            samples = _samples(shop.store())
            shot("login")
            _login(app)
            app.root.ids.banner.hide()
            shot("home")
            app.go("redeem")
            shot("redeem-empty")
            from lovemart_tools.bench_scan import card_in_view

            camera_frame = card_in_view()
            preview = app.screen("redeem").ids.preview
            preview.frames = lambda: camera_frame
            offscreen.frames_until(lambda: bool(preview.live))
            shot("redeem-camera")
            preview.frames = app.preview
            scanner.scan(samples.rich)
            offscreen.frames(3)
            redeem = app.screen("redeem")
            for sku in samples.long_skus[:3]:
                redeem.add_item(sku)
            redeem.plus(samples.long_skus[0])
            app.root.ids.banner.hide()
            shot("redeem")
            redeem.confirm()
            shot("redeem-confirm")
            redeem._dialog.answer(True) if redeem._dialog is not None else None
            offscreen.frames_until(offscreen.background_idle, 10, "print")
            offscreen.frames(2)
            shot("redeem-done")
            app.lang = "en"
            redeem.add_item(samples.skus[0])
            shot("redeem-en")
            app.lang = lang
            redeem.clear_cart()
            redeem.next_customer()
            scanner.scan(samples.poor)
            offscreen.frames(3)
            for _ in range(4):
                redeem.add_item(samples.skus[0])  # a 5 kg bag of rice is more than this household has
            shot("redeem-over-budget")
            redeem.clear_cart()
            redeem.next_customer()
            redeem.manual_entry()
            shot("manual-entry")
            _close_dialogs()
            scanner.scan(samples.rich)
            offscreen.frames(3)
            grid = redeem.ids.grid
            offscreen.frames_until(offscreen.background_idle, 10, "goods search index")
            finder = grid.open_find()
            for letter in initials(app.catalog.tile(samples.skus[0]).name)[0][:1]:
                finder.ids.letters.press_letter(letter)
            shot("redeem-find")
            finder.close()
            shot("redeem-found")
            grid.select("")
            redeem.add_item(samples.skus[1])
            usb = Message("printer.via.usb")
            printer.fail_with(HardwareError("printer_offline", where=usb, device="USB 0416:5011"))
            redeem.confirm()
            redeem._dialog.answer(True) if redeem._dialog is not None else None
            offscreen.frames_until(offscreen.background_idle, 10, "print")
            offscreen.frames(2)
            shot("print-failed")
            _close_dialogs()
            printer.fail_with(None)
            app.reprint(app.reprint_receipt)
            offscreen.frames_until(offscreen.background_idle, 10, "reprint")
            app.root.ids.banner.hide()

            app.go("today")
            today = app.screen("today")
            rows = today.ids.list.rows
            if rows:
                today.select(rows[0]["key"])
            shot("today")
            today.void()
            shot("void-reason")
            _close_dialogs()

            app.go("stock_in")
            stock_in = app.screen("stock_in")
            stock_in._supplier("县供销社")
            app.stock_in.goods.set(samples.long_skus[0], 20)
            app.stock_in.goods.set(samples.long_skus[1], 12)
            stock_in.show_lines()
            shot("stock-in")
            app.go("count")
            count = app.screen("count")
            app.count.set_counted(samples.skus[0], max(0, app.catalog.tile(samples.skus[0]).on_hand - 2))
            app.count.set_counted(samples.skus[1], app.catalog.tile(samples.skus[1]).on_hand)
            count.refresh()
            shot("count")
            count.confirm()
            shot("count-confirm")
            _close_dialogs()
            app.go("write_off")
            shot("write-off")
            app.go("stock_list")
            shot("stock-list")

            app.go("donation")
            donation = app.screen("donation")
            donation.pick_donor()
            shot("donor-picker")
            _close_dialogs()
            from pos.presenters.donors import donor_choices

            donation._donor(donor_choices(shop.store())[-1])
            for digit in "2000":
                donation.ids.keypad.press_digit(digit)
            shot("donation-money")
            donation.set_kind("goods")
            app.donation.goods.set(samples.long_skus[2], 30)
            donation.show()
            shot("donation-goods")
            donation.set_kind("money")

            app.go("day_close")
            offscreen.frames_until(lambda: app.screen("day_close").ready, 30, "day close totals")
            shot("day-close")
            app.go("sync")
            app.root.ids.banner.hide()
            shot("sync")
            app.go("register")
            for name, value in {"head_name": "张德福", "members": "李桂兰(配偶)、张小军(儿子)", "phone": "1"}.items():
                app.register.set(name, value)
            register = app.screen("register")
            register.refresh()
            register.add()  # the phone is too short: marked in red, nothing stored
            shot("register")
            app.lock()
            shot("locked")
        shop.close()
        _first_run_shots(Path(tmp) / "new-shop", shot, lang)
    return written


def _first_run_shots(folder: Path, shot: Callable[[str], None], lang: str) -> None:
    """The first-run set-up of a PC with no shop: the first page with a mistake marked, the manager's page
    and what was made (into ``folder``, a throw-away)."""
    from lovemart.pos_main import build_first_run

    parts = fake_parts(folder)
    app = build_first_run(parts)
    app._leave = lambda: None
    presenter = app.first_run
    with offscreen.running(app):
        app.lang = lang
        screen = app.root.ids.screens.current_screen
        answers = {"township": "红星镇", "township_id": "T01", "village": "幸福村", "village_id": "X F"}
        answers.update({"shop": "幸福村爱心超市", "shop_id": "S01"})
        for name, value in answers.items():
            presenter.set(name, value)
        screen.refresh()
        screen.go_next()
        shot("setup-place")
        presenter.set("village_id", "XF")
        screen.go_next()
        shot("setup-rules")
        screen.go_next()
        presenter.set("manager", "王秀兰")
        screen.refresh()
        screen.pin_typed("2468")
        shot("setup-manager")
        screen.pin_typed("2468")
        offscreen.frames_until(offscreen.background_idle, 10, "the new shop")
        shot("setup-done")
    parts.close()


# ----- the benchmark ----------------------------------------------------------------------------------------


def _bench_codes(store: Any, count: int, min_redeemable: int) -> list[tuple[str, str]]:
    """(passbook code, head's name) of ``count`` different active households with points to spend."""
    import random

    from ledger import services
    from ledger.model import HouseholdStatus
    from ledger.passbook import make_code

    with store.read() as unit:
        key = unit.township().passbook_key
        policy = unit.policy()
        rows = [
            r
            for r in unit.households()
            if r.card_no
            and r.household.status == HouseholdStatus.ACTIVE
            and services.redeemable_points(unit, r.household, r.balance, policy) >= min_redeemable
        ]
    random.Random(BENCH_SEED).shuffle(rows)
    return [(make_code(key, r.household.household_id, r.card_no or 1), r.household.head_name) for r in rows[:count]]


def _shows(screen: Any, name: str) -> Callable[[], bool]:
    return lambda: bool(screen.hh_name == name)


def _bench_child(home_dir: str) -> dict[str, Any]:
    """Inside a fresh process: scan-to-screen latency and memory over many redemptions, on a copy."""
    from hardware.printers import MemoryPrinter
    from hardware.scanner import FakeScanner
    from ledger import services

    offscreen.prepare(BENCH_SIZE)
    shop = shop_parts(Path(home_dir))
    store = shop.store()
    with store.read() as unit:
        items = [i for i in unit.items() if i.active]
        households = len(unit.households())
    cheapest = min(items, key=lambda i: i.points)
    # Enough on the shelf for every redemption of the run (the demo's year left some shelves empty).
    services.stock_intake(
        store, [(i.sku, 5_000) for i in items], supplier="县供销社", ctx=services.Context(services.ADMIN)
    )
    scans = _bench_codes(store, BENCH_SCANS, 0)
    buyers = _bench_codes(store, 2_000, cheapest.points * 3)

    baseline: list[float] = []
    for code, _name in scans:
        started = time.perf_counter()
        services.balance_for_code(store, code)
        baseline.append((time.perf_counter() - started) * 1000)

    printer = MemoryPrinter()
    scanner = FakeScanner(window_s=0)
    app = build_pos(
        fake_parts(shop.home, store=shop.store(), printer=printer, scanners=[scanner]), lockdown=False, idle_lock_s=0
    )
    latencies: list[float] = []
    rss: dict[str, float] = {}
    with offscreen.running(app):
        offscreen.frames(3)
        _login(app, manager=False)
        app.go("redeem")
        redeem = app.screen("redeem")
        offscreen.frames(5)
        for code, name in scans:
            redeem.next_customer()
            offscreen.frames(1)
            started = time.perf_counter()
            scanner.scan(code)
            # One frame runs the scan's delivery, the screen update and the drawing (EventLoop.idle).
            offscreen.frames_until(_shows(redeem, name), 5, "household on screen")
            latencies.append((time.perf_counter() - started) * 1000)
        offscreen.frames_until(offscreen.background_idle, 30, "background work")
        rss["before"] = round(rss_mb(), 1)
        done = 0
        for i in range(BENCH_REDEMPTIONS):
            code, name = buyers[i % len(buyers)]
            redeem.next_customer()
            scanner.scan(code)
            offscreen.frames_until(_shows(redeem, name), 5, "household")
            redeem.add_item(cheapest.sku)
            redeem.confirm()
            if redeem._dialog is not None:
                redeem._dialog.answer(True)
            offscreen.frames_until(offscreen.background_idle, 30, "print")
            offscreen.frames(1)
            done += 1 if redeem.presenter.last is not None else 0
            printer.jobs.clear()  # the fake keeps every job's bytes; a real printer keeps none
            if (i + 1) % 250 == 0:
                rss[str(i + 1)] = round(rss_mb(), 1)
    shop.close()
    return {
        "households": households,
        "scans": len(latencies),
        "latencies_ms": latencies,
        "baseline_ms": baseline,
        "redemptions": done,
        "rss": rss,
    }


def _cold_start_child(home_dir: str) -> None:
    """Inside a fresh process: start the POS as ``lovemart pos`` would and say when the login is drawn."""
    offscreen.prepare(BENCH_SIZE)
    shop = shop_parts(Path(home_dir))
    app = build_pos(fake_parts(shop.home, store=shop.store(), scanners=[]), lockdown=False)
    with offscreen.running(app):
        offscreen.frames(3)
        offscreen.frames_until(
            lambda: app.screens.current == "login" and app.screen("login").ids.operators.children, 30, "login"
        )
        offscreen.frames(1)  # the frame that draws it
        sys.stdout.write("READY\n")
        sys.stdout.flush()
    shop.close()


def _cold_start_s(home_dir: str) -> float:
    """Process start to the login screen drawn, measured from outside (interpreter start-up included)."""
    code = f"from lovemart_tools.pos_driver import _cold_start_child; _cold_start_child({home_dir!r})"
    started = time.perf_counter()
    env = offscreen.child_env()
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == "READY":
            elapsed = time.perf_counter() - started
            break
    else:
        child.wait(60)
        raise RuntimeError("the POS did not reach its login screen")
    child.wait(60)
    return elapsed


def bench_pos(home: ShopParts) -> dict[str, Any]:
    """``lovemart bench kiosk`` (the POS part), on a copy of ``home``'s ledger (build it with
    ``lovemart --home H demo --no-ui --households 5000``).

    - ``pos_scan_to_screen_p95_ms``: from a scan event (``FakeScanner.scan``, the same path as a camera's
      or a wedge's scan) to the end of the frame that draws the household, over 200 different households;
      ``baseline_lookup_p95_ms`` is the bare ``services.balance_for_code`` of the same codes.
    - ``pos_cold_start_s``: a new process to the login screen drawn (median of three).
    - ``pos_rss_mb_before`` / ``pos_rss_mb_after_1000_redemptions`` (and every 250): resident memory of the
      running app before and during 1,000 redemptions through the screen (scan, tap, confirm, commit, print).
    """
    if not home.exists:
        raise LedgerError("not_configured")
    with tempfile.TemporaryDirectory(prefix="lovemart-pos-bench-") as tmp:
        copy_dir = Path(tmp) / "shop"
        _copy_ledger(home, copy_dir)
        cold = [_cold_start_s(str(copy_dir)) for _ in range(3)]
        code = (
            "import json; from lovemart_tools.pos_driver import _bench_child; "
            f"print(json.dumps(_bench_child({str(copy_dir)!r})))"
        )
        data = offscreen.run_child(code, timeout_s=1800)
    latencies, baseline, rss = data["latencies_ms"], data["baseline_ms"], data["rss"]
    p95 = percentile(latencies, 0.95)
    base95 = percentile(baseline, 0.95)
    figures: dict[str, Any] = {
        "pos_households": data["households"],
        "pos_scans": data["scans"],
        "pos_scan_to_screen_p50_ms": round(statistics.median(latencies), 2),
        "pos_scan_to_screen_p95_ms": round(p95, 2),
        "pos_scan_to_screen_max_ms": round(max(latencies), 2),
        "pos_baseline_lookup_p50_ms": round(statistics.median(baseline), 3),
        "pos_baseline_lookup_p95_ms": round(base95, 3),
        "pos_scan_ratio_p95": round(p95 / base95, 1) if base95 else None,
        "pos_cold_start_s": round(statistics.median(cold), 2),
        "pos_cold_start_min_s": round(min(cold), 2),
        "pos_redemptions": data["redemptions"],
        "pos_rss_mb_before": rss["before"],
        "pos_rss_mb_after_1000_redemptions": rss.get(str(BENCH_REDEMPTIONS)),
    }
    for mark in ("250", "500", "750"):
        if mark in rss:
            figures[f"pos_rss_mb_after_{mark}_redemptions"] = rss[mark]
    return figures
