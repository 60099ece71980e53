"""The kiosk's manager PIN: wrong tries are limited by a lock-out that grows and survives a restart, and the
settings file holding the PIN's hash is readable by the kiosk's user only (issue 11 §3). No Kivy."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from kiosk.access import LockoutAccess, PinAccess, pin_record_of
from ledger.messages import text
from lovemart.cli import main
from tests.conftest import FakeClock

PIN = "2468"


@pytest.fixture
def clock() -> FakeClock:
    """A wall clock the test moves by hand."""
    return FakeClock(1_800_000_000.0)


def lockout(state: Path, clock: FakeClock) -> LockoutAccess:
    return LockoutAccess(PinAccess(RECORD), state, clock=clock)


RECORD = pin_record_of(PIN)


def wrong(access: LockoutAccess, times: int) -> list[str | None]:
    return [access.check("kiosk", "0000") for _ in range(times)]


def test_five_wrong_pins_lock_for_30_seconds_then_each_wrong_pin_doubles(tmp_path: Path, clock: FakeClock) -> None:
    access = lockout(tmp_path / "tries.json", clock)
    assert wrong(access, 4) == ["kiosk.maint_wrong"] * 4
    assert access.locked_for() == 0
    assert wrong(access, 1) == ["kiosk.maint_locked"]
    assert access.locked_for() == 30
    # Locked: even the right PIN is not looked at, and the tries do not count.
    assert access.check("kiosk", PIN) == "kiosk.maint_locked"
    clock.now += 29
    assert access.check("kiosk", PIN) == "kiosk.maint_locked"
    clock.now += 1
    assert wrong(access, 1) == ["kiosk.maint_locked"] and access.locked_for() == 60
    clock.now += 60
    assert wrong(access, 1) == ["kiosk.maint_locked"] and access.locked_for() == 120
    clock.now += 120
    assert access.check("kiosk", PIN) is None  # the right PIN, once the wait is over, opens it
    assert wrong(access, 4) == ["kiosk.maint_wrong"] * 4  # and the count starts again


def test_the_lock_out_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "tries.json"
    wrong(lockout(state, clock), 6)  # the sixth comes while locked: not even counted
    clock.now += 10
    again = lockout(state, clock)  # the kiosk switched off and on
    assert again.locked_for() == 20
    assert again.check("kiosk", PIN) == "kiosk.maint_locked"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert json.loads(state.read_text())["failures"] == 5
    clock.now += 20
    assert wrong(again, 1) == ["kiosk.maint_locked"] and lockout(state, clock).locked_for() == 60


def test_four_wrong_pins_before_a_restart_still_count(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "tries.json"
    wrong(lockout(state, clock), 4)
    assert wrong(lockout(state, clock), 1) == ["kiosk.maint_locked"]


def test_a_damaged_record_of_tries_starts_locked(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "tries.json"
    state.write_text("{not json", encoding="utf-8")
    access = lockout(state, clock)
    assert access.check("kiosk", PIN) == "kiosk.maint_locked"
    clock.now += 30
    assert access.check("kiosk", PIN) is None


def test_a_clock_set_back_cannot_lock_for_ever(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "tries.json"
    state.write_text(json.dumps({"failures": 5, "locked_until": clock.now + 10**9}), encoding="utf-8")
    assert lockout(state, clock).locked_for() == 24 * 3600


def test_the_locked_message_says_how_long(tmp_path: Path) -> None:
    assert text("kiosk.maint_locked", "zh", seconds=30) == "密码输错次数太多，请 30 秒后再试。"
    assert "30 seconds" in text("kiosk.maint_locked", "en", seconds=30)


def test_the_settings_file_with_the_pin_hash_is_the_users_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    assert main(["--home", str(tmp_path), "kiosk", "--set-manager-pin"]) == 0
    assert stat.S_IMODE((tmp_path / "lovemart.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700


def test_setting_a_new_pin_lifts_the_lock_out(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lovemart.kiosk_main import PIN_STATE_FILE

    state = tmp_path / PIN_STATE_FILE
    wrong(lockout(state, clock), 5)
    assert lockout(state, clock).locked_for() == 30
    monkeypatch.setattr("sys.stdin", io.StringIO("1357\n"))  # at the PC itself, by whoever runs the kiosk
    assert main(["--home", str(tmp_path), "kiosk", "--set-manager-pin"]) == 0
    assert lockout(state, clock).locked_for() == 0
