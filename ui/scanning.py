"""Scans into the UI: from scanner threads via ``ScanBridge``, and from a keyboard-wedge scanner via keys.

Threads: a camera scanner calls back on its capture thread, and widgets may only be touched on the UI
thread, so ``ScanBridge`` hops every scan over with ``Clock.schedule_once`` (thread-safe). Anything that
has ``.text`` and ``.source`` (``hardware.scanner.ScanEvent``) or a plain string can be handed in; the bridge
is callable, so it can be passed straight to ``scanner.start(on_scan=bridge)``. After ``close()`` late scans
are dropped: a camera thread still winding down must not drive a screen that has gone.

Keyboard wedge: a USB scanner types the code as keystrokes. ``Window.on_textinput`` stops firing once a
TextInput loses focus, so we listen to ``on_key_down``, whose key is the *unshifted* key ("l" for "L", ";"
for ":"), and apply Shift/Caps Lock ourselves with a US layout (what wedge scanners emulate). Enter is 13 or
271 (keypad). ``WedgeBinding`` feeds any object with ``feed(char)`` and ``enter()`` (``hardware.wedge``'s
burst detector, written elsewhere — this module never imports it) and calls its ``poll()``, if it has one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

ENTER_KEYS = frozenset({13, 271})
_SHIFTED = dict(zip("`1234567890-=[]\\;',./", '~!@#$%^&*()_+{}|:"<>?', strict=True))
_UNSHIFTED = {v: k for k, v in _SHIFTED.items()}
# Kivy numbers the keypad 256.. (0–9), 266 ".", 267 "/", 268 "*", 269 "-", 270 "+".
_KEYPAD = {256 + n: str(n) for n in range(10)} | {266: ".", 267: "/", 268: "*", 269: "-", 270: "+"}
_SHORTCUT_MODIFIERS = frozenset({"ctrl", "alt", "meta", "super", "alt-gr"})


def char_for_key(key: int, modifiers: Iterable[str] = ()) -> str | None:
    """The character a US keyboard types for Kivy's unshifted ``key`` with ``modifiers``; None for keys that
    type nothing (Enter, Backspace, arrows, F-keys, Shift itself) and for Ctrl/Alt shortcuts."""
    mods = set(modifiers)
    if mods & _SHORTCUT_MODIFIERS:
        return None
    if key in _KEYPAD:
        return _KEYPAD[key]
    if not 32 <= key < 127:
        return None
    char = chr(key)
    shift = "shift" in mods
    if char.isalpha():
        return char.upper() if shift != ("capslock" in mods) else char.lower()
    if shift:
        return _SHIFTED.get(char, char)
    return char


def key_for_char(char: str) -> tuple[int, list[str]]:
    """Inverse of ``char_for_key``: (Kivy key, modifiers) a US keyboard sends for ``char``. For tests that
    play a scanner's burst, and for anything that must simulate typing."""
    if len(char) != 1 or not 32 <= ord(char) < 127:
        raise ValueError(f"a wedge scanner types printable ASCII only, not {char!r}")
    if char.isalpha():
        return ord(char.lower()), (["shift"] if char.isupper() else [])
    if char in _UNSHIFTED:
        return ord(_UNSHIFTED[char]), ["shift"]
    return ord(char), []


class Wedge(Protocol):
    """What ``WedgeBinding`` needs from a burst detector."""

    def feed(self, char: str) -> None: ...

    def enter(self) -> bool | None: ...


OnScanText = Callable[[str, str], Any]


class ScanBridge:
    """Receives scans on any thread; calls ``on_scan(text, source)`` on the UI thread, in order."""

    def __init__(self, on_scan: OnScanText) -> None:
        self.on_scan = on_scan
        self._lock = threading.Lock()
        self._closed = False
        self.delivered = 0
        self.dropped = 0

    def submit(self, text: str, source: str = "manual") -> None:
        """Thread-safe: queue one scan for the UI thread."""
        from kivy.clock import Clock

        with self._lock:
            if self._closed:
                self.dropped += 1
                return

        def deliver(_dt: float) -> None:
            with self._lock:
                if self._closed:
                    self.dropped += 1
                    return
                self.delivered += 1
            self.on_scan(text, source)

        Clock.schedule_once(deliver, 0)

    def submit_event(self, event: Any) -> None:
        """A scanner's event object (``.text``, ``.source``), e.g. ``hardware.scanner.ScanEvent``."""
        self.submit(str(event.text), str(getattr(event, "source", "manual")))

    def __call__(self, event: Any) -> None:
        if isinstance(event, str):
            self.submit(event)
        else:
            self.submit_event(event)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the UI thread (scanner status changes take the same hop as scans)."""
        from kivy.clock import Clock

        with self._lock:
            if self._closed:
                return

        def run(_dt: float) -> None:
            with self._lock:
                if self._closed:
                    return
            fn(*args)

        Clock.schedule_once(run, 0)

    def close(self) -> None:
        """Drop scans from now on, including those already queued but not yet delivered."""
        with self._lock:
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed


class WedgeBinding:
    """Feeds ``Window.on_key_down`` to a wedge burst detector; ``detach()`` to stop.

    Printable keys go to ``wedge.feed(char)`` and are consumed (the detector hands a person's typing back
    through its own callback). Enter goes to ``wedge.enter()``; it is consumed when that returns True (it
    ended a scan). A person's Enter and the other keys (Backspace, Escape, F-keys, arrows, Ctrl shortcuts)
    go to ``on_other_key(key)`` if given, after the wedge has handed back the person's characters, and
    continue to the app unless it returns True. ``wedge.poll()``, if present, is called every
    ``poll_interval_s``.
    """

    def __init__(
        self,
        wedge: Wedge,
        window: Any = None,
        poll_interval_s: float = 0.05,
        on_other_key: Callable[[int], bool] | None = None,
    ) -> None:
        self.wedge = wedge
        self._window = window
        self.on_other_key = on_other_key
        self.poll_interval_s = poll_interval_s
        self._poll_event: Any = None
        self._attached = False

    def attach(self) -> WedgeBinding:
        if self._attached:
            return self
        from kivy.clock import Clock

        if self._window is None:
            from kivy.core.window import Window

            self._window = Window
        self._window.bind(on_key_down=self._on_key_down)
        poll = getattr(self.wedge, "poll", None)
        if callable(poll) and self.poll_interval_s > 0:
            self._poll_event = Clock.schedule_interval(lambda _dt: poll(), self.poll_interval_s)
        self._attached = True
        return self

    def detach(self) -> None:
        if not self._attached:
            return
        self._window.unbind(on_key_down=self._on_key_down)
        if self._poll_event is not None:
            self._poll_event.cancel()
            self._poll_event = None
        reset = getattr(self.wedge, "reset", None)
        if callable(reset):
            reset()
        self._attached = False

    def _on_key_down(
        self,
        _window: Any,
        key: int,
        _scancode: int | None = None,
        _codepoint: str | None = None,
        modifiers: Sequence[str] | None = None,
        *_args: Any,
    ) -> bool:
        mods = list(modifiers or ())
        if key in ENTER_KEYS:
            if self.wedge.enter():
                return True
            return self._other(key)
        char = char_for_key(key, mods)
        if char is None:
            return self._other(key)
        self.wedge.feed(char)
        return True

    def _other(self, key: int) -> bool:
        if self.on_other_key is None:
            return False
        poll = getattr(self.wedge, "poll", None)
        if callable(poll):
            poll()  # a person's characters before their Backspace reach the app before it does
        return bool(self.on_other_key(key))


def bind_wedge(wedge: Wedge, window: Any = None, poll_interval_s: float = 0.05) -> WedgeBinding:
    """Attach a ``WedgeBinding`` to the window (Kivy's ``Window`` when not given) and return it."""
    return WedgeBinding(wedge, window, poll_interval_s).attach()
