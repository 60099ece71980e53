"""Commands for the shop's devices: scanning pictures, receipts, the printer and passbook cards.

Device libraries (OpenCV, zxing-cpp, zbar, python-escpos, reportlab) are imported inside the
handlers, so ``lovemart --help`` and the ledger commands never pay for them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import printing, services
from ledger.errors import LedgerError
from ledger.messages import text
from ledger.model import Transaction
from ledger.passbook import make_code, parse_code
from lovemart.bootstrap import ShopParts
from lovemart.wiring import replace_file

if TYPE_CHECKING:
    from lovemart.commands import AddCommand, AddGroup, Subcommands


def print_after_commit(home: ShopParts, txn: Transaction, lang: str) -> tuple[bool, str]:
    """Print the receipt of a committed transaction; a fault leaves it pending and says how to reprint."""
    outcome = home.print_now(txn.txn_id)
    if outcome.printed:
        return True, text("cli.receipt.printed", lang)
    reason = outcome.error.message(lang) if outcome.error else ""
    return False, text("cli.receipt.not_printed", lang, reason=reason, receipt_no=txn.receipt_no)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file whole or not at all, so a full disk never leaves half a receipt or card sheet."""
    path = path.expanduser()
    try:
        replace_file(path, data)
    except OSError as exc:
        raise LedgerError("export_unwritable", path=str(path), detail=exc.strerror or str(exc)) from exc


# ----- scan -------------------------------------------------------------------------------------


def decoder_name(home: ShopParts, requested: str | None) -> str:
    return requested or home.settings.scanner.decoder


def passbook_check(home: ShopParts, text: str, lang: str) -> dict[str, Any]:
    """Is ``text`` a passbook of this township that may be used here? Never guesses a mistyped code."""
    result: dict[str, Any] = {"household_id": None, "card_no": None, "valid": False, "reason": None, "code": None}
    try:
        code = parse_code(text)
        result.update(household_id=code.household_id, card_no=code.card_no)
        with home.store().read() as unit:
            holder = services.lookup_passbook(unit, text)
            result.update(valid=True, name=holder.household.head_name, status=str(holder.household.status))
    except LedgerError as error:
        result.update(reason=error.message(lang), code=error.code)
    return result


def cmd_scan(args: argparse.Namespace, home: ShopParts) -> int:
    from hardware.decode import make_decoder, read_image

    lang = args.out.lang
    decoder = make_decoder(decoder_name(home, args.decoder))
    found = decoder.decode(read_image(Path(args.image)))
    codes = [{"text": d.text, "format": d.format} for d in found]
    candidates = list(dict.fromkeys(d.text.strip().upper() for d in found if d.text.strip().upper().startswith("LM")))
    passbook: dict[str, Any] | None = None
    refusal: LedgerError | None = None
    if not found:
        refusal = LedgerError("scan_empty")
    elif not candidates:
        refusal = LedgerError("passbook_malformed")
        passbook = passbook_check(home, found[0].text, lang)
    elif len(candidates) > 1:
        refusal = LedgerError("scan_several", count=len(candidates))
        passbook = {"household_id": None, "card_no": None, "valid": False, "reason": refusal.message(lang)}
        passbook["code"] = refusal.code
    else:
        passbook = passbook_check(home, candidates[0], lang)
        if not passbook["valid"]:
            refusal = LedgerError(passbook["code"])
    data: dict[str, Any] = {"codes": codes, "passbook": passbook, "decoder": decoder.name}
    lines = [f"{c['format']}: {c['text']}" for c in codes]
    if passbook and passbook["valid"]:
        lines.append(
            text(
                "cli.scan.valid",
                lang,
                household_id=passbook["household_id"],
                name=passbook["name"],
                card_no=passbook["card_no"],
            )
        )
    if refusal is None:
        args.out.result(data, lines)
        return 0
    message = passbook["reason"] if passbook and passbook.get("reason") else refusal.message(lang)
    data["error"] = {
        "code": passbook["code"] if passbook and passbook.get("code") else refusal.code,
        "message": message,
    }
    args.out.result(data, lines)
    print(message, file=sys.stderr)
    return 1


# ----- receipts and the printer ------------------------------------------------------------------------


def _width(home: ShopParts, requested: int | None) -> int:
    return requested if requested else home.settings.printer.width


def cmd_receipt(args: argparse.Namespace, home: ShopParts) -> int:
    words: list[str] = args.words
    lang = args.out.lang
    if words[0] == "pending" and len(words) == 1:
        return _receipt_pending(args, home)
    if words[0] == "reprint":
        if len(words) != 2:
            raise SystemExit(_usage_error("lovemart receipt reprint RECEIPT_NO"))
        outcome = printing.reprint(home.store(), words[1], home.printer())
        if outcome.error is not None:
            raise outcome.error
        args.out.result(
            {"receipt_no": outcome.receipt_no, "printed": True, "reprint": True},
            text("cli.receipt.reprinted", lang, receipt_no=outcome.receipt_no),
        )
        return 0
    if len(words) != 1 or not args.out_file:
        raise SystemExit(_usage_error("lovemart receipt RECEIPT_NO --out FILE [--width 58|80]"))
    from hardware.profiles import profile_for
    from hardware.receipt_layout import build_receipt
    from lovemart_tools.escpos_reader import receipt_text_lines

    content = printing.receipt_for(home.store(), words[0], reprint=args.reprint)
    width = _width(home, args.width)
    data = build_receipt(content, profile_for(width))
    out = Path(args.out_file)
    write_atomically(out, data)
    lines = receipt_text_lines(data)
    args.out.result(
        {
            "receipt_no": content.receipt_no,
            "kind": str(content.kind),
            "out": str(out),
            "bytes": len(data),
            "width": width,
            "lines": lines,
        },
        [*lines, text("cli.receipt.written", lang, path=str(out), bytes=len(data), width=width)],
    )
    return 0


def _usage_error(usage: str) -> int:
    print(f"usage: {usage}", file=sys.stderr)
    return 2


def _receipt_pending(args: argparse.Namespace, home: ShopParts) -> int:
    rows = [
        {
            "receipt_no": receipt_no,
            "kind": job.kind,
            "created_at": job.created_at,
            "attempts": job.attempts,
            "last_error": job.last_error,
        }
        for job, receipt_no in printing.pending(home.store())
    ]
    lang = args.out.lang
    lines = [f"{r['receipt_no']}\t{r['kind']}\t{r['created_at']}\t{r['last_error']}" for r in rows] or [
        text("cli.receipt.none_pending", lang)
    ]
    args.out.result({"pending": rows}, lines)
    return 0


def cmd_printer_test(args: argparse.Namespace, home: ShopParts) -> int:
    printer = home.printer()
    printer.print_test_page(datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S"))
    section = home.settings.printer
    lang = args.out.lang
    args.out.result(
        {"printed": True, "connection": section.kind, "width": section.width},
        text("cli.printer.test_sent", lang),
    )
    return 0


# ----- passbook cards ----------------------------------------------------------------------------------


def cmd_passbook_cards(args: argparse.Namespace, home: ShopParts) -> int:
    from hardware.cards import CardFace

    wanted = {h.upper() for h in args.household} if args.household else None
    faces = []
    with home.store().read() as unit:
        key = unit.township().passbook_key
        township_name = unit.township().name
        if args.village and unit.village(args.village.upper()) is None:
            raise LedgerError("village_unknown", village_id=args.village)
        for row in unit.households():
            h = row.household
            if row.card_no is None or (args.village and h.village_id != args.village.upper()):
                continue
            if wanted is not None and h.household_id not in wanted:
                continue
            village = unit.village(h.village_id)
            faces.append(
                CardFace(
                    h.household_id,
                    h.head_name,
                    village.name if village else "",
                    row.card_no,
                    make_code(key, h.household_id, row.card_no),
                )
            )
    if wanted is not None and len(faces) != len(wanted):
        missing = sorted(wanted - {f.household_id for f in faces})
        raise LedgerError("household_unknown", household_id=", ".join(missing))
    if not faces:
        raise LedgerError("nothing_to_do")
    lang = args.out.lang
    if args.thermal:
        printer = home.printer()
        for face in faces:
            printer.print_passbook_card(
                face.household_id, face.household_name, face.village_name, face.card_no, face.code
            )
        args.out.result(
            {"printed": len(faces)},
            text("cli.passbook.cards_printed", lang, cards=len(faces)),
        )
        return 0
    if not args.out_file:
        raise SystemExit(_usage_error("lovemart passbook cards --out FILE.pdf [--village V] | --thermal"))
    from hardware.cards import write_cards_pdf

    out = Path(args.out_file).expanduser()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "cards.pdf"
        pages = write_cards_pdf(faces, scratch, title=f"{township_name} 积分存折卡")
        write_atomically(out, scratch.read_bytes())
    args.out.result(
        {"out": str(out), "cards": len(faces), "pages": pages},
        text("cli.passbook.cards_written", lang, cards=len(faces), pages=pages, path=str(out)),
    )
    return 0


# ----- benchmark -------------------------------------------------------------------------------------------


def cmd_bench_scan(args: argparse.Namespace, home: ShopParts) -> int:
    from lovemart_tools.bench_receipt import run_receipt_bench
    from lovemart_tools.bench_scan import run_scan_bench, scan_lines

    figures = run_scan_bench(frames=args.frames, seed=args.seed)
    figures.update(run_receipt_bench())
    args.out.result(figures, scan_lines(figures))
    return 0


def register(commands: Subcommands, add: AddCommand, group: AddGroup) -> None:
    """Add this module's commands to the ``lovemart`` parser."""
    p = add(commands, "scan", cmd_scan, "decode a passbook from a picture and check it")
    p.add_argument("image", help="a photo or screenshot (PNG, JPEG)")
    p.add_argument("--decoder", choices=["zxing", "zbar"], default=None, help="default from lovemart.toml [scanner]")

    p = add(
        commands,
        "receipt",
        cmd_receipt,
        "receipts: RECEIPT_NO --out FILE writes its ESC/POS bytes; reprint RECEIPT_NO prints it again (重印); "
        "pending lists receipts not yet printed",
    )
    p.add_argument("words", nargs="+", metavar="RECEIPT_NO | reprint RECEIPT_NO | pending")
    p.add_argument("--out", dest="out_file", metavar="FILE", help="where to write the bytes")
    p.add_argument("--width", type=int, choices=[58, 80], default=None, help="paper width in mm (default: printer's)")
    p.add_argument("--reprint", action="store_true", help="mark the written receipt 重印")

    g = group("printer", "the receipt printer")
    add(g, "test", cmd_printer_test, "print a test page: Chinese text, a QR code and the column ruler")


def register_passbook(g: Subcommands, add: AddCommand) -> None:
    p = add(g, "cards", cmd_passbook_cards, "a PDF sheet of passbook cards to print on A4 and cut out")
    p.add_argument("--out", dest="out_file", metavar="FILE.pdf")
    p.add_argument("--village", default=None, help="only this village's households")
    p.add_argument("--household", action="append", default=None, metavar="ID", help="only these (repeatable)")
    p.add_argument("--thermal", action="store_true", help="print the cards on the receipt printer instead")


def register_bench(g: Subcommands, add: AddCommand) -> None:
    p = add(g, "scan", cmd_bench_scan, "decode rate and speed of both decoders on degraded camera frames")
    p.add_argument("--frames", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
