"""Running ``lovemart`` commands in process with ``--json`` and reading what they print (CLI tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lovemart.cli import main


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, dict, str]:
    """``lovemart --home HOME ARGS --json``: the exit code, the JSON printed (``{}`` if none) and stderr."""
    code = main(["--home", str(home), *args, "--json"])
    captured = capsys.readouterr()
    data = json.loads(captured.out) if captured.out.strip() else {}
    return code, data, captured.err


def first_redeemable(capsys: pytest.CaptureFixture[str], home: Path, at_least: int = 20) -> dict:
    """The first active household of the shop at HOME with at least ``at_least`` points to spend."""
    code, data, _ = run(capsys, home, "households", "list")
    assert code == 0
    return next(h for h in data["households"] if h["redeemable"] >= at_least and h["status"] == "active")
