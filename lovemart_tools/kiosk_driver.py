"""The kiosk driven offscreen: ``kiosk_screenshots`` (``lovemart screenshots``) and ``bench_kiosk`` (the kiosk
part of ``lovemart bench kiosk``).

They start the real app as ``lovemart kiosk`` wires it (``lovemart.kiosk_main.build_kiosk``) in an offscreen
window, with a fake scanner and speaker. Kivy reads its environment and Config when first imported, so
everything Kivy is imported inside the functions, after the environment is set. Run each in a process of
its own: Kivy has one window per process.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.board import stored_board
from ledger.passbook import make_code
from lovemart.bootstrap import ShopParts, fake_parts
from lovemart.kiosk_main import build_kiosk
from lovemart_tools import offscreen
from lovemart_tools.measure import percentile, process_age_s, rss_mb

SCREENSHOT_SIZES: tuple[tuple[int, int], ...] = ((1280, 800), (1024, 600), (480, 800))
BENCH_SCANS = 200
BENCH_RSS_SCANS = 1000
BENCH_SIZE = (1024, 600)


def _p95(values: Sequence[float]) -> float:
    return percentile(values, 0.95)


@dataclass
class _Samples:
    """What a screenshot run needs from the ledger: codes for each kind of scan."""

    household: str
    unknown: str
    forged: str
    revoked: str | None
    frozen: str | None


def _samples(home: ShopParts) -> _Samples:
    from ledger.model import HouseholdStatus

    store = home.store()
    with store.read() as unit:
        key = unit.township().passbook_key
        floor = unit.policy().redeemable_floor
        rows = unit.households()
        on_notice = {line.household_id for notice in stored_board(unit).notices for line in notice.lines}
    active = [r for r in rows if r.card_no and r.household.status == HouseholdStatus.ACTIVE]
    if not active:
        raise RuntimeError("the ledger has no active household with a passbook to show")
    # A household with points to spend and, when the board has a notice, an item on it (to show those lines).
    best = max(
        active[:200], key=lambda r: (r.balance - floor > 20, r.household.household_id in on_notice, r.earned_cycle)
    )
    reissued = next((r for r in rows if r.card_no and r.card_no > 1), None)
    frozen = next((r for r in rows if r.card_no and r.household.status == HouseholdStatus.FROZEN), None)
    household = make_code(key, best.household.household_id, best.card_no or 1)
    return _Samples(
        household=household,
        unknown=make_code(key, "ZZ9999", 1),
        forged=household[:-6] + ("AAAAAA" if not household.endswith("AAAAAA") else "BBBBBB"),
        revoked=make_code(key, reissued.household.household_id, 1) if reissued else None,
        frozen=make_code(key, frozen.household.household_id, frozen.card_no or 1) if frozen else None,
    )


def kiosk_screenshots(
    home: ShopParts, out_dir: Path, sizes: Sequence[tuple[int, int]] = SCREENSHOT_SIZES, lang: str = "zh"
) -> list[Path]:
    """PNGs of every kiosk screen at every size, driven through the real app by a fake scanner:
    ``kiosk-<screen>-<w>x<h>.png`` for idle, idle-notice (the panel turned to a notice, when the board has
    one), rules (怎样得积分), idle-preview (the camera's mirror, with a frame of the scan
    benchmark: a printed passbook card, photographed), household, error-unknown, error-revoked, error-forged,
    error-frozen, error-camera, idle-camera (the note that stays), maintenance. Run in a process of its own
    (it opens Kivy's one window offscreen)."""
    largest = (max(w for w, _h in sizes), max(h for _w, h in sizes))
    offscreen.prepare(largest)
    from hardware.errors import HardwareError
    from hardware.scanner import FakeScanner, ScannerStatus
    from hardware.speech import MemorySpeaker
    from kiosk.app import KioskSettings

    samples = _samples(home)
    from lovemart_tools.bench_scan import card_in_view

    camera_frame = card_in_view()
    fake = FakeScanner(window_s=0)
    config = home.settings.kiosk
    settings = KioskSettings(
        timeout_s=config.timeout_s,
        error_timeout_s=config.error_timeout_s,
        lockdown=False,
        fullscreen=False,
        hide_cursor=False,
    )
    app = build_kiosk(
        fake_parts(home.home, store=home.store(), scanners=[fake], speaker=MemorySpeaker(available=True)),
        settings=settings,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with offscreen.running(app, (sizes[0][0], sizes[0][1])):
        # The kiosk goes back to its shop's language at every return to idle: the pictures' language is that.
        app.default_lang = app.lang = lang
        offscreen.frames_until(offscreen.background_idle)
        preview = app.idle_screen.ids.preview
        for width, height in sizes:

            def shot(name: str, w: int = width, h: int = height) -> None:
                offscreen.frames(2)
                written.append(offscreen.save_screenshot(out_dir / f"kiosk-{name}-{w}x{h}.png", (w, h)))

            app.go_idle()
            fake.report(ScannerStatus("ready"))
            offscreen.frames(1)
            shot("idle")
            if app.presenter.rotate():  # the panel's turn to the village's notice (公示), when there is one
                app.go_idle()
                shot("idle-notice")
                while app.presenter.idle_view().panel != "ranking":
                    app.presenter.rotate()
                app.go_idle()
            app.show_rules()
            shot("rules")
            app.go_idle()
            preview.frames = lambda: camera_frame
            offscreen.frames_until(lambda: bool(preview.live))
            shot("idle-preview")
            preview.frames = app.preview
            fake.scan(samples.household)
            offscreen.frames_until(lambda: app.screen == "household")
            shot("household")
            for kind, code in (
                ("unknown", samples.unknown),
                ("revoked", samples.revoked),
                ("forged", samples.forged),
                ("frozen", samples.frozen),
            ):
                app.go_idle()
                if code is not None:
                    fake.scan(code)
                    offscreen.frames_until(lambda: app.screen == "error")
                else:  # this ledger has no such household: show the same screen without a scan
                    app.show_error(kind, name="王秀兰", card_no=1)  # type: ignore[arg-type]
                shot(f"error-{kind}")
            app.go_idle()
            fake.report(ScannerStatus("absent", HardwareError("camera_not_found", where="/dev/video0")))
            offscreen.frames_until(lambda: app.screen == "error")
            shot("error-camera")
            app.go_idle()
            shot("idle-camera")
            app.open_maintenance()
            shot("maintenance")
    return written


# ----- the benchmark ------------------------------------------------------------------------------------


def _codes(home: ShopParts, count: int) -> list[str]:
    from ledger.model import HouseholdStatus

    with home.store().read() as unit:
        key = unit.township().passbook_key
        rows = unit.households()
    codes = [
        make_code(key, r.household.household_id, r.card_no)
        for r in rows
        if r.card_no and r.household.status == HouseholdStatus.ACTIVE
    ]
    if not codes:
        raise RuntimeError("the ledger has no household with a passbook to scan")
    step = max(1, len(codes) // count) if len(codes) >= count else 1
    spread = codes[::step]  # different households across the whole ledger, not only the first few
    return [spread[i % len(spread)] for i in range(count)]


def bench_kiosk(home: ShopParts) -> dict[str, Any]:
    """Scan-to-screen latency, cold start and memory of the real kiosk, offscreen (see the module docstring
    of ``kiosk.app`` for what a scan does). Run in a process of its own: the cold start counts from the
    process's start (``process_age_s``), and Kivy's one window is opened offscreen here.

    ``kiosk_scan_to_screen_*_ms``: from the scan event (a fake scanner called on this thread, delivered
    through the same ``ScanBridge`` hop as a camera's) to the end of the frame that draws the household's
    name and points (the window's ``on_flip``), over ``BENCH_SCANS`` different households;
    ``kiosk_scan_to_complete_screen_p95_ms`` to the frame that also shows both lists (two frames later).
    Baselines measured in the same run on the same codes: ``baseline_balance_p95_ms`` (the bare
    ``balance_for_code`` read) and ``baseline_kiosk_read_p95_ms`` (the kiosk's whole read: balance, ten
    movements in words, the shelf); ``baseline_empty_frame_p50_ms``, the time to draw an empty window (on a
    software GL such as Mesa llvmpipe, the one offscreen uses, most of a frame's cost); and
    ``kiosk_rss_mb_empty_window``, the process with Kivy's window open and nothing of ours.
    """
    offscreen.prepare(BENCH_SIZE)
    from kivy.core.window import Window
    from kivy.graphics.opengl import GL_RENDERER, glFinish, glGetString

    rss_window = rss_mb()  # Python, Kivy, SDL and the GL driver with an empty window: the floor

    from hardware.scanner import FakeScanner
    from hardware.speech import MemorySpeaker
    from kiosk.app import KioskSettings
    from kiosk.sources import LocalSource
    from ledger import services

    fake = FakeScanner(window_s=0)
    settings = KioskSettings(timeout_s=3600, lockdown=False, fullscreen=False, hide_cursor=False)
    app = build_kiosk(
        fake_parts(home.home, store=home.store(), scanners=[fake], speaker=MemorySpeaker(available=True)),
        settings=settings,
        freeze_gc=True,
    )
    # Every drawn frame, with what it showed: the frame that first shows a household's figures, and the one
    # that first shows its lists too, are found here afterwards.
    flips: list[tuple[float, int, int]] = []

    def flipped(*_args: Any) -> None:
        # glFinish: a software GL (Mesa llvmpipe, as offscreen here and on many kiosk PCs) draws after the
        # call returns; waiting for it counts the real drawing time in the frame that asked for it, instead
        # of in whatever next touches the GL (the next scan's first texture).
        glFinish()
        flips.append((time.perf_counter(), app.households_shown, app.households_completed))

    Window.bind(on_flip=flipped)

    with offscreen.running(app, BENCH_SIZE):
        offscreen.frames(1)
        cold_start_s = process_age_s()  # the idle screen is drawn (the ranking may still be on its way)
        offscreen.frames_until(lambda: offscreen.background_idle() and app.screen == "idle", paced=True)
        offscreen.frames(1)
        cold_start_ranking_s = process_age_s()
        rss_start = rss_mb()
        codes = _codes(home, BENCH_SCANS)

        def one_scan(code: str) -> tuple[float, float]:
            shown, completed = app.households_shown, app.households_completed
            flips.clear()
            t0 = time.perf_counter()
            fake.scan(code)
            offscreen.frames_until(lambda: any(c > completed for _t, _s, c in flips))
            figures = next(t for t, s, _c in flips if s > shown)
            lists = next(t for t, _s, c in flips if c > completed)
            app.go_idle()
            offscreen.frames(1)
            return (figures - t0) * 1000, (lists - t0) * 1000

        for code in codes[:10]:  # warm-up: first textures, first row widgets
            one_scan(code)
        timings = [one_scan(code) for code in codes]
        latencies = [figures for figures, _lists in timings]
        complete = [lists for _figures, lists in timings]
        rss_before = rss_mb()
        rss_codes = _codes(home, BENCH_RSS_SCANS)
        rss_half = 0.0
        for n, code in enumerate(rss_codes, start=1):
            one_scan(code)
            if n == BENCH_RSS_SCANS // 2:
                rss_half = rss_mb()
        rss_after = rss_mb()
        # The floor under every frame: redrawing an empty window (clear, flip, wait for the GL).
        app.root.opacity = 0
        empty = []
        for _ in range(20):
            flips.clear()
            Window.canvas.ask_update()
            t0 = time.perf_counter()
            offscreen.frames_until(lambda: bool(flips))
            empty.append((flips[0][0] - t0) * 1000)
        app.root.opacity = 1
        renderer = glGetString(GL_RENDERER).decode(errors="replace")

    store = home.store()
    source = LocalSource(store)
    bare, kiosk_read = [], []
    for code in codes:
        t0 = time.perf_counter()
        services.balance_for_code(store, code)
        t1 = time.perf_counter()
        source.household(code)
        source.shelf()
        t2 = time.perf_counter()
        bare.append((t1 - t0) * 1000)
        kiosk_read.append((t2 - t1) * 1000)
    with store.read() as unit:
        households = len(unit.households())
    return {
        "households": households,
        "scans": len(latencies),
        "window": f"{BENCH_SIZE[0]}x{BENCH_SIZE[1]}",
        "gl_renderer": renderer,
        "kiosk_scan_to_screen_p95_ms": round(_p95(latencies), 2),
        "kiosk_scan_to_screen_p50_ms": round(statistics.median(latencies), 2),
        "kiosk_scan_to_screen_max_ms": round(max(latencies), 2),
        "kiosk_scan_to_complete_screen_p95_ms": round(_p95(complete), 2),
        "kiosk_cold_start_s": round(cold_start_s, 3),
        "kiosk_cold_start_with_ranking_s": round(cold_start_ranking_s, 3),
        "kiosk_rss_mb_at_start": round(rss_start, 1),
        "kiosk_rss_mb_before_1000_scans": round(rss_before, 1),
        "kiosk_rss_mb_after_500_scans": round(rss_half, 1),
        "kiosk_rss_mb_after_1000_scans": round(rss_after, 1),
        "kiosk_rss_mb_empty_window": round(rss_window, 1),
        "baseline_empty_frame_p50_ms": round(statistics.median(empty), 2),
        "baseline_balance_p95_ms": round(_p95(bare), 3),
        "baseline_kiosk_read_p95_ms": round(_p95(kiosk_read), 3),
    }
