"""Bodies of the central record's admin and kiosk API, as typed models shared by the server and its clients.

The server declares its routes with them (so ``/openapi.json`` shows every body, and a value out of bounds
is a 422 before anything is stored); ``lovemart central ...`` builds its requests with the same models, so
a bad value is refused on the township's PC with the same words; the remote kiosk reads the kiosk replies
with them. The sync protocol's own messages (push, pull, enrolment, errors) are in ``sync.protocol``.

Every string has the length of its column and may hold neither NUL (PostgreSQL refuses it) nor a lone
surrogate (not Unicode: no driver can encode it); every number fits its column.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sync.protocol import VillageBoardWire, bad_text


def _storable(value: str) -> str:
    problem = bad_text(value)
    if problem:
        raise ValueError(problem)
    return value


Text = Annotated[str, AfterValidator(_storable)]
Points = Annotated[int, Field(ge=-(2**31) + 1, le=2**31 - 1)]  # an ``Integer`` column at most
PolicyNumber = Annotated[int, Field(ge=0, le=10**9)]


# ----- admin requests ---------------------------------------------------------------------------------------


class NameIn(BaseModel):
    name: Text = Field(max_length=200)


class PolicyIn(BaseModel):
    """The fields of the policy to change (the version is the server's); the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    base_points: PolicyNumber | None = None
    redeemable_floor: PolicyNumber | None = None
    cycle: Literal["annual", "none"] | None = None
    fen_per_point: PolicyNumber | None = None
    visitor_limit: PolicyNumber | None = None
    max_offline_days: PolicyNumber | None = None
    max_quantity: PolicyNumber | None = None
    max_points_per_award: PolicyNumber | None = None


class VillageIn(BaseModel):
    village_id: Text = Field(max_length=32)
    name: Text = Field(max_length=200)


class ShopIn(BaseModel):
    shop_id: Text = Field(max_length=16)
    name: Text = Field(max_length=200)
    village_id: Text = Field(max_length=32)


class MemberIn(BaseModel):
    name: Text = Field(max_length=100)
    relation: Text = Field(default="", max_length=100)


class HouseholdIn(BaseModel):
    household_id: Text = Field(max_length=16)
    village_id: Text = Field(max_length=32)
    head_name: Text = Field(max_length=100)
    home_shop_id: Text = Field(max_length=16)
    village_group: Text = Field(default="", max_length=32)  # 村民小组
    house_no: Text = Field(default="", max_length=32)  # 门牌号
    phone: Text = Field(default="", max_length=20)  # 联系电话
    # ``{"name", "relation"}`` or ``[name, relation]`` (a spreadsheet row's form)
    members: list[MemberIn | Annotated[list[Annotated[Text, Field(max_length=100)]], Field(max_length=2)]] = Field(
        default_factory=list, max_length=50
    )


class ReasonIn(BaseModel):
    reason: Text = Field(max_length=500)


class PointsIn(BaseModel):
    household_id: Text = Field(max_length=16)
    points: Points
    reason: Text = Field(max_length=500)
    kind: Text = Field(default="award", max_length=16)
    txn_id: Text | None = Field(default=None, max_length=36)


class ItemIn(BaseModel):
    sku: Text = Field(max_length=32)
    name: Text = Field(max_length=200)
    unit: Text = Field(max_length=16)
    points: Points
    barcode: Text | None = Field(default=None, max_length=64)
    category: Text = Field(default="", max_length=64)
    active: bool = True


class DecisionIn(BaseModel):
    """Keep or release a held transaction: who decided and why (both recorded)."""

    by: Text = Field(min_length=1, max_length=100)
    reason: Text = Field(min_length=1, max_length=2000)


class ResolutionIn(BaseModel):
    resolution: Text = Field(max_length=2000)


class KioskTokenIn(BaseModel):
    label: Text = Field(default="kiosk", max_length=100)


# ----- the kiosk -----------------------------------------------------------------------------------------
# The passbook code travels in a body, never in a URL: URLs end up in access logs and proxy logs.


class KioskBalanceIn(BaseModel):
    code: Text = Field(min_length=1, max_length=64)
    village: Text | None = Field(default=None, max_length=32)


class KioskVillage(BaseModel):
    village_id: str
    name: str


class KioskShop(BaseModel):
    shop_id: str
    name: str


class KioskGoods(BaseModel):
    sku: str
    name: str
    unit: str
    points: int
    on_hand: int


class KioskRankLine(BaseModel):
    rank: int
    household_id: str
    name: str
    earned_cycle: int


class KioskShelf(BaseModel):
    """The goods on offer at a village's shop, as far as its pushes have reached the township."""

    shop: KioskShop | None = None
    goods: list[KioskGoods]
    stock_as_of: str | None = None  # the shop's last push; None if it never pushed
    server_time: str

    @property
    def as_of(self) -> str:
        """How fresh the figures are: the shop's last push, else the server's clock."""
        return self.stock_as_of or self.server_time


class KioskBoard(KioskShelf):
    """``GET /v1/kiosk/board``: a village's public ranking (never balances) and its shop's shelf."""

    village: KioskVillage
    ranking: list[KioskRankLine]
    notice_board: VillageBoardWire | None = None  # with the ranking only; a server older than it sends none


class KioskMovement(BaseModel):
    when: str
    points: int
    text: str = ""
    zh: str | None = None
    en: str | None = None
    receipt_no: str = ""


class KioskTopLine(BaseModel):
    rank: int
    name: str
    earned_cycle: int


class KioskStanding(BaseModel):
    rank: int | None = None
    of: int = 0
    top: list[KioskTopLine] = Field(default_factory=list)


class KioskBalance(KioskShelf):
    """``POST /v1/kiosk/balance``: one passbook's figures, recent movements and standing, and the shelf."""

    household_id: str
    name: str
    village_id: str = ""
    status: str = "active"
    frozen: bool | None = None  # None from a server older than the field: read ``status``
    balance: int
    redeemable: int
    earned_cycle: int
    overdraft: int = 0
    history: list[KioskMovement] = Field(default_factory=list)
    ranking: KioskStanding | None = None

    @property
    def is_frozen(self) -> bool:
        return self.frozen if self.frozen is not None else self.status == "frozen"
