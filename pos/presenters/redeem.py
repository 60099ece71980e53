"""A redemption at the counter: the household, the cart, the confirmation, the commit.

The rules the shopkeeper meets here, before the ledger would refuse anyway:

- a cart belongs to one household: scanning another passbook with goods in the cart is refused, not
  silently switched (the goods on the counter are the first villager's);
- the running total never goes over the household's redeemable points, a line never over the stock on the
  shelf nor the policy's ``max_quantity``: the tap that would is refused with the reason;
- **one confirmation, one transaction.** The transaction id is made once, at the first ``commit`` of a
  confirmed cart, and kept until the ledger has answered: a double tap on "yes", or a retry after an error
  whose outcome is unknown (the process lost the answer of the commit), sends the same id again, and
  ``services.redeem`` returns the committed receipt instead of redeeming twice. While the outcome is
  unknown the cart cannot be changed — a changed cart with a new id could redeem twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ledger import services
from ledger.errors import LedgerError
from ledger.model import BalanceView, Operator, Receipt
from ledger.passbook import PREFIX
from ledger.ports import LedgerStore
from pos.presenters.catalog import Catalog, ItemTile
from pos.presenters.common import Clock, HouseholdChoice, HouseholdFinder, PosRefusal, local_now


@dataclass(frozen=True)
class HouseholdCard:
    """The household panel: who, how many, how many points can be spent, and as of when."""

    household_id: str
    name: str
    members: tuple[str, ...]  # "李秀英（配偶）"
    redeemable: int
    balance: int
    earned_cycle: int
    last_synced: str | None  # ISO time of the last pull from the central record; None: standalone shop
    frozen: bool

    @property
    def member_count(self) -> int:
        return len(self.members)

    @property
    def names(self) -> tuple[str, ...]:
        """The members' names alone ("李秀英"), for one line at the till: more of them fit."""
        return tuple(member.split("（", 1)[0] for member in self.members)

    @classmethod
    def of(cls, view: BalanceView) -> HouseholdCard:
        household = view.household
        members = tuple(f"{m.name}（{m.relation}）" if m.relation else m.name for m in household.members)
        return cls(
            household_id=household.household_id,
            name=household.head_name,
            members=members,
            redeemable=view.redeemable,
            balance=view.balance,
            earned_cycle=view.earned_cycle,
            last_synced=view.last_synced,
            frozen=view.status == "frozen",
        )


@dataclass(frozen=True)
class CartLine:
    sku: str
    label: str
    qty: int
    points_each: int
    on_hand: int

    @property
    def points(self) -> int:
        return self.qty * self.points_each


@dataclass(frozen=True)
class CartView:
    lines: tuple[CartLine, ...]
    total: int
    redeemable: int

    @property
    def remaining(self) -> int:
        return self.redeemable - self.total

    @property
    def count(self) -> int:
        return sum(line.qty for line in self.lines)

    @property
    def empty(self) -> bool:
        return not self.lines


@dataclass(frozen=True)
class CommitResult:
    """A committed redemption. ``first`` is False when this was the same confirmation arriving again:
    the screen then neither prints nor announces anything new."""

    receipt: Receipt
    first: bool = True

    @property
    def txn_id(self) -> str:
        return self.receipt.transaction.txn_id

    @property
    def receipt_no(self) -> str:
        return self.receipt.transaction.receipt_no

    @property
    def points(self) -> int:
        return sum(-line.qty * line.points_each for line in self.receipt.transaction.lines)


@dataclass(frozen=True)
class ScanOutcome:
    """What a scan did: opened a household, or added one of an item to the cart."""

    kind: str  # "household" | "item"
    household: HouseholdCard | None = None
    item: ItemTile | None = None


def is_passbook_code(text: str) -> bool:
    """Passbook codes start with ``LM1:`` (DESIGN §5); anything else a scanner reads is a product barcode."""
    return text.strip().upper().startswith(PREFIX + ":")


class RedeemPresenter:
    def __init__(self, store: LedgerStore, catalog: Catalog, clock: Clock = local_now) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.finder = HouseholdFinder(store)
        self.household: HouseholdCard | None = None
        self.last: CommitResult | None = None  # the sale just committed (for the success panel and reprint)
        self._code: str | None = None
        self._lines: dict[str, int] = {}
        self._txn_id: str | None = None
        self._uncertain = False

    # ----- the household

    def scan(self, text: str) -> ScanOutcome:
        """A scan from any scanner: a passbook opens the household, a product barcode adds one of it."""
        if is_passbook_code(text):
            return ScanOutcome("household", household=self.open_passbook(text))
        tile = self.catalog.by_barcode(text)
        self.add(tile.sku)
        return ScanOutcome("item", item=tile)

    def open_passbook(self, code: str) -> HouseholdCard:
        """Look the passbook up (refusing unknown, forged and revoked ones) and show its household."""
        view = services.balance_for_code(self.store, code, self.clock)
        card = HouseholdCard.of(view)
        if self.household is not None and card.household_id == self.household.household_id:
            self.household = card  # the same villager scanned again: fresher figures, same cart
            self._code = code.strip()
            return card
        if self._lines or self._uncertain:
            raise PosRefusal("pos_cart_not_empty", name=self.household.name if self.household else "")
        self.household = card
        self._code = code.strip()
        self._new_sale()
        self.last = None
        return card

    def find_households(self, digits: str) -> list[HouseholdChoice]:
        """Households whose number is ``digits`` (typed on the keypad), for manual entry."""
        return self.finder.find(digits)

    def open_household(self, household_id: str, manager: Operator) -> HouseholdCard:
        """Manual entry: the household number instead of its passbook, confirmed by a manager's PIN first.

        The redemption then goes through the same checks as a scanned card (the current card's code).
        """
        if not manager.is_manager:
            raise LedgerError("manager_required")
        return self.open_passbook(services.passbook_code_of(self.store, household_id))

    def finish(self) -> None:
        """Next villager: forget the household and the cart (refused while a commit's outcome is unknown)."""
        if self._uncertain:
            raise PosRefusal("pos_commit_uncertain")
        self.household = None
        self._code = None
        self._new_sale()
        self.last = None

    # ----- the cart

    def cart(self) -> CartView:
        lines = []
        for sku, qty in self._lines.items():
            tile = self.catalog.tile(sku)
            lines.append(CartLine(sku, tile.label, qty, tile.points, tile.on_hand))
        total = sum(line.points for line in lines)
        redeemable = self.household.redeemable if self.household else 0
        return CartView(tuple(lines), total, redeemable)

    def quantity(self, sku: str) -> int:
        return self._lines.get(sku, 0)

    def add(self, sku: str, qty: int = 1) -> CartView:
        return self.set_quantity(sku, self.quantity(sku) + qty)

    def decrement(self, sku: str) -> CartView:
        return self.set_quantity(sku, max(0, self.quantity(sku) - 1))

    def remove(self, sku: str) -> CartView:
        return self.set_quantity(sku, 0)

    def set_quantity(self, sku: str, qty: int) -> CartView:
        """Put ``qty`` of ``sku`` in the cart (0 takes it out), or refuse and change nothing."""
        if self.household is None:
            raise PosRefusal("pos_scan_first")
        if self.household.frozen:
            raise LedgerError("household_frozen", name=self.household.name)
        self._check_changeable()
        tile = self.catalog.tile(sku)
        if qty < 0 or qty > self.catalog.policy.max_quantity:
            raise LedgerError("bad_quantity", value=qty, max=self.catalog.policy.max_quantity)
        if qty > tile.on_hand:
            raise LedgerError("out_of_stock", name=tile.label, wanted=qty, on_hand=tile.on_hand)
        in_cart = self.cart().total
        adding = (qty - self.quantity(sku)) * tile.points
        if adding > 0 and in_cart + adding > self.household.redeemable:
            # Named by what was tapped, with the cart's own figures: "needs 33, has 30" read as a puzzle
            # when the cart said 30 and nothing said the last tap was turned down.
            raise PosRefusal(
                "pos_does_not_fit",
                item=tile.label,
                points=adding,
                in_cart=in_cart,
                left=self.household.redeemable - in_cart,
            )
        if qty == 0:
            self._lines.pop(sku, None)
        else:
            self._lines[sku] = qty
        self._new_sale()
        return self.cart()

    def clear(self) -> CartView:
        self._check_changeable()
        self._lines.clear()
        self._new_sale()
        return self.cart()

    # ----- confirm and commit

    @property
    def uncertain(self) -> bool:
        """A commit failed without the ledger saying no: retry ``commit`` (it cannot redeem twice)."""
        return self._uncertain

    def check_ready(self) -> CartView:
        """The cart to show in the confirm dialog; refuses an empty cart or no household."""
        if self.household is None:
            raise PosRefusal("pos_scan_first")
        view = self.cart()
        if view.empty:
            raise LedgerError("empty_cart")
        if view.total > view.redeemable:
            raise LedgerError("insufficient_points", needed=view.total, redeemable=view.redeemable)
        return view

    def commit(self, ctx: services.Context) -> CommitResult:
        """Redeem the confirmed cart. See the module docstring for why this may be called twice safely."""
        if self._txn_id is None:
            if self.last is not None and not self._lines:
                return replace(self.last, first=False)  # the same "yes" arriving a second time
            self.check_ready()
            self._txn_id = services.new_txn_id()
        assert self._code is not None
        cart = list(self._lines.items())
        try:
            receipt = services.redeem(self.store, self._code, cart, ctx, txn_id=self._txn_id)
        except LedgerError:
            # The ledger said no and wrote nothing: the next confirmation may use a new id.
            self._txn_id = None
            self._uncertain = False
            raise
        except Exception:
            self._uncertain = True  # keep the id: the retry finds the sale if it was committed
            raise
        self._uncertain = False
        self._txn_id = None
        self._lines.clear()
        self.last = CommitResult(receipt)
        if self.household is not None:
            self.household = replace(self.household, redeemable=receipt.redeemable_after, balance=receipt.balance_after)
        self.catalog.refresh()
        return self.last

    # ----- internals

    def _check_changeable(self) -> None:
        if self._uncertain:
            raise PosRefusal("pos_commit_uncertain")

    def _new_sale(self) -> None:
        """The cart changed: the next confirmation is a new sale with a new id."""
        self._txn_id = None
        if self._lines:
            self.last = None
