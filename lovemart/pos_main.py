"""The POS assembled: ``build_pos`` and ``run_pos`` (``lovemart pos``).

This is where the POS meets the real world, so it is the only POS module that imports ``hardware``: the
receipt printer from ``[printer]``, the camera scanner and the keyboard wedge from ``[scanner]``, and the
``[pos]`` settings (``idle_lock_s``, ``lockdown``, ``low_stock``, ``camera_preview``)::

    [pos]
    idle_lock_s = 300     # lock the till after this many idle seconds (0: never)
    lockdown = false      # kiosk-style: full screen, no Escape, no F1 settings, no window close
    low_stock = 10        # the stock list puts items with this many or fewer first
    camera_preview = true # the redeem screen shows what the camera sees while it waits for a passbook

    [scanner]
    decoder = "zxing"     # or "zbar"
    camera = 0            # camera index or device path; -1 or "none": no camera (USB scanner only)

Kivy reads its environment and command line when first imported, so everything Kivy is imported inside
the functions, after the environment is set (``KIVY_NO_ARGS``: ``lovemart``'s own arguments are not
Kivy's). Screenshots and the benchmark (``lovemart_tools.pos_driver``) drive the app ``build_pos`` makes in
an offscreen window.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.errors import DeviceFault, LedgerError
from lovemart.wiring import ShopHome, camera_device, camera_preview

if TYPE_CHECKING:
    from pos.app import PosApp

log = logging.getLogger(__name__)


# ----- settings ----------------------------------------------------------------------------------------


def _as_bool(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return default


def _as_number(value: object, default: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        number = float(value)
    except ValueError:
        log.warning("not a number in lovemart.toml: %r; using %s", value, default)
        return default
    return min(max(number, low), high)


@dataclass(frozen=True)
class PosSettings:
    """``[pos]`` and ``[scanner]`` of lovemart.toml; a bad value falls back to its default (and is logged):
    a typo in a hand-edited file must not keep the shop closed."""

    idle_lock_s: float = 300.0
    lockdown: bool = False
    low_stock: int = 10
    decoder: str = "zxing"
    camera: int | str | None = 0
    camera_preview: bool = True

    @classmethod
    def of(cls, home: ShopHome) -> PosSettings:
        pos = home.settings.extra.get("pos") or {}
        scanner = home.settings.extra.get("scanner") or {}
        return cls(
            idle_lock_s=_as_number(pos.get("idle_lock_s"), 300.0, 0.0, 86_400.0),
            lockdown=_as_bool(pos.get("lockdown"), False),
            low_stock=int(_as_number(pos.get("low_stock"), 10, 0, 100_000)),
            decoder=str(scanner.get("decoder") or "zxing"),
            camera=camera_device(scanner.get("camera", 0)),
            camera_preview=_as_bool(pos.get("camera_preview"), True),
        )


def _scanners(settings: PosSettings) -> tuple[list[Any], list[DeviceFault]]:
    """The camera scanner (when configured), or the reason there is none."""
    if settings.camera is None:
        return [], []
    from hardware.camera import CameraScanner
    from hardware.decode import make_decoder

    try:
        decoder = make_decoder(settings.decoder)
    except DeviceFault as fault:
        return [], [fault]
    return [CameraScanner(decoder, settings.camera)], []


def _wedge_factory() -> Callable[[Callable[[Any], None]], Any]:
    from hardware.wedge import KeyboardWedge

    return lambda on_scan: KeyboardWedge(on_scan=on_scan)


def _nightly_sync(home: ShopHome) -> Any:
    """When the next in-app nightly sync is due ([sync] hour), or None when the shop has no township server."""
    from lovemart.sync_wiring import is_provisioned, next_sync_at, sync_hour

    if not is_provisioned(home):
        return None
    hour = sync_hour(home)
    return lambda now: next_sync_at(now, hour)


def _sync_port(home: ShopHome) -> Any:
    """The apps' sync port (``lovemart.sync_wiring``): "not connected" for a shop never provisioned, a real
    client once it is. Without the sync package (an older checkout) the POS gets None and says the same."""
    try:
        from lovemart.sync_wiring import sync_port
    except ImportError:
        return None
    return sync_port(home)


def _kivy_environment() -> None:
    """Environment Kivy reads on its first import (harmless if it is already imported)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")


def build_pos(
    home: ShopHome,
    *,
    settings: PosSettings | None = None,
    printer: Any = None,
    scanners: Sequence[Any] | None = None,
    lockdown: bool | None = None,
    fullscreen: bool = True,
    **extra: Any,
) -> PosApp:
    """The POS app wired to ``home`` (Kivy must be importable: call after the environment is set)."""
    from pos.app import LockedPosApp, PosApp

    settings = settings or PosSettings.of(home)
    problems: list[DeviceFault] = []
    if scanners is None:
        scanners, problems = _scanners(settings)
    locked = settings.lockdown if lockdown is None else lockdown
    cls: type[PosApp] = PosApp
    if locked:
        cls = type("LockedPosApp", (LockedPosApp,), {"lockdown_fullscreen": fullscreen})
    options: dict[str, Any] = {
        "printer": printer,
        "printer_factory": None if printer is not None else home.printer,
        "scanners": scanners,
        "wedge_factory": _wedge_factory(),
        "sync": _sync_port(home),
        "nightly_sync": _nightly_sync(home),
        "idle_lock_s": settings.idle_lock_s,
        "low_stock": settings.low_stock,
        "lang": home.settings.language,
        "problems": problems,
        "preview": camera_preview(scanners) if settings.camera_preview else None,
    }
    options.update(extra)
    app = cls(home.store(), **options)
    return app


def _check_chain_at_start(home: ShopHome) -> LedgerError | None:
    """The till's start-up check (``ledger.integrity``): the hash chain from the last audit's checkpoint.

    A failure does not keep the till closed (the shopkeeper must still see it, and sync, and show the
    township what is wrong); it is recorded, so every redemption is refused until an audit passes."""
    from ledger import integrity

    result = integrity.check_at_start(home.store())
    log.info(
        "start-up chain check: %d transactions in %.1f ms, %d problems",
        result.checked,
        result.elapsed_ms,
        len(result.problems),
    )
    if result.ok:
        return None
    return LedgerError("ledger_tampered", detail=result.problems[0].detail)


def run_pos(home: ShopHome, *, windowed: bool = False) -> int:
    """``lovemart pos``: the till, until a manager closes it. One POS per ledger: refuses with
    ``ledger_locked`` when another one runs. A missing printer or camera does not stop the till."""
    settings = PosSettings.of(home)
    with home.pos_lock():
        home.store()  # refuses a missing or damaged ledger before any window opens
        tampered = _check_chain_at_start(home)
        _kivy_environment()
        if settings.lockdown:
            from ui.lockdown import configure_before_window

            configure_before_window(fullscreen=not windowed)
        elif not windowed and "kivy.core.window" not in sys.modules:
            from kivy.config import Config

            Config.set("graphics", "fullscreen", "auto")
        app = build_pos(home, settings=settings, fullscreen=not windowed)
        if tampered is not None:
            app.problems.insert(0, tampered)  # said first, at start; every sale is refused until an audit passes
        try:
            app.run()
        finally:
            close = getattr(app.sync.port, "close", None)
            if callable(close):
                close()
            home.close()
    return 0
