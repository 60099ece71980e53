"""The USB keyboard-wedge scanner: telling a scanner's keystrokes from a person's.

A wedge scanner is a keyboard to the computer: it "types" the code very fast and presses Enter.
A person on the same keyboard (or a USB keypad) types slowly. So a *burst* — keys each following
the previous within ``max_gap_s``, at least ``min_length`` of them, ended by an equally quick
Enter — is a scan; everything else is a person's typing and goes back to the app.

How an app uses it (all on the UI thread; the wedge has no threads and no Kivy)::

    wedge = KeyboardWedge(on_scan=handle_scan, on_typed=insert_into_focused_field)
    Window.bind(on_key_down=lambda _w, key, _sc, _text, mods: wedge.key_down(key, "shift" in mods))
    Clock.schedule_interval(lambda _dt: wedge.poll(), 0.05)

``key_down`` returns True when the wedge took the key: every printable key (the wedge holds it
until it knows whose it is) and an Enter that ended a burst. It returns False for other keys
(Backspace, arrows, a person's Enter), which the app handles as usual. A person's characters come
back through ``on_typed`` — at their next key, at their Enter (just before ``key_down`` returns
False for it), or at the next ``poll`` once ``max_gap_s`` has passed — so they appear with a delay
of one poll interval at most.

Why ``on_key_down`` and our own Shift handling: Kivy stops sending ``on_textinput`` once a
TextInput loses focus, and ``on_key_down`` gives the *unshifted* codepoint; a passbook code such
as ``LM1:XF0001:1:ABCDEF`` arrives as Shift+l, Shift+m, 1, Shift+; … (see ``char_for_key``).

Timing caveat: the clock is read when a key reaches us, not when it was typed. Keys queued while
the UI thread is busy arrive together (gaps shrink, harmless), but a UI stall in the middle of a
burst stretches one gap; such a scan is dropped as a broken burst and the shopkeeper scans again.
Keep ``max_gap_s`` above the UI's worst frame time if that happens often.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from hardware.scanner import Clock, OnScan, RepeatFilter, ScanEvent

log = logging.getLogger(__name__)

ENTER_KEYS = frozenset({13, 271})  # Return and keypad Enter, as Kivy numbers them
MAX_SCAN_LENGTH = 128  # far above a passbook code (~25) or an EAN-13; anything longer is garbage

# US layout, which is what wedge scanners emulate out of the box.
_SHIFTED = dict(zip("1234567890-=[]\\;',./`", '!@#$%^&*()_+{}|:"<>?~', strict=True))
# Kivy's keypad codepoints (numpad0..numpad9, decimal, divide, multiply, subtract, add).
_KEYPAD = {256 + n: str(n) for n in range(10)} | {266: ".", 267: "/", 268: "*", 269: "-", 270: "+"}


def char_for_key(codepoint: int, shift: bool, caps_lock: bool = False) -> str | None:
    """The character a US keyboard types for Kivy's unshifted ``codepoint``; None if it types none.

    Letters are upper case with Shift (or Caps Lock, not both), ``;`` becomes ``:`` and ``1`` ``!``
    with Shift; keypad digits are digits whatever Shift says. Enter, Backspace, Shift itself,
    arrows and function keys give None, so they never enter (or break) a burst.
    """
    if codepoint in _KEYPAD:
        return _KEYPAD[codepoint]
    if not 32 <= codepoint < 127:
        return None
    char = chr(codepoint)
    if char.isalpha():
        return char.upper() if shift != caps_lock else char.lower()
    if shift:
        return _SHIFTED.get(char, char)
    return char


class KeyboardWedge:
    """Splits keystrokes into scans (``on_scan``, source "wedge") and a person's typing (``on_typed``).

    Not thread-safe: call everything from the UI thread, where the key events arrive. Callbacks run
    synchronously inside ``feed``/``enter``/``key_down``/``poll``.

    No repeat filter by default: a wedge only reads when its trigger is pressed, so the same product
    barcode scanned twice means two of that product. Pass a ``RepeatFilter`` for a scanner left in
    continuous (auto-sense) mode, which re-reads a code lying under it.

    Counters: ``scans`` delivered, ``refused`` bursts longer than ``max_length``, ``broken``
    bursts that stopped without Enter (a scanner glitch, or one set up without the Enter suffix).
    """

    def __init__(
        self,
        on_scan: OnScan,
        clock: Clock = time.monotonic,
        max_gap_s: float = 0.05,
        min_length: int = 4,
        *,
        max_length: int = MAX_SCAN_LENGTH,
        on_typed: Callable[[str], None] | None = None,
        repeat_filter: RepeatFilter | None = None,
    ) -> None:
        if not 1 <= min_length <= max_length:
            raise ValueError("need 1 <= min_length <= max_length")
        if max_gap_s <= 0:
            raise ValueError("max_gap_s must be positive")
        self.on_scan = on_scan
        self.on_typed = on_typed
        self.max_gap_s = max_gap_s
        self.min_length = min_length
        self.max_length = max_length
        self.repeat_filter = repeat_filter
        self._clock = clock
        self._buffer: list[str] = []
        self._last_at: float | None = None
        self._overflowed = False
        self.scans = 0
        self.refused = 0
        self.broken = 0

    @property
    def pending(self) -> str:
        """Characters held while the wedge cannot yet tell whose they are (for tests and debugging)."""
        return "".join(self._buffer)

    def key_down(self, codepoint: int, shift: bool, caps_lock: bool = False) -> bool:
        """Feed one Kivy ``on_key_down``; True when the wedge took the key (see the module docstring)."""
        if codepoint in ENTER_KEYS:
            return self.enter()
        char = char_for_key(codepoint, shift, caps_lock)
        if char is None:
            return False
        self.feed(char)
        return True

    def feed(self, char: str) -> None:
        """One printable character, already shifted. A person's characters come back via ``on_typed``."""
        if len(char) != 1:
            raise ValueError(f"feed() takes one character, got {char!r}")
        now = self._clock()
        self._end_if_stale(now)
        self._last_at = now
        if self._overflowed:
            return
        if len(self._buffer) >= self.max_length:
            # Not truncated into a code: a cut-off code could be a different, valid one.
            self._overflowed = True
            self._buffer.clear()
            return
        self._buffer.append(char)

    def enter(self) -> bool:
        """The Enter key. True when it ended a burst (a scan, or refused garbage): the app must ignore it.

        False when it is a person's Enter; their pending characters reach ``on_typed`` first.
        """
        now = self._clock()
        self._end_if_stale(now)
        if self._overflowed:
            self._refuse()
            return True
        if len(self._buffer) < self.min_length:
            self._hand_back()
            return False
        text = "".join(self._buffer)
        self._reset()
        if self.repeat_filter is None or self.repeat_filter.accept(text, now):
            self.scans += 1
            self.on_scan(ScanEvent(text, "wedge", now))
        return True

    def poll(self) -> None:
        """Call every few tens of milliseconds: hands a person's finished typing back without waiting
        for their next key, and drops a burst that stopped without Enter."""
        self._end_if_stale(self._clock())

    def reset(self) -> None:
        """Forget anything held, e.g. when the screen changes."""
        self._reset()

    # ----------------------------------------------------------------- internals

    def _end_if_stale(self, now: float) -> None:
        if self._last_at is None or now - self._last_at <= self.max_gap_s:
            return
        # The run of quick keys is over and no quick Enter came.
        if self._overflowed:
            self._refuse()
        elif len(self._buffer) >= self.min_length:
            # Too quick for a person, so a scanner's burst that lost its Enter: it is not handed to
            # the UI as typing, where it would land as a garbled number in some field.
            self.broken += 1
            log.info("keyboard wedge: dropped a %d-key burst that ended without Enter", len(self._buffer))
            self._reset()
        else:
            self._hand_back()

    def _hand_back(self) -> None:
        text = "".join(self._buffer)
        self._reset()
        if text and self.on_typed is not None:
            self.on_typed(text)

    def _refuse(self) -> None:
        self.refused += 1
        log.warning("keyboard wedge: refused a burst longer than %d keys", self.max_length)
        self._reset()

    def _reset(self) -> None:
        self._buffer.clear()
        self._last_at = None
        self._overflowed = False
