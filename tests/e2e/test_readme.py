"""The README's daily-use commands, run as written on the demo ``make demo`` makes (issue 15): the demo's
township key is fixed, so its passbook codes and receipt numbers are the README's on every machine."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
from openpyxl import Workbook
from PIL import Image

from tests.cli_harness import run

DEMO_HOUSEHOLDS = 200  # the Makefile's DEMO_HOUSEHOLDS: the README's codes and receipt numbers are this demo's
README = Path(__file__).resolve().parents[2] / "README.md"


def daily_use_commands() -> list[list[str]]:
    """The first block of commands under "## Daily use", each without its comment and its [optional] parts."""
    text = README.read_text(encoding="utf-8").split("## Daily use", 1)[1]
    block = re.search(r"\n\n((?:    lovemart [^\n]*\n)+)", text)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        line = re.sub(r"\s+#.*$", "", line.strip())
        line = re.sub(r"\s*\[[^\]]*\]", "", line)  # "[--low 10]": optional, left out
        commands.append(shlex.split(line)[1:])
    return commands


def test_the_readme_daily_use_commands_work_as_written_on_the_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the files the commands name are read and written here
    book = Workbook()
    book.active.append(["户号", "分值", "事由"])
    book.active.append(["XF0005", 10, "志愿服务"])
    book.save(tmp_path / "第三季度积分.xlsx")
    Image.new("RGB", (640, 480), (60, 140, 200)).save(tmp_path / "口罩.jpg")  # the photo `items picture` puts
    # First the refusal the README shows, on the demo as made (the commands below change balances).
    refusal = re.search(r"\$ lovemart (redeem [^\n]+)\n    ([^\n]+)\n", README.read_text(encoding="utf-8"))
    assert refusal is not None
    code, data, _ = run(capsys, home, *shlex.split(refusal.group(1)))
    assert code == 1 and data["error"]["message"] == refusal.group(2).strip()
    commands = daily_use_commands()
    assert len(commands) > 15 and ["balance", "LM1:XF0002:1:G5E6SH"] in commands
    for args in commands:
        monkeypatch.setattr("sys.stdin", io.StringIO("1357\n"))  # a PIN, for the commands that ask one
        code, data, err = run(capsys, home, *args)
        assert code == 0, (args, data, err)
        if args[0] == "redeem":
            assert data["receipt_no"] == "S01-P1-003012"  # the receipt the README voids next
    # The receipt the README reprints is one of the demo's redemptions (not a number with no receipt).
    shown = re.search(r"lovemart receipt (S01-P1-\d{6}) --out r\.bin --width 80", README.read_text(encoding="utf-8"))
    assert shown is not None
    code, data, err = run(capsys, home, "receipt", shown.group(1), "--out", "r.bin", "--width", "80")
    assert code == 0, (data, err)
