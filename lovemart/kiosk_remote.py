"""A kiosk away from the shop (the village service hall): figures from the central record, not a shop ledger.

``RemoteKioskSource`` is a ``kiosk.sources.KioskSource`` over the central record's read-only kiosk
endpoints (docs/sync.md, "Kiosk away from the shop"):

- ``GET /v1/kiosk/board?village=V&size=N``: the village's public ranking and the goods on offer at its shop;
- ``POST /v1/kiosk/balance`` ``{"code": C, "village": V}``: one passbook's figures, its recent movements and
  the shelf. The code goes in the body, never the URL, which access logs and proxies keep.

It lives in the composition root because it joins the kiosk's plain dataclasses to HTTP (the kiosk may not
import httpx, sync may not import the kiosk). Every answer carries ``Freshness("remote", when)``: the village
shop's last push (else the server's time).

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
from typing import Any

import httpx

from kiosk.sources import Freshness, GoodsOffer, HouseholdFacts, RankEntry, Ranking, Shelf
from ledger.errors import DeviceFault, LedgerError
from ledger.history import Movement
from ledger.messages import Said

# Server error codes that are the ledger's own refusals of a scanned code: raised again as LedgerError.
PASSBOOK_CODES = frozenset(
    {"passbook_malformed", "passbook_forged", "passbook_unknown", "passbook_revoked", "household_unknown"}
)
TOKEN_CODES = frozenset({"token_missing", "token_invalid", "admin_required"})
MAX_REPLY_BYTES = 4 * 1024 * 1024


class KioskServerFault(DeviceFault):
    """The central record could not answer the kiosk: no network, a wrong token, a failing server."""


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise KioskServerFault("kiosk_reply_malformed", detail=f"{key}: {value!r}"[:200])
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise KioskServerFault("kiosk_reply_malformed", detail=f"{key}: {value!r}"[:200])
    return value


def _offers(reply: dict[str, Any]) -> tuple[GoodsOffer, ...]:
    goods = reply.get("goods")
    if not isinstance(goods, list):
        raise KioskServerFault("kiosk_reply_malformed", detail="goods")
    return tuple(
        GoodsOffer(_text(g, "sku"), _text(g, "name"), _text(g, "unit"), _int(g, "points"), _int(g, "on_hand"))
        for g in goods
        if isinstance(g, dict)
    )


def _movement(m: dict[str, Any]) -> Movement:
    text = m.get("text") if isinstance(m.get("text"), str) else ""
    zh = m.get("zh") if isinstance(m.get("zh"), str) else text
    en = m.get("en") if isinstance(m.get("en"), str) else text
    receipt_no = m.get("receipt_no") if isinstance(m.get("receipt_no"), str) else ""
    return Movement(_text(m, "when"), _int(m, "points"), Said(str(zh), str(en)), str(receipt_no))


class RemoteKioskSource:
    """``KioskSource`` over the central record's kiosk endpoints (see the module docstring).

    ``village_id`` chooses the ranking's village and the shop whose goods are shown. ``http`` may be given
    (tests, a shared client); otherwise one is made with ``timeout`` and closed by ``close()``.
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
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.kiosk_token = kiosk_token
        self.village_id = village_id.strip().upper()
        self.timeout = timeout
        self.shelf_ttl = shelf_ttl
        self.retry_after = retry_after
        self.clock = clock
        self.lang = lang
        self._own_http = http is None
        self.http = http if http is not None else httpx.Client(timeout=timeout)
        self._shelf: Shelf | None = None
        self._shelf_at = 0.0
        self._down_until = 0.0

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # ------------------------------------------------------------ HTTP

    def _get(self, path: str, params: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET ``path`` with ``params``, or POST ``body`` as JSON when one is given (a passbook code)."""
        url = self.server_url + path
        headers = {"Authorization": f"Bearer {self.kiosk_token}", "Accept": "application/json"}
        query = params | {"lang": self.lang}
        try:
            if body is None:
                reply = self.http.get(url, params=query, headers=headers, timeout=self.timeout)
            else:
                reply = self.http.post(url, params=query, json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as failure:
            self._down_until = self.clock() + self.retry_after
            raise KioskServerFault("kiosk_unreachable", url=self.server_url) from failure
        self._down_until = 0.0
        if len(reply.content) > MAX_REPLY_BYTES:
            raise KioskServerFault("kiosk_reply_malformed", detail="too large")
        try:
            data = reply.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if reply.status_code >= 500:
                raise KioskServerFault("kiosk_server_error", status=reply.status_code)
            raise KioskServerFault("kiosk_reply_malformed", detail=f"HTTP {reply.status_code}")
        if reply.status_code == 200:
            return data
        found = data.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        given = error.get("params")
        details: dict[str, Any] = given if isinstance(given, dict) else {}
        code = str(error.get("code", ""))
        if code in PASSBOOK_CODES:
            raise LedgerError(code, **{str(k): v for k, v in details.items()})
        if reply.status_code == 401 or code in TOKEN_CODES:
            raise KioskServerFault("kiosk_token_invalid")
        if reply.status_code >= 500:
            raise KioskServerFault("kiosk_server_error", status=reply.status_code)
        raise KioskServerFault("kiosk_refused", detail=str(error.get("message") or code or reply.status_code)[:300])

    def _board(self, size: int) -> dict[str, Any]:
        data = self._get("/v1/kiosk/board", {"village": self.village_id, "size": max(0, size)})
        self._remember_shelf(data)
        return data

    def _remember_shelf(self, data: dict[str, Any]) -> Shelf:
        shop = data.get("shop")
        shelf = Shelf(_text(shop, "name") if isinstance(shop, dict) else "", _offers(data), self._freshness(data))
        self._shelf, self._shelf_at = shelf, self.clock()
        return shelf

    @staticmethod
    def _freshness(data: dict[str, Any]) -> Freshness:
        # What the villager needs to know is how far the village shop's sales have reached the township
        # (its last push); the server's clock only when the shop never pushed.
        pushed = data.get("stock_as_of")
        return Freshness("remote", pushed if isinstance(pushed, str) and pushed else _text(data, "server_time"))

    # ------------------------------------------------------------ KioskSource

    def ranking(self, size: int) -> Ranking:
        data = self._board(size)
        found = data.get("village")
        village: dict[str, Any] = found if isinstance(found, dict) else {}
        rows = data.get("ranking")
        if not isinstance(rows, list):
            raise KioskServerFault("kiosk_reply_malformed", detail="ranking")
        entries = tuple(
            RankEntry(_int(r, "rank"), _text(r, "household_id"), _text(r, "name"), _int(r, "earned_cycle"))
            for r in rows
            if isinstance(r, dict)
        )
        name = village.get("name") if isinstance(village.get("name"), str) else ""
        return Ranking(str(name), entries, self._freshness(data))

    def shelf(self) -> Shelf:
        now = self.clock()
        if self._shelf is not None and (now - self._shelf_at < self.shelf_ttl or now < self._down_until):
            return self._shelf  # fresh enough, or the server is known to be down: do not wait on it again
        if now < self._down_until:
            raise KioskServerFault("kiosk_unreachable", url=self.server_url)
        return self._remember_shelf(self._board(0))

    def household(self, code: str) -> HouseholdFacts:
        data = self._get("/v1/kiosk/balance", {}, body={"code": code, "village": self.village_id})
        history = data.get("history")
        if not isinstance(history, list):
            raise KioskServerFault("kiosk_reply_malformed", detail="history")
        frozen = data.get("frozen")
        facts = HouseholdFacts(
            household_id=_text(data, "household_id"),
            name=_text(data, "name"),
            frozen=frozen if isinstance(frozen, bool) else data.get("status") == "frozen",
            balance=_int(data, "balance"),
            redeemable=_int(data, "redeemable"),
            earned_cycle=_int(data, "earned_cycle"),
            movements=tuple(_movement(m) for m in history if isinstance(m, dict)),
            goods=_offers(data),
            freshness=self._freshness(data),
        )
        self._remember_shelf(data)
        return facts
