"""Voice output: espeak-ng off the caller's thread, hidden when it cannot speak, and the memory fake."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from hardware.speech import EspeakSpeaker, MemorySpeaker, sound_device_present

SENTENCE = "王秀兰户，可兑换积分 128 分"


class FakeProcess:
    """A speaking espeak-ng: runs until terminated or told to finish."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.finished = threading.Event()
        self.returncode: int | None = None
        self.terminated = False

    def poll(self) -> int | None:
        return self.returncode

    def terminate(self) -> None:
        self.terminated = True
        self.returncode = -15
        self.finished.set()

    def kill(self) -> None:
        self.terminate()

    def communicate(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        if not self.finished.wait(timeout):
            raise subprocess.TimeoutExpired(self.argv, timeout or 0)
        if self.returncode is None:
            self.returncode = 0
        return b"", b""

    def finish(self) -> None:
        self.finished.set()


class Runner:
    def __init__(self) -> None:
        self.processes: list[FakeProcess] = []
        self.started = threading.Condition()

    def __call__(self, argv: Sequence[str]) -> FakeProcess:
        process = FakeProcess(argv)
        with self.started:
            self.processes.append(process)
            self.started.notify_all()
        return process

    def wait_for(self, count: int) -> FakeProcess:
        with self.started:
            assert self.started.wait_for(lambda: len(self.processes) >= count, timeout=5)
            return self.processes[count - 1]


@pytest.fixture
def espeak(tmp_path: Path) -> str:
    exe = tmp_path / "espeak-ng"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    return str(exe)


def test_say_returns_at_once_and_speaks_mandarin_on_another_thread(espeak: str) -> None:
    runner = Runner()
    speaker = EspeakSpeaker(espeak, has_sound=True, runner=runner)  # type: ignore[arg-type]
    assert speaker.available
    speaker.say(SENTENCE)  # the fake never finishes by itself: say() must not wait for it
    process = runner.wait_for(1)
    assert process.argv == [espeak, "-v", "cmn", "-s", "140", "--", SENTENCE]
    process.finish()
    assert speaker.wait_idle(5) and speaker.spoken == 1 and speaker.failures == 0
    speaker.close()


def test_a_new_sentence_interrupts_the_last_and_stop_silences(espeak: str) -> None:
    runner = Runner()
    speaker = EspeakSpeaker(espeak, has_sound=True, runner=runner)  # type: ignore[arg-type]
    speaker.say("第一户")
    first = runner.wait_for(1)
    speaker.say("第二户")
    second = runner.wait_for(2)
    assert first.terminated and second.argv[-1] == "第二户"
    speaker.stop()
    assert second.terminated and speaker.wait_idle(5)
    speaker.close()
    speaker.say("关了以后")  # after close: nothing, no error
    assert len(runner.processes) == 2


def test_no_espeak_or_no_sound_means_unavailable_and_silent(tmp_path: Path, espeak: str) -> None:
    runner = Runner()
    missing = EspeakSpeaker(str(tmp_path / "nope"), has_sound=True, runner=runner)  # type: ignore[arg-type]
    mute = EspeakSpeaker(espeak, has_sound=False, runner=runner)  # type: ignore[arg-type]
    for speaker in (missing, mute):
        assert not speaker.available and speaker.reason
        speaker.say(SENTENCE)
        speaker.stop()
        speaker.close()
    assert runner.processes == []


def test_espeak_that_cannot_start_is_logged_not_raised(espeak: str) -> None:
    def broken(_argv: Sequence[str]) -> FakeProcess:
        raise OSError("exec format error")

    speaker = EspeakSpeaker(espeak, has_sound=True, runner=broken)  # type: ignore[arg-type]
    speaker.say(SENTENCE)
    assert speaker.wait_idle(5)
    speaker.close()
    assert speaker.failures == 1


def test_sound_device_probe(tmp_path: Path) -> None:
    snd = tmp_path / "snd"
    snd.mkdir()
    nothing = str(tmp_path / "none")
    assert not sound_device_present(str(snd / "pcmC*D*p"), runtime_dir=nothing, aplay="")
    (snd / "pcmC0D0c").touch()  # a capture device (microphone) plays nothing
    assert not sound_device_present(str(snd / "pcmC*D*p"), runtime_dir=nothing, aplay="")
    (snd / "pcmC0D0p").touch()
    assert sound_device_present(str(snd / "pcmC*D*p"), runtime_dir=nothing, aplay="")
    pulse = tmp_path / "run" / "pulse"
    pulse.mkdir(parents=True)
    (pulse / "native").touch()
    assert sound_device_present(str(tmp_path / "x*"), runtime_dir=str(tmp_path / "run"), aplay="")


def test_memory_speaker_records_what_it_would_say() -> None:
    speaker = MemorySpeaker()
    speaker.say(SENTENCE)
    speaker.say("  ")
    speaker.stop()
    assert speaker.available and speaker.said == [SENTENCE] and speaker.stops == 1
    mute = MemorySpeaker(available=False)
    mute.say(SENTENCE)
    assert mute.said == []


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_real_espeak_ng_has_the_mandarin_voice(tmp_path: Path) -> None:
    """The command line we build works with Debian's espeak-ng (written to a file: CI has no sound card)."""
    speaker = EspeakSpeaker(has_sound=True)
    wav = tmp_path / "said.wav"
    argv = speaker.argv(SENTENCE)
    result = subprocess.run(argv[:-2] + ["-w", str(wav)] + argv[-2:], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert wav.stat().st_size > 10_000  # a couple of seconds of speech
