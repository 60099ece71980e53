"""Backups and restores of a shop (``lovemart backup``/``restore``, ``lovemart.backups``) on a real demo ledger:
copies that open and audit, rotation, USB sticks, refusals that change nothing, and kills at every step."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger import services
from ledger.backups import backup_name
from ledger.model import Policy, Shop, Township, Village
from ledger.storage import open_ledger
from lovemart import settings as settings_mod
from tests.cli_harness import first_redeemable, run

DEMO_HOUSEHOLDS = 12
ROOT = Path(__file__).resolve().parents[2]


def stick(tmp_path: Path, home: Path) -> Path:
    """A USB stick with a ``lovemart-backup`` folder, under a mount root the shop's settings name."""
    folder = tmp_path / "media" / "user" / "STICK" / "lovemart-backup"
    folder.mkdir(parents=True)
    settings_mod.update(settings_mod.load(home), {"backup": {"usb_roots": [str(tmp_path / "media")]}})
    return folder


def redeem_one(capsys: pytest.CaptureFixture[str], home: Path) -> dict:
    household = first_redeemable(capsys, home)
    code, sold, err = run(capsys, home, "redeem", household["passbook"], "SOAP=1")
    assert code == 0, err
    return sold


def audit_ok(capsys: pytest.CaptureFixture[str], home: Path) -> int:
    code, report, err = run(capsys, home, "audit", "verify")
    assert code == 0 and report["ok"], (err, report)
    return int(report["transactions"])


def test_a_backup_is_a_whole_ledger_on_the_disk_and_the_stick_and_a_restore_brings_it_back(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    usb = stick(tmp_path, home)
    before = audit_ok(capsys, home)
    code, taken, err = run(capsys, home, "backup")
    assert code == 0, err
    copy = Path(taken["path"])
    assert copy.parent == home / "backups" and [Path(p) for p in taken["copies"]] == [usb / copy.name]
    for each in (copy, usb / copy.name):  # plain databases that pass SQLite's own check
        with sqlite3.connect(each) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    sold = redeem_one(capsys, home)  # a sale after the backup
    assert audit_ok(capsys, home) == before + 1
    code, refused, _ = run(capsys, home, "restore", str(usb / copy.name))  # no --yes, nobody at a terminal
    assert code == 1 and refused["error"]["code"] == "not_confirmed"
    code, restored, err = run(capsys, home, "restore", str(usb / copy.name), "--yes")
    assert code == 0, err
    assert restored["transactions"] == before and restored["township_acked"] == 0
    assert audit_ok(capsys, home) == before  # the sale made after the backup is gone with the old ledger…
    aside = Path(restored["kept_aside"])
    assert aside.parent == home / "backups" and aside.name.startswith("replaced-")
    with sqlite3.connect(aside) as db:  # …but kept aside, whole
        receipts = {r[0] for r in db.execute("SELECT seq FROM txn WHERE device_id = 'P1'")}
    assert int(sold["receipt_no"].rsplit("-", 1)[1]) in receipts
    code, doctor, _ = run(capsys, home, "doctor")
    assert [c["status"] for c in doctor["checks"] if c["name"] == "backup"] == ["ok"]


def test_backups_rotate_a_stick_failing_is_said_and_doctor_warns_when_the_newest_is_old(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    folder = home / "backups"
    folder.mkdir()
    now = datetime.now()
    code, taken, _ = run(capsys, home, "backup")
    assert code == 0
    for days in range(1, 40):  # a month and more of nightly copies, made by hand from today's
        shutil.copyfile(taken["path"], folder / backup_name(now - timedelta(days=days, hours=3)))
    (folder / "ledger-x.sqlite3.partial").write_bytes(b"cut short")
    code, again, _ = run(capsys, home, "backup")
    assert code == 0
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) < 7 + 4 + 12 and Path(again["path"]).name in names and not any(".partial" in n for n in names)
    assert backup_name(now - timedelta(days=1, hours=3)) in names and len(again["removed"]) > 20
    code, skipped, _ = run(capsys, home, "backup", "--if-due")
    assert code == 0 and skipped == {"taken": False}
    # Nothing newer than three days: doctor warns.
    for p in folder.iterdir():
        if p.name >= backup_name(now - timedelta(days=2)):
            p.unlink()
    code, doctor, _ = run(capsys, home, "doctor")
    backup = next(c for c in doctor["checks"] if c["name"] == "backup")
    assert backup["status"] == "warn" and "两天" in backup["message"]
    code, due, _ = run(capsys, home, "backup", "--if-due")
    assert code == 0 and due["taken"] is True
    # --to a folder that cannot be written: refused with the words, the copy on the disk is still made.
    blocked = home / "not-a-folder"
    blocked.write_text("x")
    code, refused, _ = run(capsys, home, "backup", "--to", str(blocked))
    assert code == 1 and refused["error"]["code"] == "backup_failed"


def test_a_damaged_backup_or_another_shops_is_refused_and_nothing_changes(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    code, taken, _ = run(capsys, home, "backup")
    copy = Path(taken["path"])
    before = audit_ok(capsys, home)
    edited = tmp_path / "edited.sqlite3"
    shutil.copyfile(copy, edited)
    with sqlite3.connect(edited) as db:  # a posting changed by hand (the triggers are dropped to allow it)
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f'DROP TRIGGER "{name}"')
        db.execute("UPDATE posting SET amount = amount * 2 WHERE account LIKE 'household:%' AND amount > 0")
    truncated = tmp_path / "truncated.sqlite3"
    truncated.write_bytes(copy.read_bytes()[: 8192 * 3])
    for bad in (edited, truncated):
        code, refused, _ = run(capsys, home, "restore", str(bad), "--yes")
        assert code == 1 and refused["error"]["code"] == "restore_backup_bad", bad.name
    other = tmp_path / "other.sqlite3"  # a sound ledger of another shop
    store = open_ledger(other)
    services.set_up_shop(
        store,
        Township("T1", "红星镇", b"k" * 32),
        Village("V9", "光明村"),
        Shop("S9", "光明村超市", "V9"),
        "P9",
        Policy(),
    )
    store.close()
    code, refused, _ = run(capsys, home, "restore", str(other), "--yes")
    assert code == 1 and refused["error"]["code"] == "restore_other_shop"
    assert audit_ok(capsys, home) == before and not (home / "ledger-restoring.sqlite3").exists()
    assert not list((home / "backups").glob("replaced-*"))


# ----- kills: the process dies in the middle, the ledger is whole either way ------------------------------

CHILD = r"""
import os, signal, sys
from datetime import datetime
from pathlib import Path
from lovemart import settings
from lovemart.backups import restore, take_backup

home, what, point = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
shop = settings.load(home)

def die(here):
    if here == point:
        os.kill(os.getpid(), signal.SIGKILL)

if what == "backup":
    import ledger.storage.backup as copying

    copying.PAGES_PER_STEP = 1  # many small steps, so that the kill lands in the middle of the copy
    steps = []
    def progress(status, remaining, total):
        steps.append(remaining)
        if len(steps) == 2:  # in the middle of the copy
            os.kill(os.getpid(), signal.SIGKILL)
    take_backup(shop, datetime.now(), progress=progress)
else:
    restore(shop, Path(sys.argv[4]), datetime.now(), at=die)
"""


def killed(home: Path, *args: str) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, str(home), *args], cwd=ROOT, capture_output=True, timeout=120)
    return done.returncode


def test_a_kill_during_a_backup_leaves_the_ledger_whole_and_no_backup_that_looks_whole(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    before = audit_ok(capsys, home)
    assert killed(home, "backup", "-") == -signal.SIGKILL
    folder = home / "backups"
    assert all(".partial" in p.name for p in folder.iterdir())  # only a cut copy, never one that looks whole
    assert audit_ok(capsys, home) == before
    code, taken, _ = run(capsys, home, "backup")  # the next one is whole and clears the cut one
    assert code == 0 and [p.name for p in folder.iterdir()] == [Path(taken["path"]).name]


@pytest.mark.parametrize("point", ["copied", "kept_aside", "checkpointed", "replaced"])
def test_a_kill_during_a_restore_leaves_the_old_ledger_or_the_new_one_whole(
    capsys: pytest.CaptureFixture[str], home: Path, point: str
) -> None:
    code, taken, _ = run(capsys, home, "backup")
    old = audit_ok(capsys, home)
    redeem_one(capsys, home)
    assert killed(home, "restore", point, taken["path"]) == -signal.SIGKILL
    now = audit_ok(capsys, home)
    assert now == (old if point == "replaced" else old + 1)  # the backup in place, or the ledger as it was
    code, restored, err = run(capsys, home, "restore", taken["path"], "--yes")  # and it can be done again
    assert code == 0, err
    assert audit_ok(capsys, home) == old


def test_no_restore_while_a_till_sells_from_the_ledger(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    from lovemart.lock import PosLock

    code, taken, _ = run(capsys, home, "backup")
    with PosLock(home / "pos.lock"):
        code, refused, _ = run(capsys, home, "restore", taken["path"], "--yes")
    assert code == 1 and refused["error"]["code"] == "ledger_locked"
    assert not list((home / "backups").glob("replaced-*"))


def test_a_backup_older_than_the_township_is_refused_unless_this_pc_takes_its_sales_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from ledger.model import Item
    from sync.server import township
    from sync.server.record import CentralRecord
    from tests.server_harness import ServerProcess

    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    record = CentralRecord.open(url)
    record.initialise("T01", "红星镇")
    township.put_village(record, "V01", "幸福村")
    township.put_shop(record, "S01", "幸福村爱心超市", "V01")
    township.put_item(record, Item("SOAP", "肥皂", "块", 3))
    township.put_household(record, township.HouseholdInput("H1", "V01", "王秀兰", "S01"))
    township.award(record, "H1", 300, "卫生评比")
    server = ServerProcess(url).start()
    home = tmp_path / "shop"
    try:
        code, _, err = run(capsys, home, "provision", "--server", server.url, "--token", record.new_enrol_token("S01"))
        assert code == 0, err
        assert run(capsys, home, "stock", "in", "SOAP=20")[0] == 0
        passbook = run(capsys, home, "households", "list")[1]["households"][0]["passbook"]
        assert run(capsys, home, "redeem", passbook, "SOAP=1")[0] == 0
        code, taken, _ = run(capsys, home, "backup")
        for _ in range(2):  # two more sales, synced: the township now holds more than the backup
            assert run(capsys, home, "redeem", passbook, "SOAP=1")[0] == 0
        code, synced, err = run(capsys, home, "sync")
        assert code == 0, err
        balance = run(capsys, home, "balance", passbook)[1]["balance"]
        code, refused, _ = run(capsys, home, "restore", taken["path"], "--yes")
        assert code == 1 and refused["error"]["code"] == "restore_older_than_township"
        assert "--resync" in refused["error"]["message"]
        code, restored, err = run(capsys, home, "restore", taken["path"], "--yes", "--resync")
        assert code == 0, err
        assert restored["recovered"] == 2 and restored["township_acked"] == synced["acked_through"]
        assert run(capsys, home, "balance", passbook)[1]["balance"] == balance  # the sales are back
        audit_ok(capsys, home)
        code, sold, err = run(capsys, home, "redeem", passbook, "SOAP=1")  # and the next sale follows on
        assert code == 0, err
        code, again, err = run(capsys, home, "sync")
        assert code == 0 and again["acked_through"] == synced["acked_through"] + 1, err
    finally:
        server.stop()
        record.close()
