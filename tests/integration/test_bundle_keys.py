"""A stolen copy of the central database cannot sign a device's USB-stick bundles (issue 11 §3).

Bundle keys are derived from a server secret kept in a file of its own (0600), outside the database; the
device gets its key once, in the enrolment reply. Devices enrolled before keep the key in their row.
"""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.storage.central import CentralDevice
from lovemart.cli import main
from sync import protocol
from sync.errors import SyncError
from sync.server import bundlekeys, bundles, township
from sync.server.record import CentralRecord
from sync.server.tokens import bundle_key, token_hash


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CentralRecord]:
    monkeypatch.delenv(bundlekeys.SECRET_ENV, raising=False)
    rec = CentralRecord.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    rec.initialise("T01", "红星镇")
    township.put_village(rec, "V01", "幸福村")
    township.put_shop(rec, "S01", "幸福村爱心超市", "V01")
    yield rec
    rec.close()


def enrolled(record: CentralRecord) -> dict:
    return record.enrol({"token": record.new_enrol_token("S01")})


def bundle_of(device_id: str, key: str) -> bytes:
    message = {
        "v": 1,
        "type": "bundle",
        "shop_id": "S01",
        "device_id": device_id,
        "cursor": 0,
        "push": protocol.push_message("S01", device_id, []),
    }
    return protocol.encode(bundles.signed(message, key))


def test_the_key_is_sent_at_enrolment_and_not_kept_in_the_database(record: CentralRecord, tmp_path: Path) -> None:
    reply = enrolled(record)
    key = reply["bundle_key"]
    assert len(key) == 64
    secret_file = tmp_path / "central.sqlite3.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    with record.store.read() as unit:
        device = unit.device(reply["device_id"])
    assert device is not None and device.bundle_key == bundlekeys.DERIVED
    # Nothing in the database file is the key, nor the secret.
    record.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("central.sqlite3*") if p != secret_file)
    assert key.encode() not in raw and secret_file.read_text().strip().encode() not in raw
    reopened = CentralRecord.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    try:
        assert bundles.read_bundle(reopened, bundle_of(reply["device_id"], key))[0].device_id == reply["device_id"]
    finally:
        reopened.close()


def test_a_stolen_copy_of_the_database_signs_nothing(record: CentralRecord, tmp_path: Path) -> None:
    reply = enrolled(record)
    device_id = reply["device_id"]
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    record.store.ledger.engine.dispose()
    shutil.copy(tmp_path / "central.sqlite3", stolen / "central.sqlite3")  # the database only, as a backup is
    thief = CentralRecord.open(f"sqlite:///{stolen / 'central.sqlite3'}")
    try:
        with thief.store.read() as unit:
            row: CentralDevice | None = unit.device(device_id)
        assert row is not None
        # Whatever the copy holds, as a key, is refused by the real central record.
        guesses = [row.bundle_key, token_hash(reply["device_token"]), bundle_key(row.device_id)]
        for guess in guesses:
            with pytest.raises(SyncError) as refused:
                bundles.apply_bundle(record, bundle_of(device_id, guess))
            assert refused.value.code == "bundle_invalid"
        # And the copy cannot derive a key itself: its secret is not there (nor made up behind its back).
        with pytest.raises(SyncError) as refused:
            bundles.read_bundle(thief, bundle_of(device_id, reply["bundle_key"]))
        assert "secret" in refused.value.message("en")
        assert not (stolen / "central.sqlite3.secret").exists()
    finally:
        thief.close()
    assert bundles.apply_bundle(record, bundle_of(device_id, reply["bundle_key"]))["device_id"] == device_id


def test_a_device_enrolled_before_keeps_its_key(record: CentralRecord) -> None:
    reply = enrolled(record)
    legacy = bundle_key(reply["device_token"])
    with record.store.write() as unit:  # as a row written before keys were derived
        unit.c.exec_driver_sql(
            "UPDATE central_device SET bundle_key = ? WHERE device_id = ?", (legacy, reply["device_id"])
        )
    assert bundles.apply_bundle(record, bundle_of(reply["device_id"], legacy))["device_id"] == reply["device_id"]


def test_a_lost_secret_is_not_made_again_behind_the_devices_back(record: CentralRecord, tmp_path: Path) -> None:
    enrolled(record)
    (tmp_path / "central.sqlite3.secret").unlink()
    with pytest.raises(SyncError):
        bundlekeys.ensure_secret(f"sqlite:///{tmp_path / 'central.sqlite3'}", record)
    with pytest.raises(SyncError):
        enrolled(record)  # a new device neither: its key would not match the restored secret's


def test_central_init_makes_the_secret_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "etc" / "server-secret"
    monkeypatch.setenv(bundlekeys.SECRET_ENV, str(secret))  # restored after the test, as --secret-file sets it
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    assert (
        main(
            ["--home", str(tmp_path), "central", "init", "--database-url", url, "--secret-file", str(secret), "--json"]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["secret_file"] == str(secret.resolve()) and len(data["admin_token"]) >= 40
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    first = secret.read_text()
    assert main(["--home", str(tmp_path), "central", "init", "--database-url", url, "--json"]) == 0
    assert secret.read_text() == first  # init again keeps it
