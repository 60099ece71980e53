"""No secret on a command line or in a log (issue 11 §3, DESIGN.md §8).

Tokens come from ``$LOVEMART_TOKEN`` or are asked for, PINs are asked for; an option carrying one is refused
with words. The error log and every log record have tokens, PINs and keys masked.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lovemart import cli, redact
from lovemart.cli import main


def lovemart(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("LOVEMART_TOKEN", "LOVEMART_ADMIN_TOKEN")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lovemart.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=60,
    )


def test_the_admin_token_is_not_an_option(tmp_path: Path) -> None:
    result = lovemart(
        "--home",
        str(tmp_path),
        "central",
        "shops",
        "--server",
        "http://127.0.0.1:9",
        "--json",
        "--admin-token",
        "x" * 43,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "secret_on_command_line"
    assert "ps" in result.stderr
    help_text = lovemart("central", "shops", "--help").stdout
    assert "--admin-token" not in help_text


def test_the_admin_token_is_read_from_the_environment_or_asked_for(tmp_path: Path) -> None:
    base = ("--home", str(tmp_path), "central", "shops", "--server", "http://127.0.0.1:9", "--json")
    missing = lovemart(*base)  # nothing in the environment, nothing typed
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"]["code"] == "usage"
    assert "LOVEMART_TOKEN" in missing.stderr
    # With a token (typed, or in the environment) it goes on to the server, which is not there.
    typed = lovemart(*base, stdin="t" * 43 + "\n")
    assert json.loads(typed.stdout)["error"]["code"] == "unreachable"
    from_env = lovemart(*base, env={"LOVEMART_TOKEN": "t" * 43})
    assert json.loads(from_env.stdout)["error"]["code"] == "unreachable"


def test_an_operator_pin_is_asked_for_never_an_option(tmp_path: Path) -> None:
    home = tmp_path / "shop"
    assert lovemart("--home", str(home), "demo", "--no-ui", "--households", "2", "--json").returncode == 0
    refused = lovemart("--home", str(home), "operators", "add", "07", "--name", "赵六", "--pin", "2468", "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"]["code"] == "secret_on_command_line"
    added = lovemart("--home", str(home), "operators", "add", "07", "--name", "赵六", "--json", stdin="2468\n")
    assert added.returncode == 0, added.stderr
    listed = json.loads(lovemart("--home", str(home), "operators", "list", "--json").stdout)
    assert "07" in [o["operator_id"] for o in listed["operators"]]


# ----- logs ------------------------------------------------------------------------------------------------

TOKEN = "Zq3vR8yK1mN0pL5tW2xC7bH4jF9dS6aE-_uIoPgTzQk"


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {TOKEN}",
        f"{{'authorization': 'Bearer {TOKEN}'}}",
        f"GET /v1/pull?token={TOKEN}&after=3",
        f'{{"device_token": "{TOKEN}", "shop_id": "S01"}}',
        f"lovemart central shops --admin-token {TOKEN}",
        f"lovemart central shops --admin-token={TOKEN}",
        "pin=2468 operator=01",
        "{'pin': '2468'}",
        "lovemart operators add 07 --pin 2468",
        "Township(township_id='T1', passbook_key=b'\\x01\\x02secret')",
        'manager_pin = "0f1e2d:9a8b7c"',
    ],
)
def test_secrets_are_masked(text: str) -> None:
    masked = redact.redact(text)
    for secret in (TOKEN, "2468", "secret", "9a8b7c"):
        assert secret not in masked, masked
    assert redact.MASK in masked


def test_ordinary_words_are_kept() -> None:
    text = "redeem S01-P1-000123 household XF0001: 12 points, monkey business"
    assert redact.redact(text) == text


def test_every_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    redact.install()
    logger = logging.getLogger("lovemart.test")
    with caplog.at_level(logging.INFO, logger="lovemart.test"):
        logger.info("calling with %s", {"Authorization": f"Bearer {TOKEN}"})
        try:
            raise RuntimeError(f"token={TOKEN}")
        except RuntimeError:
            logger.exception("failed")
    assert TOKEN not in caplog.text
    assert "Bearer ***" in caplog.text


def test_the_error_log_masks_the_command_line_and_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "shop"
    assert main(["--home", str(home), "demo", "--no-ui", "--households", "2", "--json"]) == 0

    def fails(*_args: object, **_kwargs: object) -> None:  # an unexpected failure that quotes a secret
        raise RuntimeError(f"server said no to Authorization: Bearer {TOKEN}")

    monkeypatch.setattr(cli.services, "add_operator", fails)
    monkeypatch.setattr(sys, "argv", ["lovemart", "operators", "add", "07", "--name", "x", "--pin", "2468"])
    monkeypatch.setattr(sys, "stdin", _Lines("2468\n"))
    assert main(["--home", str(home), "operators", "add", "07", "--name", "x"]) == 3
    log = home / "lovemart-error.log"
    text = log.read_text(encoding="utf-8")
    assert "RuntimeError" in text and "operators add 07" in text
    assert TOKEN not in text and "2468" not in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert TOKEN not in capsys.readouterr().err


class _Lines:
    """Standard input of a script: one line of text, not a terminal."""

    def __init__(self, text: str) -> None:
        self.text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        line, self.text = self.text, ""
        return line


def test_the_enrolment_code_can_be_asked_for(tmp_path: Path) -> None:
    """``provision`` without ``--token`` asks for the code, so it is never in ``ps`` while still unspent."""
    from sync.server import township
    from sync.server.record import CentralRecord
    from tests.server_harness import running

    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    record = CentralRecord.open(url)
    try:
        record.initialise("T01", "红星镇")
        township.put_village(record, "V01", "幸福村")
        township.put_shop(record, "S01", "幸福村爱心超市", "V01")
        code = record.new_enrol_token("S01")
    finally:
        record.close()
    home = tmp_path / "shop"
    with running(url) as server:
        result = lovemart("--home", str(home), "provision", "--server", server.url, "--json", stdin=code + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["shop_id"] == "S01"
    assert stat.S_IMODE((home / "device-token").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "bundle-key").stat().st_mode) == 0o600


def test_the_servers_access_log_still_formats_and_is_masked() -> None:
    """uvicorn's access formatter reads the record's arguments itself: redaction must keep their shape."""
    from uvicorn.logging import AccessFormatter

    redact.install()
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/v1/health?token={TOKEN}", "1.1", 200),
        None,
    )
    line = AccessFormatter(fmt='%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert TOKEN not in line and "token=***" in line and "200" in line
