"""A kiosk away from the shop (the village service hall): figures from the central record, not a shop ledger.

``RemoteKioskSource`` is a ``kiosk.sources.KioskSource`` over the central record's read-only kiosk
endpoints (docs/sync.md, "Kiosk away from the shop"):

- ``GET /v1/kiosk/board?village=V&size=N``: the village's public ranking and the goods on offer at its shop,
  and with the ranking (``size`` > 0) the village's rules and notices (``ledger.board``);
- ``POST /v1/kiosk/balance`` ``{"code": C, "village": V}``: one passbook's figures, its recent movements and
  the shelf. The code goes in the body, never the URL, which access logs and proxies keep.

It lives in the composition root because it joins the kiosk's plain dataclasses to HTTP (the kiosk may not
import sync, sync may not import the kiosk). The requests go through the one HTTP client, ``sync.http.Http``
(plain ``http://`` only to the loopback unless ``[kiosk] allow_plain_http``, a bounded reply, the error
envelope read once), and the replies are read with the server's own models (``sync.bodies.KioskBoard``,
``KioskBalance``). Every answer carries ``Freshness("remote", when)``: the village shop's last push (else the
server's time).

A bad passbook comes back as the server's ledger error and is raised here as the same ``LedgerError``
(``passbook_malformed``/``forged``/``unknown``/``revoked``), so the presenter shows the same screens as on a
shop ledger. Anything else (no network, a wrong kiosk token, a failing server) is a ``KioskServerFault``
with plain zh/en words; the presenter shows its "cannot look it up now" screen and logs the words.

The kiosk app asks for the shelf on its UI thread every time it returns to idle, so ``shelf()`` answers
from the last reply (board or balance) while it is younger than ``shelf_ttl`` seconds, and after a network
failure does not try again for ``retry_after`` seconds: a dead link must not freeze the idle screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from kiosk.sources import Freshness, GoodsOffer, HouseholdFacts, RankEntry, Ranking, Shelf
from ledger.board import EMPTY_BOARD, VillageBoard
from ledger.errors import DeviceFault, LedgerError
from ledger.history import Movement
from ledger.messages import Said
from sync.bodies import KioskBalance, KioskBalanceIn, KioskBoard, KioskMovement, KioskShelf
from sync.errors import SyncError
from sync.http import Http, RemoteRefusal, Unreachable

if TYPE_CHECKING:
    import httpx

# Server error codes that are the ledger's own refusals of a scanned code: raised again as LedgerError.
PASSBOOK_CODES = frozenset(
    {"passbook_malformed", "passbook_forged", "passbook_unknown", "passbook_revoked", "household_unknown"}
)
TOKEN_CODES = frozenset({"token_missing", "token_invalid", "admin_required"})
MAX_REPLY_BYTES = 4 * 1024 * 1024

_Reply = TypeVar("_Reply", bound=BaseModel)


class KioskServerFault(DeviceFault):
    """The central record could not answer the kiosk: no network, a wrong token, a failing server."""


def _offers(shelf: KioskShelf) -> tuple[GoodsOffer, ...]:
    return tuple(GoodsOffer(g.sku, g.name, g.unit, g.points, g.on_hand) for g in shelf.goods)


def _movement(m: KioskMovement) -> Movement:
    # ``zh``/``en`` are the server's words in both languages; a server older than them sent ``text`` only.
    return Movement(m.when, m.points, Said(m.zh or m.text, m.en or m.text), m.receipt_no)


class RemoteKioskSource:
    """``KioskSource`` over the central record's kiosk endpoints (see the module docstring).

    ``village_id`` chooses the ranking's village and the shop whose goods are shown. ``http`` may be given
    (tests, a shared client); otherwise one is made with ``timeout`` and closed by ``close()``. Plain
    ``http://`` to another machine is refused (``kiosk_plain_http``) unless ``allow_plain_http``.
    """

    def __init__(
        self,
        server_url: str,
        kiosk_token: str,
        village_id: str,
        http: httpx.Client | None = None,
        timeout: float = 3.0,
        *,
        shelf_ttl: float = 60.0,
        retry_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        lang: str = "zh",
        allow_plain_http: bool = False,
    ) -> None:
        try:
            self.http = Http(
                server_url,
                kiosk_token,
                http,
                timeout,
                allow_plain_http=allow_plain_http,
                lang=lang,
                max_reply_bytes=MAX_REPLY_BYTES,
            )
        except SyncError as refused:
            raise KioskServerFault("kiosk_plain_http", url=server_url) from refused
        self.kiosk_token = kiosk_token
        self.village_id = village_id.strip().upper()
        self.timeout = timeout
        self.shelf_ttl = shelf_ttl
        self.retry_after = retry_after
        self.clock = clock
        self.lang = lang
        self._shelf: Shelf | None = None
        self._notices: VillageBoard = EMPTY_BOARD
        self._shelf_at = 0.0
        self._down_until = 0.0

    @property
    def server_url(self) -> str:
        return self.http.server_url

    @server_url.setter
    def server_url(self, url: str) -> None:
        try:
            self.http.server_url = url
        except SyncError as refused:
            raise KioskServerFault("kiosk_plain_http", url=url) from refused

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ HTTP

    def _fetch(self, model: type[_Reply], method: str, path: str, **options: Any) -> _Reply:
        """One request, its reply read as ``model``; every failure is a ``KioskServerFault`` (or the ledger's
        refusal of a passbook, raised again as the same ``LedgerError``)."""
        try:
            reply = self.http.fetch(model, method, path, timeout=self.timeout, **options)
        except Unreachable as failure:
            self._down_until = self.clock() + self.retry_after
            raise KioskServerFault("kiosk_unreachable", url=self.server_url) from failure
        except RemoteRefusal as refusal:
            self._down_until = 0.0
            if refusal.code in PASSBOOK_CODES:
                raise LedgerError(refusal.code, **refusal.remote_params) from refusal
            if refusal.http_status == 401 or refusal.code in TOKEN_CODES:
                raise KioskServerFault("kiosk_token_invalid") from refusal
            if refusal.http_status >= 500:
                raise KioskServerFault("kiosk_server_error", status=refusal.http_status) from refusal
            raise KioskServerFault("kiosk_refused", detail=refusal.message(self.lang)[:300]) from refusal
        except SyncError as malformed:  # not the protocol's reply: too large, not JSON, fields missing
            self._down_until = 0.0
            raise KioskServerFault("kiosk_reply_malformed", detail=malformed.message("en")[:200]) from malformed
        self._down_until = 0.0
        return reply

    def _board(self, size: int) -> KioskBoard:
        params = {"village": self.village_id, "size": max(0, size)}
        board = self._fetch(KioskBoard, "GET", "/v1/kiosk/board", params=params)
        self._remember_shelf(board)
        if board.notice_board is not None:  # sent with the ranking (a server older than it sends none)
            self._notices = board.notice_board.board()
        return board

    def _remember_shelf(self, reply: KioskShelf) -> Shelf:
        shelf = Shelf(reply.shop.name if reply.shop else "", _offers(reply), self._freshness(reply))
        self._shelf, self._shelf_at = shelf, self.clock()
        return shelf

    @staticmethod
    def _freshness(reply: KioskShelf) -> Freshness:
        # What the villager needs to know is how far the village shop's sales have reached the township
        # (its last push); the server's clock only when the shop never pushed.
        return Freshness("remote", reply.as_of)

    # ------------------------------------------------------------ KioskSource

    def ranking(self, size: int) -> Ranking:
        board = self._board(size)
        entries = tuple(RankEntry(r.rank, r.household_id, r.name, r.earned_cycle) for r in board.ranking)
        return Ranking(board.village.name, entries, self._freshness(board))

    def board(self) -> VillageBoard:
        """The village's rules and notices as they came with the last ranking (``ranking`` fetches them)."""
        return self._notices

    def shelf(self) -> Shelf:
        now = self.clock()
        if self._shelf is not None and (now - self._shelf_at < self.shelf_ttl or now < self._down_until):
            return self._shelf  # fresh enough, or the server is known to be down: do not wait on it again
        if now < self._down_until:
            raise KioskServerFault("kiosk_unreachable", url=self.server_url)
        return self._remember_shelf(self._board(0))

    def household(self, code: str) -> HouseholdFacts:
        try:
            request = KioskBalanceIn(code=code, village=self.village_id)
        except ValidationError as error:  # empty, too long for any code, a NUL: what the server would refuse
            raise LedgerError("passbook_malformed") from error
        reply = self._fetch(KioskBalance, "POST", "/v1/kiosk/balance", json_body=request)
        facts = HouseholdFacts(
            household_id=reply.household_id,
            name=reply.name,
            frozen=reply.is_frozen,
            balance=reply.balance,
            redeemable=reply.redeemable,
            earned_cycle=reply.earned_cycle,
            movements=tuple(_movement(m) for m in reply.history),
            goods=_offers(reply),
            freshness=self._freshness(reply),
        )
        self._remember_shelf(reply)
        return facts
