"""Reports on the command line: the day close, the ranking (红榜) and points liability, as text or JSON."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import datetime
from typing import Any

from ledger import integrity, reports, services
from lovemart.commands.devices import print_after_commit
from lovemart.wiring import ShopHome


def _zh(lang: str) -> bool:
    return lang.startswith("zh")


def day_close(args: argparse.Namespace, home: ShopHome) -> int:
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
    zh = _zh(args.out.lang)
    if zh:
        text = [
            f"日结 {day.isoformat()}（{summary.shop_id}）",
            f"兑换 {summary.redemptions} 笔，{summary.points_redeemed} 分，{summary.items_redeemed} 件",
            f"作废 {summary.voids} 笔，退回 {summary.points_returned} 分",
            f"净兑换 {summary.net_points} 分，{summary.net_items} 件",
            f"捐赠 {summary.donations} 笔，现金 ￥{summary.donation_yuan}，物品 {summary.donated_goods} 件",
            f"入库 {summary.stock_ins} 笔，{summary.stock_in_qty} 件；"
            f"报损 {summary.write_offs} 笔，{summary.write_off_qty} 件",
        ]
        text += [f"  {t.name}（{t.sku}）×{t.qty}  {t.points} 分" for t in summary.items]
        text += [f"  操作员 {o.name}：{o.transactions} 笔，兑换 {o.points_redeemed} 分" for o in summary.operators]
        if recorded:
            text += [f"日结已记账，单号 {recorded}", note, _audit_words(data["audit"], True)]
    else:
        text = [
            f"Day close {day.isoformat()} ({summary.shop_id})",
            f"Redemptions {summary.redemptions}: {summary.points_redeemed} points, {summary.items_redeemed} items",
            f"Voids {summary.voids}: {summary.points_returned} points returned",
            f"Net {summary.net_points} points, {summary.net_items} items",
            f"Donations {summary.donations}: {summary.donation_yuan} yuan, {summary.donated_goods} goods",
            f"Stock-ins {summary.stock_ins} ({summary.stock_in_qty}); write-offs {summary.write_offs}",
        ]
        text += [f"  {t.name} ({t.sku}) x{t.qty}  {t.points} points" for t in summary.items]
        if recorded:
            text += [f"Day closed: {recorded}", note, _audit_words(data["audit"], False)]
    args.out.result(data, text)
    return 0


def _audit_words(audit: dict[str, Any], zh: bool) -> str:
    if audit["ok"]:
        n = audit["transactions"]
        return f"账本核对无误（{n} 笔）。" if zh else f"Ledger audited: {n} transactions, all agree."
    count = audit["problems"]
    if zh:
        return f"账本核对发现 {count} 个问题：请停止兑换，打电话给乡镇（lovemart audit verify 列出问题）。"
    return f"The audit found {count} problems: stop selling and call the township (lovemart audit verify lists them)."


def ranking(args: argparse.Namespace, home: ShopHome) -> int:
    rows = reports.ranking(home.store(), village_id=args.village, limit=args.limit)
    data = {"ranking": [dataclasses.asdict(r) for r in rows]}
    zh = _zh(args.out.lang)
    text = ["红榜（本年获得积分）" if zh else "Ranking (points earned this cycle)"]
    text += [f"{r.rank:>3}  {r.household_id}  {r.name}  {r.earned_cycle}" for r in rows]
    args.out.result(data, text)
    return 0


def liability(args: argparse.Namespace, home: ShopHome) -> int:
    figures = reports.liability(home.store())
    data = dataclasses.asdict(figures) | {
        "ratio": figures.ratio,
        "shortfall": figures.shortfall,
        "at_risk": figures.at_risk,
    }
    ratio = f"{figures.ratio:.2f}" if figures.ratio is not None else "-"
    if _zh(args.out.lang):
        text = [
            f"{figures.households} 户积分余额合计 {figures.total_balance}，可兑换 {figures.total_redeemable}",
            f"库存商品折合 {figures.stock_points} 分（可兑换/库存 = {ratio}）",
        ]
        if figures.at_risk:
            text.append(f"注意：可兑换积分比库存多 {figures.shortfall} 分，请及时补货。")
    else:
        text = [
            f"{figures.households} households hold {figures.total_balance} points, "
            f"{figures.total_redeemable} redeemable",
            f"Stock is worth {figures.stock_points} points (redeemable/stock = {ratio})",
        ]
        if figures.at_risk:
            text.append(f"Warning: {figures.shortfall} more points redeemable than stock; restock.")
    args.out.result(data, text)
    return 0
