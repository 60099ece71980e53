"""Reading a household's points aloud in Mandarin, offline: espeak-ng, and a fake that remembers.

Why a voice: many villagers who use the kiosk cannot read well, and the figure they came for is one
sentence ("王秀兰户，可兑换积分 128 分"). espeak-ng is in Debian, needs no network and has a Mandarin voice
(``cmn``); it reads digits as Chinese numbers.

A kiosk without a sound device (most shop PCs have none plugged in) or without espeak-ng must not fail:
``EspeakSpeaker.available`` is False then, and the kiosk hides its voice button. ``say`` never blocks the
caller (the kiosk's UI thread): it hands the text to one speaking thread, which runs espeak-ng as a
subprocess. A new sentence interrupts the one being spoken — the next household must not wait for the
previous one's sentence, nor hear it — and ``stop()`` silences it (the kiosk calls it when it returns to
idle, so a household's points are not read out after they left).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

VOICE = "cmn"
WORDS_PER_MINUTE = 140  # espeak's default 175 is too quick for elderly listeners
SPEAK_TIMEOUT_S = 30.0


class Speaker(Protocol):
    """Says a sentence without blocking; ``available`` False means it would say nothing (hide the button)."""

    @property
    def available(self) -> bool: ...

    def say(self, text: str) -> None: ...

    def stop(self) -> None: ...


def sound_device_present(
    pcm_glob: str = "/dev/snd/pcmC*D*p", runtime_dir: str | None = None, aplay: str | None = None
) -> bool:
    """True when something can play sound: an ALSA playback device, a PulseAudio/PipeWire socket, or a
    card that ``aplay -l`` lists (containers without /dev/snd but with a sound server)."""
    if glob.glob(pcm_glob):
        return True
    runtime = runtime_dir if runtime_dir is not None else os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and (os.path.exists(os.path.join(runtime, "pulse", "native")) or glob.glob(f"{runtime}/pipewire-*")):
        return True
    aplay_path = aplay if aplay is not None else shutil.which("aplay")
    if aplay_path:
        try:
            listed = subprocess.run([aplay_path, "-l"], capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return "card " in listed.stdout
    return False


Runner = Callable[[Sequence[str]], "subprocess.Popen[bytes]"]


def _popen(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class EspeakSpeaker:
    """espeak-ng in Mandarin on one background thread (see the module docstring).

    ``executable`` None looks ``espeak-ng`` up on the PATH; ``has_sound`` None probes the machine with
    ``sound_device_present``. Both are checked once, at construction: the kiosk decides then whether to
    show the voice button.
    """

    def __init__(
        self,
        executable: str | None = None,
        *,
        voice: str = VOICE,
        words_per_minute: int = WORDS_PER_MINUTE,
        has_sound: bool | None = None,
        runner: Runner = _popen,
    ) -> None:
        self.executable = executable if executable is not None else shutil.which("espeak-ng")
        self.voice = voice
        self.words_per_minute = words_per_minute
        self._runner = runner
        found = self.executable is not None and os.access(self.executable, os.X_OK)
        self.reason = ""
        if not found:
            self.reason = "espeak-ng is not installed (apt-get install espeak-ng)"
        elif not (has_sound if has_sound is not None else sound_device_present()):
            self.reason = "no sound device"
        self._available = not self.reason
        if self.reason:
            log.info("voice output off: %s", self.reason)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.spoken = 0  # sentences handed to espeak-ng (for tests and the log)
        self.failures = 0

    @property
    def available(self) -> bool:
        return self._available

    def argv(self, text: str) -> list[str]:
        """The espeak-ng command line for ``text`` (no shell: the text is one argument, never parsed)."""
        return [str(self.executable), "-v", self.voice, "-s", str(self.words_per_minute), "--", text]

    def say(self, text: str) -> None:
        """Speak ``text`` soon, interrupting whatever is being said; returns at once. No-op when unavailable."""
        if not self._available or not text.strip():
            return
        with self._wake:
            if self._closed:
                return
            self._pending = text
            self._interrupt_locked()
            if self._thread is None:
                self._thread = threading.Thread(target=self._speak_loop, name="speaker", daemon=True)
                self._thread.start()
            self._wake.notify()

    def stop(self) -> None:
        """Silence the current sentence and drop one not yet started."""
        with self._wake:
            self._pending = None
            self._interrupt_locked()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop speaking and end the thread (the kiosk is closing)."""
        with self._wake:
            self._closed = True
            self._pending = None
            self._interrupt_locked()
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until nothing is pending or playing (tests). True if that happened in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending is None and self._process is None:
                    return True
            time.sleep(0.01)
        return False

    # ----------------------------------------------------------------- the speaking thread

    def _interrupt_locked(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def _speak_loop(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                text, self._pending = self._pending, None
                try:
                    process = self._runner(self.argv(text or ""))
                except OSError as exc:
                    self.failures += 1
                    log.warning("espeak-ng could not start: %s", exc)
                    continue
                self._process = process
                self.spoken += 1
            self._wait(process)
            with self._lock:
                if self._process is process:
                    self._process = None

    def _wait(self, process: subprocess.Popen[bytes]) -> None:
        try:
            _out, err = process.communicate(timeout=SPEAK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            self.failures += 1
            log.warning("espeak-ng took longer than %.0f s and was stopped", SPEAK_TIMEOUT_S)
            return
        if process.returncode not in (0, -15):  # -15: we interrupted it (SIGTERM)
            self.failures += 1
            log.warning("espeak-ng failed (%s): %s", process.returncode, (err or b"").decode(errors="replace")[:200])


class MemorySpeaker:
    """A speaker for tests and the demo: remembers what it was asked to say; ``available`` as given."""

    def __init__(self, available: bool = True) -> None:
        self._available = available
        self.said: list[str] = []
        self.stops = 0

    @property
    def available(self) -> bool:
        return self._available

    def say(self, text: str) -> None:
        if self._available and text.strip():
            self.said.append(text)

    def stop(self) -> None:
        self.stops += 1
