"""Scanners: the repeat filter, the fake, the keyboard wedge and the camera's threads.

No test sleeps to let time pass: the filter and the wedge take a hand-turned clock, and the camera
tests wait on conditions (with bounded timeouts) for what the threads report. The camera gets a
hand-written fake camera (frames are tiny arrays carrying a code id and a serial number) and a
hand-written fake decoder that maps code ids to texts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from hardware.camera import CameraScanner
from hardware.errors import HardwareError
from hardware.scanner import FakeScanner, RepeatFilter, ScanEvent, ScannerStatus
from hardware.wedge import KeyboardWedge, char_for_key
from tests.conftest import FakeClock

PASSBOOK = "LM1:XF0001:1:ABCDEF"
EAN13 = "6901234567892"
WAIT_S = 5.0  # upper bound for anything a thread should do in microseconds; only reached on failure


class Recorder:
    """Collects scanner callbacks from any thread and lets the test wait for them."""

    def __init__(self) -> None:
        self.events: list[ScanEvent] = []
        self.statuses: list[ScannerStatus] = []
        self._cond = threading.Condition()

    def on_scan(self, event: ScanEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def on_status(self, status: ScannerStatus) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    @property
    def states(self) -> list[str]:
        with self._cond:
            return [s.state for s in self.statuses]

    def wait_events(self, count: int) -> list[ScanEvent]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.events) >= count, WAIT_S), self.events
            return list(self.events)

    def wait_state(self, state: str, nth: int = 1) -> ScannerStatus:
        """Wait for the ``nth`` status with ``state`` and return it."""
        with self._cond:
            found = self._cond.wait_for(lambda: [s.state for s in self.statuses].count(state) >= nth, WAIT_S)
            assert found, f"no {state!r} #{nth} in {[s.state for s in self.statuses]}"
            return [s for s in self.statuses if s.state == state][nth - 1]


# --------------------------------------------------------------------------- RepeatFilter


def test_repeat_filter_drops_a_code_held_up_and_takes_it_again_after_the_window() -> None:
    clock = FakeClock()
    repeats = RepeatFilter(window_s=2.0, clock=clock)
    assert repeats.accept(PASSBOOK)
    # Held in front of the camera for 5 s, seen 30 times a second: still one scan.
    kept = 0
    for _ in range(150):
        clock.advance(1 / 30)
        kept += repeats.accept(PASSBOOK)
    assert kept == 0
    # Taken away and shown again: within the window it is the same scan, after it a new one.
    clock.advance(1.9)
    assert not repeats.accept(PASSBOOK)
    clock.advance(2.1)
    assert repeats.accept(PASSBOOK)


def test_repeat_filter_keeps_different_codes_apart_and_takes_an_explicit_time() -> None:
    clock = FakeClock()
    repeats = RepeatFilter(window_s=2.0, clock=clock)
    assert repeats.accept(PASSBOOK)
    assert repeats.accept(EAN13)
    assert not repeats.accept(PASSBOOK, at=clock.now + 1.0)
    assert repeats.accept(EAN13, at=clock.now + 2.5)
    repeats.reset()
    assert repeats.accept(PASSBOOK, at=clock.now + 1.1)


def test_repeat_filter_forgets_old_codes() -> None:
    clock = FakeClock()
    repeats = RepeatFilter(window_s=2.0, clock=clock)
    for n in range(1000):
        repeats.accept(f"code-{n}")
        clock.advance(0.5)
    assert len(repeats._last_seen) <= 70


# --------------------------------------------------------------------------- FakeScanner


def test_fake_scanner_delivers_on_the_callers_thread_through_the_repeat_filter() -> None:
    clock = FakeClock()
    fake = FakeScanner(clock=clock)
    got = Recorder()
    assert not fake.scan(PASSBOOK), "nobody listens before start()"
    fake.start(got.on_scan, got.on_status)
    assert got.states == ["ready"]

    assert fake.scan(PASSBOOK, format="QRCode")
    assert got.events == [ScanEvent(PASSBOOK, "fake", 1000.0, "QRCode")]
    assert got.events[0].at == clock.now
    clock.advance(1.0)
    assert not fake.scan(PASSBOOK)
    assert fake.scan(EAN13)
    clock.advance(2.5)
    assert fake.scan(PASSBOOK)
    assert [e.text for e in got.events] == [PASSBOOK, EAN13, PASSBOOK]

    fake.report(ScannerStatus("lost", HardwareError("camera_lost")))
    assert got.statuses[-1].code == "camera_lost"
    assert "摄像头" in got.statuses[-1].message("zh")
    fake.stop()
    assert got.states[-1] == "stopped"
    clock.advance(10)
    assert not fake.scan(EAN13)
    assert len(got.events) == 3


# --------------------------------------------------------------------------- keyboard wedge

SHIFT_KEY = 304  # Kivy's left Shift: a key of its own, which must not break a burst


def us_keys(text: str) -> list[tuple[int, bool]]:
    """What a wedge scanner sends for ``text``: (unshifted codepoint, shift) per character."""
    unshift = dict(zip('!@#$%^&*()_+{}|:"<>?~', "1234567890-=[]\\;',./`", strict=True))
    keys = []
    for char in text:
        if char.isupper():
            keys.append((ord(char.lower()), True))
        elif char in unshift:
            keys.append((ord(unshift[char]), True))
        else:
            keys.append((ord(char), False))
    return keys


class WedgeHarness:
    """A wedge on a hand-turned clock, with a person's typing and the scans recorded."""

    def __init__(self, clock: FakeClock | None = None, **kwargs: Any) -> None:
        self.clock = clock or FakeClock()
        self.scans: list[ScanEvent] = []
        self.typed: list[str] = []
        self.wedge = KeyboardWedge(self.scans.append, clock=self.clock, on_typed=self.typed.append, **kwargs)

    def scanner_types(self, text: str, gap: float = 0.004) -> bool:
        """Keys as a scanner sends them, Shift presses included; returns what Enter's key_down returned."""
        for codepoint, shift in us_keys(text):
            if shift:
                assert not self.wedge.key_down(SHIFT_KEY, False)
            assert self.wedge.key_down(codepoint, shift)
            self.clock.advance(gap)
        return self.wedge.key_down(13, False)

    def person_types(self, text: str, gap: float = 0.25) -> None:
        for char in text:
            self.wedge.feed(char)
            self.clock.advance(gap)


def test_wedge_fast_burst_is_one_scan_with_the_exact_text() -> None:
    h = WedgeHarness()
    assert h.scanner_types(PASSBOOK) is True
    assert [(e.text, e.source, e.format) for e in h.scans] == [(PASSBOOK, "wedge", "")]
    assert h.scans[0].at == h.clock.now
    assert h.typed == []
    assert h.wedge.pending == ""
    # A product barcode on the keypad Enter right after.
    for char in EAN13:
        h.wedge.feed(char)
        h.clock.advance(0.01)
    assert h.wedge.key_down(271, False) is True
    assert [e.text for e in h.scans] == [PASSBOOK, EAN13]
    assert h.wedge.scans == 2


def test_wedge_same_code_twice_is_two_scans_unless_a_repeat_filter_is_given() -> None:
    h = WedgeHarness()
    h.scanner_types(EAN13)
    h.clock.advance(0.5)
    h.scanner_types(EAN13)
    assert [e.text for e in h.scans] == [EAN13, EAN13], "two trigger presses are two of the product"

    clock = FakeClock()
    filtered = WedgeHarness(clock, repeat_filter=RepeatFilter(2.0, clock))
    assert filtered.scanner_types(EAN13) is True
    clock.advance(0.5)
    assert filtered.scanner_types(EAN13) is True, "a filtered repeat is still not the person's Enter"
    assert [e.text for e in filtered.scans] == [EAN13]


def test_wedge_slow_typing_is_no_scan_and_comes_back_as_typing() -> None:
    h = WedgeHarness()
    h.person_types("1234")
    assert h.wedge.key_down(13, False) is False, "the person's Enter is the app's"
    assert h.scans == []
    assert "".join(h.typed) == "1234"
    assert h.typed[0] == "1", "each key comes back once the next one shows it was a person"


def test_wedge_poll_hands_back_a_persons_last_key_after_the_gap_only() -> None:
    h = WedgeHarness()
    h.wedge.feed("7")
    h.clock.advance(0.01)
    h.wedge.poll()
    assert h.typed == [] and h.wedge.pending == "7", "too early to tell: could be a scan's first key"
    h.clock.advance(0.1)
    h.wedge.poll()
    assert h.typed == ["7"] and h.wedge.pending == ""
    h.wedge.poll()
    assert h.typed == ["7"]


def test_wedge_enter_with_nothing_buffered_and_short_quick_runs_are_the_persons() -> None:
    h = WedgeHarness()
    assert h.wedge.enter() is False
    assert h.scanner_types("12") is False, "shorter than min_length is not a scan"
    assert h.scans == [] and h.typed == ["12"]


def test_wedge_shift_mapping_for_unshifted_codepoints() -> None:
    assert char_for_key(ord("l"), True) == "L"
    assert char_for_key(ord("l"), False) == "l"
    assert char_for_key(ord("l"), False, caps_lock=True) == "L"
    assert char_for_key(ord("l"), True, caps_lock=True) == "l"
    assert char_for_key(ord(";"), True) == ":"
    assert char_for_key(ord(";"), False) == ";"
    assert char_for_key(ord("1"), False) == "1"
    assert char_for_key(ord("1"), True) == "!"
    assert char_for_key(ord("/"), True) == "?"
    assert char_for_key(ord(" "), False) == " "
    assert char_for_key(257, False) == "1" and char_for_key(256, True) == "0", "keypad digits"
    for not_a_char in (13, 271, 8, 9, 27, SHIFT_KEY, 273, 282, 127):
        assert char_for_key(not_a_char, False) is None
    h = WedgeHarness()
    assert h.wedge.key_down(8, False) is False, "Backspace is the app's"
    assert h.wedge.key_down(ord(";"), True) is True
    assert h.wedge.pending == ":"


def test_wedge_gap_in_a_burst_starts_over() -> None:
    h = WedgeHarness()
    for char in "LM1:XF":
        h.wedge.feed(char)
        h.clock.advance(0.004)
    h.clock.advance(0.5)  # the burst stalls: not a scan, and not a person's typing either
    assert h.scanner_types(EAN13) is True
    assert [e.text for e in h.scans] == [EAN13]
    assert h.typed == []
    assert h.wedge.broken == 1

    # A short quick run cut off by a gap was a person's.
    h.wedge.feed("4")
    h.clock.advance(0.01)
    h.wedge.feed("2")
    h.clock.advance(0.3)
    assert h.scanner_types(PASSBOOK) is True
    assert h.typed == ["42"]
    assert [e.text for e in h.scans] == [EAN13, PASSBOOK]


def test_wedge_burst_whose_enter_comes_late_is_not_a_scan() -> None:
    h = WedgeHarness()
    for char in EAN13:
        h.wedge.feed(char)
        h.clock.advance(0.004)
    h.clock.advance(0.3)
    assert h.wedge.enter() is False
    assert h.scans == [] and h.typed == [] and h.wedge.broken == 1


def test_wedge_refuses_an_overlong_burst_and_recovers() -> None:
    h = WedgeHarness(max_length=32)
    assert h.scanner_types("A" * 32) is True
    assert [e.text for e in h.scans] == ["A" * 32], "exactly max_length is still a scan"

    assert h.scanner_types("X" * 500) is True, "garbage's Enter must not confirm a dialog"
    assert len(h.scans) == 1 and h.typed == []
    assert h.wedge.refused == 1
    assert len(h.wedge.pending) == 0

    # An overlong burst that just stops is refused too, and the next scan still works.
    for _ in range(100):
        h.wedge.feed("9")
        h.clock.advance(0.004)
    h.clock.advance(1.0)
    assert h.scanner_types(PASSBOOK) is True
    assert [e.text for e in h.scans] == ["A" * 32, PASSBOOK]
    assert h.wedge.refused == 2


def test_wedge_default_cap_is_128() -> None:
    h = WedgeHarness()
    assert h.scanner_types("7" * 129) is True
    assert h.scans == [] and h.wedge.refused == 1
    assert h.scanner_types("7" * 128) is True
    assert [len(e.text) for e in h.scans] == [128]


# --------------------------------------------------------------------------- camera fakes

BLANK = 0


class FakeCamera:
    """A USB camera on a fake port: plugged in or not; shows scripted code ids, then the held card.

    ``show`` puts a card in exactly ``frames`` frames (for tests that count frames); ``hold`` keeps
    one in view until taken away (for tests that only need it seen, however busy the machine is).
    Like a real V4L2 device, a capture opened before an unplug stays dead after the camera comes
    back: the scanner has to open it again. Frames are paced like a camera's frame rate.
    """

    def __init__(self, plugged: bool = True, frame_interval_s: float = 0.002) -> None:
        self.plugged = plugged
        self.frame_interval_s = frame_interval_s
        self.cond = threading.Condition()
        self.script: deque[int] = deque()
        self.held = BLANK
        self.serial = 0
        self.generation = 0
        self.opened: list[FakeCapture] = []
        self.read_fault: Exception | None = None

    def open(self, device: int | str) -> FakeCapture:
        with self.cond:
            capture = FakeCapture(self, device, self.generation if self.plugged else -1)
            self.opened.append(capture)
            self.cond.notify_all()
            return capture

    def show(self, code_id: int, frames: int = 1) -> int:
        """Hold a card up for ``frames`` frames; returns the serial of the last of them."""
        with self.cond:
            self.script.extend([code_id] * frames)
            self.cond.notify_all()
            return self.serial + len(self.script)

    def hold(self, code_id: int) -> None:
        with self.cond:
            self.held = code_id
            self.cond.notify_all()

    def unplug(self) -> None:
        with self.cond:
            self.plugged = False
            self.generation += 1
            self.cond.notify_all()

    def plug(self) -> None:
        with self.cond:
            self.plugged = True
            self.cond.notify_all()

    def wait_serial(self, serial: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.serial >= serial, WAIT_S), self.serial


class FakeCapture:
    """What ``open_capture`` returns: the ``cv2.VideoCapture`` methods the scanner uses."""

    def __init__(self, camera: FakeCamera, device: int | str, generation: int) -> None:
        self.camera = camera
        self.device = device
        self.generation = generation
        self.released = False
        self.settings: dict[int, float] = {}

    def _alive(self) -> bool:
        return not self.released and self.camera.plugged and self.generation == self.camera.generation

    def isOpened(self) -> bool:
        return self.generation >= 0 and not self.released

    def read(self) -> tuple[bool, Any]:
        camera = self.camera
        with camera.cond:
            if camera.read_fault is not None:
                fault, camera.read_fault = camera.read_fault, None
                raise fault
            if not self._alive():
                return False, None
            camera.cond.wait(camera.frame_interval_s)
            if not self._alive():
                return False, None
            code_id = camera.script.popleft() if camera.script else camera.held
            camera.serial += 1
            camera.cond.notify_all()
            return True, np.array([[code_id, camera.serial]], dtype=np.int64)

    def release(self) -> None:
        self.released = True

    def set(self, prop_id: int, value: float, /) -> bool:
        self.settings[prop_id] = value
        return True


@dataclass(frozen=True)
class FakeDecoded:
    text: str
    format: str = "QRCode"


class FakeDecoder:
    """Maps a frame's code id to a text; can fail on chosen ids or hold frames until let go."""

    name = "fake"

    def __init__(self, codes: dict[int, str], fail_on: frozenset[int] = frozenset()) -> None:
        self.codes = codes
        self.fail_on = fail_on
        self.gate: threading.Event | None = None
        self.stuck = threading.Event()
        self.seen: list[int] = []
        self.max_serial = 0
        self.cond = threading.Condition()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1

    def decode(self, frame: Any) -> list[FakeDecoded]:
        if self.gate is not None and not self.gate.is_set():
            self.stuck.set()
            assert self.gate.wait(WAIT_S)
        code_id, serial = int(frame[0, 0]), int(frame[0, 1])
        with self.cond:
            self.seen.append(code_id)
            self.max_serial = max(self.max_serial, serial)
            self.cond.notify_all()
        if code_id in self.fail_on:
            raise RuntimeError(f"decoder fault on frame {serial}")
        return [FakeDecoded(self.codes[code_id])] if code_id in self.codes else []

    def wait_serial(self, serial: int) -> None:
        """Until a frame read after ``serial`` was decoded: every earlier one was decoded or dropped."""
        with self.cond:
            assert self.cond.wait_for(lambda: self.max_serial > serial, WAIT_S), self.max_serial


@pytest.fixture
def cameras() -> Iterator[Callable[..., CameraScanner]]:
    """Makes camera scanners and stops every one of them after the test, pass or fail."""
    made: list[CameraScanner] = []

    def make(decoder: Any, camera: FakeCamera | None = None, **kwargs: Any) -> CameraScanner:
        if camera is not None:
            kwargs["open_capture"] = camera.open
        scanner = CameraScanner(decoder, **kwargs)
        made.append(scanner)
        return scanner

    yield make
    for scanner in made:
        scanner.stop()


CODES = {7: PASSBOOK, 8: EAN13}


# --------------------------------------------------------------------------- camera


def test_camera_same_code_in_30_frames_is_one_event(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got = FakeCamera(), FakeDecoder(CODES), Recorder()
    scanner = cameras(decoder, camera, clock=FakeClock(), buffer_frames=10_000)  # counts frames: none dropped
    scanner.start(got.on_scan, got.on_status)
    got.wait_state("ready")
    last = camera.show(7, frames=30)
    events = got.wait_events(1)
    decoder.wait_serial(last)
    assert decoder.seen.count(7) == 30 and scanner.frames_dropped == 0, "every frame reached the filter"
    assert got.events == events and len(events) == 1
    assert (events[0].text, events[0].source, events[0].format) == (PASSBOOK, "camera", "QRCode")
    assert got.states[:2] == ["starting", "ready"]
    assert scanner.frames_read >= 31 and scanner.frames_decoded >= 31


def test_a_stopped_camera_lets_its_decoder_go_of_its_native_objects(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got = FakeCamera(), FakeDecoder(CODES), Recorder()
    scanner = cameras(decoder, camera, clock=FakeClock())
    scanner.start(got.on_scan, got.on_status)
    got.wait_state("ready")
    assert decoder.closed == 0
    scanner.stop()
    assert decoder.closed == 1 and not scanner.running


def test_camera_sees_the_same_card_again_after_the_window(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got, clock = FakeCamera(), FakeDecoder(CODES), Recorder(), FakeClock()
    scanner = cameras(decoder, camera, clock=clock, buffer_frames=10_000)
    scanner.start(got.on_scan, got.on_status)
    camera.show(7, frames=3)
    got.wait_events(1)
    decoder.wait_serial(camera.serial)
    clock.advance(2.5)
    camera.show(7, frames=3)
    camera.show(8)
    events = got.wait_events(3)
    assert [e.text for e in events] == [PASSBOOK, PASSBOOK, EAN13]
    assert events[1].at == clock.now


def test_camera_absent_at_start_then_found_when_plugged_in(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got = FakeCamera(plugged=False), FakeDecoder(CODES), Recorder()
    scanner = cameras(decoder, camera, device="/dev/video0", retry_s=60.0)
    scanner.start(got.on_scan, got.on_status)
    absent = got.wait_state("absent")
    assert absent.code == "camera_not_found" and "/dev/video0" in absent.message("en")
    assert scanner.latest_frame() is None
    assert all(c.released for c in camera.opened), "a capture that did not open is released"

    camera.plug()
    scanner.retry_now()  # retry_s is a minute: only retry_now() can have woken it
    got.wait_state("ready")
    camera.hold(7)
    assert [e.text for e in got.wait_events(1)] == [PASSBOOK]
    assert got.states[:3] == ["starting", "absent", "ready"]


def test_camera_retries_by_itself_every_retry_s(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got = FakeCamera(plugged=False), FakeDecoder(CODES), Recorder()
    scanner = cameras(decoder, camera, retry_s=0.005)
    scanner.start(got.on_scan, got.on_status)
    got.wait_state("absent")
    with camera.cond:
        assert camera.cond.wait_for(lambda: len(camera.opened) >= 3, WAIT_S), "it keeps trying"
    camera.plug()
    got.wait_state("ready")
    assert got.states.count("absent") == 1, "one message, not one per retry"


def test_camera_unplugged_mid_run_is_lost_then_ready_and_scans_again(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got = FakeCamera(), FakeDecoder(CODES), Recorder()
    scanner = cameras(decoder, camera, retry_s=60.0)
    scanner.start(got.on_scan, got.on_status)
    camera.hold(8)
    got.wait_events(1)
    assert scanner.latest_frame() is not None
    camera.hold(BLANK)

    camera.unplug()
    lost = got.wait_state("lost")
    assert lost.code == "camera_lost"
    assert scanner.latest_frame() is None, "no frozen picture while the camera is away"
    assert camera.opened[0].released

    camera.plug()
    scanner.retry_now()
    got.wait_state("ready", nth=2)
    assert len(camera.opened) == 2 and not camera.opened[1].released
    camera.hold(7)
    assert [e.text for e in got.wait_events(2)] == [EAN13, PASSBOOK]
    assert got.states == ["starting", "ready", "lost", "ready"]


def test_camera_survives_decoder_driver_and_callback_faults(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got = FakeCamera(), FakeDecoder(CODES, fail_on=frozenset({13})), Recorder()
    scanner = cameras(decoder, camera, buffer_frames=10_000)  # no frame may be dropped: each fault is counted
    scans: list[ScanEvent] = []

    def on_scan(event: ScanEvent) -> None:
        scans.append(event)
        if event.text == EAN13:
            raise ValueError("an app bug in the scan handler")
        got.on_scan(event)

    scanner.start(on_scan, got.on_status)
    got.wait_state("ready")
    camera.show(13, frames=3)
    camera.show(8)
    with camera.cond:
        camera.read_fault = RuntimeError("cv2.error: driver hiccup")
    camera.show(7)
    assert [e.text for e in got.wait_events(1)] == [PASSBOOK]
    assert [e.text for e in scans] == [EAN13, PASSBOOK]
    assert scanner.errors >= 5, "3 decoder faults, 1 read fault, 1 callback fault"
    assert got.states == ["starting", "ready"], "one failed read is not a lost camera"


def test_camera_slow_decoder_drops_old_frames_and_the_buffer_stays_bounded(
    cameras: Callable[..., CameraScanner],
) -> None:
    camera, decoder, got = FakeCamera(frame_interval_s=0.0005), FakeDecoder(CODES), Recorder()
    decoder.gate = threading.Event()  # the decoder is stuck on its first frame until let go
    scanner = cameras(decoder, camera, buffer_frames=2)
    scanner.start(got.on_scan, got.on_status)
    assert decoder.stuck.wait(WAIT_S)
    last = camera.show(8, frames=5)  # read while the decoder is stuck: dropped, it is old news
    camera.wait_serial(last + 60)
    assert scanner.frames_dropped >= last + 60 - 1 - 2 - 1
    assert scanner.max_buffered == 2
    decoder.gate.set()
    camera.hold(7)  # shown now: decoded with little delay, not after a backlog of old frames
    assert [e.text for e in got.wait_events(1)] == [PASSBOOK]
    assert scanner.max_buffered == 2
    assert 8 not in decoder.seen


def test_camera_stop_joins_both_threads_promptly(cameras: Callable[..., CameraScanner]) -> None:
    camera, decoder, got = FakeCamera(), FakeDecoder(CODES), Recorder()
    scanner = cameras(decoder, camera)
    scanner.start(got.on_scan, got.on_status)
    got.wait_state("ready")
    names = {"camera-capture", "camera-decode"}
    assert names <= {t.name for t in threading.enumerate()}
    t0 = time.monotonic()
    scanner.stop()
    assert time.monotonic() - t0 < 0.5
    assert not names & {t.name for t in threading.enumerate()}
    assert got.states[-1] == "stopped" and scanner.state == "stopped" and not scanner.running
    assert all(c.released for c in camera.opened)
    scanner.stop()  # twice is harmless

    # Stopping while it waits a minute to retry an absent camera is prompt too; it can start again.
    camera.unplug()
    got2 = Recorder()
    scanner.retry_s = 60.0
    scanner.start(got2.on_scan, got2.on_status)
    got2.wait_state("absent")
    t0 = time.monotonic()
    scanner.stop()
    assert time.monotonic() - t0 < 0.5
    assert got2.states == ["starting", "absent", "stopped"]


def test_camera_can_be_stopped_from_its_own_scan_callback(cameras: Callable[..., CameraScanner]) -> None:
    camera, got = FakeCamera(), Recorder()
    scanner = cameras(FakeDecoder(CODES), camera)

    def on_scan(event: ScanEvent) -> None:
        scanner.stop()  # on the decode thread: must not try to join itself
        got.on_scan(event)

    scanner.start(on_scan, got.on_status)
    camera.hold(7)
    got.wait_state("stopped")
    assert [e.text for e in got.wait_events(1)] == [PASSBOOK]
    assert scanner.errors == 0 and not scanner.running
    for thread in threading.enumerate():
        if thread.name in {"camera-capture", "camera-decode"}:
            thread.join(WAIT_S)
            assert not thread.is_alive()


def test_camera_start_twice_is_refused(cameras: Callable[..., CameraScanner]) -> None:
    scanner = cameras(FakeDecoder(CODES), FakeCamera())
    got = Recorder()
    scanner.start(got.on_scan)
    with pytest.raises(RuntimeError):
        scanner.start(got.on_scan)


def test_camera_with_real_opencv_and_no_such_device_is_absent(cameras: Callable[..., CameraScanner]) -> None:
    got = Recorder()
    scanner = cameras(FakeDecoder(CODES), device="/dev/lovemart-no-such-camera", retry_s=60.0)
    scanner.start(got.on_scan, got.on_status)
    status = got.wait_state("absent")
    assert status.code == "camera_not_found"
    assert "找不到摄像头" in status.message("zh")


def test_camera_with_the_real_zxing_decoder_reads_a_qr_passbook(cameras: Callable[..., CameraScanner]) -> None:
    import qrcode

    from hardware import decode

    picture = np.array(qrcode.make(PASSBOOK).convert("L"), dtype=np.uint8)
    decoder = decode.make_decoder("zxing")

    class OneCardCamera:
        """A camera that always sees the card: the same real picture in every frame."""

        def __init__(self, device: int | str) -> None:
            self.frames = 0

        def isOpened(self) -> bool:
            return True

        def read(self) -> tuple[bool, Any]:
            self.frames += 1
            return True, picture

        def release(self) -> None:
            pass

        def set(self, prop_id: int, value: float, /) -> bool:
            return True

    got = Recorder()
    scanner = cameras(decoder, open_capture=OneCardCamera, clock=FakeClock())
    scanner.start(got.on_scan, got.on_status)
    event = got.wait_events(1)[0]
    assert (event.text, event.source) == (PASSBOOK, "camera")
    assert event.format == decode.QRCODE
