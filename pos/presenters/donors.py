"""Choosing who gave, without typing Chinese: past donors, a household by its number, or an anonymous giver.

A donor's name goes on the voucher (捐赠凭证) and into the donation ledger the township publishes, so it
must be spelled the same way every time: picking it from the ledger's own past donations keeps
"华兴农业有限公司" from becoming three different companies. New companies and units reach the list
through the township's records (sync) or the command line, where typing is possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.model import TxnKind
from ledger.ports import LedgerStore
from pos.presenters.common import HouseholdChoice

ANONYMOUS = "爱心人士（匿名）"
MAX_PAST_DONORS = 30


@dataclass(frozen=True)
class DonorChoice:
    """``name`` is what the ledger records; ``kind`` tells the picker how to show it."""

    name: str
    kind: str  # "past" | "household" | "anonymous"


def past_donors(store: LedgerStore, limit: int = MAX_PAST_DONORS) -> list[DonorChoice]:
    """Donors of earlier donations at this ledger, most recent first, each once (no anonymous entry)."""
    with store.read() as unit:
        parties = [t.party for t in unit.transactions(frozenset({TxnKind.DONATION})) if t.party]
    seen: list[str] = []
    for party in reversed(parties):
        if party not in seen and party != ANONYMOUS:
            seen.append(party)
        if len(seen) >= limit:
            break
    return [DonorChoice(name, "past") for name in seen]


def donor_choices(store: LedgerStore) -> list[DonorChoice]:
    """What the donor picker offers: the anonymous giver first (the most common), then past donors."""
    return [DonorChoice(ANONYMOUS, "anonymous"), *past_donors(store)]


def household_donor(choice: HouseholdChoice) -> DonorChoice:
    """A villager giving goods or money, recorded by name and household number (names repeat in a village)."""
    return DonorChoice(choice.label, "household")
