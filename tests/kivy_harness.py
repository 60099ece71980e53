"""Offscreen Kivy test harness: real windows, real touches, no display, no trio, no ``kivy_app`` fixture.

Import this module before anything that imports Kivy (``ui.*``, ``pos.*``, ``kiosk.*``): Kivy reads its
environment when it is first imported, so this module sets it at import time — that is its whole point — and
refuses to run if Kivy was already loaded without it.

What it sets up, and why:
- ``SDL_VIDEODRIVER=offscreen``: a real GL window on Mesa with no X server (``dummy`` has no GL).
- ``SDL_NO_SIGNAL_HANDLERS``: SDL would turn SIGTERM into a window-close request, which the harness (and any
  locked-down app) refuses — a CI timeout or xdist could then not terminate a worker.
- ``KIVY_NO_ARGS``: Kivy would otherwise parse pytest's command line as its own.
- ``KIVY_HOME`` in a fresh temporary directory per process, ``KIVY_NO_CONFIG``, ``KIVY_NO_FILELOG``: never
  read or write the developer's ``~/.kivy``; xdist workers do not share a config file.
- ``KIVY_LOG_MODE=PYTHON``: Kivy's log goes through ``logging``, so pytest shows it with a failing test.
- ``KIVY_METRICS_DENSITY=1``: ``dp`` equals pixels, so sizes in tests do not depend on the machine.
- Config: 1024×600 (the target panel), ``maxfps=0`` (frames are pumped as fast as the test wants, never
  slept), and no input providers (the host's mouse or ``/dev/input`` must not inject touches: the harness is
  the only finger).

One window per process (Kivy cannot make a second one, nor reopen a closed one), reused by every test in the
worker: ``start_app`` runs an App's start-up without ``run()`` (``App._run_prepare``) and ``stop_app`` undoes
it without closing the window or stopping the event loop (``App.stop`` would do both). A close request that
the app lets through (Escape with Kivy's default ``exit_on_escape``, the window manager's close) is refused by
the harness as a last resort and counted in ``close_requests()``. Each xdist worker is its own process with
its own window.

Use::

    from tests import kivy_harness as kh      # first, before ui/pos/kiosk imports

    def test_pin(tmp_path):
        app = MyApp()
        with kh.running(app):
            keypad = kh.find(app.root, "keypad")
            for digit in "1234":
                kh.tap(kh.find(keypad, f"key_{digit}"))
            assert keypad.text == "1234"
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

WINDOW_SIZE = (1024, 600)

_ENV = {
    "SDL_VIDEODRIVER": "offscreen",
    "SDL_AUDIODRIVER": "dummy",
    "SDL_NO_SIGNAL_HANDLERS": "1",
    "KIVY_WINDOW": "sdl2",
    "KIVY_TEXT": "sdl2",
    "KIVY_NO_ARGS": "1",
    "KIVY_NO_CONFIG": "1",
    "KIVY_NO_FILELOG": "1",
    "KIVY_NO_CONSOLELOG": "1",
    "KIVY_LOG_MODE": "PYTHON",
    "KIVY_METRICS_DENSITY": "1",
}


def _set_environment() -> None:
    if "kivy" in sys.modules:
        wrong = {k: os.environ.get(k) for k in ("SDL_VIDEODRIVER", "KIVY_NO_ARGS") if os.environ.get(k) != _ENV[k]}
        if wrong:
            raise RuntimeError(
                "Kivy was imported before tests.kivy_harness set up the offscreen environment "
                f"({wrong}); import tests.kivy_harness first"
            )
    else:
        os.environ.update(_ENV)
        home = tempfile.mkdtemp(prefix="lovemart-kivy-home-")
        os.environ["KIVY_HOME"] = home
        atexit.register(shutil.rmtree, home, True)
    if "kivy.core.window" in sys.modules:
        return  # the window exists: too late for Config (the size is reset by start_app anyway)

    import kivy  # noqa: F401  - creates Kivy's Config with the environment above
    from kivy.config import Config

    Config.set("graphics", "width", str(WINDOW_SIZE[0]))
    Config.set("graphics", "height", str(WINDOW_SIZE[1]))
    Config.set("graphics", "maxfps", "0")
    Config.set("graphics", "fullscreen", "0")
    Config.set("kivy", "exit_on_escape", "1")  # Kivy's default: lock-down tests must show they turn it off
    for option in Config.options("input"):
        Config.remove_option("input", option)


_set_environment()

_current_app: Any = None
_touch_ids = itertools.count(1)
_close_requests = 0
_guarded = False


# ---------------------------------------------------------------- the loop and the window


def window() -> Any:
    """The one Kivy window of this process, with the event loop started (created on first use)."""
    from kivy.base import EventLoop, runTouchApp
    from kivy.core.window import Window

    global _guarded
    if not _guarded:
        # Bound before any app's handler, so called after all of them (Kivy calls the last bound first) and
        # only when none of them refused the close. Kivy cannot reopen a closed window, so the harness never
        # lets it close; it counts the request instead (``close_requests()``), which is what tests assert.
        Window.bind(on_request_close=_refuse_close)
        _guarded = True
    if EventLoop.status != "started":
        # embedded=True: start input providers, post-processing modules and the clock, but do not block.
        runTouchApp(embedded=True)
    return Window


def _refuse_close(*_args: Any, **_kwargs: Any) -> bool:
    global _close_requests
    _close_requests += 1
    return True


def close_requests() -> int:
    """How many times the window would have closed (Escape, the window manager) since the app started:
    requests that no handler of the app refused and that only the harness stopped."""
    return _close_requests


def pump(frames: int = 1) -> None:
    """Run ``frames`` frames: clock callbacks, queued input, layouts, drawing, pending SDL events."""
    from kivy.base import EventLoop

    win = window()
    for _ in range(frames):
        EventLoop.idle()
        win.mainloop()  # drains SDL's queue (resizes) and returns; it does not block


def pump_until(
    predicate: Callable[[], Any], timeout_s: float = 5.0, max_frames: int = 1_000_000, what: str = ""
) -> int:
    """Pump frames until ``predicate()`` is true; returns the frames it took.

    Bounded twice — by ``timeout_s`` of wall time and by ``max_frames`` — and never sleeps: timers such as a
    banner's auto-hide fire from the pumped clock when their time has come. ``TimeoutError`` otherwise.
    """
    deadline = time.monotonic() + timeout_s
    frames = 0
    while not predicate():
        if frames >= max_frames or time.monotonic() > deadline:
            label = what or getattr(predicate, "__name__", "condition")
            raise TimeoutError(f"{label} not true after {frames} frames / {timeout_s} s")
        pump(1)
        frames += 1
    return frames


def wait_background(timeout_s: float = 5.0, runner: Any = None) -> None:
    """Pump until every ``ui.background`` task has delivered its callbacks (default runner if none given)."""
    from ui.background import default_runner

    r = runner or default_runner()
    pump_until(lambda: r.pending == 0, timeout_s, what="background tasks delivered")


def reset_window(size: tuple[int, int] = WINDOW_SIZE) -> Any:
    """Put the shared window back to a known state: windowed, ``size``, cursor shown, no children."""
    win = window()
    for child in list(win.children):
        _remove_from_window(win, child)
    if win.fullscreen:
        win.fullscreen = False
    win.show_cursor = True
    if tuple(win.size) != tuple(size):
        win.size = size
    pump(2)
    return win


def _remove_from_window(win: Any, child: Any) -> None:
    from kivy.uix.modalview import ModalView

    if isinstance(child, ModalView):
        child.dismiss(animation=False, force=True)
    if child.parent is win:
        win.remove_widget(child)


# ---------------------------------------------------------------- apps


def start_app(app: Any, size: tuple[int, int] = WINDOW_SIZE) -> Any:
    """Start ``app`` in the shared window as ``run()`` would (build, add root, ``on_start``), without blocking.

    A still-running previous app is stopped first.
    """
    global _current_app, _close_requests
    from kivy.app import App

    if _current_app is not None:
        stop_app(_current_app)
    reset_window(size)
    _close_requests = 0
    App._running_app = app  # App.__init__ sets it too; a test may have built another App since
    app._run_prepare()
    _current_app = app
    pump(3)
    return app


def stop_app(app: Any = None) -> None:
    """Stop ``app`` (default: the current one) as ``App.stop`` would, but keep the window and the event loop
    for the next test: ``on_stop``, unbind F1, take every widget out of the window."""
    global _current_app
    from kivy.app import App

    app = app if app is not None else _current_app
    if app is None:
        return
    win = window()
    try:
        app.dispatch("on_stop")
    finally:
        win.unbind(on_keyboard=app._on_keyboard_settings)
        if App._running_app is app:
            App._running_app = None
        if _current_app is app:
            _current_app = None
        reset_window(WINDOW_SIZE)


@contextmanager
def running(app: Any, size: tuple[int, int] = WINDOW_SIZE) -> Iterator[Any]:
    """``with running(app):`` — started on entry, stopped on exit (also when the test fails)."""
    start_app(app, size)
    try:
        yield app
    finally:
        stop_app(app)


def current_app() -> Any:
    return _current_app


# ---------------------------------------------------------------- input


def _touch_class() -> type:
    from kivy.input.motionevent import MotionEvent

    class HarnessTouch(MotionEvent):
        """A finger: a touch event with a position, created where a provider would create one."""

        def depack(self, args: Any) -> None:
            self.sx, self.sy = args
            if not self.profile:
                self.profile = ["pos"]
            super().depack(args)

    return HarnessTouch


def _window_point(widget: Any, pos: tuple[float, float] | None) -> tuple[float, float]:
    win = window()
    if widget.get_root_window() is None:
        raise AssertionError(f"{widget!r} is not in the window: a finger cannot reach it")
    x, y = widget.to_window(*(pos if pos is not None else widget.center))
    w, h = win.size
    if not (0 <= x < w and 0 <= y < h):
        raise AssertionError(f"{widget!r} is off-screen at window point ({x:.0f}, {y:.0f}) of {w}×{h}")
    return x, y


def touch_down(widget: Any = None, pos: tuple[float, float] | None = None) -> Any:
    """Put a finger down on ``widget``'s centre (or ``pos`` in its parent's coordinates, or a window point
    when ``widget`` is None); returns the touch for ``touch_up``."""
    from kivy.base import EventLoop

    win = window()
    if widget is not None:
        x, y = _window_point(widget, pos)
    elif pos is not None:
        x, y = pos
    else:
        raise ValueError("touch_down needs a widget or a window position")
    w, h = win._get_effective_size()
    touch = _touch_class()("harness", next(_touch_ids), (x / w, y / h), is_touch=True, type_id="touch")
    # Queued exactly as an input provider queues it; dispatched by the next frame through the post-processing
    # modules (double-tap detection…) and the window to the widgets, like a real finger.
    EventLoop._dispatch_input("begin", touch)
    pump(1)
    return touch


def touch_up(touch: Any) -> None:
    from kivy.base import EventLoop

    touch.update_time_end()
    EventLoop._dispatch_input("end", touch)
    pump(1)


def tap(widget: Any = None, pos: tuple[float, float] | None = None, hold_frames: int = 1) -> Any:
    """A finger tap on ``widget``: touch down, ``hold_frames`` frames, touch up. Whatever is on top at that
    point of the screen (a dialog, an overlay) receives it, as it would in the shop."""
    pump(1)  # let pending layouts move the widget to where it will be drawn
    touch = touch_down(widget, pos)
    if hold_frames > 1:
        pump(hold_frames - 1)
    touch_up(touch)
    return touch


def press_key(key: int, codepoint: str | None = None, modifiers: Iterable[str] = (), scancode: int = 0) -> bool:
    """A key press as SDL delivers it: ``on_key_down``; if no handler took it, ``on_keyboard`` (where Escape
    quits and F1 opens settings); then ``on_key_up``. Returns True if an ``on_key_down`` handler took it."""
    win = window()
    mods = list(modifiers)
    if codepoint is None and 32 <= key < 127:
        codepoint = chr(key)
    handled = bool(win.dispatch("on_key_down", key, scancode, codepoint, mods))
    if not handled:
        win.dispatch("on_keyboard", key, scancode, codepoint, mods)
    win.dispatch("on_key_up", key, scancode)
    return handled


def type_burst(text: str, enter: bool = True, enter_key: int = 13) -> None:
    """A keyboard-wedge scanner typing ``text`` (US layout, Shift where needed) and Enter, all within one
    frame, as its keystrokes arrive together in SDL's queue; then one frame is pumped."""
    from ui.scanning import key_for_char

    for char in text:
        key, mods = key_for_char(char)
        press_key(key, chr(key), mods)
    if enter:
        press_key(enter_key, None, [])
    pump(1)


# ---------------------------------------------------------------- finding widgets


def _walk(root: Any) -> Iterator[Any]:
    if root is None:
        for child in reversed(window().children):  # children[0] is on top; walk bottom-up like the kv tree
            yield from child.walk(restrict=True)
    else:
        yield from root.walk(restrict=True)


def by_text(text: str) -> Callable[[Any], bool]:
    """Predicate for ``find``: a widget whose ``text`` is ``text``."""
    return lambda w: getattr(w, "text", None) == text


def by_type(cls: type) -> Callable[[Any], bool]:
    return lambda w: isinstance(w, cls)


def find_all(root: Any, match: str | Callable[[Any], bool]) -> list[Any]:
    """Widgets under ``root`` (the whole window, dialogs included, when None) matching ``match``: an id
    from a ``.kv`` rule (as listed in some widget's ``ids``) or a predicate."""
    widgets = list(_walk(root))
    if callable(match):
        return [w for w in widgets if match(w)]
    by_proxy = {id(w.proxy_ref): w for w in widgets}
    found: list[Any] = []
    for w in widgets:
        target = w.ids.get(match) if hasattr(w, "ids") else None
        if target is not None:
            real = by_proxy.get(id(target))
            if real is not None and real not in found:
                found.append(real)
    return found


def find(root: Any, match: str | Callable[[Any], bool]) -> Any:
    """The one widget ``find_all`` finds; ``LookupError`` (listing the ids it saw) if none or several."""
    found = find_all(root, match)
    if len(found) == 1:
        return found[0]
    if not found:
        ids = sorted({name for w in _walk(root) for name in getattr(w, "ids", {})})
        raise LookupError(f"no widget matches {match!r}; ids under this root: {ids}")
    raise LookupError(f"{len(found)} widgets match {match!r}: {found}")


# ---------------------------------------------------------------- pictures


def screenshot(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> Path:
    """Save a PNG of the window (see ``lovemart_tools.offscreen.save_screenshot``)."""
    from lovemart_tools.offscreen import save_screenshot

    window()
    return save_screenshot(path, size)
