"""``lovemart doctor``: is this shop PC ready to sell? The ledger, the printer, the scanner, the township's
server and the clock, each checked without changing anything, in words a technician on the phone can read out.

Each check says ``ok``, ``warn`` (works, but someone should look: receipts waiting, no township server set)
or ``fail`` (selling, printing or syncing will not work until it is fixed). Exit status 1 when any check
fails, so a script (or the systemd unit) can act on it.
"""

from __future__ import annotations

import argparse
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ledger.errors import DeviceFault, LedgerError
from ledger.messages import Listing, Message, Spoken
from lovemart.bootstrap import ShopParts

if TYPE_CHECKING:
    from ledger.model import Transaction
    from lovemart.commands import AddCommand, Subcommands

CLOCK_SKEW = timedelta(minutes=5)  # more than this from the township's clock: receipts carry a wrong time
SERVER_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str  # ledger | printer | scanner | camera | server | clock | permissions | chain | audit | balances
    status: str  # ok | warn | fail
    said: Spoken  # a Message, or the refusal or fault that made the check fail

    def words(self, lang: str) -> str:
        return self.said.message(lang)


class LedgerFacts(TypedDict):
    """What ``check_ledger`` read for the checks after it."""

    pending_receipts: int
    last: Transaction | None


def _refused(name: str, error: LedgerError | DeviceFault) -> Check:
    return Check(name, "fail", error)


def check_ledger(home: ShopParts) -> tuple[Check, LedgerFacts | None]:
    """The ledger opens (settings, migrations, integrity as ``open_ledger`` checks them); who this PC is."""
    if not home.exists:
        return (
            Check("ledger", "fail", Message("doctor.no_ledger", home=str(home.home))),
            None,
        )
    try:
        store = home.store()
        with store.read() as unit:
            identity = unit.identity()
            pending = len(unit.print_jobs(status="pending"))
            last = unit.last_own_transaction()
    except LedgerError as error:
        return _refused("ledger", error), None
    seq = last.seq if last else 0
    check = Check(
        "ledger",
        "ok",
        Message("doctor.ledger_ok", shop_id=identity.shop_id, device_id=identity.device_id, seq=seq),
    )
    facts: LedgerFacts = {"pending_receipts": pending, "last": last}
    return check, facts


def check_printer(home: ShopParts, pending: int) -> Check:
    if home.settings.printer.connection is None:
        return Check("printer", "warn", Message("doctor.no_printer"))
    try:
        printer = home.printer()
        printer.check()
    except DeviceFault as fault:
        device = fault.params.get("device")
        if device:  # the doctor is read by whoever fixes it: the printer's address too
            return Check("printer", "fail", Message("doctor.device_fault", problem=fault, device=device))
        return _refused("printer", fault)
    if pending:
        return Check("printer", "warn", Message("doctor.printer_pending", where=printer.where, pending=pending))
    return Check("printer", "ok", Message("doctor.printer_ok", where=printer.where))


def check_scanner(home: ShopParts) -> list[Check]:
    """The decoder can be loaded; the camera, when one is set, opens. A USB scanner needs no check: it types."""
    # OpenCV's own warnings ("can't open camera by index") would interleave with ours on the terminal.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    name = home.settings.scanner.decoder
    checks = []
    try:
        from hardware.decode import make_decoder

        make_decoder(name)
        checks.append(Check("scanner", "ok", Message("doctor.scanner_ok", decoder=name)))
    except DeviceFault as fault:
        checks.append(_refused("scanner", fault))
    device = home.settings.scanner.camera
    if device is None:
        checks.append(Check("camera", "ok", Message("doctor.no_camera")))
        return checks
    from hardware.camera import open_video_capture

    capture = open_video_capture(device)
    try:
        opened = bool(capture.isOpened())
    finally:
        capture.release()
    if opened:
        checks.append(Check("camera", "ok", Message("doctor.camera_ok", device=device)))
    else:
        checks.append(Check("camera", "warn", Message("doctor.camera_closed", device=device)))
    return checks


def check_server_and_clock(home: ShopParts, last: Transaction | None) -> list[Check]:
    """The township's server answers this PC's token; this PC's clock agrees with it and runs forward."""
    from ledger.services import local_now
    from lovemart.sync_wiring import is_provisioned, read_device_token, server_url

    now = local_now()
    checks: list[Check] = []
    server_time: datetime | None = None
    if home.exists and is_provisioned(home.settings, home.store):
        from sync.errors import SyncError
        from sync.http import Http, RemoteRefusal, Unreachable
        from sync.protocol import StatusReply

        url = server_url(home.settings, home.store) or ""
        token = read_device_token(home.home)
        try:
            # The one HTTP client: the same transport check, timeout and error envelope as a sync.
            with Http(url, token, None, SERVER_TIMEOUT_S, allow_plain_http=home.settings.sync.allow_plain_http) as http:
                status = http.fetch(StatusReply, "GET", "/v1/status")
        except Unreachable as exc:
            detail = exc.params.get("detail", "")
            checks.append(Check("server", "fail", Message("doctor.server_unreachable", url=url, detail=detail)))
        except RemoteRefusal as refusal:
            if refusal.http_status == 401:
                checks.append(Check("server", "fail", Message("doctor.server_refuses_token")))
            else:
                checks.append(Check("server", "fail", Message("doctor.server_failed", status=refusal.http_status)))
        except SyncError as error:  # plain http:// refused, an address that is no URL, a reply that is not ours
            checks.append(Check("server", "fail", error))
        else:
            acked = status.acked_through
            checks.append(Check("server", "ok", Message("doctor.server_ok", url=url, acked=acked)))
            try:
                server_time = datetime.fromisoformat(status.server_time)
            except ValueError:
                server_time = None
    else:
        checks.append(Check("server", "warn", Message("doctor.standalone")))
    checks.append(check_clock(now, server_time, last))
    return checks


def check_clock(now: datetime, server_time: datetime | None, last: Transaction | None) -> Check:
    if server_time is not None and server_time.tzinfo is not None and abs(now - server_time) > CLOCK_SKEW:
        minutes = round((now - server_time).total_seconds() / 60)
        return Check("clock", "fail", Message("doctor.clock_off_server", minutes=minutes))
    if last is not None:
        try:
            newest = datetime.fromisoformat(last.created_at)
        except ValueError:
            newest = None
        if newest is not None and newest.tzinfo is not None and newest - now > CLOCK_SKEW:
            return Check("clock", "fail", Message("doctor.clock_behind_ledger", last=last.created_at[:16]))
    return Check("clock", "ok", Message("doctor.clock_ok", now=f"{now:%Y-%m-%d %H:%M}"))


PRIVATE_FILES = ("device-token", "bundle-key", "kiosk-token", "lovemart-error.log", "central.sqlite3")


def wide_permissions(home: ShopParts) -> list[tuple[Path, int]]:
    """The shop's folder and secret-holding files that other users of this PC can read or write
    (``lovemart.toml`` only when it holds the kiosk's PIN hash: otherwise it holds nothing secret)."""
    ledger = home.settings.ledger_path
    paths = [home.home, ledger] + [Path(str(ledger) + s) for s in ("-wal", "-shm")]
    paths += [home.home / name for name in PRIVATE_FILES]
    if home.settings.kiosk.manager_pin:
        paths.append(home.settings.config_path)
    wide = []
    for path in dict.fromkeys(paths):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            wide.append((path, mode))
    return wide


def check_permissions(home: ShopParts, before: list[tuple[Path, int]]) -> Check:
    """Only this user can read the shop's folder and ledger (it holds the township's passbook key: whoever
    reads it can forge passbooks). ``before`` is what was wide before the ledger was opened, since opening
    tightens what it can; what was wide for a while may have been copied, so it is still said."""
    after = wide_permissions(home)
    still = {path for path, _ in after}
    tightened = [(path, mode) for path, mode in before if path not in still]
    if not after and not tightened:
        return Check("permissions", "ok", Message("doctor.permissions_ok"))

    def listed(items: list[tuple[Path, int]]) -> Listing:
        return Listing.of(Message("doctor.path_mode", path=str(path), mode=f"{mode:04o}") for path, mode in items)

    wide: Message | None = None
    if after:
        folders = " ".join(str(p) for p, _ in after if p.is_dir())
        files = " ".join(str(p) for p, _ in after if not p.is_dir())
        fix = "; ".join(
            x for x in (f"chmod 700 {folders}" if folders else "", f"chmod 600 {files}" if files else "") if x
        )
        wide = Message("doctor.permissions_wide", paths=listed(after), fix=fix)
    if not tightened:
        return Check("permissions", "warn", wide or Message("doctor.permissions_ok"))
    was_wide = Message("doctor.permissions_tightened", paths=listed(tightened))
    if wide is None:
        return Check("permissions", "warn", was_wide)
    return Check("permissions", "warn", Message("doctor.permissions_both", wide=wide, tightened=was_wide))


AUDIT_STALE = timedelta(days=3)  # the day close audits the ledger; older than this, someone skipped closing


def _age(when: str, now: datetime) -> tuple[Message | str, timedelta | None]:
    """How long ago ``when`` was, in words, and as a span (None when unreadable: then ``when`` itself)."""
    try:
        then = datetime.fromisoformat(when)
        span = now - then if then.tzinfo is not None else None
    except ValueError:
        span = None
    if span is None:
        return when, None
    hours = max(0, int(span.total_seconds() // 3600))
    if hours < 1:
        return Message("doctor.age.under_an_hour"), span
    if hours < 48:
        return Message("doctor.age.hours", hours=hours), span
    return Message("doctor.age.days", days=hours // 24), span


def check_tampering(home: ShopParts) -> list[Check]:
    """Issue 11 §4, as the till sees it: the start-up chain check (run here, read-only), the last full audit
    (age and result) and whether any household's cached balance differs from its postings."""
    from ledger import integrity
    from ledger.services import local_now

    store = home.store()
    try:
        chain = integrity.check_chain(store)
        with store.read() as unit:
            stop = integrity.stopped(unit)
            last = integrity.last_audit(unit)
        drift = integrity.balance_drift(store)
    except LedgerError as error:
        return [_refused("chain", error)]
    checks = []
    if not chain.ok or stop is not None:
        detail = chain.problems[0].detail if chain.problems else stop.first if stop else ""
        more = len(chain.problems) - 1
        if more > 0:
            detail += f" (+{more})"
        checks.append(_refused("chain", LedgerError("ledger_tampered", detail=detail)))
    else:
        since = Message("doctor.chain.from_start")
        if chain.checkpoint is not None:
            since = Message("doctor.chain.since_checkpoint", at=chain.checkpoint.at[:16])
        elapsed = f"{chain.elapsed_ms:.0f}"
        checks.append(Check("chain", "ok", Message("doctor.chain_ok", since=since, checked=chain.checked, ms=elapsed)))
    now = local_now()
    if last is None:
        checks.append(Check("audit", "warn", Message("doctor.never_audited")))
    else:
        ago, span = _age(last.at, now)
        if not last.ok:
            checks.append(Check("audit", "fail", Message("doctor.audit_failed", ago=ago, problems=last.problems)))
        else:
            stale = span is not None and span > AUDIT_STALE
            said = Message(
                "doctor.audit_stale" if stale else "doctor.audit_ok", ago=ago, transactions=last.transactions
            )
            checks.append(Check("audit", "warn" if stale else "ok", said))
    if drift:
        households = Listing.of(p.detail.split(":")[0].removeprefix("balance of household ") for p in drift[:5])
        said = Message("doctor.balances_drift", count=len(drift), households=households)
        checks.append(Check("balances", "fail", said))
    else:
        checks.append(Check("balances", "ok", Message("doctor.balances_ok")))
    return checks


def check_backup(home: ShopParts, now: datetime) -> Check:
    """The age of the newest backup in ``backups/``: a warning after two days (the POS makes one a day)."""
    from ledger.backups import WARN_AFTER
    from lovemart.backups import last_backup

    last = last_backup(home.settings)
    if last is None:
        return Check("backup", "warn", Message("doctor.no_backup", folder=str(home.settings.backup_dir)))
    ago, span = _age(last.taken_at.astimezone().isoformat(), now)
    if span is not None and span > WARN_AFTER:
        return Check("backup", "warn", Message("doctor.backup_old", ago=ago, name=last.name))
    return Check("backup", "ok", Message("doctor.backup_ok", ago=ago, name=last.name))


def check_settings(home: ShopParts) -> list[Check]:
    """Keys of lovemart.toml this version does not know (a typo, or a newer version's): not used, so said.
    Wrong values never get here: the settings are refused before any command runs."""
    unknown = home.settings.unknown_report()
    return [] if unknown is None else [Check("settings", "warn", unknown)]


def cmd_doctor(args: argparse.Namespace, home: ShopParts) -> int:
    permissions_before = wide_permissions(home)  # opening the ledger below tightens them
    ledger, facts = check_ledger(home)
    checks = [ledger, *check_settings(home)]
    checks.append(check_printer(home, facts["pending_receipts"] if facts else 0))
    checks += check_scanner(home)
    checks += check_server_and_clock(home, facts["last"] if facts else None)
    checks.append(check_permissions(home, permissions_before))
    checks += check_tampering(home) if facts else []
    checks += [check_backup(home, home.clock())] if facts else []
    lang = args.out.lang
    mark = {"ok": "✓", "warn": "!", "fail": "✗"}
    ok = all(c.status != "fail" for c in checks)
    args.out.result(
        {
            "ok": ok,
            "checks": [{"name": c.name, "status": c.status, "message": c.words(lang)} for c in checks],
        },
        [f"{mark[c.status]} {c.words(lang)}" for c in checks],
    )
    return 0 if ok else 1


def register(commands: Subcommands, add: AddCommand) -> None:
    add(
        commands,
        "doctor",
        cmd_doctor,
        "check the ledger, printer, scanner, township server and clock, and whether the ledger was altered "
        "(hash chain since the last audit, the last audit, balances against postings)",
    )
