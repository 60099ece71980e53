"""Reports on the command line: the day close, the ranking (红榜) and points liability, as text or JSON."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import datetime
from typing import Any

from ledger import integrity, reports, services
from ledger.messages import text
from lovemart.bootstrap import ShopParts
from lovemart.commands.devices import print_after_commit


def day_close(args: argparse.Namespace, home: ShopParts) -> int:
    day = args.date or datetime.now().astimezone().date()
    store = home.store()
    summary = reports.day_close(store, day)
    data: dict[str, Any] = dataclasses.asdict(summary)
    data["day"] = day.isoformat()
    data["net_points"] = summary.net_points
    data["net_items"] = summary.net_items
    data["donation_yuan"] = summary.donation_yuan
    recorded = None
    note = ""
    if args.close:
        txn = services.record_day_close(store, day.isoformat(), data, ctx=services.Context(services.ADMIN))
        recorded = txn.receipt_no
        data["printed"], note = print_after_commit(home, txn, args.out.lang)
        # The day's last act: the whole audit, run here and now (a shopkeeper at the command line waits for
        # the answer; seconds even on a busy year), recorded for doctor and as the start-up checkpoint.
        audited = integrity.full_audit(store)
        data["audit"] = {"ok": audited.ok, "problems": len(audited.problems), "transactions": audited.transactions}
    data["day_close_receipt_no"] = recorded
    lang = args.out.lang
    lines = [
        text("report.day_close.title", lang, day=day.isoformat(), shop_id=summary.shop_id),
        text(
            "report.day_close.redemptions",
            lang,
            redemptions=summary.redemptions,
            points=summary.points_redeemed,
            items=summary.items_redeemed,
        ),
        text("report.day_close.voids", lang, voids=summary.voids, points=summary.points_returned),
        text("report.day_close.net", lang, points=summary.net_points, items=summary.net_items),
        text(
            "report.day_close.donations",
            lang,
            donations=summary.donations,
            yuan=summary.donation_yuan,
            goods=summary.donated_goods,
        ),
        text(
            "report.day_close.stock",
            lang,
            stock_ins=summary.stock_ins,
            stock_in_qty=summary.stock_in_qty,
            write_offs=summary.write_offs,
            write_off_qty=summary.write_off_qty,
        ),
    ]
    lines += [
        "  " + text("report.day_close.item", lang, name=t.name, sku=t.sku, qty=t.qty, points=t.points)
        for t in summary.items
    ]
    lines += [
        "  "
        + text(
            "report.day_close.operator",
            lang,
            name=_operator_name(o, lang),
            transactions=o.transactions,
            points=o.points_redeemed,
        )
        for o in summary.operators
    ]
    if recorded:
        lines += [text("report.day_close.recorded", lang, receipt_no=recorded), note, _audit_words(data["audit"], lang)]
    args.out.result(data, lines)
    return 0


def _operator_name(tally: reports.OperatorTally, lang: str) -> str:
    """An operator's name as people typed it; the headless commands' administrator is one of our words."""
    if tally.operator_id == services.ADMIN.operator_id:
        return text("report.admin", lang)
    return tally.name


def _audit_words(audit: dict[str, Any], lang: str) -> str:
    if audit["ok"]:
        return text("report.audit_ok", lang, transactions=audit["transactions"])
    return text("report.audit_problems", lang, problems=audit["problems"])


def ranking(args: argparse.Namespace, home: ShopParts) -> int:
    rows = reports.ranking(home.store(), village_id=args.village, limit=args.limit)
    data = {"ranking": [dataclasses.asdict(r) for r in rows]}
    lines = [text("report.ranking.title", args.out.lang)]
    lines += [f"{r.rank:>3}  {r.household_id}  {r.name}  {r.earned_cycle}" for r in rows]
    args.out.result(data, lines)
    return 0


def liability(args: argparse.Namespace, home: ShopParts) -> int:
    figures = reports.liability(home.store())
    data = dataclasses.asdict(figures) | {
        "ratio": figures.ratio,
        "shortfall": figures.shortfall,
        "at_risk": figures.at_risk,
    }
    ratio = f"{figures.ratio:.2f}" if figures.ratio is not None else "-"
    lang = args.out.lang
    lines = [
        text(
            "report.liability.held",
            lang,
            households=figures.households,
            balance=figures.total_balance,
            redeemable=figures.total_redeemable,
        ),
        text("report.liability.stock", lang, stock_points=figures.stock_points, ratio=ratio),
    ]
    if figures.at_risk:
        lines.append(text("report.liability.at_risk", lang, shortfall=figures.shortfall))
    args.out.result(data, lines)
    return 0
