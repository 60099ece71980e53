"""The day close: the day's totals (``reports.day_close``), recorded in the chain and printed, then sync.

Recording the totals as a transaction (``services.record_day_close``) puts them into the hash chain, so a
later rewrite of the day shows against the printed slip the shopkeeper filed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from ledger import integrity, printing, reports, services
from ledger.audit import AuditReport
from ledger.messages import N_
from ledger.model import Transaction, TxnKind
from ledger.ports import BackupPort, LedgerStore
from pos.presenters.common import Clock, PrinterSlot, day_range, local_now, print_committed


@dataclass(frozen=True)
class DayCloseView:
    summary: reports.DayClose
    closed_already: tuple[str, ...]  # receipt numbers of earlier day closes of the same day

    def rows(self) -> list[tuple[str, str]]:
        """(message id, value) pairs for the totals table; the screen translates the ids."""
        s = self.summary
        return [
            (N_("pos.dc_redemptions"), str(s.redemptions)),
            (N_("pos.dc_points"), str(s.points_redeemed)),
            (N_("pos.dc_items"), str(s.items_redeemed)),
            (N_("pos.dc_voids"), str(s.voids)),
            (N_("pos.dc_returned"), str(s.points_returned)),
            (N_("pos.dc_net"), str(s.net_points)),
            (N_("pos.dc_donations"), str(s.donations)),
            (N_("pos.dc_money"), f"￥{s.donation_yuan}"),
            (N_("pos.dc_donated_goods"), str(s.donated_goods)),
            (N_("pos.dc_stock_in"), f"{s.stock_ins} / {s.stock_in_qty}"),
            (N_("pos.dc_write_off"), f"{s.write_offs} / {s.write_off_qty}"),
        ]


def totals_of(summary: reports.DayClose) -> dict[str, Any]:
    """The figures recorded in the ledger and printed on the slip (the same keys the command line records)."""
    data: dict[str, Any] = dataclasses.asdict(summary)
    data["day"] = summary.day.isoformat()
    data["net_points"] = summary.net_points
    data["net_items"] = summary.net_items
    data["donation_yuan"] = summary.donation_yuan
    return data


class DayClosePresenter:
    def __init__(
        self, store: LedgerStore, printer: PrinterSlot, clock: Clock = local_now, backups: BackupPort | None = None
    ) -> None:
        self.store = store
        self.printer = printer
        self.clock = clock
        self.backups = backups

    def today(self) -> dt.date:
        return self.clock().date()

    def view(self, day: dt.date | None = None) -> DayCloseView:
        """The totals of ``day`` (today by default). Reads the whole day: call it off the UI thread."""
        day = day or self.today()
        summary = reports.day_close(self.store, day)
        since, until = day_range(day)
        closed = []
        with self.store.read() as unit:
            for txn in unit.transactions(frozenset({TxnKind.DAY_CLOSE}), since=since, until=until):
                if f'"day": "{day.isoformat()}"' in txn.memo:
                    closed.append(txn.receipt_no)
        return DayCloseView(summary, tuple(closed))

    def close(self, view: DayCloseView, ctx: services.Context) -> Transaction:
        """Record the totals shown (not recomputed: what the shopkeeper confirmed is what is recorded)."""
        summary = view.summary
        return services.record_day_close(self.store, summary.day.isoformat(), totals_of(summary), ctx)

    def audit(self) -> AuditReport:
        """The whole audit after the day is closed (seconds on a busy year: call it off the UI thread). Its
        result is recorded for doctor; a pass is the checkpoint of tomorrow's start-up check, a failure stops
        selling until the township has looked (``ledger.integrity``)."""
        return integrity.full_audit(self.store, self.clock)

    def back_up(self) -> str | None:
        """A copy of the ledger after the day close (after its audit passed: a ledger that fails it is kept
        as evidence, not rotated into the backups). None when this till has no backups wired."""
        return self.backups.back_up() if self.backups is not None else None

    def back_up_if_due(self) -> str | None:
        """The daily copy, for a till that runs for days without a day close (the app asks every hour)."""
        return self.backups.back_up_if_due() if self.backups is not None else None

    def print_receipt(self, txn_id: str) -> printing.PrintOutcome:
        return print_committed(self.store, txn_id, self.printer, self.clock)
