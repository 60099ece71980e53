"""The POS assembled from a shop's parts: ``build_pos`` and ``run_pos`` (``lovemart pos``).

The parts come from ``lovemart.bootstrap`` (real ones for ``lovemart pos``, fakes for tests, screenshots and the
benchmark): the ledger, the receipt printer of ``[printer]``, the camera of ``[scanner]``, the keyboard wedge,
the sync port and the clocks. ``pos.assembly.pos_presenters`` makes the presenters out of them and ``PosApp``
(or ``LockedPosApp``) receives those. ``[pos]`` of lovemart.toml (``lovemart.settings.PosSection``)::

    [pos]
    idle_lock_s = 300     # lock the till after this many idle seconds (0: never)
    lockdown = false      # kiosk-style: full screen, no Escape, no F1 settings, no window close
    low_stock = 10        # the stock list puts items with this many or fewer first
    camera_preview = true # the redeem screen shows what the camera sees while it waits for a passbook

Kivy reads its environment and command line when first imported, so everything Kivy is imported inside
the functions, after the environment is set (``KIVY_NO_ARGS``: ``lovemart``'s own arguments are not
Kivy's). Screenshots and the benchmark (``lovemart_tools.pos_driver``) drive the app ``build_pos`` makes in
an offscreen window.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from ledger.errors import LedgerError
from lovemart.backups import HomeBackups
from lovemart.bootstrap import AppSync, ShopParts

if TYPE_CHECKING:
    from ledger.shop_setup import ShopSetup
    from pos.app import PosApp
    from pos.first_run import PosFirstRunApp

log = logging.getLogger(__name__)


def _kivy_environment() -> None:
    """Environment Kivy reads on its first import (harmless if it is already imported)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")


def build_pos(
    parts: ShopParts,
    *,
    lockdown: bool | None = None,
    fullscreen: bool = True,
    freeze_gc: bool = True,
    idle_lock_s: float | None = None,
    sync: AppSync | None = None,
) -> PosApp:
    """The POS made of ``parts`` (Kivy must be importable: call after the environment is set).

    ``lockdown`` and ``idle_lock_s`` default to ``[pos]``; ``sync`` to a new ``parts.sync()`` (whoever ends
    the app closes it: ``run_pos`` does).
    """
    from lovemart.sync_wiring import nightly_schedule
    from pos.app import LockedPosApp, PosApp
    from pos.assembly import pos_presenters

    settings = parts.settings
    scanners = parts.scanners()
    presenters = pos_presenters(
        parts.store(),
        printer_factory=parts.printer,
        sync=sync if sync is not None else parts.sync(),
        clock=parts.clock,
        monotonic=parts.monotonic,
        idle_lock_s=settings.pos.idle_lock_s if idle_lock_s is None else idle_lock_s,
        backups=HomeBackups(settings, parts.clock),
        pictures_of=parts.pictures.paths,
    )
    locked = settings.pos.lockdown if lockdown is None else lockdown
    app_class = LockedPosApp if locked else PosApp
    options = {"fullscreen": fullscreen} if locked else {}
    return app_class(
        presenters,
        scanners=scanners.devices,
        wedge_factory=parts.wedge,
        nightly_sync=nightly_schedule(settings, parts.store),
        low_stock=settings.pos.low_stock,
        lang=settings.language,
        freeze_gc=freeze_gc,
        problems=scanners.problems,
        preview=scanners.preview() if settings.pos.camera_preview else None,
        **options,
    )


def _check_chain_at_start(parts: ShopParts) -> LedgerError | None:
    """The till's start-up check (``ledger.integrity``): the hash chain from the last audit's checkpoint.

    A failure does not keep the till closed (the shopkeeper must still see it, and sync, and show the
    township what is wrong); it is recorded, so every redemption is refused until an audit passes."""
    from ledger import integrity

    result = integrity.check_at_start(parts.store())
    log.info(
        "start-up chain check: %d transactions in %.1f ms, %d problems",
        result.checked,
        result.elapsed_ms,
        len(result.problems),
    )
    if result.ok:
        return None
    return LedgerError("ledger_tampered", detail=result.problems[0].detail)


def build_first_run(parts: ShopParts) -> PosFirstRunApp:
    """The first-run set-up by touch, making its shop in ``parts``' folder (``lovemart.first_run``)."""
    from lovemart.first_run import make_shop
    from pos.first_run import PosFirstRunApp
    from pos.presenters.setup import FirstRunPresenter, ShopMade

    def made(setup: ShopSetup, pin: str) -> ShopMade:
        shop = make_shop(parts, setup, pin)
        return ShopMade(
            shop=shop.setup.shop,
            shop_id=shop.setup.shop_id,
            manager=shop.manager.name,
            operator_id=shop.manager.operator_id,
            recovery_sheet=str(shop.recovery_sheet),
        )

    return PosFirstRunApp(FirstRunPresenter(made), lang=parts.settings.language)


def run_pos(parts: ShopParts, *, windowed: bool = False) -> int:
    """``lovemart pos``: the till, until a manager closes it. One POS per ledger: refuses with
    ``ledger_locked`` when another one runs. A missing printer or camera does not stop the till. A folder
    with no shop yet gets the first-run set-up by touch first (``build_first_run``)."""
    locked = parts.settings.pos.lockdown
    with parts.pos_lock():
        _kivy_environment()
        if locked:
            from ui.lockdown import configure_before_window

            configure_before_window(fullscreen=not windowed)
        elif not windowed and "kivy.core.window" not in sys.modules:
            from kivy.config import Config

            Config.set("graphics", "fullscreen", "auto")
        if not parts.exists:
            first_run = build_first_run(parts)
            first_run.run()
            if not first_run.ready:
                return 1  # the window was closed before a shop was made: nothing was written
        parts.store()  # refuses a damaged ledger before the till's window opens
        tampered = _check_chain_at_start(parts)
        sync = parts.sync()
        app = build_pos(parts, fullscreen=not windowed, sync=sync)
        if tampered is not None:
            app.problems.insert(0, tampered)  # said first, at start; every sale is refused until an audit passes
        try:
            app.run()
        finally:
            sync.close()
            parts.close()
    return 0
