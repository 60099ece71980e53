"""Run slow work (printing, HTTP sync, big queries, image decoding) off the UI thread.

A frozen touchscreen makes people tap again, and a tap repeated on a frozen till is how a sale gets entered
twice. So anything that may take more than a frame runs in a small thread pool, and its result comes back to
the UI thread through ``Clock.schedule_once`` (thread-safe in Kivy 2), where widgets may be touched.

    run_in_background(lambda: printer.print(job), on_done=show_printed, on_error=show_print_error)

Rules for the callbacks: they run on the UI thread in a later frame; ``on_error`` receives the exception
(``Exception`` subclasses only — a ``KeyboardInterrupt`` or ``SystemExit`` in a worker is not ours to turn
into a message). Without ``on_error`` the failure is logged, never silently dropped. ``BackgroundTask.cancel``
drops the callbacks of work whose screen has gone away (the work itself still finishes: Python cannot stop a
thread, and half-done printing is worse than a finished one nobody looks at).

Tests wait for everything with ``drain()`` (or the harness's ``wait_background``): no sleeps — a counter of
tasks whose callbacks are not yet delivered, and an ``Event`` set whenever no worker is running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_WORKERS = 2  # a till does one slow thing at a time; two lets a print and a sync overlap


class BackgroundTask(Generic[T]):
    """Handle of one submitted job: ``cancel()`` drops its callbacks; ``future`` is the worker's result."""

    def __init__(self, future: Future[T]) -> None:
        self.future = future
        self.cancelled = False

    def cancel(self) -> None:
        """Do not deliver ``on_done``/``on_error`` (call on the UI thread, e.g. when leaving a screen)."""
        self.cancelled = True


class BackgroundRunner:
    """A thread pool whose results are delivered on the Kivy UI thread.

    ``pending`` counts tasks submitted whose callbacks have not run yet (worker still busy, or result waiting
    for the next frame); it is what tests wait on.
    """

    def __init__(self, max_workers: int = DEFAULT_WORKERS, name: str = "lovemart-bg") -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._pending = 0
        self._running = 0
        self._workers_idle = threading.Event()
        self._workers_idle.set()
        self._closed = False

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def submit(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], Any] | None = None,
        on_error: Callable[[Exception], Any] | None = None,
    ) -> BackgroundTask[T]:
        """Run ``fn()`` on a worker; then ``on_done(result)`` or ``on_error(exc)`` on the UI thread."""
        if self._closed:
            raise RuntimeError("this BackgroundRunner was shut down")
        with self._lock:
            self._pending += 1
            self._running += 1
            self._workers_idle.clear()
        future: Future[T] = Future()
        task = BackgroundTask(future)
        try:
            self._pool.submit(self._work, fn, task, on_done, on_error)
        except RuntimeError:
            self._finished_work()
            self._delivered()
            raise
        return task

    # ------------------------------------------------------------ worker side

    def _work(
        self,
        fn: Callable[[], T],
        task: BackgroundTask[T],
        on_done: Callable[[T], Any] | None,
        on_error: Callable[[Exception], Any] | None,
    ) -> None:
        from kivy.clock import Clock

        try:
            result = fn()
        except Exception as exc:  # delivered to on_error on the UI thread, not swallowed
            task.future.set_exception(exc)
            deliver = _bind(self._deliver_error, task, on_error, exc)
        else:
            task.future.set_result(result)
            deliver = _bind(self._deliver_done, task, on_done, result)
        finally:
            self._finished_work()
        # A plain function, held strongly by the Clock (it keeps only weak references to bound methods).
        Clock.schedule_once(deliver, 0)

    def _finished_work(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                self._workers_idle.set()

    # ------------------------------------------------------------ UI side

    def _deliver_done(self, task: BackgroundTask[T], on_done: Callable[[T], Any] | None, result: T) -> None:
        try:
            if on_done is not None and not task.cancelled:
                on_done(result)
        finally:
            self._delivered()

    def _deliver_error(
        self, task: BackgroundTask[T], on_error: Callable[[Exception], Any] | None, exc: Exception
    ) -> None:
        try:
            if task.cancelled:
                log.info("background task failed after it was cancelled: %r", exc)
            elif on_error is not None:
                on_error(exc)
            else:
                log.error("background task failed and nobody handles it", exc_info=exc)
        finally:
            self._delivered()

    def _delivered(self) -> None:
        with self._lock:
            self._pending -= 1

    # ------------------------------------------------------------ waiting and shutdown

    def wait_workers(self, timeout_s: float) -> bool:
        """Block until no worker is running (callbacks may still wait for a frame). True if so in time."""
        return self._workers_idle.wait(timeout_s)

    def drain(self, timeout_s: float = 5.0) -> None:
        """Tick Kivy's clock until every task's callbacks have run; ``TimeoutError`` after ``timeout_s``.

        For tests and scripts only, on the UI thread, outside any Clock callback (it ticks the clock itself).
        It waits on the workers' ``Event`` between ticks, never sleeps blindly.
        """
        from kivy.clock import Clock

        deadline = time.monotonic() + timeout_s
        while self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.pending} background task(s) still pending after {timeout_s} s")
            self.wait_workers(min(remaining, 0.05))
            Clock.tick()

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with ``wait``, let running work finish (its callbacks may never run)."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=False)


def _bind(fn: Callable[..., None], *args: Any) -> Callable[[float], None]:
    def call(_dt: float) -> None:
        fn(*args)

    return call


_default: BackgroundRunner | None = None
_default_lock = threading.Lock()


def default_runner() -> BackgroundRunner:
    """The process-wide runner (made on first use, not at import)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = BackgroundRunner()
        return _default


def run_in_background(
    fn: Callable[[], T],
    on_done: Callable[[T], Any] | None = None,
    on_error: Callable[[Exception], Any] | None = None,
) -> BackgroundTask[T]:
    """Run ``fn()`` off the UI thread on the default runner; callbacks come back on the UI thread."""
    return default_runner().submit(fn, on_done, on_error)


def drain(timeout_s: float = 5.0) -> None:
    """``drain`` the default runner (see ``BackgroundRunner.drain``)."""
    default_runner().drain(timeout_s)
