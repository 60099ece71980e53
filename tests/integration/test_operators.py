"""Operators from the command line (issue 15): numbers are never silently reused, PINs are asked and changed,
someone who left is disabled, and the till (``services.login``) follows."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ledger import services
from ledger.errors import LedgerError
from ledger.storage import open_ledger
from tests.cli_harness import run

DEMO_HOUSEHOLDS = 12


def typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """What a script pipes into the command (no terminal: the PIN is read once)."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def login(home: Path, operator_id: str, pin: str) -> str:
    store = open_ledger(home / "ledger.sqlite3")
    try:
        services.login(store, operator_id, pin)
        return "ok"
    except LedgerError as refusal:
        return refusal.code
    finally:
        store.close()


def test_a_number_is_never_silently_reused_pins_change_and_leavers_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    typed(monkeypatch, "2468")
    code, added, err = run(capsys, home, "operators", "add", "07", "--name", "赵小红")
    assert code == 0, err
    assert login(home, "07", "2468") == "ok"
    typed(monkeypatch, "1111")
    code, refused, _ = run(capsys, home, "operators", "add", "07", "--name", "钱大明")
    assert code == 1 and refused["error"]["code"] == "operator_exists" and "赵小红" in refused["error"]["message"]
    assert login(home, "07", "2468") == "ok" and login(home, "07", "1111") == "bad_pin"  # nothing replaced
    code, refused, _ = run(capsys, home, "operators", "add", "08", "--name", "x", "--pin", "1234")
    assert code == 1 and refused["error"]["code"] == "secret_on_command_line"
    typed(monkeypatch, "9753")
    code, _, err = run(capsys, home, "operators", "set-pin", "07")
    assert code == 0, err
    assert login(home, "07", "9753") == "ok" and login(home, "07", "2468") == "bad_pin"
    code, _, err = run(capsys, home, "operators", "disable", "07")
    assert code == 0, err
    assert login(home, "07", "9753") == "operator_disabled" and login(home, "07", "0000") == "bad_pin"
    code, listed, _ = run(capsys, home, "operators", "list")
    assert {o["operator_id"]: o["active"] for o in listed["operators"]}["07"] is False


def test_the_last_manager_cannot_be_disabled(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, listed, _ = run(capsys, home, "operators", "list")
    managers = [o["operator_id"] for o in listed["operators"] if o["role"] == "manager" and o["active"]]
    for manager in managers[:-1]:
        assert run(capsys, home, "operators", "disable", manager)[0] == 0
    code, refused, _ = run(capsys, home, "operators", "disable", managers[-1])
    assert code == 1 and refused["error"]["code"] == "operator_last_manager"


def test_commands_are_recorded_as_the_administrator_or_as_the_operator_whose_pin_is_right(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path
) -> None:
    from tests.cli_harness import first_redeemable

    household = first_redeemable(capsys, home)
    code, sold, err = run(capsys, home, "redeem", household["passbook"], "SOAP=1")
    assert code == 0, err
    out = tmp_path / "admin.bin"
    assert run(capsys, home, "receipt", sold["receipt_no"], "--out", str(out))[0] == 0
    assert "管理员 (admin)".encode("gb18030") in out.read_bytes()  # the name the day close and 台账 use too
    typed(monkeypatch, "0000")  # the demo clerk 02's PIN
    code, named, err = run(capsys, home, "redeem", household["passbook"], "SOAP=1", "--operator", "02")
    assert code == 0, err
    out = tmp_path / "clerk.bin"
    assert run(capsys, home, "receipt", named["receipt_no"], "--out", str(out))[0] == 0
    assert "李建国 (02)".encode("gb18030") in out.read_bytes()
    typed(monkeypatch, "9999")
    code, refused, _ = run(capsys, home, "redeem", household["passbook"], "SOAP=1", "--operator", "02")
    assert code == 1 and refused["error"]["code"] == "bad_pin"
    code, after, _ = run(capsys, home, "balance", household["passbook"])
    assert after["balance"] == household["balance"] - 2 * 3  # two soaps; the refused one changed nothing
