"""The console's printable documents, built from the services' answers in the reader's language.

Each becomes a ``ledger.documents.TableDocument`` that the ``Paper`` port writes as an A4 PDF; the web
pages show the same rows.
"""

from __future__ import annotations

from typing import Any

from console.paper import CardText
from ledger.documents import Certificate, TableDocument
from ledger.errors import LedgerError
from ledger.messages import text
from sync.server import township
from sync.server.record import CentralRecord


def statement_document(statement: dict[str, Any], lang: str) -> TableDocument:
    """A household's statement (积分明细) for its period: every movement and the running balance."""

    def t(key: str, **params: Any) -> str:
        return text(key, lang, **params)

    period = statement["period"]
    rows = [(period["first"], t("console.statement.opening"), "", "", "", f"{statement['opening']:,}")]
    for m in statement["movements"]:
        points = f"{m['points']:+d}" if m["points"] else "0"
        rows.append((m["when"], m["text"], m["shop"], m["receipt_no"], points, f"{m['balance']:,}"))
    members = "、".join(m["name"] for m in statement["members"])
    return TableDocument(
        title=t("console.statement.heading", name=statement["name"], household_id=statement["household_id"]),
        lines=(
            f"{statement['village']} · {t('console.period', first=period['first'], last=period['last'])}",
            f"{t('console.members')}：{members}" if members else "",
        ),
        headers=(
            t("console.date"),
            t("console.reason"),
            t("console.shop"),
            t("console.receipt"),
            t("console.points"),
            t("console.balance"),
        ),
        rows=tuple(rows),
        numeric=frozenset({4, 5}),
        widths=(14, 34, 16, 18, 8, 10),
        footer=(
            t("console.statement.closing", earned=statement["earned"], spent=statement["spent"])
            + f"：{statement['closing']:,}",
            text("console.statement.printed", lang),
        ),
    )


def village_cards(record: CentralRecord, village_id: str, lang: str) -> tuple[list[CardText], str]:
    """Every valid passbook card of a village, for the A4 sheet of cards, and the sheet's title."""
    villages = {v["village_id"]: v["name"] for v in township.villages(record)}
    if village_id not in villages:
        raise LedgerError("village_unknown", village_id=village_id)
    found = township.households(record, village_id, 0, 1_000_000)
    cards: list[CardText] = []
    for h in found["households"]:
        code = h["passbook"]
        if code:
            card_no = int(code.split(":")[2])
            cards.append((h["household_id"], h["name"], villages[village_id], card_no, code))
    if not cards:
        raise LedgerError("nothing_to_do")
    return cards, text("console.cards.sheet_title", lang, village=villages[village_id])


def ranking_poster(board: dict[str, Any], lang: str) -> TableDocument:
    """The village's red list (红榜) as an A4 poster for the notice board: rank, household, points earned."""
    rows = tuple((str(r["rank"]), r["name"], r["household_id"], f"{r['earned_cycle']:,}") for r in board["rows"])
    return TableDocument(
        title=text("console.ranking.poster_title", lang, village=board["village"]),
        lines=(text("console.ranking.poster_line", lang, township=board["township"], date=board["date"]),),
        headers=(
            text("console.ranking.rank", lang),
            text("console.head", lang),
            text("console.household_no", lang),
            text("console.earned_cycle", lang),
        ),
        rows=rows,
        numeric=frozenset({0, 3}),
        footer=(text("console.ranking.poster_footer", lang),),
        poster=True,
        widths=(12, 38, 25, 25),
    )


def notice_document(notice: dict[str, Any], lang: str) -> TableDocument:
    """The batch's public notice (公示) for the village's notice board: each household head's name with the
    item, the points and the reason, the window, and how to object."""

    def t(key: str, **params: Any) -> str:
        return text(key, lang, **params)

    rows = tuple((r["name"], r["item"], f"{r['points']:+d}", r["reason"]) for r in notice["rows"])
    return TableDocument(
        title=t("console.notice.title", village=notice["village"], number=notice["number"]),
        lines=(
            t("console.notice.line", township=notice["township"], meeting_day=notice["meeting_day"]),
            t("console.notice.window", first=notice["window_from"], last=notice["window_until"]),
        ),
        headers=(t("console.head"), t("console.notice.item"), t("console.points"), t("console.reason")),
        rows=rows,
        numeric=frozenset({2}),
        widths=(14, 24, 8, 44),
        footer=(t("console.notice.how_to_object", last=notice["window_until"]), text("console.notice.signed", lang)),
        poster=False,
    )


def rules_document(items: list[Any], village: str, day: str, lang: str) -> TableDocument:
    """The rules for the village's notice board (怎样得积分), in large print: class, item, points."""
    from ledger.rulebook import value_text

    rows = tuple((i.category, i.name, value_text(i) + (" *" if i.zero_tolerance else "")) for i in items if i.active)
    return TableDocument(
        title=text("console.rules.sheet_title", lang, village=village),
        lines=(text("console.rules.in_force", lang, day=day),),
        headers=(text("rules.sheet.category", lang), text("rules.sheet.name", lang), text("console.points", lang)),
        rows=rows,
        numeric=frozenset({2}),
        widths=(20, 56, 24),
        footer=(text("console.rules.sheet_footer", lang),),
        poster=True,
    )


def honours_poster(board: dict[str, Any], lang: str) -> TableDocument:
    """The village's star households (星级文明户) as an A4 poster for the notice board."""
    rows = tuple((r["name"], r["household_id"], "★" * r["stars"], f"{r['earned_cycle']:,}") for r in board["rows"])
    return TableDocument(
        title=text("console.honours.poster_title", lang, village=board["village"]),
        lines=(text("console.ranking.poster_line", lang, township=board["township"], date=board["date"]),),
        headers=(
            text("console.head", lang),
            text("console.household_no", lang),
            text("console.honours.stars", lang),
            text("console.earned_cycle", lang),
        ),
        rows=rows,
        numeric=frozenset({3}),
        widths=(30, 22, 28, 20),
        poster=True,
    )


def certificates(board: dict[str, Any], rows: list[dict[str, Any]], today: Any, lang: str) -> list[Certificate]:
    """A certificate of honour for each household of ``rows`` (from ``honours.honours``)."""
    issuer = text("console.honours.issuer", lang, village=board["village"])
    when = text("console.honours.date", lang, year=today.year, month=today.month, day=today.day)
    return [
        Certificate(
            title=text("console.honours.certificate", lang),
            recipient=text("console.honours.recipient", lang, name=r["name"], household_id=r["household_id"]),
            body=text("console.honours.body", lang, year=today.year, stars=r["stars"], earned=r["earned_cycle"]),
            issuer=issuer,
            date=when,
        )
        for r in rows
    ]
