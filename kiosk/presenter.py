"""What the kiosk shows, as plain Python: no Kivy here, so every word and figure is tested without a window.

The screens bind widgets to the views this presenter returns and never format a figure themselves; the
App decides *when* (scans, timeouts, language switches) and on which thread.

Privacy is the presenter's job, because it is the one place that holds a household's figures: ``reset()``
forgets everything about the last household (figures, name, error), and the idle view is built only from
public facts (the ranking, the shelf, the camera's state). A kiosk stands in a shop where the next person
in the queue is a neighbour.

Threads: ``fetch`` and ``fetch_ranking`` only read the source and touch no state, so the App may run them
on a worker; ``apply``/``set_ranking`` and everything else are for the UI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kiosk.sources import Freshness, GoodsOffer, HouseholdFacts, KioskSource, Ranking, Shelf
from ledger import rulebook
from ledger.board import EMPTY_BOARD, Notice, NoticeLine, VillageBoard
from ledger.errors import LedgerError
from ledger.messages import DEFAULT_LANG, N_, pick_language, text

log = logging.getLogger(__name__)

WallClock = Callable[[], datetime]
ErrorKind = Literal["unknown", "revoked", "forged", "frozen", "camera", "unexpected"]
Showing = Literal["idle", "household", "error"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("unknown", "revoked", "forged", "frozen", "camera", "unexpected")

# Ledger refusals a scan can meet, by what the villager needs to hear. Malformed and forged read the same
# to a villager ("the code was not read"): telling a forger which check failed helps nobody else.
_LEDGER_ERRORS: dict[str, ErrorKind] = {
    "passbook_unknown": "unknown",
    "household_unknown": "unknown",
    "passbook_revoked": "revoked",
    "passbook_malformed": "forged",
    "passbook_forged": "forged",
    "household_frozen": "frozen",
}

# What each error says: a title and a sentence saying what to do.
ERROR_TEXTS: dict[ErrorKind, tuple[str, str]] = {
    "unknown": (N_("kiosk.error_unknown_title"), N_("kiosk.error_unknown")),
    "revoked": (N_("kiosk.error_revoked_title"), N_("kiosk.error_revoked")),
    "forged": (N_("kiosk.error_forged_title"), N_("kiosk.error_forged")),
    "frozen": (N_("kiosk.error_frozen_title"), N_("kiosk.error_frozen")),
    "camera": (N_("kiosk.error_camera_title"), N_("kiosk.error_camera")),
    "unexpected": (N_("kiosk.error_unexpected_title"), N_("kiosk.error_unexpected")),
}

DEFAULT_RANKING_SIZE = 10
DEFAULT_AFFORDABLE_SHOWN = 8


def _local_now() -> datetime:
    return datetime.now().astimezone()


# ----- views: everything a screen shows, already in the reader's language -------------------------------


@dataclass(frozen=True)
class RankLine:
    rank: str
    name: str
    points: str


def _no_pictures(_skus: Sequence[str]) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class GoodsLine:
    name: str
    unit: str
    points: str
    stock: str
    picture: str = ""  # a path to a small square picture of the item, "" when it has none


@dataclass(frozen=True)
class MovementLine:
    when: str
    text: str
    points: str
    gain: bool  # points came in (shown in green, with a "+": colour never carries meaning alone)


@dataclass(frozen=True)
class NoticeRow:
    """A line of a notice: who and for what (wrapped, never cut), the reason under it, the points."""

    text: str
    reason: str
    points: str
    gain: bool


@dataclass(frozen=True)
class IdleView:
    ranking_title: str
    ranking: tuple[RankLine, ...]
    ranking_empty: str  # shown instead of the list when it is empty, else ""
    # The panel beside the invitation shows the ranking and each current notice (公示) in turn.
    panel: Literal["ranking", "notice"]
    notice_title: str  # "第 2 批公示" while a notice shows, else ""
    notice_window: str  # its window and where to object
    notice: tuple[NoticeRow, ...]
    goods: tuple[GoodsLine, ...]
    goods_empty: str
    shop: str
    freshness: str
    camera_note: str  # "" while the camera works (or there is none to expect)


@dataclass(frozen=True)
class HouseholdView:
    name: str
    redeemable: str  # digits only: the screen draws them very large
    balance: str
    earned: str
    movements: tuple[MovementLine, ...]
    movements_empty: str
    affordable: tuple[GoodsLine, ...]
    affordable_note: str  # "not enough for anything" or "N more", else ""
    freshness: str
    speech: str
    notice_items_title: str = ""  # "正在公示" when the household has items on a current notice, else ""
    notice_items: tuple[NoticeRow, ...] = ()  # its items there, above the movements
    # One short line under each figure beside the big number, so three figures do not puzzle anyone:
    balance_note: str = ""  # "其中 100 分不能兑换" (the floor, or a limit), "" when all of it can be spent
    earned_note: str = ""  # what "earned this year" is for (the ranking; spending does not lower it)


@dataclass(frozen=True)
class RuleLine:
    name: str
    value: str  # "+1～+10", or "清零" for a zero-tolerance item
    heading: bool = False  # a class of items (基础分, 评议分, ...): a band, not a line
    penalty: bool = False  # points taken away (drawn in red, the sign says it too)


@dataclass(frozen=True)
class RulesView:
    """怎样得积分: the rules that apply to this village, in large print."""

    title: str
    subtitle: str
    lines: tuple[RuleLine, ...]
    empty: str  # shown when the township has sent no rules yet, else ""
    as_of: str  # when the township sent them


@dataclass(frozen=True)
class ErrorView:
    kind: ErrorKind
    title: str
    message: str


@dataclass(frozen=True)
class Lookup:
    """The answer to one scan before it is shown: a household's facts, or the error to show instead."""

    facts: HouseholdFacts | None = None
    error: ErrorKind | None = None
    params: dict[str, Any] = field(default_factory=dict)


# ----- the presenter ------------------------------------------------------------------------------------


class KioskPresenter:
    """The kiosk's state (public board, the current household or error, camera state) and its views."""

    def __init__(
        self,
        source: KioskSource,
        clock: WallClock = _local_now,
        *,
        lang: str = DEFAULT_LANG,
        ranking_size: int = DEFAULT_RANKING_SIZE,
        affordable_shown: int = DEFAULT_AFFORDABLE_SHOWN,
        pictures_of: Callable[[Sequence[str]], Mapping[str, str]] = _no_pictures,
    ) -> None:
        self.source = source
        # the pictures of some goods by SKU (the shop's folder of them), read with the shelf
        self.pictures_of = pictures_of
        self._pictures: Mapping[str, str] = {}
        self.clock = clock
        self.ranking_size = ranking_size
        self.affordable_shown = affordable_shown
        self._lang = pick_language(lang)
        self._ranking: Ranking | None = None
        self._shelf: Shelf | None = None
        self._facts: HouseholdFacts | None = None
        self._error: tuple[ErrorKind, dict[str, Any]] | None = None
        self._camera = "ready"
        self._board: VillageBoard = EMPTY_BOARD
        self._panel = 0  # 0: the ranking; n: the n-th notice shown today (see ``rotate``)

    # ------------------------------------------------------------ language

    @property
    def lang(self) -> str:
        return self._lang

    @lang.setter
    def lang(self, value: str) -> None:
        self._lang = pick_language(value)

    def tr(self, msgid: str, **params: Any) -> str:
        return text(msgid, self._lang, **params)

    # ------------------------------------------------------------ what is showing

    @property
    def showing(self) -> Showing:
        if self._error is not None:
            return "error"
        if self._facts is not None:
            return "household"
        return "idle"

    @property
    def holds_household(self) -> bool:
        """True while anything of a household (figures, or a name in an error) is kept."""
        return self._facts is not None or self._error is not None

    def reset(self) -> None:
        """Forget the last household and any error: the timeout, 返回, or the next person."""
        self._facts = None
        self._error = None

    # ------------------------------------------------------------ the public board

    def fetch_ranking(self) -> Ranking:
        """Read the ranking (slow on a big village: call it off the UI thread). Changes no state."""
        return self.source.ranking(self.ranking_size)

    def set_ranking(self, ranking: Ranking) -> None:
        self._ranking = ranking

    def refresh_ranking(self) -> None:
        self.set_ranking(self.fetch_ranking())

    def fetch_board(self) -> VillageBoard:
        """Read the village's rules and notices (off the UI thread, like the ranking). Changes no state."""
        return self.source.board()

    def set_board(self, board: VillageBoard) -> None:
        self._board = board

    def _notices(self) -> tuple[Notice, ...]:
        return self._board.notices_on(self.clock().date())

    def rotate(self) -> bool:
        """Show the next panel: the ranking, then each notice shown today, then the ranking again. True when
        what shows changed (there is a notice to turn to, or the last one went)."""
        panels = 1 + len(self._notices())
        before = self._panel
        self._panel = (self._panel + 1) % panels
        return panels > 1 or before != self._panel

    def refresh_shelf(self) -> None:
        """Read the goods on offer again (a few ms); a failure keeps the last shelf and is logged."""
        try:
            self._shelf = self.source.shelf()
            self._pictures = self.pictures_of([offer.sku for offer in self._shelf.goods])
        except Exception:  # a locked or damaged ledger must not take the idle screen down
            log.exception("kiosk: could not read the shelf; keeping the last one")

    def idle_view(self) -> IdleView:
        ranking = self._ranking
        entries = ranking.entries if ranking else ()
        shelf = self._shelf
        goods = shelf.goods if shelf else ()
        title = self.tr("kiosk.ranking_title", village=ranking.village_name if ranking else "").strip()
        freshness = shelf.freshness if shelf else (ranking.freshness if ranking else None)
        notices = self._notices()
        if self._panel > len(notices):  # a notice went since the last turn
            self._panel = 0
        notice = notices[self._panel - 1] if self._panel else None
        return IdleView(
            ranking_title=title,
            ranking=tuple(
                RankLine(str(e.rank), e.name, self.tr("kiosk.ranking_points", points=e.earned)) for e in entries
            ),
            ranking_empty="" if entries else self.tr("kiosk.ranking_empty"),
            panel="notice" if notice else "ranking",
            notice_title=self.tr("kiosk.notice_title", number=notice.number) if notice else "",
            notice_window=self._window(notice) if notice else "",
            notice=tuple(
                NoticeRow(f"{line.name}  {line.item}", line.reason, self._points(line), line.points > 0)
                for line in (notice.lines if notice else ())
            ),
            goods=tuple(self._goods_line(g) for g in goods),
            goods_empty="" if goods else self.tr("kiosk.goods_empty"),
            shop=shelf.shop_name if shelf else "",
            freshness=self.freshness_text(freshness) if freshness else "",
            camera_note=self.camera_note(),
        )

    # ------------------------------------------------------------ the camera

    def camera_status(self, state: str) -> bool:
        """Record a camera state ("ready", "absent", "lost", …). True when this is news worth an error
        screen: the camera was just found missing. "lost" only shows a note (it reconnects by itself)."""
        previous, self._camera = self._camera, state
        return state == "absent" and previous != "absent"

    def camera_note(self) -> str:
        if self._camera == "absent":
            return self.tr("kiosk.camera_absent")
        if self._camera == "lost":
            return self.tr("kiosk.camera_lost")
        return ""

    # ------------------------------------------------------------ a scan

    def fetch(self, code: str) -> Lookup:
        """Look a scanned code up (a few ms on a shop ledger). Changes no state; safe on a worker thread."""
        try:
            facts = self.source.household(code)
        except LedgerError as error:
            kind = _LEDGER_ERRORS.get(error.code)
            if kind is None:
                log.error("kiosk: unexpected refusal for a scan: %s", error.code)
                return Lookup(error="unexpected")
            return Lookup(error=kind, params=dict(error.params))
        except Exception:  # a storage failure: tell the villager plainly, keep the details for the technician
            log.exception("kiosk: lookup failed")
            return Lookup(error="unexpected")
        if facts.frozen:
            return Lookup(error="frozen", params={"name": facts.name})
        return Lookup(facts=facts)

    def apply(self, lookup: Lookup) -> Showing:
        """Make ``lookup`` the current state (replacing any previous household) and say what to show."""
        self.reset()
        if lookup.facts is not None:
            self._facts = lookup.facts
        else:
            self._error = (lookup.error or "unexpected", dict(lookup.params))
        return self.showing

    def scan(self, code: str) -> Showing:
        return self.apply(self.fetch(code))

    def show_error(self, kind: ErrorKind, **params: Any) -> Showing:
        """Show an error that did not come from a scan (the camera)."""
        self.reset()
        self._error = (kind, params)
        return self.showing

    def household_view(self) -> HouseholdView | None:
        facts = self._facts
        if facts is None:
            return None
        affordable = [g for g in facts.goods if 0 < g.points <= facts.redeemable and g.on_hand > 0]
        affordable.sort(key=lambda g: (-g.points, g.name, g.sku))  # the big things first: rice, oil
        shown = affordable[: max(0, self.affordable_shown)]
        mine = self._board.lines_of(facts.household_id, self.clock().date())
        if not affordable:
            note = self.tr("kiosk.affordable_none")
        elif len(affordable) > len(shown):
            note = self.tr("kiosk.affordable_more", count=len(affordable) - len(shown))
        else:
            note = ""
        return HouseholdView(
            name=self.tr("kiosk.household_name", name=facts.name),
            redeemable=str(facts.redeemable),
            balance=self.tr("kiosk.balance", balance=facts.balance),
            earned=self.tr("kiosk.earned", earned=facts.earned_cycle),
            balance_note=(
                self.tr("kiosk.balance_note", held=facts.balance - facts.redeemable)
                if facts.balance > facts.redeemable
                else ""
            ),
            earned_note=self.tr("kiosk.earned_note"),
            movements=tuple(
                MovementLine(self._date(m.when), m.words(self._lang), _signed(m.points), m.points > 0)
                for m in facts.movements
            ),
            movements_empty="" if facts.movements else self.tr("kiosk.movements_empty"),
            affordable=tuple(self._goods_line(g) for g in shown),
            affordable_note=note,
            freshness=self.freshness_text(facts.freshness),
            speech=self.speech() or "",
            notice_items_title=self.tr("kiosk.on_notice_title") if mine else "",
            notice_items=tuple(
                NoticeRow(
                    self.tr("kiosk.on_notice_item", number=notice.number, item=line.item),
                    self.tr("kiosk.on_notice_until", last=self._day(notice.window_until))
                    if notice.open_on(self.clock().date())
                    else self.tr("kiosk.on_notice_waiting"),
                    self._points(line),
                    line.points > 0,
                )
                for notice, line in mine
            ),
        )

    def rules_view(self) -> RulesView:
        """The rules in force for the village, by class in the township's order, with their values."""
        lines: list[RuleLine] = []
        category = None
        for rule in self._board.rules:
            if rule.category != category:
                category = rule.category
                lines.append(RuleLine(rule.category, "", heading=True))
            value = self.tr("kiosk.rule_clears") if rule.zero_tolerance else rulebook.value_text(rule)
            lines.append(RuleLine(rule.name, value, penalty=rule.direction is rulebook.Direction.PENALTY))
        village = self._ranking.village_name if self._ranking else ""
        return RulesView(
            title=self.tr("kiosk.rules_title"),
            subtitle=self.tr("kiosk.rules_subtitle", village=village).strip() if village else "",
            lines=tuple(lines),
            empty="" if lines else self.tr("kiosk.rules_empty"),
            as_of=self.tr("kiosk.rules_as_of", when=self._when(self._board.made_at)) if self._board.made_at else "",
        )

    def error_view(self) -> ErrorView | None:
        if self._error is None:
            return None
        kind, params = self._error
        title, sentence = ERROR_TEXTS[kind]
        return ErrorView(kind, self.tr(title), self.tr(sentence, **params))

    def speech(self) -> str | None:
        """What the voice reads: name and redeemable points, in Mandarin whatever the screen language
        (the voice is for villagers who cannot read the screen, and the speech engine speaks Mandarin)."""
        facts = self._facts
        if facts is None:
            return None
        return text("kiosk.speech", "zh", name=facts.name, points=facts.redeemable)

    # ------------------------------------------------------------ formatting

    def freshness_text(self, freshness: Freshness) -> str:
        when = self._when(freshness.as_of) if freshness.as_of else ""
        if freshness.origin == "remote":
            return self.tr("kiosk.fresh_remote", when=when) if when else self.tr("kiosk.fresh_remote_unknown")
        return self.tr("kiosk.fresh_local", when=when) if when else self.tr("kiosk.fresh_local_never")

    def _when(self, iso: str) -> str:
        """An ISO time as a villager reads it: 11月20日 18:05 (with the year when it is not this year)."""
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            return iso
        if moment.year == self.clock().year:
            return self.tr("kiosk.datetime", when=moment)
        return self.tr("kiosk.datetime_year", when=moment)

    def _date(self, when: str) -> str:
        """A movement's local "YYYY-MM-DD HH:MM" as a short date."""
        try:
            return self._short(datetime.strptime(when, "%Y-%m-%d %H:%M"))
        except ValueError:
            return when[:10]

    def _day(self, iso_day: str) -> str:
        """An ISO date as a short date ("12月10日")."""
        try:
            return self._short(datetime.fromisoformat(iso_day))
        except ValueError:
            return iso_day

    def _short(self, moment: datetime) -> str:
        """ "12月10日", with the year when it is not this year."""
        if moment.year == self.clock().year:
            return self.tr("kiosk.date", when=moment)
        return self.tr("kiosk.date_year", when=moment)

    def _window(self, notice: Notice) -> str:
        first, last = self._day(notice.window_from), self._day(notice.window_until)
        if notice.open_on(self.clock().date()):
            return self.tr("kiosk.notice_window", first=first, last=last)
        return self.tr("kiosk.notice_closed", last=last)

    def _points(self, line: NoticeLine) -> str:
        return self.tr("kiosk.rule_clears") if line.zero_tolerance else _signed(line.points)

    def _goods_line(self, offer: GoodsOffer) -> GoodsLine:
        return GoodsLine(
            name=offer.name,
            unit=offer.unit,
            points=self.tr("kiosk.goods_points", points=offer.points),
            stock=self.tr("kiosk.goods_stock", on_hand=offer.on_hand),
            picture=self._pictures.get(offer.sku, ""),
        )


def _signed(points: int) -> str:
    return f"+{points}" if points > 0 else str(points)
