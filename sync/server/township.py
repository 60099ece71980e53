"""What the township does at the central record: master data, points, clearing, cycles, exceptions.

Each operation is one write unit: the ledger services do the work (they join the unit), and the
change-log rows that shops will pull are written in the same database transaction. Awards repay an
overdraft first (``rules.repay_after_award``). Household ``status`` is never master data: a
household's record is replaced with the status it already has; only clearing and unfreeze change it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger import services
from ledger.errors import LedgerError
from ledger.model import (
    Household,
    Item,
    Member,
    PassbookCard,
    Policy,
    Shop,
    Township,
    Transaction,
    TxnKind,
    Village,
)
from ledger.passbook import make_code
from ledger.register import HouseholdInput, household_of, household_problems
from ledger.spreadsheets import import_points
from ledger.storage.central import CentralUnit, SyncExceptionRecord
from sync.errors import SyncError
from sync.protocol import master_to_wire
from sync.server import holds, rules
from sync.server.changes import log_masters, log_txns
from sync.server.record import CENTRAL_DEVICE, CentralRecord, valid_id

_VILLAGE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_SKU = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")
POLICY_CYCLES = ("annual", "none")


def _invalid(detail: str) -> SyncError:
    return SyncError("invalid", detail=detail)


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{what} is required")
    if len(value.strip()) > limit:
        raise _invalid(f"{what} is longer than {limit} characters")
    return value.strip()


# ----- township, policy, villages, shops -------------------------------------------------------------


def rename_township(record: CentralRecord, name: str) -> Township:
    """A new name; the passbook key never changes (every card in the township is signed with it)."""
    with record.write() as unit:
        current = unit.ledger.township()
        township = Township(current.township_id, _text(name, "name", 200), current.passbook_key)
        unit.ledger.put_township(township)
        log_masters(unit, [township], record.now())
    return township


def township_json(record: CentralRecord) -> dict[str, Any]:
    """The township and its current policy (``GET /v1/admin/township``)."""
    with record.store.read() as unit:
        township = unit.ledger.township()
        policy = unit.ledger.policy()
    return {"township_id": township.township_id, "name": township.name, "policy": master_to_wire(policy)[1]}


def policy_json(record: CentralRecord) -> dict[str, Any]:
    with record.store.read() as unit:
        return master_to_wire(unit.ledger.policy())[1]


def set_policy(record: CentralRecord, changes: dict[str, Any]) -> Policy:
    """The next version of the policy with ``changes``; shops pull it and apply it from then on."""
    names = {f.name for f in dataclasses.fields(Policy)} - {"version"}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise _invalid(f"unknown policy fields: {', '.join(unknown)}")
    for name, value in changes.items():
        if name == "cycle":
            if value not in POLICY_CYCLES:
                raise _invalid(f"cycle must be one of {', '.join(POLICY_CYCLES)}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 10**9:
            raise _invalid(f"{name} must be a whole number from 0 to 10^9")
    with record.write() as unit:
        current = unit.ledger.policy()
        policy = dataclasses.replace(current, version=current.version + 1, **changes)
        if policy.max_quantity < 1 or policy.max_points_per_award < 1 or policy.fen_per_point < 1:
            raise _invalid("max_quantity, max_points_per_award and fen_per_point must be at least 1")
        unit.ledger.put_policy(policy)
        log_masters(unit, [policy], record.now())
    return policy


def put_village(record: CentralRecord, village_id: str, name: str) -> Village:
    if not isinstance(village_id, str) or not _VILLAGE_ID.match(village_id):
        raise _invalid(f"village id {village_id!r}: 1-32 upper-case letters or digits")
    village = Village(village_id, _text(name, "name", 200))
    with record.write() as unit:
        unit.ledger.put_village(village)
        log_masters(unit, [village], record.now())
    return village


def villages(record: CentralRecord) -> list[dict[str, Any]]:
    with record.store.read() as unit:
        return [{"village_id": village_id, "name": name} for village_id, name in unit.village_names().items()]


def put_shop(record: CentralRecord, shop_id: str, name: str, village_id: str) -> Shop:
    if not valid_id(shop_id):
        raise _invalid(f"shop id {shop_id!r}: 1-16 upper-case letters or digits")
    shop = Shop(shop_id, _text(name, "name", 200), village_id)
    with record.write() as unit:
        if shop_id == unit.ledger.identity().shop_id:
            raise _invalid("a shop cannot take the township's id")
        if unit.ledger.village(village_id) is None:
            raise LedgerError("village_unknown", village_id=village_id)
        unit.ledger.put_shop(shop)
        log_masters(unit, [shop], record.now())
    return shop


def shops(record: CentralRecord) -> list[dict[str, Any]]:
    with record.store.read() as unit:
        rows = unit.shops()
        devices_of = unit.devices_by_shop()
    result = []
    for row in rows:
        own = devices_of.get(row.shop_id, [])
        result.append(
            {
                "shop_id": row.shop_id,
                "name": row.name,
                "village_id": row.village_id,
                "devices": [device_json(d) for d in own],
                "acked_through": max((d.acked_through for d in own if d.active), default=0),
            }
        )
    return result


def device_json(device: Any) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "shop_id": device.shop_id,
        "created_at": device.created_at,
        "revoked_at": device.revoked_at,
        "acked_through": device.acked_through,
        "last_push_at": device.last_push_at,
    }


def devices(record: CentralRecord) -> list[dict[str, Any]]:
    with record.store.read() as unit:
        return [device_json(d) for d in unit.devices()]


def revoke_device(record: CentralRecord, device_id: str) -> None:
    with record.write() as unit:
        if unit.device(device_id) is None:
            raise SyncError("not_found", what=f"device {device_id}")
        unit.revoke_device(device_id, record.now())


# ----- households and cards ----------------------------------------------------------------------------


def check_household(unit: CentralUnit, given: HouseholdInput, check_place: bool = True) -> list[LedgerError]:
    """Every problem with a household record (``ledger.register``), its village and shop looked up here."""
    if not check_place:
        return household_problems(given)
    return household_problems(given, unit.ledger.village, unit.ledger.shop)


def store_household(unit: CentralUnit, given: HouseholdInput, when: str) -> tuple[Household, PassbookCard | None]:
    """Add or change a household (its status kept); a new household gets card 1. Logs both records."""
    existing = unit.ledger.household(given.household_id)
    household = household_of(given, existing)
    unit.ledger.put_household(household)
    card = None
    if existing is None:
        card = PassbookCard(household.household_id, 1, True, when)
        unit.ledger.put_card(card)
    log_masters(unit, [household, card] if card else [household], when)
    return household, card


def put_household(record: CentralRecord, given: HouseholdInput) -> dict[str, Any]:
    with record.write() as unit:
        problems = check_household(unit, given)
        if problems:
            raise problems[0]
        household, card = store_household(unit, given, record.now())
        return household_json(unit, household.household_id)


def household_json(unit: CentralUnit, household_id: str) -> dict[str, Any]:
    """A household as the township sees it: record, balance, points earned, cards, code, overdraft debt."""
    ledger = unit.ledger
    household = ledger.household(household_id)
    if household is None:
        raise LedgerError("household_unknown", household_id=household_id)
    balance, earned = ledger.balance(household_id)
    card = ledger.active_card(household_id)
    key = ledger.township().passbook_key
    return {
        "household_id": household.household_id,
        "name": household.head_name,
        "village_id": household.village_id,
        "home_shop_id": household.home_shop_id,
        "status": str(household.status),
        "village_group": household.village_group,
        "house_no": household.house_no,
        "phone": household.phone,
        "members": [{"name": m.name, "relation": m.relation} for m in household.members],
        "balance": balance,
        "earned_cycle": earned,
        "overdraft": rules.debt_of(unit, household_id),
        "card_no": card.card_no if card else None,
        "passbook": make_code(key, household_id, card.card_no) if card else None,
        "cards": [
            {"card_no": c.card_no, "active": c.active, "issued_at": c.issued_at, "revoked_at": c.revoked_at}
            for c in ledger.cards(household_id)
        ],
    }


def households(
    record: CentralRecord, village_id: str | None = None, offset: int = 0, limit: int = 1000
) -> dict[str, Any]:
    with record.store.read() as unit:
        key = unit.ledger.township().passbook_key
        rows = [r for r in unit.ledger.households() if village_id is None or r.household.village_id == village_id]
    page = rows[max(0, offset) : max(0, offset) + max(0, limit)]
    return {
        "total": len(rows),
        "households": [
            {
                "household_id": r.household.household_id,
                "name": r.household.head_name,
                "village_id": r.household.village_id,
                "home_shop_id": r.household.home_shop_id,
                "status": str(r.household.status),
                "balance": r.balance,
                "earned_cycle": r.earned_cycle,
                "passbook": make_code(key, r.household.household_id, r.card_no) if r.card_no else None,
            }
            for r in page
        ],
    }


def household(record: CentralRecord, household_id: str) -> dict[str, Any]:
    with record.store.read() as unit:
        return household_json(unit, household_id)


def reissue_card(record: CentralRecord, household_id: str) -> dict[str, Any]:
    """A lost passbook: the old card is revoked everywhere after the next pull, the next number issued."""
    with record.write() as unit:
        old = unit.ledger.active_card(household_id)
        card = services.reissue_passbook(record.ledger, household_id, record.clock)
        changed = [c for c in unit.ledger.cards(household_id) if old is not None and c.card_no == old.card_no]
        log_masters(unit, [*changed, card], record.now())
        return household_json(unit, household_id)


def revoke_card(record: CentralRecord, household_id: str) -> dict[str, Any]:
    """Revoke the active card without issuing another (the household left, or a card was misused)."""
    with record.write() as unit:
        if unit.ledger.household(household_id) is None:
            raise LedgerError("household_unknown", household_id=household_id)
        card = unit.ledger.active_card(household_id)
        if card is None:
            raise LedgerError("nothing_to_do")
        unit.ledger.revoke_card(household_id, card.card_no, record.now())
        revoked = unit.ledger.card(household_id, card.card_no)
        log_masters(unit, [revoked] if revoked else [], record.now())
        return household_json(unit, household_id)


# ----- catalogue -------------------------------------------------------------------------------------


def put_item(record: CentralRecord, item: Item) -> Item:
    if not _SKU.match(item.sku):
        raise _invalid(f"sku {item.sku!r}: upper-case letters, digits, '_', '.', '-' (at most 32)")
    _text(item.name, "name", 200)
    _text(item.unit, "unit", 16)
    if isinstance(item.points, bool) or not isinstance(item.points, int) or not 1 <= item.points <= 1_000_000:
        raise LedgerError("bad_points", value=item.points, max=1_000_000)
    if item.barcode is not None and not re.fullmatch(r"[0-9A-Za-z-]{1,64}", item.barcode):
        raise _invalid(f"barcode {item.barcode!r}")
    with record.write() as unit:
        if item.barcode:
            other = unit.ledger.item_by_barcode(item.barcode)
            if other is not None and other.sku != item.sku:
                raise _invalid(f"barcode {item.barcode} already belongs to {other.sku}")
        unit.ledger.put_item(item)
        log_masters(unit, [item], record.now())
    return item


def items(record: CentralRecord) -> list[dict[str, Any]]:
    with record.store.read() as unit:
        return [dataclasses.asdict(i) for i in unit.ledger.items()]


# ----- points -----------------------------------------------------------------------------------------


def txn_json(txn: Transaction) -> dict[str, Any]:
    return {
        "receipt_no": txn.receipt_no,
        "txn_id": txn.txn_id,
        "kind": str(txn.kind),
        "household_id": txn.household_id,
        "points": txn.household_points,
        "created_at": txn.created_at,
    }


def award(
    record: CentralRecord, household_id: str, points: int, reason: str, kind: str = "award", txn_id: str | None = None
) -> list[Transaction]:
    """One award or deduction; an award is followed by the repayment of any overdraft."""
    if kind not in ("award", "deduct"):
        raise _invalid("kind must be award or deduct")
    with record.write() as unit:
        if txn_id is not None:
            done = unit.ledger.transaction(txn_id)
            if done is not None:  # the same request again (a retry after a lost reply)
                return [done]
        record_fn = services.award if kind == "award" else services.deduct
        txn = record_fn(record.ledger, household_id, points, reason, record.context(), txn_id=txn_id)
        when = record.now()
        log_txns(unit, [txn], CENTRAL_DEVICE, when)
        repaid = rules.repay_after_award(unit, txn, when) if kind == "award" else None
        return [txn, repaid] if repaid else [txn]


def import_score_sheet(record: CentralRecord, path: Path) -> dict[str, Any]:
    """A committee's score sheet (.xlsx/.csv): every row or none, row-numbered errors, never twice."""
    with record.write() as unit:
        result = import_points(record.ledger, path, record.context())
        when = record.now()
        log_txns(unit, result.transactions, CENTRAL_DEVICE, when)
        repaid = [
            r for t in result.transactions if t.kind == TxnKind.AWARD if (r := rules.repay_after_award(unit, t, when))
        ]
    data = result.as_dict()
    data["overdraft_repayments"] = len(repaid)
    return data


def grant_base(record: CentralRecord) -> list[Transaction]:
    with record.write() as unit:
        txns = services.grant_base(record.ledger, record.context())
        log_txns(unit, txns, CENTRAL_DEVICE, record.now())
    return txns


def close_cycle(record: CentralRecord) -> list[Transaction]:
    with record.write() as unit:
        txns = services.close_cycle(record.ledger, record.context())
        log_txns(unit, txns, CENTRAL_DEVICE, record.now())
    return txns


def clear(record: CentralRecord, household_id: str, reason: str) -> Transaction:
    with record.write() as unit:
        txn = services.clear_household(record.ledger, household_id, reason, record.context())
        log_txns(unit, [txn], CENTRAL_DEVICE, record.now())
    return txn


def unfreeze(record: CentralRecord, household_id: str, reason: str) -> Transaction:
    with record.write() as unit:
        txn = services.unfreeze(record.ledger, household_id, reason, record.context())
        log_txns(unit, [txn], CENTRAL_DEVICE, record.now())
    return txn


# ----- exceptions --------------------------------------------------------------------------------------


def exception_json(e: SyncExceptionRecord) -> dict[str, Any]:
    return dataclasses.asdict(e)


def exceptions(record: CentralRecord, status: str | None = "open", kind: str | None = None) -> list[dict[str, Any]]:
    with record.store.read() as unit:
        return [exception_json(e) for e in unit.exceptions(status=status, kind=kind)]


EXCEPTIONS_PAGE = 100
EXCEPTIONS_PAGE_MAX = 500


def exceptions_page(
    record: CentralRecord,
    status: str | None = "open",
    kind: str | None = None,
    shop_id: str | None = None,
    offset: int = 0,
    limit: int = EXCEPTIONS_PAGE,
) -> dict[str, Any]:
    """A page of exceptions, newest first, with the total that match: a flood of old ones cannot hide a new one.

    ``next_offset`` is where the next page starts, or None after the last page.
    """
    limit = max(1, min(limit, EXCEPTIONS_PAGE_MAX))
    with record.store.read() as unit:
        found, total = unit.exceptions_page(status=status, kind=kind, shop_id=shop_id, offset=offset, limit=limit)
    following = offset + len(found)
    return {
        "exceptions": [exception_json(e) for e in found],
        "total": total,
        "offset": offset,
        "limit": limit,
        "next_offset": following if following < total else None,
    }


def held(
    record: CentralRecord, status: str | None, shop_id: str | None, offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    """Held transactions, newest first, a page at a time (docs/sync.md "Authority")."""
    with record.store.read() as unit:
        found, total = unit.held_list(status, shop_id.upper() if shop_id else None, offset, limit)
    return {"held": [holds.held_json(h) for h in found], "total": total, "offset": offset, "limit": limit}


def decide_held(record: CentralRecord, txn_id: str, release: bool, by: str, reason: str) -> dict[str, Any]:
    """Keep a held transaction held for good, or release it (its points re-issued by the township)."""
    with record.write() as unit:
        return holds.held_json(holds.decide(unit, txn_id, release, by, reason, record.now()))


def resolve_exception(record: CentralRecord, exception_id: int, resolution: str) -> dict[str, Any]:
    text = _text(resolution, "resolution", 2000)
    with record.write() as unit:
        found = unit.exception(exception_id)
        if found is None:
            raise SyncError("not_found", what=f"exception {exception_id}")
        if not unit.resolve_exception(exception_id, text, record.now()):
            raise LedgerError("nothing_to_do")
        resolved = unit.exception(exception_id)
        assert resolved is not None
        return exception_json(resolved)


def members_from(value: Sequence[Any]) -> tuple[Member, ...]:
    """Members as ``[[name, relation], ...]`` or ``[{"name", "relation"}, ...]``."""
    result = []
    for m in value:
        if isinstance(m, dict):
            result.append(Member(str(m.get("name", "")).strip(), str(m.get("relation", "")).strip()))
        elif isinstance(m, list | tuple) and m:
            result.append(Member(str(m[0]).strip(), str(m[1]).strip() if len(m) > 1 else ""))
        else:
            raise _invalid("members are [name, relation] pairs")
    return tuple(result)
