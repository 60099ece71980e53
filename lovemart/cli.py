"""The ``lovemart`` command: operators, scripts and tests drive a shop through it (DESIGN.md §10).

Exit status: 0 done, 1 refused (the reason on stderr in the shopkeeper's language, or as
``{"error": {"code", "message"}}`` with ``--json``), 2 bad usage. Headless commands act as the
shop's administrator and are recorded as such.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import services
from ledger.errors import DeviceFault, LedgerError
from ledger.messages import N_, pick_language, text
from ledger.model import BalanceView, Item, Role, Transaction
from ledger.passbook import make_code
from lovemart import redact
from lovemart.bootstrap import ShopParts, shop_parts
from lovemart.commands import apps, backup_cmd, central, devices, doctor, init_cmd, register_cmd, sync_cmd
from lovemart.commands.devices import print_after_commit
from lovemart.settings import default_home
from lovemart.wiring import local_fault

if TYPE_CHECKING:
    from lovemart.commands import Subcommands

Handler = Callable[[argparse.Namespace, ShopParts], int]
# Headless commands act as the shop's administrator, recorded under its one name (DESIGN §10).
ADMIN_CTX = services.Context(services.ADMIN)


def acting(args: argparse.Namespace, home: ShopParts) -> services.Context:
    """Who a command records: the shop's administrator (管理员: whoever can run commands can read the ledger
    file anyway), or with ``--operator NO`` that person, once their PIN (asked, never an argument) is right."""
    number = getattr(args, "operator", None)
    if not number:
        return ADMIN_CTX
    from lovemart.commands.apps import ask_secret

    pin = ask_secret(text("cli.operator_pin", args.out.lang, operator=number))
    return services.Context(services.login(home.store(), number.strip(), pin))


def operator_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--operator",
        metavar="NO",
        default=None,
        help="record this operator instead of 管理员 (their PIN is asked for)",
    )


# Every log record of this process is redacted (tokens, PINs, keys), and so are those of the server's worker
# processes: uvicorn starts them with multiprocessing's "spawn", which imports the `lovemart` script, and
# with it this module, again.
redact.install()


class Output:
    """Writes results as text for people or one JSON object for scripts."""

    def __init__(self, as_json: bool, lang: str) -> None:
        self.as_json = as_json
        self.lang = lang

    def result(self, data: dict[str, Any], text: str | Sequence[str]) -> None:
        if self.as_json:
            print(json.dumps(data, ensure_ascii=False, sort_keys=False))
        else:
            print(text if isinstance(text, str) else "\n".join(text))

    def refusal(self, error: LedgerError | DeviceFault) -> None:
        message = error.message(self.lang)
        if self.as_json:
            print(json.dumps({"error": {"code": error.code, "message": message}}, ensure_ascii=False))
        print(message, file=sys.stderr)


# ----- argument parsing helpers ------------------------------------------------------------------


def parse_goods(pairs: Sequence[str]) -> list[tuple[str, int]]:
    """``SKU=QTY`` words into (sku, qty). A bare SKU is refused (a slip, not "one"), and so are fractions
    and words, naming what was typed: the allowed range depends on the command and is said by it."""
    goods = []
    for pair in pairs:
        sku, sep, qty_text = pair.partition("=")
        sku = sku.strip().upper()
        if not sep or not sku:
            raise LedgerError("goods_without_quantity", typed=pair)
        try:
            qty = int(qty_text.strip())
        except ValueError:
            raise LedgerError("quantity_not_whole", typed=pair) from None
        goods.append((sku, qty))
    return goods


def parse_yuan(text: str) -> int:
    """'500', '500.5' or '500.50' yuan into integer fen; anything else is refused."""
    try:
        value = Decimal(text.strip().lstrip("￥¥"))
    except InvalidOperation:
        raise LedgerError("bad_amount", value=text) from None
    fen = value * 100
    if value <= 0 or fen != fen.to_integral_value() or fen > 10**12:
        raise LedgerError("bad_amount", value=text)
    return int(fen)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def parse_day(text: str | None) -> date:
    if not text:
        return datetime.now().astimezone().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from None


# ----- households and balances --------------------------------------------------------------------


def cmd_households_list(args: argparse.Namespace, home: ShopParts) -> int:
    store = home.store()
    with store.read() as unit:
        key = unit.township().passbook_key
        policy = unit.policy()
        rows = []
        for row in unit.households():
            h = row.household
            rows.append(
                {
                    "household_id": h.household_id,
                    "name": h.head_name,
                    "passbook": make_code(key, h.household_id, row.card_no) if row.card_no else None,
                    "balance": row.balance,
                    "redeemable": services.redeemable_points(unit, h, row.balance, policy),
                    "earned_cycle": row.earned_cycle,
                    "status": str(h.status),
                    "village_id": h.village_id,
                    "members": [m.name for m in h.members],
                }
            )
    out: Output = args.out
    lines = [text("cli.households.header", out.lang)]
    for r in rows:
        status = text(STATUS_WORDS[r["status"]], out.lang) if r["status"] in STATUS_WORDS else r["status"]
        lines.append(
            f"{r['household_id']:<8}\t{r['name']:<6}\t{r['balance']}\t{r['redeemable']}\t{r['earned_cycle']}\t"
            f"{status}\t{r['passbook']}"
        )
    out.result({"households": rows}, lines)
    return 0


STATUS_WORDS = {"active": N_("cli.households.active"), "frozen": N_("cli.households.frozen")}


def balance_json(view: BalanceView) -> dict[str, Any]:
    h = view.household
    return {
        "household_id": h.household_id,
        "name": h.head_name,
        "balance": view.balance,
        "redeemable": view.redeemable,
        "earned_cycle": view.earned_cycle,
        "status": view.status,
        "last_synced": view.last_synced,
        "card_no": view.card_no,
        "members": [{"name": m.name, "relation": m.relation} for m in h.members],
    }


def cmd_balance(args: argparse.Namespace, home: ShopParts) -> int:
    """A passbook code, or (for the shopkeeper on the phone with a villager) a household number. Redeeming
    always needs the passbook: a number alone proves nothing about who is at the counter."""
    given = args.code.strip()
    if re.fullmatch(r"[A-Za-z]*[0-9]+", given):  # XF0002: a household number, not a mistyped code
        view = services.balance_for_household(home.store(), given.upper())
    else:
        view = services.balance_for_code(home.store(), given)
    lang = args.out.lang
    synced = view.last_synced or text("cli.balance.not_synced", lang)
    lines = [
        text("cli.balance.household", lang, name=view.household.head_name, household_id=view.household.household_id),
        text("cli.balance.redeemable", lang, redeemable=view.redeemable),
        text("cli.balance.balance", lang, balance=view.balance),
        text("cli.balance.earned", lang, earned=view.earned_cycle),
        text("cli.balance.as_of", lang, synced=synced),
    ]
    if view.status != "active":
        lines.append(text("cli.balance.frozen", lang))
    args.out.result(balance_json(view), lines)
    return 0


# ----- redemption and void -------------------------------------------------------------------------


def refuse_if_chain_broken(home: ShopParts) -> None:
    """The start-up check of a till (``ledger.integrity``): this command starts like one before it sells."""
    from ledger import integrity

    result = integrity.check_at_start(home.store())
    if not result.ok:
        raise LedgerError("ledger_tampered", detail=result.problems[0].detail)


def cmd_redeem(args: argparse.Namespace, home: ShopParts) -> int:
    goods = parse_goods(args.goods)
    with home.pos_lock():
        refuse_if_chain_broken(home)
        receipt = services.redeem(home.store(), args.code, goods, ctx=acting(args, home))
    txn = receipt.transaction
    points = -txn.household_points
    lang = args.out.lang
    lines = [text("cli.redeem.done", lang, receipt_no=txn.receipt_no)]
    with home.store().read() as unit:
        for line in txn.lines:
            item = unit.item(line.sku)
            name = item.name if item else line.sku
            qty, points_each = -line.qty, line.points_each
            lines.append("  " + text("cli.redeem.line", lang, name=name, qty=qty, points=qty * points_each))
    lines += [
        text("cli.redeem.total", lang, points=points, redeemable=receipt.redeemable_after),
        text("cli.redeem.check", lang, hash8=txn.hash[:8]),
    ]
    printed, note = print_after_commit(home, txn, lang)
    lines.append(note)
    args.out.result(
        {
            "receipt_no": txn.receipt_no,
            "household_id": txn.household_id,
            "points": points,
            "balance_after": receipt.balance_after,
            "redeemable_after": receipt.redeemable_after,
            "printed": printed,
            "txn_id": txn.txn_id,
            "hash8": txn.hash[:8],
        },
        lines,
    )
    return 0


def cmd_void(args: argparse.Namespace, home: ShopParts) -> int:
    with home.pos_lock():
        receipt = services.void(home.store(), args.receipt_no, args.reason, ctx=acting(args, home))
    txn = receipt.transaction
    returned = txn.household_points
    with home.store().read() as unit:
        original = unit.transaction(txn.ref_txn_id or "")
    voided = original.receipt_no if original else ""
    lang = args.out.lang
    printed, note = print_after_commit(home, txn, lang)
    args.out.result(
        {
            "receipt_no": txn.receipt_no,
            "voids": voided,
            "points_returned": returned,
            "txn_id": txn.txn_id,
            "printed": printed,
        },
        [text("cli.void.done", lang, voided=voided, receipt_no=txn.receipt_no, points=returned), note],
    )
    return 0


# ----- stock and items -----------------------------------------------------------------------------


def cmd_stock_list(args: argparse.Namespace, home: ShopParts) -> int:
    with home.store().read() as unit:
        levels = unit.stock_levels()
        items = [
            {
                "sku": i.sku,
                "name": i.name,
                "unit": i.unit,
                "points": i.points,
                "on_hand": levels.get(i.sku, 0),
                "category": i.category,
                "barcode": i.barcode,
                "active": i.active,
            }
            for i in unit.items()
        ]
    if args.low is not None:
        items = [i for i in items if i["on_hand"] <= args.low]
    lines = [text("cli.stock.header", args.out.lang)]
    lines += [f"{i['sku']:<10}\t{i['name']:<12}\t{i['unit']}\t{i['points']}\t{i['on_hand']}" for i in items]
    args.out.result({"items": items}, lines)
    return 0


def _txn_json(txn: Transaction) -> dict[str, Any]:
    return {
        "receipt_no": txn.receipt_no,
        "txn_id": txn.txn_id,
        "kind": str(txn.kind),
        "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in txn.lines],
    }


def cmd_stock_in(args: argparse.Namespace, home: ShopParts) -> int:
    cost = parse_yuan(args.cost) if args.cost else 0
    txn = services.stock_intake(
        home.store(), parse_goods(args.goods), supplier=args.supplier or "", cost_fen=cost, ctx=acting(args, home)
    )
    printed, note = print_after_commit(home, txn, args.out.lang)
    args.out.result(
        _txn_json(txn) | {"printed": printed},
        [text("cli.stock.in_done", args.out.lang, receipt_no=txn.receipt_no), note],
    )
    return 0


def cmd_stock_count(args: argparse.Namespace, home: ShopParts) -> int:
    counted = dict(parse_goods(args.goods))
    if args.dry_run:
        differences = services.preview_count(home.store(), counted)
        receipt_no = None
    else:
        txn, differences = services.stock_count(home.store(), counted, ctx=acting(args, home))
        receipt_no = txn.receipt_no
    rows = [
        {"sku": d.sku, "name": d.name, "expected": d.expected, "counted": d.counted, "difference": d.difference}
        for d in differences
    ]
    lang = args.out.lang
    lines = [
        f"{r['sku']:<10}\t{r['name']:<12}\t"
        + text("cli.stock.count_line", lang, expected=r["expected"], counted=r["counted"], difference=r["difference"])
        for r in rows
    ]
    if receipt_no:
        lines.append(text("cli.stock.count_done", lang, receipt_no=receipt_no))
    args.out.result({"receipt_no": receipt_no, "differences": rows}, lines)
    return 0


def cmd_stock_writeoff(args: argparse.Namespace, home: ShopParts) -> int:
    goods = parse_goods(args.goods)
    with home.store().write():
        txns = [services.write_off(home.store(), sku, qty, args.reason, ctx=acting(args, home)) for sku, qty in goods]
    args.out.result(
        {"receipts": [t.receipt_no for t in txns]},
        text("cli.stock.written_off", args.out.lang, receipts=", ".join(t.receipt_no for t in txns)),
    )
    return 0


def cmd_items_add(args: argparse.Namespace, home: ShopParts) -> int:
    """A new item; an SKU in use is refused (changing an item silently would change what a price means)."""
    sku = args.sku.strip().upper()
    with home.store().read() as unit:
        existing = unit.item(sku)
    if existing is not None:
        raise LedgerError("item_exists", sku=sku, name=existing.name)
    item = services.add_item(
        home.store(), Item(sku, args.name, args.unit, args.points, args.barcode, args.category or "")
    )
    args.out.result({"sku": item.sku}, text("cli.items.added", args.out.lang, sku=item.sku))
    return 0


def _existing_item(typed: str, home: ShopParts) -> Item:
    """The item an SKU typed in any case names (" soap" is SOAP), or ``unknown_sku``."""
    sku = typed.strip().upper()
    with home.store().read() as unit:
        item = unit.item(sku)
    if item is None:
        raise LedgerError("unknown_sku", sku=sku)
    return item


def cmd_items_edit(args: argparse.Namespace, home: ShopParts) -> int:
    """Change what was given of an item: its name, unit, points price, barcode, category, or take it off sale."""
    existing = _existing_item(args.sku, home)
    changes: dict[str, object] = {
        name: value
        for name, value in (
            ("name", args.name),
            ("unit", args.unit),
            ("points", args.points),
            ("barcode", args.barcode),
            ("category", args.category),
        )
        if value is not None
    }
    if args.off_sale or args.on_sale:
        changes["active"] = bool(args.on_sale)
    item = services.add_item(home.store(), dataclasses.replace(existing, **changes))  # type: ignore[arg-type]
    args.out.result(
        {"sku": item.sku, "points": item.points, "active": item.active},
        text("cli.items.changed", args.out.lang, sku=item.sku, name=item.name),
    )
    return 0


def cmd_items_picture(args: argparse.Namespace, home: ShopParts) -> int:
    """Put a photo on an item's tile (made small and square once), or take it off with ``--remove``."""
    item = _existing_item(args.sku, home)
    sku = item.sku
    lang = args.out.lang
    if args.remove:
        removed = home.pictures.remove(sku)
        key = N_("cli.items.picture_removed") if removed else N_("cli.items.picture_none")
        args.out.result({"sku": sku, "picture": None, "removed": removed}, text(key, lang, sku=sku, name=item.name))
        return 0
    if args.file is None:
        raise LedgerError("picture_file_needed", sku=sku)
    path = home.pictures.put(sku, Path(args.file))
    args.out.result(
        {"sku": sku, "picture": str(path)}, text("cli.items.picture_put", lang, sku=sku, name=item.name, path=path)
    )
    return 0


# ----- donations ---------------------------------------------------------------------------------


def cmd_donations_add(args: argparse.Namespace, home: ShopParts) -> int:
    amount = parse_yuan(args.amount) if args.amount else 0
    txn = services.record_donation(
        home.store(),
        args.donor,
        amount_fen=amount,
        goods=parse_goods(args.goods),
        memo=args.memo or "",
        ctx=acting(args, home),
    )
    printed, note = print_after_commit(home, txn, args.out.lang)
    data = _txn_json(txn) | {"donor": txn.party, "amount_fen": amount, "printed": printed}
    args.out.result(
        data,
        [text("cli.donations.recorded", args.out.lang, receipt_no=txn.receipt_no), note],
    )
    return 0


def cmd_donations_list(args: argparse.Namespace, home: ShopParts) -> int:
    from ledger.model import FEN, TxnKind

    with home.store().read() as unit:
        txns = list(unit.transactions(kinds=frozenset({TxnKind.DONATION})))
    rows: list[dict[str, Any]] = []
    for t in txns:
        fen = sum(p.amount for p in t.postings if p.unit == FEN and p.amount > 0)
        rows.append(
            {
                "receipt_no": t.receipt_no,
                "at": t.created_at,
                "donor": t.party,
                "amount_fen": fen,
                "goods": [{"sku": ln.sku, "qty": ln.qty} for ln in t.lines],
            }
        )
    lines = []
    for r in rows:
        amount = text("cli.donations.amount", args.out.lang, yuan=yuan(r["amount_fen"]))
        goods = ", ".join(f"{g['sku']}×{g['qty']}" for g in r["goods"])
        lines.append(f"{r['receipt_no']}\t{r['at'][:10]}\t{r['donor']}\t{amount}\t{goods}")
    args.out.result({"donations": rows}, lines)
    return 0


# ----- points from the committee ----------------------------------------------------------------


def cmd_points_award(args: argparse.Namespace, home: ShopParts) -> int:
    household_id, ctx = args.household_id.upper(), acting(args, home)
    if args.kind == "award":
        txn = services.award(home.store(), household_id, args.points, args.reason, ctx)
    else:
        allow = bool(getattr(args, "allow_negative", False))
        txn = services.deduct(home.store(), household_id, args.points, args.reason, ctx, allow_negative=allow)
    args.out.result(
        _txn_json(txn) | {"household_id": txn.household_id, "points": args.points},
        text("cli.points.recorded", args.out.lang, receipt_no=txn.receipt_no),
    )
    return 0


def cmd_points_import(args: argparse.Namespace, home: ShopParts) -> int:
    from ledger.spreadsheets import import_points

    result = import_points(home.store(), Path(args.file), ctx=acting(args, home))
    data = result.as_dict()
    lang = args.out.lang
    args.out.result(
        data,
        text(
            "cli.points.imported",
            lang,
            awards=result.awards,
            points_awarded=result.points_awarded,
            deductions=result.deductions,
            points_deducted=result.points_deducted,
        ),
    )
    return 0


def cmd_points_grant_base(args: argparse.Namespace, home: ShopParts) -> int:
    txns = services.grant_base(home.store(), ctx=acting(args, home))
    args.out.result(
        {"households": len(txns)},
        text("cli.points.base_granted", args.out.lang, households=len(txns)),
    )
    return 0


def cmd_points_close_cycle(args: argparse.Namespace, home: ShopParts) -> int:
    txns = services.close_cycle(home.store(), ctx=acting(args, home))
    args.out.result(
        {"households": len(txns)},
        text("cli.points.cycle_closed", args.out.lang, households=len(txns)),
    )
    return 0


def cmd_points_clear(args: argparse.Namespace, home: ShopParts) -> int:
    if not args.yes:
        from lovemart.commands.apps import confirmed

        question = text("cli.points.clear_question", args.out.lang, household_id=args.household_id.upper())
        if not confirmed(question):
            raise LedgerError("not_confirmed")
    txn = services.clear_household(home.store(), args.household_id.upper(), args.reason, ctx=acting(args, home))
    cleared = -txn.household_points
    args.out.result(
        _txn_json(txn) | {"cleared": cleared},
        text("cli.points.cleared", args.out.lang, points=cleared),
    )
    return 0


def cmd_points_unfreeze(args: argparse.Namespace, home: ShopParts) -> int:
    txn = services.unfreeze(home.store(), args.household_id.upper(), args.reason, ctx=acting(args, home))
    args.out.result(_txn_json(txn), text("cli.points.unfrozen", args.out.lang))
    return 0


def cmd_passbook_reissue(args: argparse.Namespace, home: ShopParts) -> int:
    card = services.reissue_passbook(home.store(), args.household_id.upper())
    with home.store().read() as unit:
        code = make_code(unit.township().passbook_key, card.household_id, card.card_no)
    args.out.result(
        {"household_id": card.household_id, "card_no": card.card_no, "passbook": code},
        text("cli.passbook.reissued", args.out.lang, card_no=card.card_no, code=code),
    )
    return 0


# ----- operators ---------------------------------------------------------------------------------


def cmd_operators_add(args: argparse.Namespace, home: ShopParts) -> int:
    """The PIN is asked for (twice, hidden) or read from standard input: on the command line it would be
    visible to every user of the PC (``ps``) and stay in the shell's history."""

    lang = args.out.lang
    if args.pin is not None:
        raise LedgerError("secret_on_command_line", option="--pin")
    with home.store().read() as unit:  # said before the PIN is typed, not after
        existing = unit.operator(args.operator_id.strip())
    if existing is not None:
        raise LedgerError("operator_exists", operator=existing.operator_id, name=existing.name)
    from lovemart.commands.apps import ask_new_pin

    pin = ask_new_pin(lang)
    op = services.add_operator(home.store(), args.operator_id, args.name, Role(args.role), pin)
    args.out.result(
        {"operator_id": op.operator_id, "role": str(op.role)},
        text("cli.operators.added", args.out.lang, name=op.name),
    )
    return 0


def cmd_operators_set_pin(args: argparse.Namespace, home: ShopParts) -> int:
    lang = args.out.lang
    with home.store().read() as unit:
        if unit.operator(args.operator_id) is None:
            raise LedgerError("operator_unknown", operator=args.operator_id)
    from lovemart.commands.apps import ask_new_pin

    op = services.set_operator_pin(home.store(), args.operator_id, ask_new_pin(lang))
    args.out.result({"operator_id": op.operator_id}, text("cli.operators.pin_set", lang, name=op.name))
    return 0


def cmd_operators_disable(args: argparse.Namespace, home: ShopParts) -> int:
    op = services.disable_operator(home.store(), args.operator_id)
    args.out.result(
        {"operator_id": op.operator_id, "active": False}, text("cli.operators.disabled", args.out.lang, name=op.name)
    )
    return 0


def cmd_operators_list(args: argparse.Namespace, home: ShopParts) -> int:
    lang = args.out.lang
    with home.store().read() as unit:
        ops = [
            {"operator_id": o.operator_id, "name": o.name, "role": str(o.role), "active": o.active}
            for o in unit.operators()
        ]
    off = text("cli.operators.off", lang)
    lines = [f"{o['operator_id']}\t{o['name']}\t{o['role']}" + ("" if o["active"] else f"\t{off}") for o in ops]
    args.out.result({"operators": ops}, lines)
    return 0


# ----- reports and audit -------------------------------------------------------------------------


def cmd_report_day_close(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart import report_text

    return report_text.day_close(args, home)


def cmd_report_ledgers(args: argparse.Namespace, home: ShopParts) -> int:
    from ledger.spreadsheets import export_ledgers

    path = Path(args.xlsx)
    export_ledgers(home.store(), path)
    args.out.result({"xlsx": str(path)}, text("cli.report.ledgers_written", args.out.lang, path=str(path)))
    return 0


def cmd_report_ranking(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart import report_text

    return report_text.ranking(args, home)


def cmd_report_liability(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart import report_text

    return report_text.liability(args, home)


def cmd_audit_verify(args: argparse.Namespace, home: ShopParts) -> int:
    from ledger import integrity

    # Recorded: a pass becomes the checkpoint the start-up check reads from, a failure shows in doctor.
    report = integrity.full_audit(home.store())
    problems = [p.to_json() for p in report.problems]  # kind and detail, and the transaction behind it
    lang = args.out.lang
    if report.ok:
        lines = [text("cli.audit.ok", lang, transactions=report.transactions)]
    else:
        lines = [text("cli.audit.problems", lang, problems=len(problems))]
        lines += [f"  [{p['kind']}] {p['detail']}" for p in problems]
    args.out.result({"ok": report.ok, "problems": problems, "transactions": report.transactions}, lines)
    return 0 if report.ok else 1


# ----- demo and bench ----------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart_tools import demo

    summary = demo.run(home, households=args.households, seed=args.seed, reset=args.reset)
    args.out.result(summary.as_dict(), summary.text(args.out.lang, program_name()))
    if args.no_ui or args.out.as_json:
        return 0
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("SDL_VIDEODRIVER")):
        print(text("cli.demo.no_display", args.out.lang))
        return 0
    from lovemart.pos_main import run_pos

    home.close()
    return run_pos(shop_parts(home.home), windowed=True)


def program_name() -> str:
    """How the user can call us again: `.venv/bin/lovemart` when it is not on the PATH."""
    invoked = sys.argv[0] if sys.argv and sys.argv[0].endswith("lovemart") else "lovemart"
    return invoked if os.sep in invoked and not shutil.which("lovemart") else "lovemart"


def cmd_bench_ledger(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart_tools.bench_ledger import run_ledger_bench
    from lovemart_tools.measure import figure_lines

    figures = run_ledger_bench(transactions=args.transactions)
    args.out.result(dict(figures), figure_lines(figures))
    return 0


# ----- the parser --------------------------------------------------------------------------------


HOME_HELP = "the shop's folder (default $LOVEMART_HOME, else ~/.local/share/lovemart)"
JSON_HELP = "print one JSON object on stdout"
LANG_HELP = "language of messages (default from lovemart.toml, else zh)"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        type=Path,
        default=argparse.SUPPRESS,
        help="the shop's folder (default $LOVEMART_HOME, else ~/.local/share/lovemart)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object on stdout"
    )
    common.add_argument(
        "--lang",
        choices=["zh", "en"],
        default=argparse.SUPPRESS,
        help="language of messages (default from lovemart.toml, else zh)",
    )

    parser = argparse.ArgumentParser(
        prog="lovemart",
        description="爱心超市 Love Supermarket: points ledger for village points supermarkets.",
    )
    # The same options as `common`, with real defaults; sharing the action objects through `parents`
    # would let these defaults leak into the subcommands and overwrite what was given before them.
    parser.add_argument("--home", type=Path, default=None, help=HOME_HELP)
    parser.add_argument("--json", action="store_true", default=False, help=JSON_HELP)
    parser.add_argument("--lang", choices=["zh", "en"], default=None, help=LANG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(group: Subcommands, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    def group(name: str, help_text: str) -> Subcommands:
        p = commands.add_parser(name, help=help_text, description=help_text)
        return p.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    p = add(commands, "demo", cmd_demo, "seed a demo township and shop in --home (then open the POS)")
    p.add_argument("--households", type=int, default=200, help="how many demo households (default 200)")
    p.add_argument("--no-ui", action="store_true", help="seed and print a summary only")
    p.add_argument("--seed", type=int, default=2026, help="random seed, for the same demo every time")
    p.add_argument("--reset", action="store_true", help="delete an existing ledger in --home first")

    g = group("households", "households with passbook codes and balances")
    add(g, "list", cmd_households_list, "list households with passbook codes and balances")
    register_cmd.register(g, add)

    p = add(commands, "balance", cmd_balance, "redeemable points, balance and points earned of a passbook or household")
    p.add_argument("code", help="the passbook code, LM1:<household>:<card>:<check>, or a household number")

    p = add(commands, "redeem", cmd_redeem, "redeem points for goods (headless POS) and print the receipt")
    operator_option(p)
    p.add_argument("code", help="the passbook code")
    p.add_argument("goods", nargs="+", metavar="SKU=QTY", help="items and quantities")

    p = add(commands, "void", cmd_void, "void a redemption (points and goods go back)")
    operator_option(p)
    p.add_argument("receipt_no", help="the receipt number, e.g. S01-P1-000123")
    p.add_argument("--reason", required=True, help="why (输错, 顾客退货, ...)")

    g = group("stock", "goods in the shop")
    p = add(g, "list", cmd_stock_list, "items with points price and stock on hand")
    p.add_argument("--low", type=int, default=None, metavar="N", help="only items with N or fewer on hand")
    p = add(g, "in", cmd_stock_in, "goods bought for the shop")
    operator_option(p)
    p.add_argument("goods", nargs="+", metavar="SKU=QTY")
    p.add_argument("--supplier", help="who sold them")
    p.add_argument("--cost", metavar="YUAN", help="what they cost, in yuan")
    p = add(g, "count", cmd_stock_count, "a stock count: differences become an adjustment")
    operator_option(p)
    p.add_argument("goods", nargs="+", metavar="SKU=QTY", help="counted quantities")
    p.add_argument("--dry-run", action="store_true", help="show the differences without recording them")
    p = add(g, "writeoff", cmd_stock_writeoff, "goods spoiled, broken or lost")
    operator_option(p)
    p.add_argument("goods", nargs="+", metavar="SKU=QTY")
    p.add_argument("--reason", required=True)

    g = group("items", "the catalogue")
    p = add(g, "add", cmd_items_add, "add a new item (an SKU in use is refused: use items edit)")
    p.add_argument("sku")
    p.add_argument("name")
    p.add_argument("unit")
    p.add_argument("points", type=int)
    p.add_argument("--barcode")
    p.add_argument("--category")
    p = add(g, "edit", cmd_items_edit, "change an item's name, unit, points, barcode or category, or take it off sale")
    p.add_argument("sku")
    p.add_argument("--name")
    p.add_argument("--unit")
    p.add_argument("--points", type=int)
    p.add_argument("--barcode")
    p.add_argument("--category")
    sale = p.add_mutually_exclusive_group()
    sale.add_argument("--off-sale", action="store_true", help="no longer offered (its history stays)")
    sale.add_argument("--on-sale", action="store_true", help="offered again")
    p = add(
        g,
        "picture",
        cmd_items_picture,
        "show a photo of an item on the till's tiles and the kiosk's goods lists (made small and square once)",
    )
    p.add_argument("sku")
    p.add_argument("file", nargs="?", help="a photo of the item: JPEG, PNG, WebP, ... (up to 25 MB)")
    p.add_argument("--remove", action="store_true", help="take the item's picture off")

    g = group("donations", "donations of money or goods (捐赠)")
    p = add(g, "add", cmd_donations_add, "record a donation and print the voucher (捐赠凭证)")
    operator_option(p)
    p.add_argument("goods", nargs="*", metavar="SKU=QTY", help="donated goods")
    p.add_argument("--donor", required=True, help="person, company or unit")
    p.add_argument("--amount", metavar="YUAN", help="money donated, in yuan")
    p.add_argument("--memo")
    add(g, "list", cmd_donations_list, "all donations")

    g = group("points", "points from the village committee (standalone shops)")
    for kind in ("award", "deduct"):
        p = add(g, kind, cmd_points_award, f"{kind} points for one household")
        operator_option(p)
        p.set_defaults(kind=kind)
        p.add_argument("household_id")
        p.add_argument("points", type=int)
        p.add_argument("--reason", required=True)
        if kind == "deduct":
            p.add_argument("--allow-negative", action="store_true", help="deduct even when the balance goes below zero")
    p = add(g, "import", cmd_points_import, "import awards and deductions from an .xlsx or .csv score sheet")
    operator_option(p)
    p.add_argument("file")
    p = add(g, "grant-base", cmd_points_grant_base, "give every household the policy's base points for this cycle")
    operator_option(p)
    p = add(g, "close-cycle", cmd_points_close_cycle, "end the points year: unspent points expire")
    operator_option(p)
    p = add(g, "clear", cmd_points_clear, "zero tolerance: clear a household's points and freeze it (asks first)")
    operator_option(p)
    p.add_argument("household_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--yes", action="store_true", help="do not ask for a confirmation")
    p = add(g, "unfreeze", cmd_points_unfreeze, "unfreeze a household")
    operator_option(p)
    p.add_argument("household_id")
    p.add_argument("--reason", required=True)

    g = group("passbook", "passbook cards")
    p = add(g, "reissue", cmd_passbook_reissue, "a lost passbook: revoke it and issue the next card")
    p.add_argument("household_id")
    devices.register_passbook(g, add)

    g = group("operators", "shopkeepers and their PINs")
    p = add(g, "add", cmd_operators_add, "add an operator (the PIN, 4 to 8 digits, is asked for)")
    p.add_argument("operator_id")
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=["clerk", "manager"], default="clerk")
    p.add_argument("--pin", default=None, help=argparse.SUPPRESS)  # refused: the PIN is asked for
    p = add(g, "set-pin", cmd_operators_set_pin, "a new PIN for an operator (asked for twice)")
    p.add_argument("operator_id")
    p = add(g, "disable", cmd_operators_disable, "someone who left: their PIN no longer opens the till")
    p.add_argument("operator_id")
    add(g, "list", cmd_operators_list, "list operators")

    g = group("report", "reports and ledgers")
    p = add(g, "day-close", cmd_report_day_close, "totals of a day (redemptions, points, items, donations)")
    p.add_argument("--date", type=parse_day, default=None, help="YYYY-MM-DD (default today)")
    p.add_argument(
        "--close",
        action="store_true",
        help="also record the day close in the ledger, then audit the whole ledger (recorded; doctor shows it)",
    )
    p = add(g, "ledgers", cmd_report_ledgers, "export 兑换台账, 入库台账, 捐赠台账 and 积分台账 to .xlsx")
    p.add_argument("--xlsx", required=True, metavar="FILE")
    p = add(g, "ranking", cmd_report_ranking, "the village ranking (红榜) by points earned this cycle")
    p.add_argument("--village", default=None)
    p.add_argument("--limit", type=int, default=None)
    add(g, "liability", cmd_report_liability, "points redeemable against stock on hand")

    g = group("audit", "checks of the whole ledger")
    add(
        g,
        "verify",
        cmd_audit_verify,
        "recompute every chain, balance and stock level; exit 1 on problems (a pass is recorded as the "
        "checkpoint from which the till checks the chain at start-up)",
    )

    g = group("bench", "benchmarks that print their figures and a baseline")
    p = add(
        g,
        "ledger",
        cmd_bench_ledger,
        "redeem and balance latency, audit time and the tamper checks' cost (start-up, per redemption) on a big ledger",
    )
    p.add_argument("--transactions", type=int, default=1_000_000)
    devices.register_bench(g, add)
    apps.register_bench(g, add)
    central.register_bench(g, add)

    devices.register(commands, add, group)
    apps.register(commands, add)
    sync_cmd.register(commands, add)
    backup_cmd.register(commands, add)
    init_cmd.register(commands, add)
    central.register(commands, add, group)
    doctor.register(commands, add)
    return parser


def _parsed(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """The command's arguments. A mistyped command asked for ``--json`` also gets its error object on stdout
    (exit status 2), as every other failure does: a script reads stdout, not the usage on stderr."""
    if "--json" not in words:
        return parser.parse_args(words)
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return parser.parse_args(words)
    except SystemExit as stop:
        sys.stderr.write(said.getvalue())
        if stop.code == 2:
            lines = [line for line in said.getvalue().splitlines() if line.strip()]
            message = lines[-1] if lines else "usage"
            print(json.dumps({"error": {"code": "usage", "message": message}}, ensure_ascii=False))
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = _parsed(parser, sys.argv[1:] if argv is None else list(argv))
    redact.install()
    folder = Path(args.home).expanduser() if args.home else default_home()
    try:
        home = shop_parts(folder)
    except LedgerError as error:  # lovemart.toml unreadable or malformed: said before anything else runs
        Output(bool(args.json), pick_language(args.lang or os.environ.get("LOVEMART_LANG"))).refusal(error)
        return 1
    lang = pick_language(args.lang or os.environ.get("LOVEMART_LANG") or home.settings.language)
    args.out = Output(bool(args.json), lang)
    unknown = home.settings.unknown_report()
    if unknown is not None:  # a typo in lovemart.toml is said on every command, never a reason to refuse
        print(unknown.message(lang), file=sys.stderr)
    try:
        return int(args.handler(args, home))
    except (LedgerError, DeviceFault) as error:
        args.out.refusal(error)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lovemart ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a message for people, the traceback for the technician
        refusal = local_fault(exc, home.settings.ledger_path.parent)
        if refusal is not None:  # a full disk, a read-only or forbidden folder: not a crash, a refusal
            args.out.refusal(refusal)
            return 1
        log = home.home / "lovemart-error.log"
        # The database's own words (SQL, "(Background on this error at: ...)") are for the log only.
        raw_database_error = any(c.__name__ == "DBAPIError" for c in type(exc).__mro__)
        shown = text("cli.database_failed", lang) if raw_database_error else str(exc)
        shown = redact.redact(shown)
        try:
            log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(redact.redact(f"--- {datetime.now().isoformat()} ") + redact.redact_argv(sys.argv))
                f.write("\n" + redact.redact(traceback.format_exc()))
        except OSError:
            pass
        message = text("cli.internal_error", lang, shown=shown, log=str(log))
        if args.out.as_json:  # scripts read stdout: one JSON object there too
            print(json.dumps({"error": {"code": "internal", "message": message}}, ensure_ascii=False))
        print(message, file=sys.stderr)
        return 3
    finally:
        home.close()


if __name__ == "__main__":
    sys.exit(main())
