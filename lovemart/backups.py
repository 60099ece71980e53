"""The shop's backups: taken into ``backups/`` (and onto a USB stick), rotated, and restored.

When (``ledger.backups`` says which to keep and when one is due):
- after each day close (the POS, after the day's audit passed),
- at least daily: the POS looks every hour, and ``lovemart sync`` (the nightly job) takes one when due,
- whenever someone types ``lovemart backup`` (``--to DIR`` writes one more copy there).

A copy is made with SQLite's online backup API while the till may be selling (``ledger.storage.backup``),
checked with SQLite's integrity check, then rotated. A USB stick gets a copy when it has a folder named
``lovemart-backup`` at its top (found under ``[backup] usb_roots``); a stick that fails is reported, never
a reason to lose the copy on the disk.

Restoring (``restore``) never overwrites the only good ledger: the backup is copied into the shop's folder
and audited first; the current ledger is copied aside into ``backups/`` (``replaced-...``); only then is the
checked copy renamed over it, with the till closed. A kill at any point leaves either the old ledger or the
new one, whole. A backup older than what the township has already acknowledged is refused unless the shop
takes its own missing sales back from the township straight after (``--resync``): numbering new sales from
the backup's old head would repeat receipt numbers the township already holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ledger import backups as rules
from ledger import services
from ledger.backups import Backup
from ledger.errors import LedgerError
from ledger.storage import open_ledger
from ledger.storage.backup import Progress, checkpoint, integrity_problems, online_backup, put_in_place
from lovemart.settings import Settings

Hook = Callable[[str], object]  # named points of a restore, where the crash tests stop the process


def _nothing(_point: str) -> None:
    return None


@dataclass(frozen=True)
class BackupTaken:
    path: Path
    usb: tuple[Path, ...] = ()  # copies made on USB sticks (and with --to)
    removed: tuple[str, ...] = ()  # older copies the rotation let go
    usb_problems: tuple[str, ...] = ()  # sticks that could not take a copy, with why


def list_backups(folder: Path) -> list[Backup]:
    if not folder.is_dir():
        return []
    found = (rules.parse_backup(p.name) for p in folder.iterdir() if p.is_file())
    return sorted((b for b in found if b is not None), key=lambda b: b.taken_at)


def last_backup(settings: Settings) -> Backup | None:
    return rules.newest(list_backups(settings.backup_dir))


def usb_folders(roots: tuple[str, ...]) -> list[Path]:
    """``lovemart-backup`` folders at the top of mounted sticks: ``/media/<user>/<stick>/lovemart-backup``,
    ``/media/<stick>/lovemart-backup`` or ``/mnt/<stick>/lovemart-backup``."""
    found: list[Path] = []
    for root in (Path(r) for r in roots):
        if not root.is_dir():
            continue
        for pattern in (f"*/{rules.USB_FOLDER}", f"*/*/{rules.USB_FOLDER}"):
            try:
                found += [p for p in sorted(root.glob(pattern)) if p.is_dir()]
            except OSError:  # a folder we may not read (another user's media)
                continue
    return found


def take_backup(
    settings: Settings, now: datetime, *, extra: Path | None = None, progress: Progress | None = None
) -> BackupTaken:
    """One checked copy of the ledger into the backup folder, rotated; a copy on each USB stick and in
    ``extra``. ``now`` is local time (it names the file)."""
    ledger = settings.ledger_path
    if not ledger.exists():
        raise LedgerError("not_configured")
    folder = settings.backup_dir
    name = rules.backup_name(now.replace(tzinfo=None))
    dest = online_backup(ledger, folder / name, progress)
    problems = integrity_problems(dest)
    if problems:
        dest.unlink(missing_ok=True)
        raise LedgerError("backup_failed", path=str(dest), detail="; ".join(problems)[:200])
    removed = _rotate(folder)
    copies: list[Path] = []
    failed: list[str] = []
    targets = usb_folders(settings.backup.usb_roots) + ([extra] if extra is not None else [])
    for target in targets:
        try:
            copies.append(online_backup(dest, target / name))  # whole or not at all there too
            if target != extra:
                _rotate(target)
        except (LedgerError, OSError) as failure:
            failed.append(f"{target}: {failure}"[:300])
    if extra is not None and extra not in [c.parent for c in copies]:
        raise LedgerError("backup_failed", path=str(extra), detail="; ".join(failed)[:200])
    return BackupTaken(dest, tuple(copies), tuple(removed), tuple(failed))


def backup_if_due(settings: Settings, now: datetime) -> BackupTaken | None:
    """A backup when the newest is a day old (or there is none); None when one is recent enough."""
    if not settings.ledger_path.exists():
        return None
    if not rules.due(list_backups(settings.backup_dir), now.replace(tzinfo=None)):
        return None
    return take_backup(settings, now)


def _rotate(folder: Path) -> list[str]:
    kept = rules.to_keep(list_backups(folder))
    removed = []
    for backup in list_backups(folder):
        if backup.name not in kept:
            (folder / backup.name).unlink(missing_ok=True)
            removed.append(backup.name)
    for stale in folder.glob("*.partial*"):  # a copy a crash or a pulled stick cut short (and its journal)
        stale.unlink(missing_ok=True)
    return removed


class HomeBackups:
    """``ledger.ports.BackupPort`` for the POS: the shop's backups, named by its clock."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock

    def back_up(self) -> str:
        return str(take_backup(self.settings, self.clock()).path)

    def back_up_if_due(self) -> str | None:
        taken = backup_if_due(self.settings, self.clock())
        return str(taken.path) if taken is not None else None


# ----- restoring -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    source: Path
    kept_aside: Path | None  # the ledger it replaced, copied into the backup folder (None: there was none)
    transactions: int  # in the restored ledger
    own_head: int  # this PC's newest receipt number in the backup
    township_acked: int  # what the township had acknowledged of this PC (0: standalone, or never synced)
    needs_resync: bool  # older than the township's acknowledgement: take the missing sales back now


def restore(
    settings: Settings, source: Path, now: datetime, *, allow_older: bool = False, at: Hook = _nothing
) -> Restored:
    """Put the backup ``source`` in place of the shop's ledger (the caller holds the POS lock and has
    closed its own handle on the ledger). Refused, with nothing changed, when the backup fails its checks,
    belongs to another shop or PC, or (unless ``allow_older``) is older than the township's acknowledgement."""
    if not source.is_file():
        raise LedgerError("restore_not_found", path=str(source))
    ledger = settings.ledger_path
    prepared = ledger.with_name("ledger-restoring.sqlite3")
    try:  # a copy on the internal disk: the stick may go, the original stays as it was
        online_backup(source, prepared)
    except LedgerError as unreadable:  # not a database, or cut short: SQLite cannot even copy it
        raise LedgerError("restore_backup_bad", detail=str(unreadable.params.get("detail", ""))) from unreadable
    at("copied")
    try:
        checked = _checked(prepared)
        current = _current_state(ledger)
        if current is not None and current[0] != checked[0]:
            raise LedgerError("restore_other_shop", backup=checked[0], shop=current[0])
        acked = current[1] if current is not None else 0
        older = checked[1] < acked
        if older and not allow_older:
            raise LedgerError("restore_older_than_township", head=checked[1], acked=acked)
    except BaseException:
        prepared.unlink(missing_ok=True)
        raise
    aside = None
    if ledger.exists():
        aside = online_backup(ledger, settings.backup_dir / f"replaced-{now:%Y%m%d-%H%M%S}.sqlite3")
        at("kept_aside")
        checkpoint(ledger)
        at("checkpointed")
    put_in_place(prepared, ledger)
    at("replaced")
    return Restored(source, aside, checked[2], checked[1], acked, older)


def _checked(path: Path) -> tuple[str, int, int]:
    """(``shop/device``, own head, transactions) of a prepared copy that passes SQLite's check and the audit."""
    problems = integrity_problems(path)
    if problems:
        raise LedgerError("restore_backup_bad", detail="; ".join(problems)[:200])
    store = open_ledger(path)  # an older version's backup is brought up to this version's tables here
    try:
        report = services.audit(store)
        if not report.ok:
            raise LedgerError("restore_backup_bad", detail=report.problems[0].detail[:200])
        with store.read() as unit:
            identity = unit.identity()
            head = unit.device_heads().get(identity.device_id, (0, ""))[0]
        return f"{identity.shop_id}/{identity.device_id}", head, report.transactions
    finally:
        store.close()
        for suffix in ("-wal", "-shm"):  # closed cleanly: nothing of them is left to lose
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def _current_state(ledger: Path) -> tuple[str, int] | None:
    """(``shop/device``, acknowledged by the township) of the ledger in place; None when there is none or it
    cannot be read (a damaged ledger is what a restore is for)."""
    if not ledger.exists():
        return None
    try:
        store = open_ledger(ledger, migrate=False)
    except Exception:  # a damaged file: restoring over it is the point
        return None
    try:
        with store.read() as unit:
            identity = unit.identity()
            return f"{identity.shop_id}/{identity.device_id}", int(unit.meta("acked_through") or 0)
    except Exception:  # unreadable tables: the same
        return None
    finally:
        store.close()
