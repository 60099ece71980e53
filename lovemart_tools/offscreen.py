"""Driving a real Kivy app in a window nobody sees: screenshots, app benchmarks and the tests.

One Kivy window per process, and Kivy reads its environment and ``Config`` when first imported: a run calls
``prepare(size)`` before anything imports Kivy (in a fresh process: ``run_child``), then ``running(app)`` to
start the app as ``App.run()`` would without blocking in its loop, and draws frame by frame with
``frames`` and ``frames_until``.

``Window.screenshot(name)`` does not write ``name``: it inserts a counter (``shot.png`` → ``shot0001.png``)
and picks the next free number, and it treats ``{}`` in the name as a format field. So ``save_screenshot``
shoots into a fresh temporary directory under a fixed plain name and moves the result to the exact path
asked for. The frame is drawn just before the pixels are read (``on_draw``, then ``glReadPixels`` of the
back buffer), so the picture is what the next flip would show even on drivers that discard the buffer after
a flip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# What Kivy and SDL read when Kivy is first imported, for a scripted offscreen run.
ENVIRONMENT = {
    "SDL_VIDEODRIVER": "offscreen",
    "SDL_AUDIODRIVER": "dummy",
    "KIVY_NO_ARGS": "1",  # the command line is ours, not Kivy's
    "KIVY_NO_CONFIG": "1",
    "KIVY_NO_FILELOG": "1",
    "KIVY_NO_CONSOLELOG": "1",
    "KIVY_LOG_MODE": "PYTHON",
    "KIVY_METRICS_DENSITY": "1",
}


def prepare(size: tuple[int, int]) -> None:
    """Environment and ``Config`` for an offscreen window ``size`` large, before the window exists.

    The offscreen surface cannot grow after it is made (the area beyond is never drawn): make it as large as
    the largest picture and shrink the window for the others. Harmless once the window exists.
    """
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if "KIVY_HOME" not in os.environ:
        os.environ["KIVY_HOME"] = tempfile.mkdtemp(prefix="lovemart-kivy-")
    if "kivy.core.window" in sys.modules:
        return
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "fullscreen", "0")
    Config.set("graphics", "maxfps", "0")
    for option in Config.options("input"):  # no host mouse or touch device: the script is the only finger
        Config.remove_option("input", option)


def frames(count: int = 1) -> None:
    """Run ``count`` iterations of Kivy's loop (clock, layouts, drawing) without blocking on input."""
    from kivy.base import EventLoop

    for _ in range(count):
        EventLoop.idle()
        window = EventLoop.window
        if window is not None:
            window.mainloop()  # SDL events (resizes) that arrived meanwhile; returns when the queue is empty


def frames_until(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "", paced: bool = False) -> int:
    """Draw frames until ``predicate()``; the number of frames it took. ``TimeoutError`` after ``timeout_s``.

    ``paced``: no faster than 60 a second, as Kivy's own loop draws, for waits on a worker thread: frames
    drawn back to back hold the GIL and starve it (a ranking of 5,000 households took 0.65 s that way
    instead of 0.1 s).
    """
    deadline = time.monotonic() + timeout_s
    count = 0
    while not predicate():
        started = time.monotonic()
        if started > deadline:
            raise TimeoutError(f"{what or 'condition'} not reached after {count} frames")
        frames(1)
        count += 1
        if paced:
            time.sleep(max(0.0, 1 / 60 - (time.monotonic() - started)))
    return count


def background_idle() -> bool:
    """True when the apps' background runner (``ui.background``) has nothing in flight."""
    from ui.background import default_runner

    return bool(default_runner().pending == 0)


@contextlib.contextmanager
def running(app: Any, size: tuple[int, int] | None = None) -> Iterator[Any]:
    """Start ``app`` in the (offscreen) window as ``run()`` would, without blocking; stop it after.

    ``size`` resizes the window first. On the way out, background work is let finish before ``on_stop``.
    """
    from kivy.app import App
    from kivy.base import EventLoop, runTouchApp
    from kivy.core.window import Window

    Window.bind(on_request_close=lambda *_a, **_k: True)  # a scripted run ends by itself, never by a close
    if size is not None and tuple(Window.size) != tuple(size):
        Window.size = size
    if EventLoop.status != "started":
        runTouchApp(embedded=True)
    App._running_app = app
    app._run_prepare()
    try:
        yield app
    finally:
        frames_until(background_idle, 30, "background work")
        app.dispatch("on_stop")
        App._running_app = None
        if app.root is not None and app.root.parent is Window:
            Window.remove_widget(app.root)


# Called with each picture's path right after it is taken, the window still as pictured: the layout check
# (``lovemart_tools.layout_check.watch_shots``) looks at every screen the screenshot drivers show.
SHOT_WATCHERS: list[Callable[[Path], None]] = []


def save_screenshot(path: str | os.PathLike[str], size: tuple[int, int] | None = None, settle: int = 4) -> Path:
    """Resize the window to ``size`` (when given), let it settle for ``settle`` frames, save a PNG at ``path``.

    Returns the path written. Leaves the window at the new size (set it back if you need to).
    """
    from kivy.core.window import Window

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if size is not None and tuple(Window.size) != tuple(size):
        Window.size = size
    frames(settle)
    Window.canvas.ask_update()
    Window.dispatch("on_draw")
    with tempfile.TemporaryDirectory(prefix="lovemart-shot-") as tmp:
        written = Window.screenshot(name=os.path.join(tmp, "shot.png"))
        if not written or not os.path.exists(written):
            raise RuntimeError("Kivy did not write a screenshot (is the window open?)")
        shutil.move(written, target)  # not os.replace: /tmp may be another file system
    for watch in SHOT_WATCHERS:
        watch(target)
    Window.dispatch("on_flip")
    return target


# ----- a fresh process per window --------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of a child process that opens an offscreen window (and finds this checkout)."""
    env = dict(os.environ)
    env.update(ENVIRONMENT)
    env["SDL_NO_SIGNAL_HANDLERS"] = "1"
    env["KIVY_WINDOW"] = "sdl2"
    env.setdefault("KIVY_HOME", str(Path(tempfile.gettempdir()) / "lovemart-kivy-home"))
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else root
    return env


def run_child(code: str, *argv: str, timeout_s: float | None = None) -> Any:
    """Run ``code`` in a fresh offscreen Python; it prints one JSON value as its last line, returned here."""
    result = subprocess.run(
        [sys.executable, "-c", code, *argv],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"child process failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
