"""``KioskApp``: composes the presenter, the screens, the scanners and the speaker. It decides nothing itself.

What it wires, and why here:

- Scans arrive from scanner threads (a camera) through ``ui.scanning.ScanBridge``, and from a USB wedge
  scanner as keystrokes through ``ui.scanning.WedgeBinding``; both end in ``on_scan(text, source)`` on the
  UI thread. The lookup is done right there: on a shop ledger it is about 5 ms (one read unit, measured
  on 5,000 households), far less than the frame it feeds, and a worker hop would add a frame of latency.
- The ranking ranks every household of the village (about 200 ms on 5,000 households), so it is read on a
  ``ui.background`` worker at start and every ``ranking_refresh_s``, with the village's board (rules and
  notices, ``ledger.board``); the idle screen's panel turns from the ranking to each current notice every
  ``board_turn_s``. The shelf (a few ms) is read again
  each time the kiosk returns to idle, so stock the POS just sold is not shown as available.
- The household screen is drawn in three frames: name and figures first, then the ten movements, then
  the goods. Every text is a texture to render (about a millisecond each on a software-GL kiosk, some
  seventy of them on this screen); the figures are what the villager came for, so they come first and
  the lists follow within a few tens of milliseconds.
- Timeouts: a household screen returns to idle after ``timeout_s`` without a touch, an error screen after
  ``error_timeout_s``, the maintenance screen after ``maintenance_timeout_s``; returning to idle empties
  the household screen and the presenter (privacy) and silences the voice.
- Lock-down (``ui.lockdown.LockdownMixin``) when ``settings.lockdown``: full screen, no Escape, no F1
  settings, no window close, no cursor; the only way out is the corner gesture plus a manager's PIN.

Hardware reaches the kiosk as plain objects (the kiosk never imports ``hardware``): anything with
``start(on_scan, on_status)``/``stop()`` is a scanner, anything with ``available``/``say``/``stop`` a speaker,
and ``wedge_factory(on_scan)`` makes the keyboard-wedge burst detector.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty

from kiosk.access import ManagerAccess
from kiosk.presenter import ErrorKind, KioskPresenter
from kiosk.sources import Ranking
from ledger.board import VillageBoard
from ui.app import KitApp
from ui.background import run_in_background
from ui.lockdown import LockdownMixin
from ui.scanning import ScanBridge, Wedge, WedgeBinding

log = logging.getLogger(__name__)


class ScannerLike(Protocol):
    """``hardware.scanner.Scanner``: calls ``on_scan(event)`` and ``on_status(status)`` on its own threads."""

    def start(self, on_scan: Callable[[Any], None], on_status: Callable[[Any], None] | None = None) -> None: ...

    def stop(self) -> None: ...


class SpeakerLike(Protocol):
    """``hardware.speech.Speaker``: ``say`` returns at once; ``available`` False hides the voice button."""

    @property
    def available(self) -> bool: ...

    def say(self, text: str) -> None: ...

    def stop(self) -> None: ...


WedgeFactory = Callable[[Callable[[Any], None]], Wedge]


@dataclass(frozen=True)
class KioskSettings:
    """``[kiosk]`` of lovemart.toml, as the app needs it (the composition root reads the file)."""

    timeout_s: float = 20.0
    error_timeout_s: float = 8.0
    maintenance_timeout_s: float = 60.0
    ranking_refresh_s: float = 300.0
    board_turn_s: float = 15.0  # the idle panel turns from the ranking to each notice (公示) and back
    speak_automatically: bool = False
    lockdown: bool = True
    fullscreen: bool = True
    hide_cursor: bool = True
    # Look scans up on a worker (a source across the network can take seconds; a shop ledger takes ms).
    lookup_in_background: bool = False


class KioskApp(LockdownMixin, KitApp):
    """The villager kiosk. ``screen`` names what is showing; ``households_shown`` counts household screens
    shown (benchmarks wait on it)."""

    title = "爱心超市"
    screen = StringProperty("idle")
    households_shown = NumericProperty(0)  # household screens shown with their figures (benchmarks wait on it)
    households_completed = NumericProperty(0)  # … and with both lists filled

    def __init__(
        self,
        presenter: KioskPresenter,
        *,
        settings: KioskSettings | None = None,
        scanners: Sequence[ScannerLike] = (),
        wedge_factory: WedgeFactory | None = None,
        speaker: SpeakerLike | None = None,
        access: ManagerAccess | None = None,
        on_exit: Callable[[], None] | None = None,
        freeze_gc: bool = False,
        lang: str | None = None,
        preview: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.presenter = presenter
        self.preview = preview  # the camera's newest frame, for the idle screen's mirror (ui.preview)
        self.settings = settings or KioskSettings()
        self.scanners = list(scanners)
        self.wedge_factory = wedge_factory
        self.speaker = speaker
        self.access = access
        self.on_exit = on_exit
        self.freeze_gc = freeze_gc
        self.lockdown_fullscreen = self.settings.fullscreen
        self.lockdown_hide_cursor = self.settings.hide_cursor
        self._bridge: ScanBridge | None = None
        self._wedge_binding: WedgeBinding | None = None
        self._timer: Any = None
        self._ranking_event: Any = None
        self._turn_event: Any = None
        self._ranking_task: Any = None
        self._fill_events: list[Any] = []
        self._scans = 0  # scans seen; a lookup that comes back after a newer scan or a reset is dropped
        self.exited = False
        super().__init__(lang=lang or presenter.lang, **kwargs)
        presenter.lang = self.lang
        self.default_lang = self.lang  # every visit starts in the shop's language (see go_idle)

    # ------------------------------------------------------------ building and starting

    def build(self) -> Any:
        from kiosk.screens import load_kv
        from kiosk.screens.error import KioskErrorScreen
        from kiosk.screens.household import KioskHouseholdScreen
        from kiosk.screens.idle import KioskIdleScreen
        from kiosk.screens.maintenance import KioskMaintenanceScreen
        from kiosk.screens.rules import KioskRulesScreen
        from kiosk.screens.widgets import KioskRoot

        load_kv()
        from kivy.uix.screenmanager import NoTransition, ScreenManager

        # No transition: a sliding screen invites a second tap, and the figures must be there at once.
        manager = ScreenManager(transition=NoTransition())
        self.idle_screen = KioskIdleScreen(name="idle")
        self.idle_screen.ids.preview.frames = self.preview
        self.household_screen = KioskHouseholdScreen(name="household")
        self.error_screen = KioskErrorScreen(name="error")
        self.maintenance_screen = KioskMaintenanceScreen(name="maintenance")
        self.rules_screen = KioskRulesScreen(name="rules")
        screens = (
            self.idle_screen,
            self.household_screen,
            self.rules_screen,
            self.error_screen,
            self.maintenance_screen,
        )
        for screen in screens:
            manager.add_widget(screen)
        self.screens = manager
        root = KioskRoot()
        root.add_widget(manager)
        root.bind(on_maintenance=lambda *_a: self.open_maintenance(), on_activity=lambda *_a: self._activity())
        return root

    def on_start(self) -> None:
        if self.settings.lockdown:
            super().on_start()  # LockdownMixin: KitApp's start, then the lock
        else:
            KitApp.on_start(self)
        self.household_screen.voice_available = bool(self.speaker is not None and self.speaker.available)
        self.presenter.refresh_shelf()
        self._show_idle()
        bridge = ScanBridge(self.on_scan)
        self._bridge = bridge

        def on_status(status: Any) -> None:  # on the scanner's thread: hop to the UI thread like a scan
            bridge.call_soon(self.on_scanner_status, status)

        for scanner in self.scanners:
            try:
                scanner.start(bridge, on_status)
            except Exception:  # one broken scanner must not keep the kiosk (and the others) from starting
                log.exception("kiosk: a scanner did not start")
        if self.wedge_factory is not None:
            wedge = self.wedge_factory(lambda event: self.on_scan(str(event.text), "wedge"))
            self._wedge_binding = WedgeBinding(wedge).attach()
        self.reload_ranking()
        if self.settings.ranking_refresh_s > 0:
            self._ranking_event = Clock.schedule_interval(
                lambda _dt: self.reload_ranking(), self.settings.ranking_refresh_s
            )
        if self.settings.board_turn_s > 0:
            self._turn_event = Clock.schedule_interval(lambda _dt: self.turn_board(), self.settings.board_turn_s)
        if self.freeze_gc:
            # Everything built so far lives as long as the kiosk: keep the collector from scanning it again.
            Clock.schedule_once(lambda _dt: gc.freeze(), 0)

    def on_stop(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
        for scanner in self.scanners:
            try:
                scanner.stop()
            except Exception:
                log.exception("kiosk: a scanner did not stop cleanly")
        if self._wedge_binding is not None:
            self._wedge_binding.detach()
            self._wedge_binding = None
        for event in (self._ranking_event, self._turn_event):
            if event is not None:
                event.cancel()
        if self._ranking_task is not None:
            self._ranking_task.cancel()
        self._cancel_timer()
        self._forget_household()
        if self.settings.lockdown:
            super().on_stop()
        else:
            KitApp.on_stop(self)

    # ------------------------------------------------------------ scans and statuses (UI thread)

    def on_scan(self, text: str, source: str = "manual") -> None:
        """A code from any scanner. Ignored on the maintenance screen (a manager is typing a PIN there)."""
        if self.screen == "maintenance":
            return
        if self.settings.lookup_in_background:
            self._scans += 1
            serial = self._scans

            def fetched(lookup: Any) -> None:
                # Only the newest scan shows, and only if nobody went back to idle or on meanwhile.
                if serial == self._scans and self.screen != "maintenance":
                    self._scanned(self.presenter.apply(lookup), source)

            run_in_background(
                lambda: self.presenter.fetch(text),
                on_done=fetched,
                on_error=lambda error: log.error("kiosk: lookup failed: %s", error),
            )
            return
        self._scanned(self.presenter.scan(text), source)

    def _scanned(self, showing: Any, source: str) -> None:
        log.info("kiosk: scan from %s -> %s", source, showing)
        if showing == "household":
            self._show_household()
            if self.settings.speak_automatically:
                self.speak()
        else:
            self._show_error()

    def on_scanner_status(self, status: Any) -> None:
        news = self.presenter.camera_status(str(getattr(status, "state", "")))
        if news and self.screen == "idle":
            self.show_error("camera")
        elif self.screen == "idle":
            self._show_idle()

    # ------------------------------------------------------------ screens

    def go_idle(self) -> None:
        """Back to the idle screen with nothing of the last household left (返回, timeouts), in the shop's
        language again: the next villager must not find the screen in English because the last one
        switched."""
        self._cancel_timer()
        self._forget_household()
        if self.lang != self.default_lang:
            self.lang = self.default_lang
        self.presenter.refresh_shelf()
        self._show_idle()

    def _forget_household(self) -> None:
        self._scans += 1  # a lookup still on its way must not bring the household back
        self._cancel_fills()
        self.presenter.reset()
        if self.speaker is not None:
            self.speaker.stop()
        if hasattr(self, "household_screen"):
            self.household_screen.clear()
            self.error_screen.clear()
            self.maintenance_screen.clear()

    def show_error(self, kind: ErrorKind, **params: Any) -> None:
        """Show an error screen that no scan caused (the camera; screenshots of every error)."""
        self._cancel_fills()
        self.presenter.show_error(kind, **params)
        self._show_error()

    def _show_idle(self) -> None:
        self.idle_screen.show(self.presenter.idle_view())
        self._switch("idle")

    def _show_household(self) -> None:
        view = self.presenter.household_view()
        if view is None:
            self.go_idle()
            return
        self._cancel_fills()
        self.error_screen.clear()
        screen = self.household_screen
        screen.show_figures(view)
        self._switch("household")
        self.households_shown += 1
        self._restart_timer(self.settings.timeout_s)

        def movements(_dt: float) -> None:
            screen.show_movements(view)

        def affordable(_dt: float) -> None:
            screen.show_affordable(view)
            self._fill_events = []
            self.households_completed += 1

        # One frame each, in order (a 0 s event scheduled from an event runs in the next frame).
        first = Clock.schedule_once(movements, 0)
        self._fill_events = [first, Clock.schedule_once(lambda _dt: self._chain(affordable), 0)]

    def _chain(self, fn: Callable[[float], None]) -> None:
        self._fill_events.append(Clock.schedule_once(fn, 0))

    def _cancel_fills(self) -> None:
        """Lists not yet filled must never be filled after the household has gone."""
        for event in self._fill_events:
            event.cancel()
        self._fill_events = []

    def _show_error(self) -> None:
        view = self.presenter.error_view()
        if view is None:
            self.go_idle()
            return
        self.household_screen.clear()
        seconds = max(1, round(self.settings.error_timeout_s))
        self.error_screen.show(view, self.presenter.tr("kiosk.error_back", seconds=seconds))
        self._switch("error")
        self._restart_timer(self.settings.error_timeout_s)

    def _switch(self, name: str) -> None:
        self.screens.current = name
        self.screen = name

    def _rerender(self) -> None:
        """The language changed: draw the current screen again from the presenter."""
        if self.screen == "household":
            view = self.presenter.household_view()
            if view is not None:
                self.household_screen.show(view)
        elif self.screen == "error":
            error = self.presenter.error_view()
            if error is not None:
                seconds = max(1, round(self.settings.error_timeout_s))
                self.error_screen.show(error, self.presenter.tr("kiosk.error_back", seconds=seconds))
        elif self.screen == "idle":
            self.idle_screen.show(self.presenter.idle_view())
        elif self.screen == "rules":
            self.rules_screen.show(self.presenter.rules_view())

    def on_lang(self, instance: object, lang: str) -> None:
        super().on_lang(instance, lang)
        self.presenter.lang = lang
        if hasattr(self, "idle_screen"):
            self._rerender()

    # ------------------------------------------------------------ voice

    def speak(self) -> None:
        """Read the name and redeemable points aloud (the 读给我听 button, or automatically)."""
        text = self.presenter.speech()
        if text and self.speaker is not None and self.speaker.available:
            self.speaker.say(text)

    # ------------------------------------------------------------ the ranking, off the UI thread

    def reload_ranking(self) -> None:
        if self._ranking_task is not None and not self._ranking_task.future.done():
            return  # the last one is still reading

        presenter = self.presenter

        def fetch() -> tuple[Ranking, VillageBoard]:
            return presenter.fetch_ranking(), presenter.fetch_board()

        def done(found: tuple[Ranking, VillageBoard]) -> None:
            presenter.set_ranking(found[0])
            presenter.set_board(found[1])
            if self.screen == "idle":
                self.idle_screen.show(presenter.idle_view())

        def failed(error: Exception) -> None:
            log.error("kiosk: could not read the ranking: %r", error)

        self._ranking_task = run_in_background(fetch, on_done=done, on_error=failed)

    def turn_board(self) -> None:
        """Turn the idle panel to the next notice (or back to the ranking); only while idle shows."""
        if self.screen == "idle" and self.presenter.rotate():
            self.idle_screen.show(self.presenter.idle_view())

    # ------------------------------------------------------------ 怎样得积分

    def show_rules(self) -> None:
        """The rules in large print (the idle screen's button); back to idle on 返回 or after ``timeout_s``."""
        self._forget_household()
        self.rules_screen.show(self.presenter.rules_view())
        self._switch("rules")
        self._restart_timer(self.settings.timeout_s)

    # ------------------------------------------------------------ timeouts and activity

    def _restart_timer(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = Clock.schedule_once(self._timed_out, seconds)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self, _dt: float) -> None:
        self._timer = None
        log.info("kiosk: %s screen timed out", self.screen)
        self.go_idle()

    def _activity(self) -> None:
        """A touch: someone is reading the household screen (or typing a PIN), so give them the full time."""
        if self.screen in ("household", "rules"):
            self._restart_timer(self.settings.timeout_s)
        elif self.screen == "maintenance":
            self._restart_timer(self.settings.maintenance_timeout_s)

    # ------------------------------------------------------------ maintenance

    def open_maintenance(self) -> None:
        """The corner gesture: offer the manager PIN pad (whatever was showing is forgotten first)."""
        self._cancel_timer()
        self._forget_household()
        managers = self.access.managers() if self.access is not None else []
        message = "" if managers else self.presenter.tr("kiosk.maint_no_managers")
        self.maintenance_screen.show(managers, message)
        self._switch("maintenance")
        self._restart_timer(self.settings.maintenance_timeout_s)

    def maintenance_pin(self, operator_id: str, pin: str) -> str | None:
        """Check a manager's PIN; close the kiosk when right, else return the words to show."""
        if self.access is None or not operator_id:
            return self.presenter.tr("kiosk.maint_choose")
        refusal = self.access.check(operator_id, pin)
        if refusal is not None:
            log.warning("kiosk: maintenance PIN refused for operator %s (%s)", operator_id, refusal)
            locked_for = getattr(self.access, "locked_for", None)  # LockoutAccess: how long to wait
            return self.presenter.tr(refusal, seconds=locked_for() if callable(locked_for) else 0)
        log.info("kiosk: closed by manager %s", operator_id)
        self.exit_kiosk()
        return None

    def exit_kiosk(self) -> None:
        """The authorised way out: lift the close veto, then stop (or hand over to ``on_exit``)."""
        self.exited = True
        if self.lockdown is not None:
            self.lockdown.allow_close()
        if self.on_exit is not None:
            self.on_exit()
        else:
            self.stop()
