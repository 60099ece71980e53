"""``PosApp``: composes the POS out of presenters, screens and the devices ``lovemart`` hands in.

It owns no rule of the counter (those are in ``pos.presenters``), no layout (``.kv``) and builds none of its
parts: the presenters arrive made (``pos.assembly.PosPresenters``, around one store, with the printer and the
sync port in them), and so do the devices. What it does: put the screens in a ``ScreenManager`` under a
shared header and banner, route scans to the screen on show, lock the till after idle, run printing off the UI
thread and say what came of it, and keep the header's status line (operator, printer, sync, scanner) current.

Devices arrive as plain objects: ``scanners`` (objects with ``start(on_scan, on_status)``/``stop()``, e.g. the
camera or ``FakeScanner``) and ``wedge_factory`` (makes the keyboard-wedge burst detector around our scan
callback). ``lovemart.pos_main.build_pos`` makes all of it from the shop's parts.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition

from ledger.errors import DeviceFault
from ledger.messages import DEFAULT_LANG, N_, CodedError
from ledger.model import Operator
from ledger.printing import PrintOutcome
from pos.assembly import PosPresenters
from pos.presenters.stock import DEFAULT_LOW_STOCK
from pos.presenters.sync import SyncView
from ui.app import KitApp
from ui.background import run_in_background
from ui.lockdown import LockdownMixin
from ui.scanning import ScanBridge, WedgeBinding
from ui.widgets import KeyboardToKeypad

log = logging.getLogger(__name__)

WedgeFactory = Callable[[Callable[[Any], None]], Any]
SCREENS = {  # name -> the Kivy class (registered in Kivy's Factory when its module is imported in build)
    "login": "PosLoginScreen",
    "home": "PosHomeScreen",
    "redeem": "PosRedeemScreen",
    "today": "PosTodayScreen",
    "stock_in": "PosStockInScreen",
    "count": "PosCountScreen",
    "write_off": "PosWriteOffScreen",
    "stock_list": "PosStockListScreen",
    "donation": "PosDonationScreen",
    "day_close": "PosDayCloseScreen",
    "sync": "PosSyncScreen",
    "register": "PosRegisterScreen",
}
MANAGER_SCREENS = frozenset({"register"})  # a clerk is asked for a manager's PIN first
IDLE_CHECK_S = 1.0
STATUS_REFRESH_S = 60.0
NIGHTLY_CHECK_S = 30.0
BACKUP_CHECK_S = 3600.0  # an hour: a copy a day, whatever time the till was started


class PosApp(KitApp):
    """The shopkeeper's app. See the module docstring for what is handed in."""

    title = "爱心超市 POS"
    title_id = StringProperty(N_("ui.app_title"))
    status_text = StringProperty("")
    status_kind = StringProperty("ok")
    show_menu = BooleanProperty(False)
    reprint_receipt = StringProperty("")  # the last receipt that did not print ("" when none)

    def __init__(
        self,
        presenters: PosPresenters,
        *,
        scanners: Sequence[Any] = (),
        wedge_factory: WedgeFactory | None = None,
        low_stock: int = DEFAULT_LOW_STOCK,
        lang: str = DEFAULT_LANG,
        freeze_gc: bool = True,
        problems: Sequence[DeviceFault] = (),
        nightly_sync: Callable[[datetime], datetime] | None = None,
        preview: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(lang=lang, **kwargs)
        self.preview = preview  # the camera's newest frame, for the redeem screen's mirror (ui.preview)
        self.presenters = presenters
        self.store = presenters.store
        self.clock = presenters.clock
        self.low_stock = low_stock
        self.freeze_gc = freeze_gc
        # Each presenter under the name the screens call it by (``app.redeem``, ``app.catalog``…).
        self.session = presenters.session
        self.printer_slot = presenters.printer_slot
        self.catalog = presenters.catalog
        self.redeem = presenters.redeem
        self.receipts = presenters.receipts
        self.stock_in = presenters.stock_in
        self.count = presenters.count
        self.write_off = presenters.write_off
        self.donation = presenters.donation
        self.day_close = presenters.day_close
        self.sync = presenters.sync
        self.register = presenters.register
        self.scanners = list(scanners)
        self.wedge_factory = wedge_factory
        self.bridge: ScanBridge | None = None
        self.wedge: Any = None
        self.keyboard = KeyboardToKeypad()
        self._wedge_binding: WedgeBinding | None = None
        self._scanner_problem: str = ""
        self._sync_view: SyncView = self.sync.view()  # the client's status is local and quick; sync_now is not
        self._events: list[Any] = []
        self._resume_screen = "home"
        # device faults found while wiring (no decoder…), said at start
        self.problems: list[CodedError] = list(problems)
        # When the next nightly sync is due after a given time ([sync] hour); None: no nightly sync in the app.
        self.nightly_sync = nightly_sync
        self._nightly_due: datetime | None = None

    # ----- building

    def load_kv(self, filename: str | None = None) -> bool:
        """Our rules are loaded once per process by ``pos.screens.load_kv`` (not per app instance)."""
        from pos.screens import load_kv

        load_kv()
        return True

    def build(self) -> Any:
        import pos.screens.day_close  # noqa: F401  - importing registers the screen classes with Kivy's Factory
        import pos.screens.donation  # noqa: F401
        import pos.screens.home  # noqa: F401
        import pos.screens.login  # noqa: F401
        import pos.screens.redeem  # noqa: F401
        import pos.screens.register  # noqa: F401
        import pos.screens.stock  # noqa: F401
        import pos.screens.sync  # noqa: F401
        import pos.screens.today  # noqa: F401

        root = Factory.PosRoot()
        for name in ("title_id", "status_text", "status_kind", "show_menu"):
            self.fbind(name, root.setter(name))
        screens = root.ids.screens
        screens.transition = NoTransition()
        screens.add_widget(Factory.PosLoginScreen(name="login"))  # the others are built when first shown
        screens.bind(current_screen=self._on_screen)
        self.bind(lang=self._on_lang)
        return root

    def on_start(self) -> None:
        super().on_start()
        self.bridge = ScanBridge(self.on_scan)
        for scanner in self.scanners:
            try:
                scanner.start(on_scan=self.bridge, on_status=self._status_from_thread)
            except (DeviceFault, OSError, RuntimeError) as error:
                log.warning("scanner %r did not start: %s", scanner, error)
        if self.wedge_factory is not None:
            self.wedge = self.wedge_factory(self.bridge)
            # A person typing on the same keyboard (a till with no touchscreen) types into the keypad on screen.
            if hasattr(self.wedge, "on_typed"):
                self.wedge.on_typed = self.keyboard.typed
            self._wedge_binding = WedgeBinding(self.wedge, on_other_key=self.keyboard.key).attach()
        Window.bind(on_touch_down=self._activity, on_key_down=self._activity)
        self._events = [
            Clock.schedule_interval(self._check_idle, IDLE_CHECK_S),
            Clock.schedule_interval(self._refresh_sync_status, STATUS_REFRESH_S),
            Clock.schedule_interval(self._check_backup, BACKUP_CHECK_S),
        ]
        if self.nightly_sync is not None and self.sync.port is not None:
            self._nightly_due = self.nightly_sync(self.clock())
            # Checked against the wall clock every half minute rather than one long timer: a PC that
            # slept through the hour or had its clock set still syncs, once, when it wakes.
            self._events.append(Clock.schedule_interval(self._check_nightly, NIGHTLY_CHECK_S))
        self.go("login")
        self.refresh_status()
        # The household-number index reads every household: build it on a worker, before anyone types a number.
        run_in_background(self.redeem.finder.warm, on_error=lambda error: log.warning("household index: %s", error))
        # Likewise the pinyin tables behind 查找 (about 0.1 s to load).
        run_in_background(self.catalog.warm, on_error=lambda error: log.warning("goods search index: %s", error))
        if self.problems:
            self.notify(self.error_text(self.problems[0]), "warning")
        if self.freeze_gc:
            # Everything built so far lives as long as the till: keep the collector from walking it again
            # on every collection (shorter pauses between frames all day).
            gc.collect()
            gc.freeze()

    def _check_backup(self, _dt: float = 0) -> None:
        """At least one backup a day, for a till left running for days (``ledger.backups.due``)."""
        run_in_background(
            self.day_close.back_up_if_due, on_error=lambda error: log.warning("daily backup failed: %s", error)
        )

    def on_stop(self) -> None:
        for event in self._events:
            event.cancel()
        self._events = []
        Window.unbind(on_touch_down=self._activity, on_key_down=self._activity)
        if self._wedge_binding is not None:
            self._wedge_binding.detach()
            self._wedge_binding = None
        for scanner in self.scanners:
            try:
                scanner.stop()
            except (DeviceFault, OSError, RuntimeError) as error:
                log.warning("scanner %r did not stop cleanly: %s", scanner, error)
        if self.bridge is not None:
            self.bridge.close()
        super().on_stop()

    # ----- navigation

    @property
    def screens(self) -> Any:
        return self.root.ids.screens

    def screen(self, name: str) -> Any:
        """The screen called ``name``, built on first use: a till starts faster when it builds only the
        login, and most screens (day close, count) are seen once a day if at all."""
        screens = self.screens
        if not screens.has_screen(name):
            screen = getattr(Factory, SCREENS[name])(name=name)
            if name == "redeem":
                self.fbind("reprint_receipt", screen.setter("reprint_receipt"))
                screen.reprint_receipt = self.reprint_receipt
            screens.add_widget(screen)
        return screens.get_screen(name)

    def go(self, name: str) -> None:
        if name not in ("login",) and not self.session.logged_in:
            name = "login"
        self.screen(name)
        self.screens.current = name
        self._on_screen(self.screens, self.screens.current_screen)

    def go_home(self) -> None:
        self.go("home")

    def _on_screen(self, _manager: Any, screen: Any) -> None:
        self.title_id = screen.title_id
        self.show_menu = screen.name not in ("home", "login")

    def _on_lang(self, *_args: Any) -> None:
        self.root.ids.banner.hide()  # a message in the other language must not stay on screen
        self.refresh_status()
        current = self.screens.current_screen
        if current is not None:
            current.on_language()

    # ----- who is at the till

    def logged_in(self, same_operator: bool) -> None:
        """After a good PIN: back to the sale in progress (same operator) or a clean start (another one)."""
        if not same_operator:
            if not self.redeem.uncertain:  # an unknown outcome stays until someone retries it
                self.redeem.finish()
            self._resume_screen = "home"
        self.refresh_status()
        self.go(self._resume_screen)

    def lock(self) -> None:
        current = self.screens.current
        self._resume_screen = current if current not in ("login",) else "home"
        self.session.lock()
        self.refresh_status()
        self.go("login")

    def switch_operator(self) -> None:
        if not self.redeem.uncertain:
            self.redeem.finish()
        self.session.switch_operator()
        self._resume_screen = "home"
        self.refresh_status()
        self.go("login")

    def _activity(self, *_args: Any) -> bool:
        self.session.touch()
        return False

    def _check_idle(self, _dt: float) -> None:
        if self.session.check_idle():
            self._resume_screen = self.screens.current if self.screens.current != "login" else "home"
            for child in list(Window.children):  # an open dialog must not stay over the login
                if isinstance(child, ModalView):
                    child.dismiss(animation=False)
            self.refresh_status()
            self.go("login")

    def ask_manager(self, on_manager: Callable[[Operator], Any], title_id: str = N_("pos.manager_pin")) -> None:
        """A manager's PIN on the keypad, then ``on_manager(manager)``; a wrong PIN is said in the dialog."""
        from pos.widgets import ask_digits

        def check(pin: str) -> None:
            manager = self.session.authorize_manager(pin)
            Clock.schedule_once(lambda _dt: on_manager(manager), 0)

        ask_digits(self.tr(title_id), check, prompt=self.tr("ui.pin_prompt"), masked=True)

    # ----- scans

    def on_scan(self, text: str, source: str) -> None:
        """Every scan, on the UI thread (``ScanBridge``): the screen on show decides what it means."""
        self.session.touch()
        if not self.session.logged_in:
            self.notify(self.tr("pos.login_first"), "warning")
            return
        current = self.screens.current_screen
        if current is not None and current.handle_scan(text, source):
            return
        if current is not None and current.name != "redeem" and self.screen("redeem").handle_scan(text, source):
            self.go("redeem")
            return
        self.notify(self.tr("pos.scan_not_here"), "warning")

    def _status_from_thread(self, status: Any) -> None:
        if self.bridge is not None:
            self.bridge.call_soon(self._scanner_status, status)

    def _scanner_status(self, status: Any) -> None:
        """A camera that is missing or unplugged: said once in full (with what to do instead), then kept as a
        short word in the header until it comes back. Manual entry and the USB scanner keep working."""
        state = getattr(status, "state", "")
        message = status.message(self.lang) if hasattr(status, "message") else ""
        problem = message if state in ("absent", "lost") else ""
        if problem and problem != self._scanner_problem:
            self.notify(problem, "warning")
        self._scanner_problem = problem
        self.refresh_status()

    # ----- messages and status

    def notify(self, text: str, kind: str = "info") -> None:
        self.root.ids.banner.show(text, kind)

    def refresh_status(self) -> None:
        """The header's status line: who is logged in, then only what needs attention (short words: it
        shares a line with the title and the clock)."""
        parts = []
        operator = self.session.operator
        if operator is not None and self.session.logged_in:
            parts.append(operator.name)
        trouble = False
        if self.printer_slot.problem is not None or self.reprint_receipt:
            parts.append(self.tr("pos.status_printer"))
            trouble = True
        view = self._sync_view
        sync_word = {  # a shop without a township server is not in trouble: nothing said for it
            "pos.sync_failed": "pos.sync_failed",
            "pos.sync_waiting": N_("pos.status_waiting"),
            "pos.sync_never": "pos.sync_never",
            "pos.sync_running": "pos.sync_running",
        }.get(view.headline)
        if sync_word:
            parts.append(self.tr(sync_word, waiting=view.waiting))
        trouble = trouble or view.headline == "pos.sync_failed"
        if self._scanner_problem:
            parts.append(self.tr("pos.status_scanner"))
            trouble = True
        self.status_text = " · ".join(parts)
        self.status_kind = "warning" if trouble else "ok"

    def _refresh_sync_status(self, _dt: float = 0) -> None:
        if self.sync.port is None:
            return
        run_in_background(self.sync.view, on_done=self.sync_status_changed, on_error=lambda _e: None)

    def _check_nightly(self, _dt: float = 0) -> None:
        if self._nightly_due is None or self.nightly_sync is None:
            return
        now = self.clock()
        if now < self._nightly_due:
            return
        self._nightly_due = self.nightly_sync(now)
        log.info("nightly sync; the next one at %s", self._nightly_due.isoformat())
        run_in_background(
            self.sync.sync_now,
            on_done=self.sync_status_changed,
            on_error=lambda error: log.warning("nightly sync: %s", error),
        )

    def sync_status_changed(self, view: SyncView) -> None:
        self._sync_view = view
        self.refresh_status()

    # ----- printing off the UI thread

    def print_in_background(
        self,
        job: Callable[[], PrintOutcome],
        on_result: Callable[[PrintOutcome], Any] | None = None,
        done_text: str = "",
        announce: bool = True,
    ) -> None:
        """Run a print job on a worker; say whether it printed, and keep a failed one for the reprint button.

        ``done_text`` (what was just done: "已入库…") leads every message, so the printer's news does not
        wipe the news of the deed off the banner. ``announce`` False: the screen shows the printing itself
        (the redemption's panel) and only a failure is said here, in its dialog.
        """
        lead = done_text + " " if done_text else ""
        if announce:
            self.notify(lead + self.tr("pos.printing"), "success" if done_text else "info")

        def done(outcome: PrintOutcome) -> None:
            if outcome.printed:
                if self.reprint_receipt == outcome.receipt_no:
                    self.reprint_receipt = ""
                if announce:
                    self.notify(lead + self.tr("pos.printed", receipt_no=outcome.receipt_no), "success")
            else:
                self.print_failed(outcome)
            self.refresh_status()
            if on_result is not None:
                on_result(outcome)

        def failed(error: Exception) -> None:
            log.error("printing failed unexpectedly", exc_info=error)
            self.notify(self.error_text(error), "error")

        run_in_background(job, on_done=done, on_error=failed)

    def print_failed(self, outcome: PrintOutcome) -> None:
        """ "Printer not ready — reprint": say so in a dialog that must be answered (a banner can be missed
        while the villager waits for the slip), with the reason; the sale stands either way."""
        from ui.widgets import ask

        self.reprint_receipt = outcome.receipt_no
        self.root.ids.banner.show(self.tr("pos.print_failed_short"), "warning", timeout_s=0)
        reason = outcome.error.message(self.lang) if outcome.error else ""
        ask(
            self.tr("pos.print_failed", reason=reason, receipt_no=outcome.receipt_no),
            lambda now: self.reprint(outcome.receipt_no) if now else None,
            title=self.tr("pos.print_failed_title"),
            yes_text=self.tr("pos.reprint_now"),
            no_text=self.tr("pos.reprint_later"),
        )

    def reprint(self, receipt_no: str, on_result: Callable[[PrintOutcome], Any] | None = None) -> None:
        self.print_in_background(lambda: self.receipts.reprint(receipt_no), on_result)

    # ----- leaving

    def request_exit(self) -> None:
        """Managers only (the home screen asks for the PIN): close the till, also when locked down."""
        lockdown = getattr(self, "lockdown", None)
        if lockdown is not None:
            lockdown.allow_close()
        self.stop()


class LockedPosApp(LockdownMixin, PosApp):
    """The POS locked down like the kiosk (``[pos] lockdown = true``): full screen, no Escape, no F1 settings,
    no window close — only a manager's exit from the home screen closes it. ``fullscreen`` False keeps the
    rest of the lock-down in a window (``lovemart pos --windowed`` on a locked-down till)."""

    def __init__(self, presenters: PosPresenters, *, fullscreen: bool = True, **options: Any) -> None:
        super().__init__(presenters, **options)
        self.lockdown_fullscreen = fullscreen
