"""Faults of the shop PC itself (issue 11 §3 and §5): a full disk, a read-only folder, a broken
``lovemart.toml``, a shop folder others can read. Each gets a refusal in plain words (exit 1, a JSON error
with ``--json``, Chinese by default), never a traceback or sqlite3's or tomllib's own text.

Full disks and read-only mounts are made for real where the kernel lets us (``unshare`` a mount namespace
and mount a tiny tmpfs, or bind the folder read-only); the same code paths are also reached by fault
injection (SQLite's ``max_page_count`` and ``query_only``), which works everywhere, as root too.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from lovemart.cli import main

RAW_WORDS = ("Traceback", "sqlite3.", "TOMLDecodeError", "OperationalError", "[Errno", "sqlalche.me")


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str, lang: str | None = None) -> tuple[int, dict, str]:
    argv = ["--home", str(home), *args, "--json"] + (["--lang", lang] if lang else [])
    code = main(argv)
    captured = capsys.readouterr()
    data = json.loads(captured.out) if captured.out.strip() else {}
    for word in RAW_WORDS:
        assert word not in captured.out + captured.err, captured
    return code, data, captured.err


DEMO_HOUSEHOLDS = 5  # the demo shop of this module (tests/conftest.py: demo_template, home)


def a_passbook(capsys: pytest.CaptureFixture[str], home: Path) -> str:
    code, data, _ = run(capsys, home, "households", "list")
    assert code == 0
    return str(next(h["passbook"] for h in data["households"] if h["status"] == "active" and h["redeemable"] > 10))


# ----- lovemart.toml -----------------------------------------------------------------------------------


def test_malformed_settings_are_refused_with_the_line(capsys, home: Path) -> None:
    (home / "lovemart.toml").write_text('language = "zh"\n[shop\nid = "S01"\n', encoding="utf-8")
    code, data, err = run(capsys, home, "households", "list")
    assert code == 1
    assert data["error"]["code"] == "settings_malformed"
    assert "第 2 行" in data["error"]["message"] and "lovemart.toml" in data["error"]["message"]
    assert "设置文件" in err
    code, data, _ = run(capsys, home, "households", "list", lang="en")
    assert code == 1 and "line 2" in data["error"]["message"]


def test_settings_that_are_not_utf8_are_refused(capsys, home: Path) -> None:
    (home / "lovemart.toml").write_bytes('language = "zh"\n# 设置\n'.encode("gb18030") + b"\xff\xfe\n")
    code, data, _ = run(capsys, home, "doctor")
    assert code == 1 and data["error"]["code"] == "settings_malformed"


def test_settings_with_a_value_where_a_section_belongs_are_refused(capsys, home: Path) -> None:
    (home / "lovemart.toml").write_text('shop = "S01"\n', encoding="utf-8")
    code, data, _ = run(capsys, home, "balance", "LM1:XF0001:1:AAAAAA")
    assert code == 1 and data["error"]["code"] == "settings_section"


def test_unreadable_settings_are_refused(capsys, home: Path) -> None:
    # A folder where the file should be: unreadable for root as for anyone (a file with mode 000 is not).
    (home / "lovemart.toml").unlink()
    (home / "lovemart.toml").mkdir()
    code, data, err = run(capsys, home, "households", "list")
    assert code == 1 and data["error"]["code"] == "settings_unreadable"
    assert "读不了设置文件" in err


def _as_another_user(*argv: str) -> subprocess.CompletedProcess[str]:
    """``lovemart argv`` run by a user who does not own the shop's files: ``nobody`` when the tests run as
    root (root reads every file whatever its mode, so a mode would prove nothing), else ourselves."""
    command = [sys.executable, "-m", "lovemart.cli", *argv]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        env=dict(os.environ, LOVEMART_LANG="zh"),
        timeout=60,
    )


can_be_another_user = pytest.mark.skipif(
    os.geteuid() == 0 and not shutil.which("setpriv"), reason="root without setpriv cannot test a file's mode"
)


@pytest.fixture
def open_folder(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo shop in a folder another user can reach (pytest's own tmp folders are 0700)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="lovemart-perm-"))
    base.chmod(0o755)
    target = base / "shop"
    shutil.copytree(home, target)
    yield target
    shutil.rmtree(base, ignore_errors=True)


@can_be_another_user
def test_settings_without_read_permission_are_refused(open_folder: Path) -> None:
    open_folder.chmod(0o755)
    (open_folder / "lovemart.toml").chmod(0)
    result = _as_another_user("--home", str(open_folder), "households", "list", "--json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "settings_unreadable"
    assert "读不了设置文件" in result.stderr and "Traceback" not in result.stderr


@can_be_another_user
def test_a_shop_folder_without_permission_is_refused(open_folder: Path) -> None:
    open_folder.chmod(0o700)  # another user may not even look inside
    result = _as_another_user("--home", str(open_folder), "households", "list", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["error"]["code"] == "settings_unreadable"
    open_folder.chmod(0o755)  # may look, may not write: SQLite cannot make its -wal and -shm files
    (open_folder / "lovemart.toml").chmod(0o644)
    for side in open_folder.glob("ledger.sqlite3-*"):
        side.unlink()
    result = _as_another_user("--home", str(open_folder), "households", "list", "--json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "home_no_access"
    assert "没有权限" in result.stderr and "Traceback" not in result.stderr and "sqlite3." not in result.stderr


# ----- a full disk and a read-only folder, by fault injection (works everywhere) --------------------------


@pytest.fixture
def sqlite_fault():
    """Every SQLite connection opened while active runs ``pragma`` first: a fault injected at the driver."""
    pragmas: list[str] = []

    def on_connect(dbapi_connection, _record) -> None:
        for pragma in pragmas:
            dbapi_connection.execute(pragma)

    event.listen(Engine, "connect", on_connect)
    yield pragmas
    event.remove(Engine, "connect", on_connect)


def test_disk_full_while_redeeming_is_a_refusal(capsys, home: Path, sqlite_fault: list[str]) -> None:
    code_text = a_passbook(capsys, home)
    pages = os.path.getsize(home / "ledger.sqlite3") // 4096
    sqlite_fault.append(f"PRAGMA max_page_count = {pages}")  # the file may not grow by one page
    (home / "ledger.sqlite3-wal").unlink(missing_ok=True)
    outcomes = [run(capsys, home, "redeem", code_text, "SOAP=1") for _ in range(30)]
    refused = [data for code, data, _ in outcomes if code == 1]
    assert refused and all(r["error"]["code"] == "disk_full" for r in refused)
    assert "磁盘已满" in refused[0]["error"]["message"]
    sqlite_fault.clear()
    code, audit, _ = run(capsys, home, "audit", "verify")
    assert code == 0 and audit["ok"]


def test_read_only_ledger_is_a_refusal(capsys, home: Path, sqlite_fault: list[str]) -> None:
    code_text = a_passbook(capsys, home)
    sqlite_fault.append("PRAGMA query_only = ON")  # SQLite: "attempt to write a readonly database"
    code, data, err = run(capsys, home, "redeem", code_text, "SOAP=1")
    assert code == 1 and data["error"]["code"] in ("ledger_readonly", "home_readonly")
    assert "没有保存" in err or "只读" in err


# ----- the same for real: a tmpfs with no space left, a read-only bind mount -----------------------------


def _unshare_works() -> bool:
    if not shutil.which("unshare") or not shutil.which("mount"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, check=False
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _unshare_works(),
    reason="cannot mount in a private namespace here (unshare -rm); the fault-injected tests cover these paths",
)


def _in_namespace(script: str, tmp_path: Path) -> list[dict]:
    """Run ``script`` (sh, with $LM = the lovemart command) in a private mount namespace; one JSON per line."""
    lovemart = f"{sys.executable} -m lovemart.cli"
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"LM='{lovemart}'\n{script}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        env=dict(os.environ, LOVEMART_LANG="zh"),
        timeout=120,
    )
    for word in RAW_WORDS:
        assert word not in result.stdout + result.stderr, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@needs_mounts
def test_a_really_full_disk_is_a_refusal(capsys, home: Path, tmp_path: Path) -> None:
    code_text = a_passbook(capsys, home)
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
mount -t tmpfs -o size=4m tmpfs {disk}
cp -a {home} {disk}/shop
head -c 100M /dev/zero > {disk}/filler 2>/dev/null
$LM --home {disk}/shop redeem {code_text} SOAP=1 --json; echo '{{"rc": '$?'}}'
$LM --home {disk}/new demo --no-ui --households 3 --json; echo '{{"rc": '$?'}}'
"""
    redeem, redeem_rc, demo, demo_rc = _in_namespace(script, tmp_path)
    assert redeem_rc == {"rc": 1} and redeem["error"]["code"] == "disk_full"
    assert demo_rc == {"rc": 1} and demo["error"]["code"] == "disk_full"


@needs_mounts
def test_a_read_only_mount_is_a_refusal(capsys, home: Path, tmp_path: Path) -> None:
    code_text = a_passbook(capsys, home)
    script = f"""
mount --bind {tmp_path} {tmp_path} && mount -o remount,ro,bind {tmp_path}
$LM --home {home} redeem {code_text} SOAP=1 --json; echo '{{"rc": '$?'}}'
$LM --home {home} households list --json; echo '{{"rc": '$?'}}'
$LM --home {tmp_path}/new demo --no-ui --households 3 --json; echo '{{"rc": '$?'}}'
"""
    replies = _in_namespace(script, tmp_path)
    assert len(replies) == 6
    for reply, rc in zip(replies[::2], replies[1::2], strict=True):
        assert rc == {"rc": 1}
        assert reply["error"]["code"] == "home_readonly"
        assert "只读" in reply["error"]["message"]


# ----- the shop's folder is private ------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_shop_is_readable_by_its_user_only(capsys, tmp_path: Path) -> None:
    home = tmp_path / "new-shop"
    assert main(["--home", str(home), "demo", "--no-ui", "--households", "3", "--json"]) == 0
    capsys.readouterr()
    assert _mode(home) == 0o700
    assert _mode(home / "ledger.sqlite3") == 0o600
    assert _mode(home / "lovemart.toml") == 0o600
    for suffix in ("-wal", "-shm"):
        side = Path(str(home / "ledger.sqlite3") + suffix)
        if side.exists():
            assert _mode(side) == 0o600


def test_opening_a_shop_tightens_wide_permissions(capsys, home: Path) -> None:
    home.chmod(0o755)
    (home / "ledger.sqlite3").chmod(0o644)
    code, _, _ = run(capsys, home, "households", "list")
    assert code == 0
    assert _mode(home) == 0o700 and _mode(home / "ledger.sqlite3") == 0o600


def test_doctor_warns_when_others_can_read_the_ledger(capsys, home: Path) -> None:
    home.chmod(0o755)
    (home / "ledger.sqlite3").chmod(0o644)
    code, data, _ = run(capsys, home, "doctor")
    check = next(c for c in data["checks"] if c["name"] == "permissions")
    assert check["status"] == "warn"
    assert "别的用户" in check["message"] and "ledger.sqlite3" in check["message"]
    code, data, _ = run(capsys, home, "doctor")
    check = next(c for c in data["checks"] if c["name"] == "permissions")
    assert check["status"] == "ok", check


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="no /dev/full on this system")
def test_a_file_written_to_a_full_device_is_refused_and_the_device_stays(capsys, home: Path) -> None:
    # /dev/full answers every write with "no space left": a full disk for root as for anyone.
    code, data, _ = run(capsys, home, "passbook", "cards", "--out", "/dev/full")
    assert code == 1 and data["error"]["code"] == "export_unwritable"
    assert Path("/dev/full").is_char_device()  # written to, never replaced by a plain file


def test_doctor_names_a_token_file_others_can_read_and_how_to_fix_it(capsys, home: Path) -> None:
    token = home / "device-token"
    token.write_text("x" * 43 + "\n", encoding="ascii")
    token.chmod(0o644)
    code, data, _ = run(capsys, home, "doctor")
    check = next(c for c in data["checks"] if c["name"] == "permissions")
    assert check["status"] == "warn" and f"chmod 600 {token}" in check["message"]
    assert "lovemart.toml" not in check["message"]  # it holds no secret here (no kiosk PIN)


def test_an_unforeseen_database_error_is_said_in_words_and_logged(capsys, home: Path, monkeypatch) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from lovemart import cli

    def fails(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT x FROM nowhere", {}, sqlite3.OperationalError("no such table: nowhere"))

    monkeypatch.setattr(cli.services, "balance_for_code", fails)
    code = main(["--home", str(home), "balance", "LM1:XF0001:1:AAAAAA", "--json"])
    captured = capsys.readouterr()
    assert code == 3
    assert json.loads(captured.out)["error"]["code"] == "internal"
    assert "账本数据库出错" in captured.err and "lovemart-error.log" in captured.err
    for word in RAW_WORDS + ("no such table",):
        assert word not in captured.out + captured.err
    assert "no such table: nowhere" in (home / "lovemart-error.log").read_text(encoding="utf-8")
