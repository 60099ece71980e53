"""``CameraPreview``: what the camera sees, shown as a mirror so a villager can aim the passbook at it.

Why a mirror: people hold a card up to a camera the way they hold it up to a mirror. Shown the camera's own
view, moving the card left moves the picture right, and an elderly user chases it off the edge; mirrored,
the card moves the way the hand does.

Why polling: the camera scanner's capture thread keeps its newest frame (``CameraScanner.latest_frame``),
and widgets may only be touched on the UI thread. So the preview asks for that frame a dozen times a second
while ``active`` (the screen it is on is showing), uploads it into one texture that is reused, and skips
the upload when no new frame came. The stock ``Camera`` widget is not used: it reads the camera on the UI
thread (PITFALLS.md).

``frames`` is any callable that returns the newest frame or None: an array of height × width × 3 bytes
(BGR, as OpenCV gives it) or height × width (grey). None (no camera, camera lost) sets ``live`` False, and
the ``.kv`` shows the passbook picture instead of a frozen image. This module never imports OpenCV or numpy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty
from kivy.uix.widget import Widget

log = logging.getLogger(__name__)

FrameSource = Callable[[], Any]

_COLOUR_FORMATS = {3: "bgr", 1: "luminance"}


class CameraPreview(Widget):
    """The newest camera frame, letterboxed into the widget; see the module docstring."""

    frames: Any = ObjectProperty(None, allownone=True)  # FrameSource | None
    active = BooleanProperty(False)  # True while the screen that holds the preview is shown
    live = BooleanProperty(False)  # True while frames arrive; read it, do not set it
    fps = NumericProperty(12)
    mirror = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        self._event: Any = None
        self._texture: Texture | None = None
        self._shape: tuple[int, ...] = ()
        self._last: Any = None
        self.uploads = 0  # frames uploaded into the texture (tests, and to see that nothing is wasted)
        super().__init__(**kwargs)
        with self.canvas:
            self._colour = Color(1, 1, 1, 0)
            self._rect = Rectangle(pos=self.pos, size=(0, 0))
        self.bind(pos=self._place, size=self._place)

    # ----- starting and stopping with the screen
    def on_active(self, _widget: Any, active: bool) -> None:
        self._schedule()

    def on_frames(self, _widget: Any, _frames: Any) -> None:
        self._schedule()

    def on_fps(self, _widget: Any, _fps: float) -> None:
        self._schedule()

    def _schedule(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        if self.active and self.frames is not None:
            self._event = Clock.schedule_interval(lambda _dt: self.refresh(), 1.0 / max(1.0, float(self.fps)))
            self.refresh()
        else:
            self._forget()

    # ----- one tick
    def refresh(self) -> None:
        """Show the newest frame, if there is a new one. Never raises: a preview must not stop a kiosk."""
        source = self.frames
        if source is None:
            self._forget()
            return
        try:
            frame = source()
        except Exception:  # a driver fault belongs to the scanner, which reports it; the preview just blanks
            log.exception("camera preview: the frame source failed")
            frame = None
        if frame is None:
            self._forget()
            return
        if frame is self._last:
            return
        try:
            self._upload(frame)
        except (AttributeError, TypeError, ValueError) as error:
            log.warning("camera preview: cannot show a frame of shape %s: %s", getattr(frame, "shape", "?"), error)
            self._forget()
            return
        self._last = frame
        self._colour.a = 1
        self.live = True

    def _upload(self, frame: Any) -> None:
        shape = tuple(frame.shape)
        channels = 1 if len(shape) == 2 else int(shape[2])
        colorfmt = _COLOUR_FORMATS.get(channels)
        if colorfmt is None:
            raise ValueError(f"{channels} channels")
        height, width = int(shape[0]), int(shape[1])
        if self._texture is None or self._shape != shape:
            texture = Texture.create(size=(width, height), colorfmt=colorfmt)
            # OpenCV's first row is the top of the picture, a texture's the bottom: flip once, here, in the
            # texture coordinates, and mirror the same way, so no frame is ever copied to turn it.
            texture.flip_vertical()
            if self.mirror:
                texture.flip_horizontal()
            self._texture, self._shape = texture, shape
            self._rect.texture = texture
            self._place()
        self._texture.blit_buffer(frame.tobytes(), colorfmt=colorfmt, bufferfmt="ubyte")
        self.uploads += 1
        self.canvas.ask_update()

    def _forget(self) -> None:
        self._last = None
        self._colour.a = 0  # no frozen picture of a camera that has gone
        if self.live:
            self.live = False

    def _place(self, *_args: Any) -> None:
        """Letterbox: the whole frame, as large as fits, centred; nothing stretched."""
        if not self._shape:
            return
        frame_w, frame_h = self._shape[1], self._shape[0]
        scale = min(self.width / frame_w, self.height / frame_h) if frame_w and frame_h else 0.0
        w, h = frame_w * scale, frame_h * scale
        self._rect.size = (w, h)
        self._rect.pos = (self.x + (self.width - w) / 2, self.y + (self.height - h) / 2)
