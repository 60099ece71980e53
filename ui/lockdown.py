"""Kiosk lock-down: a villager must not be able to leave, close or reconfigure the kiosk.

Four doors Kivy leaves open (PITFALLS), each shut here:

- Escape quits every Kivy app (``exit_on_escape``): turned off in ``Config``, and the close it would request
  is vetoed anyway.
- Closing the window (Alt+F4, the window manager, SDL's quit event): ``Window.on_request_close`` is vetoed —
  Kivy asks that event before it stops, and a handler returning True keeps the app running.
- F1 opens Kivy's settings panel (with a "close app" entry on some versions): ``LockdownMixin`` overrides
  ``open_settings``/``close_settings`` to do nothing and turns off the Kivy settings section.
- The mouse cursor and window decorations: the cursor is hidden and the window goes full screen.

Mouse emulation of multitouch (a right click leaves a red dot that acts as a second finger) is a Config
setting read when the window and its input providers are created: ``configure_before_window()`` sets it (and
the rest) for a process that has not opened its window yet, e.g. ``lovemart kiosk`` before it imports the
app. ``apply_lockdown``/``LockdownMixin`` do what can be done on a running window.

SIGTERM: by default SDL catches SIGTERM and turns it into the same "quit" event as a window close, which the
lock-down refuses — ``systemctl stop`` or a shutdown would then wait for SIGKILL (measured: the process
survives SIGTERM). ``configure_before_window()`` sets ``SDL_NO_SIGNAL_HANDLERS=1`` so SIGTERM ends the process
as usual. (An unlocked POS may keep SDL's handler: there the quit event stops the app cleanly via ``on_stop``.)

The lock is released by ``Lockdown.release()`` (the app's own, manager-only shutdown path, and tests) and
restores what it changed, so a test harness can run an unlocked app in the same window afterwards.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def configure_before_window(*, fullscreen: bool = True, hide_cursor: bool = True) -> None:
    """Kivy ``Config`` (and SDL's signal hint) for a kiosk; call before ``kivy.core.window`` is imported."""
    os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    if fullscreen:
        Config.set("graphics", "fullscreen", "auto")
    if hide_cursor:
        Config.set("graphics", "show_cursor", "0")


class Lockdown:
    """What ``apply_lockdown`` changed on a running app and window, and how to undo it."""

    def __init__(self, window: Any, *, fullscreen: bool, hide_cursor: bool) -> None:
        from kivy.config import Config

        self.window = window
        self.vetoed = 0  # close requests refused (for the log and the tests)
        self._allow_close = False
        self._old_exit_on_escape = Config.get("kivy", "exit_on_escape")
        self._old_fullscreen = window.fullscreen
        self._old_show_cursor = window.show_cursor
        self._old_size = tuple(window.size)
        self._fullscreen = fullscreen
        self._released = False

        Config.set("kivy", "exit_on_escape", "0")  # Kivy re-reads this through a Config callback
        window.bind(on_request_close=self._on_request_close)
        if hide_cursor:
            window.show_cursor = False
        if fullscreen:
            window.fullscreen = "auto"

    def allow_close(self) -> None:
        """Let the next close request through (the app's own authorised shutdown)."""
        self._allow_close = True

    def _on_request_close(self, *_args: Any, **kwargs: Any) -> bool:
        if self._allow_close:
            return False
        self.vetoed += 1
        log.info("kiosk: refused a request to close the window (source=%s)", kwargs.get("source", "window"))
        return True

    def release(self) -> None:
        """Undo the lock (idempotent)."""
        if self._released:
            return
        from kivy.config import Config

        self._released = True
        self.window.unbind(on_request_close=self._on_request_close)
        Config.set("kivy", "exit_on_escape", self._old_exit_on_escape)
        self.window.show_cursor = self._old_show_cursor
        if self._fullscreen:
            self.window.fullscreen = self._old_fullscreen
            self.window.size = self._old_size


def apply_lockdown(app: Any, window: Any = None, *, fullscreen: bool = True, hide_cursor: bool = True) -> Lockdown:
    """Lock a running app down (see the module docstring). F1 needs ``LockdownMixin`` or the same overrides
    on the app class; without them this logs a warning, because the settings panel stays one key away."""
    if window is None:
        from kivy.core.window import Window

        window = Window
    if not getattr(app, "settings_locked", False):
        log.warning("%s does not override open_settings: F1 still opens Kivy's settings", type(app).__name__)
    app.use_kivy_settings = False
    return Lockdown(window, fullscreen=fullscreen, hide_cursor=hide_cursor)


class LockdownMixin:
    """Put before the App class: ``class KioskApp(LockdownMixin, KitApp)``.

    Locks down in ``on_start`` and releases in ``on_stop``. Class attributes choose full screen and the
    cursor (a developer may turn them off while working on the screens; the kiosk keeps both on).
    """

    lockdown_fullscreen = True
    lockdown_hide_cursor = True
    settings_locked = True
    use_kivy_settings = False
    lockdown: Lockdown | None = None

    def open_settings(self, *_args: Any) -> bool:
        """F1 and the settings API do nothing on a locked app."""
        log.info("kiosk: the settings panel is disabled")
        return False

    def close_settings(self, *_args: Any) -> bool:
        return False

    def on_start(self) -> None:
        super().on_start()  # type: ignore[misc]
        self.lockdown = apply_lockdown(self, fullscreen=self.lockdown_fullscreen, hide_cursor=self.lockdown_hide_cursor)

    def on_stop(self) -> None:
        if self.lockdown is not None:
            self.lockdown.release()
            self.lockdown = None
        super().on_stop()  # type: ignore[misc]
