"""The camera scanner: a capture thread, a decode thread and a small buffer between them.

Why two threads: reading a frame waits on the camera (33 ms at 30 fps) and decoding a 720p frame
can take longer than that on a village shop's old PC. With one thread, frames pile up inside the
driver and the shopkeeper sees the scan of the card shown two seconds ago. So the capture thread
only reads, into a buffer of ``buffer_frames`` (when it is full the oldest frame is thrown away:
the newest picture is the one that matters), and the decode thread decodes what is in the buffer,
so the frame it decodes is never more than ``buffer_frames`` frames old however slow it is.

A camera that is missing or pulled out is a normal day in a village shop: the scanner says so
through ``on_status`` ("absent" or "lost", with a message) and keeps trying every ``retry_s``
seconds until the camera is back. Nothing a driver or a decoder does can raise out of the threads.

Threads: ``on_scan`` is called on the decode thread and ``on_status`` on the capture thread (or on
the caller's thread for "starting" and "stopped"). The apps must hop to the UI thread (Kivy's
``Clock.schedule_once``) before touching any widget, and should return quickly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hardware.errors import HardwareError
from hardware.scanner import Clock, OnScan, OnStatus, RepeatFilter, ScanEvent, ScannerState, ScannerStatus

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Frame = NDArray[Any]

log = logging.getLogger(__name__)

# Consecutive failed reads before an opened camera counts as gone. One failed read happens now and
# then on a healthy USB camera (a dropped MJPG frame); an unplugged one fails every time.
LOST_AFTER_FAILED_READS = 5
# Log the first few faults in full, then one in a thousand: a decoder that fails on every frame
# must not write thirty tracebacks a second to the till's disk.
_LOG_FIRST_ERRORS = 5
_LOG_EVERY_NTH_ERROR = 1000


class CaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` we use, so tests can hand in a camera of their own."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...

    def set(self, prop_id: int, value: float, /) -> bool: ...


class DecodedLike(Protocol):
    """One code found in a frame (``hardware.decode.Decoded`` is one)."""

    @property
    def text(self) -> str: ...

    @property
    def format(self) -> str: ...


class FrameDecoder(Protocol):
    """Finds codes in a grey or BGR frame (``hardware.decode`` decoders are ones)."""

    def decode(self, frame: Frame, /) -> Sequence[DecodedLike]: ...


OpenCapture = Callable[[int | str], CaptureLike]


def open_video_capture(device: int | str, width: int = 640, height: int = 480, fps: int = 30) -> CaptureLike:
    """Open a camera with OpenCV asking for MJPG at ``width``×``height`` and ``fps``, buffer size 1.

    640×480 by default: the decode benchmark (``lovemart bench scan``) measures that size, a card held
    15–40 cm away is read there, and a 720p frame costs twice the decode time with no read gained.

    MJPG because most USB cameras give 720p at 30 fps only compressed (raw YUYV over USB 2 drops to
    a few frames a second); buffer size 1 so the driver does not hold stale frames. The camera may
    ignore any of these; we take what it gives. For 640×480 pass
    ``functools.partial(open_video_capture, width=640, height=480)`` as ``open_capture``.
    A device given as digits ("0", from a settings file) means a camera index, not a file name.
    """
    import cv2  # lazily: a till without a camera never loads OpenCV

    _quiet(cv2)
    source: int | str = int(device) if isinstance(device, str) and device.isdigit() else device
    capture = cv2.VideoCapture(source)
    if capture.isOpened():
        # FOURCC before the size: V4L2 picks the sizes it offers for the format already set.
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc("M", "J", "P", "G"))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_FPS, fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


def _quiet(cv2: Any) -> None:
    """OpenCV's own warnings off: with no camera plugged in it writes two lines to the terminal on every try,
    every ``retry_s``, while ``CameraScanner`` already says "no camera" once, in words (``camera_not_found``)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)  # OpenCV 5; 4.x had cv2.setLogLevel too
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    elif callable(getattr(cv2, "setLogLevel", None)):
        cv2.setLogLevel(2)


@dataclass
class _Run:
    """What belongs to one start()…stop(): threads from an earlier run, stuck in a driver call,
    look at their own run's ``stop`` and so can never deliver into a later run's callbacks."""

    on_scan: OnScan
    on_status: OnStatus | None
    buffer_frames: int
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    frames: threading.Condition = field(default_factory=threading.Condition)
    buffer: deque[Frame] = field(default_factory=deque)
    state: ScannerState = "starting"
    threads: list[threading.Thread] = field(default_factory=list)


class CameraScanner:
    """Scans passbook and product codes with a camera; see the module docstring for the threads.

    Counters (for tests and the decode benchmark) are totals since construction:
    ``frames_read`` from the camera, ``frames_dropped`` from the full buffer before decoding,
    ``frames_decoded`` that the decoder finished (with or without a code), ``errors`` raised by the
    camera, the decoder or a callback and caught here, and ``max_buffered``, the most frames ever
    waiting (never more than ``buffer_frames``).
    """

    def __init__(
        self,
        decoder: FrameDecoder,
        device: int | str = 0,
        open_capture: OpenCapture | None = None,
        clock: Clock = time.monotonic,
        retry_s: float = 2.0,
        buffer_frames: int = 2,
        *,
        window_s: float = 2.0,
        lost_after: int = LOST_AFTER_FAILED_READS,
        join_timeout_s: float = 2.0,
    ) -> None:
        if buffer_frames < 1:
            raise ValueError("buffer_frames must be at least 1")
        if lost_after < 1:
            raise ValueError("lost_after must be at least 1")
        self.decoder = decoder
        self.device = device
        self._open_capture: OpenCapture = open_capture or open_video_capture
        self._clock = clock
        self.retry_s = retry_s
        self.buffer_frames = buffer_frames
        self.lost_after = lost_after
        self.join_timeout_s = join_timeout_s
        self.filter = RepeatFilter(window_s, clock)
        self._run: _Run | None = None
        self._latest: Frame | None = None
        self._state: ScannerState = "stopped"
        self._count_lock = threading.Lock()
        self.frames_read = 0
        self.frames_dropped = 0
        self.frames_decoded = 0
        self.errors = 0
        self.max_buffered = 0

    # ----------------------------------------------------------------- the Scanner protocol

    def start(self, on_scan: OnScan, on_status: OnStatus | None = None) -> None:
        """Start the capture and decode threads; returns at once (the camera opens on its thread).

        Raises ``RuntimeError`` if already running: two capture threads would fight over one camera.
        """
        if self._run is not None:
            raise RuntimeError("camera scanner already started")
        run = _Run(on_scan, on_status, self.buffer_frames)
        self._run = run
        self._report(run, ScannerStatus("starting"))
        run.threads = [
            threading.Thread(target=self._capture_loop, args=(run,), name="camera-capture", daemon=True),
            threading.Thread(target=self._decode_loop, args=(run,), name="camera-decode", daemon=True),
        ]
        for thread in run.threads:
            thread.start()

    def stop(self) -> None:
        """Stop both threads and release the camera; waits at most about ``join_timeout_s``.

        May be called from ``on_scan``/``on_status`` themselves (e.g. the kiosk stops after one scan).

        A thread stuck inside the camera driver is left behind (it is a daemon and will exit, and
        release its camera, when the driver returns); it can no longer call this run's callbacks.
        """
        run = self._run
        if run is None:
            return
        self._run = None
        run.stop.set()
        run.wake.set()
        with run.frames:
            run.frames.notify_all()
        deadline = time.monotonic() + self.join_timeout_s
        for thread in run.threads:
            if thread is threading.current_thread():
                continue  # stop() called from a callback: this thread ends when the callback returns
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("camera thread %s did not stop within %.1f s", thread.name, self.join_timeout_s)
        self._latest = None
        self._state = "stopped"
        close = getattr(self.decoder, "close", None)  # native objects let go of (``ZxingDecoder.close``)
        if close is not None:
            close()
        if run.on_status is not None:
            self._call(run.on_status, ScannerStatus("stopped"))

    # ----------------------------------------------------------------- for the apps and tests

    @property
    def state(self) -> ScannerState:
        return self._state

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._run is not None

    def latest_frame(self) -> Frame | None:
        """The newest frame from the camera (BGR as OpenCV gives it), or None; never blocks.

        For the preview texture on the UI thread. The array is shared with the decoder: read it,
        do not write to it. None while the camera is absent or lost, so no frozen picture is shown.
        """
        return self._latest

    def retry_now(self) -> None:
        """Try to open the camera again at once instead of at the next ``retry_s`` (e.g. a "retry" button)."""
        run = self._run
        if run is not None:
            run.wake.set()

    # ----------------------------------------------------------------- capture thread

    def _capture_loop(self, run: _Run) -> None:
        capture: CaptureLike | None = None
        failed_reads = 0
        try:
            while not run.stop.is_set():
                if capture is None:
                    capture = self._open()
                    if capture is None:
                        self._went_down(run)
                        self._pause(run)
                        continue
                    failed_reads = 0
                ok, frame = self._read(capture)
                if run.stop.is_set():
                    break
                if not ok or frame is None:
                    failed_reads += 1
                    if failed_reads >= self.lost_after:
                        self._release(capture)
                        capture = None
                        self._went_down(run)
                        self._pause(run)
                    continue
                failed_reads = 0
                self.frames_read += 1
                if run is self._run:  # not a thread of a stopped run, back from a stuck driver call
                    self._latest = frame
                if run.state != "ready":
                    self._set_state(run, ScannerStatus("ready"))
                self._push(run, frame)
        except Exception as exc:  # a bug of ours: log it, do not take the till down
            self._error("camera capture loop", exc)
        finally:
            if capture is not None:
                self._release(capture)

    def _open(self) -> CaptureLike | None:
        try:
            capture = self._open_capture(self.device)
        except Exception as exc:  # cv2.error, OSError from a driver: the camera is not there for us
            self._error(f"opening camera {self.device!r}", exc)
            return None
        try:
            if capture.isOpened():
                return capture
        except Exception as exc:
            self._error(f"opening camera {self.device!r}", exc)
        self._release(capture)
        return None

    def _read(self, capture: CaptureLike) -> tuple[bool, Any]:
        try:
            return capture.read()
        except Exception as exc:
            self._error("reading a frame", exc)
            return False, None

    def _release(self, capture: CaptureLike) -> None:
        try:
            capture.release()
        except Exception as exc:
            self._error("releasing the camera", exc)

    def _went_down(self, run: _Run) -> None:
        """Report the camera missing once, not on every retry: the screen shows one message."""
        if run is self._run:
            self._latest = None
        if run.state == "ready":
            self._set_state(run, ScannerStatus("lost", HardwareError("camera_lost")))
        elif run.state == "starting":
            self._set_state(run, ScannerStatus("absent", HardwareError("camera_not_found", where=str(self.device))))

    def _pause(self, run: _Run) -> None:
        # An Event, not time.sleep: stop() and retry_now() cut the wait short.
        run.wake.wait(self.retry_s)
        run.wake.clear()

    def _push(self, run: _Run, frame: Frame) -> None:
        with run.frames:
            if len(run.buffer) >= run.buffer_frames:
                run.buffer.popleft()
                self.frames_dropped += 1
            run.buffer.append(frame)
            self.max_buffered = max(self.max_buffered, len(run.buffer))
            run.frames.notify()

    # ----------------------------------------------------------------- decode thread

    def _decode_loop(self, run: _Run) -> None:
        try:
            while True:
                with run.frames:
                    while not run.buffer and not run.stop.is_set():
                        run.frames.wait()
                    if run.stop.is_set():
                        return
                    frame = run.buffer.popleft()
                self._decode(run, frame)
        except Exception as exc:  # a bug of ours: log it, do not take the till down
            self._error("camera decode loop", exc)

    def _decode(self, run: _Run, frame: Frame) -> None:
        try:
            found = list(self.decoder.decode(frame))
        except Exception as exc:  # a decoder fault on one odd frame must not end scanning
            self._error("decoding a frame", exc)
            return
        self.frames_decoded += 1
        if not found:
            return
        now = self._clock()
        for code in found:
            if not code.text or not self.filter.accept(code.text, now):
                continue
            if run.stop.is_set():
                return
            self._call(run.on_scan, ScanEvent(code.text, "camera", now, code.format))

    # ----------------------------------------------------------------- shared

    def _set_state(self, run: _Run, status: ScannerStatus) -> None:
        run.state = status.state
        if not run.stop.is_set():
            self._report(run, status)

    def _report(self, run: _Run, status: ScannerStatus) -> None:
        if run is not self._run:  # a thread of a stopped run, stuck in a driver call until now
            return
        self._state = status.state
        if run.on_status is not None:
            self._call(run.on_status, status)

    def _call(self, callback: Callable[[Any], None], arg: object) -> None:
        try:
            callback(arg)
        except Exception as exc:  # the app's bug; the camera keeps going
            self._error("a scanner callback", exc)

    def _error(self, what: str, exc: BaseException) -> None:
        with self._count_lock:
            self.errors += 1
            count = self.errors
        if count <= _LOG_FIRST_ERRORS or count % _LOG_EVERY_NTH_ERROR == 0:
            log.error("camera: error in %s (%d so far): %s", what, count, exc, exc_info=exc)
