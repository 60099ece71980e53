"""``lovemart households add|edit`` at a standalone shop: the optional phone number (联系电话)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.storage import open_ledger
from tests.cli_harness import run
from tests.conftest import set_up


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A standalone shop's home: its own township, village V1 and shop S1."""
    store = open_ledger(tmp_path / "ledger.sqlite3")
    set_up(store)
    store.close()
    return tmp_path


def phone_of(home: Path, household_id: str) -> str:
    store = open_ledger(home / "ledger.sqlite3")
    try:
        with store.read() as unit:
            household = unit.household(household_id)
        assert household is not None
        return household.phone
    finally:
        store.close()


def test_a_households_phone_is_added_kept_and_changed_from_the_command_line(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    code, refused, _ = run(capsys, home, "households", "add", "H001", "--head", "张桂兰", "--phone", "12ab")
    assert code == 1 and refused["error"]["code"] == "household_phone_invalid"
    assert "电话号码不对：12ab" in refused["error"]["message"]
    code, _, err = run(capsys, home, "households", "add", "H001", "--head", "张桂兰", "--phone", " 138 1234 5678 ")
    assert code == 0, err
    assert phone_of(home, "H001") == "138 1234 5678"
    assert run(capsys, home, "households", "edit", "H001", "--house-no", "21")[0] == 0
    assert phone_of(home, "H001") == "138 1234 5678"  # kept when not given
    assert run(capsys, home, "households", "edit", "H001", "--phone", "0571-88888888")[0] == 0
    assert phone_of(home, "H001") == "0571-88888888"
    assert run(capsys, home, "households", "edit", "H001", "--phone", "")[0] == 0
    assert phone_of(home, "H001") == ""
