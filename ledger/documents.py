"""Printable documents as plain data: a title, a few lines about it, a table, a footer.

The township prints a household's statement (积分明细), the ledgers (台账), the list for the committee
(重点帮教) and the ranking poster (红榜) for the notice board. Each is the same shape: words and numbers in
rows, said in the reader's language before they get here. Services build a ``TableDocument``; the
PDF writer (``hardware.documents``) lays it out on A4; the console shows the same rows as a page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableDocument:
    title: str
    lines: tuple[str, ...]  # under the title: who, where, which period
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()  # columns aligned right (points, money, counts)
    footer: tuple[str, ...] = ()  # under the table: totals, signatures, how to object
    poster: bool = False  # the notice-board form: large type, the first rows stand out
    widths: tuple[float, ...] = ()  # each column's share of the page width (empty: as the text needs)

    def __post_init__(self) -> None:
        if self.widths and len(self.widths) != len(self.headers):
            raise ValueError("one width per column")
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(f"a row of {len(row)} cells under {len(self.headers)} headers")


@dataclass(frozen=True)
class Certificate:
    """A certificate of honour (荣誉证书) for one household, one to a landscape A4 page: words only, said in
    the reader's language before they get here."""

    title: str  # 荣誉证书
    recipient: str  # 王秀兰 户（XF0001）
    body: str  # 在 2026 年度积分评比中获得“五星文明户”称号，特发此证，以资鼓励。
    issuer: str  # 幸福村村民委员会
    date: str  # 2026 年 12 月 7 日
