"""A PNG of the window at a chosen size (``lovemart screenshots`` and the tests).

``Window.screenshot(name)`` does not write ``name``: it inserts a counter (``shot.png`` → ``shot0001.png``)
and picks the next free number, and it treats ``{}`` in the name as a format field. So we shoot into a fresh
temporary directory under a fixed plain name and move the result to the exact path asked for.

The frame is drawn just before the pixels are read (``on_draw``, then ``glReadPixels`` of the back buffer),
so the picture is what the next flip would show even on drivers that discard the buffer after a flip.

Call it from a script or a test, outside Kivy's own callbacks: it runs frames of the event loop itself so a
resize and the layouts it triggers settle before the shot.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def render_frames(frames: int = 3) -> None:
    """Run ``frames`` iterations of Kivy's loop (clock, layouts, drawing) without blocking on input."""
    from kivy.base import EventLoop

    for _ in range(frames):
        EventLoop.idle()
        window = EventLoop.window
        if window is not None:
            window.mainloop()  # SDL events (resizes) that arrived meanwhile; returns when the queue is empty


def save_screenshot(path: str | os.PathLike[str], size: tuple[int, int] | None = None, frames: int = 4) -> Path:
    """Resize the window to ``size`` (when given), let it settle for ``frames`` frames, save a PNG at ``path``.

    Returns the path written. Leaves the window at the new size (set it back if you need to).
    """
    from kivy.core.window import Window

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if size is not None and tuple(Window.size) != tuple(size):
        Window.size = size
    render_frames(frames)
    Window.canvas.ask_update()
    Window.dispatch("on_draw")
    with tempfile.TemporaryDirectory(prefix="lovemart-shot-") as tmp:
        written = Window.screenshot(name=os.path.join(tmp, "shot.png"))
        if not written or not os.path.exists(written):
            raise RuntimeError("Kivy did not write a screenshot (is the window open?)")
        shutil.move(written, target)  # not os.replace: /tmp may be another file system
    Window.dispatch("on_flip")
    return target
