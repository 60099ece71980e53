"""The demo's household members have names that fit their relation to the head (issue 15 §3: no 赵凤英 listed
as 儿子), and the demo stays the same for a given seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lovemart.bootstrap import shop_parts
from lovemart_tools import demo

# The given names of men and of women, written out here rather than taken from the module under test.
MEN = set(
    "建国 志强 国庆 德福 明亮 小军 振华 文斌 长林 宝山 俊杰 学文 福生 家宝 立新 守业 树林 春生 大勇 永刚 "
    "海涛 子豪 浩然 宇航".split()
)
WOMEN = set(
    "秀英 桂兰 玉兰 海燕 春梅 金花 丽娟 红梅 淑珍 凤英 翠兰 秀芳 兰芳 彩霞 美玲 喜梅 桂芝 巧云 "
    "婷婷 欣怡 雨涵 春燕".split()
)
MALE_RELATIONS = {"儿子", "父亲", "孙子"}
FEMALE_RELATIONS = {"女儿", "母亲", "孙女", "儿媳"}

Members = tuple[tuple[str, str], ...]  # (name, relation), the head (户主) first


def demo_households(folder: Path, seed: int, count: int) -> dict[str, Members]:
    home = shop_parts(folder)
    demo.run(home, households=count, seed=seed)
    with home.store().read() as unit:
        found = {
            r.household.household_id: tuple((m.name, m.relation) for m in r.household.members)
            for r in unit.households()
        }
    home.close()
    return found


@pytest.fixture(scope="module")
def households(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Members]:
    found = demo_households(tmp_path_factory.mktemp("demo") / "shop", seed=2026, count=40)
    assert len(found) == 40
    for hid, members in found.items():
        assert members[0][1] == "户主" and len(members) > 1, (hid, members)
    return found


def is_man(name: str) -> bool | None:
    """Whether the name is a man's, a woman's, or (None) neither list's (a surname and a two-character given name,
    with a third character when the demo made a head's name unique)."""
    given = name[1:3]
    return True if given in MEN else False if given in WOMEN else None


def test_every_members_name_fits_their_relation_to_the_head(households: dict[str, Members]) -> None:
    wrong = []
    for hid, ((head, _), *others) in households.items():
        head_is_man = is_man(head)
        if head_is_man is None:
            wrong.append((hid, head, "户主"))
        for name, relation in others:
            if relation == "配偶":
                fits = head_is_man is not None and is_man(name) is (not head_is_man)
            else:
                assert relation in MALE_RELATIONS | FEMALE_RELATIONS, (hid, relation)
                fits = is_man(name) is (relation in MALE_RELATIONS)
            if not fits:
                wrong.append((hid, name, relation))
    assert wrong == []


def test_the_demo_has_every_relation_and_heads_of_both_sexes(households: dict[str, Members]) -> None:
    relations = {relation for members in households.values() for _, relation in members[1:]}
    assert relations == MALE_RELATIONS | FEMALE_RELATIONS | {"配偶"}
    assert {is_man(members[0][0]) for members in households.values()} == {True, False}


def test_families_are_plausible(households: dict[str, Members]) -> None:
    for hid, members in households.items():
        (head, _), *others = members
        assert len({name for name, _ in members}) == len(members), hid  # no two members share a name
        for one in ("配偶", "父亲", "母亲"):
            assert sum(relation == one for _, relation in others) <= 1, (hid, one)
        for name, relation in others:
            # The head's father, and a man's children and grandchildren, carry the head's surname.
            if relation == "父亲" or (relation in ("儿子", "女儿", "孙子", "孙女") and is_man(head)):
                assert name[0] == head[0], (hid, head, name, relation)


def test_the_same_seed_makes_the_same_households(tmp_path: Path) -> None:
    first = demo_households(tmp_path / "one", seed=7, count=8)
    assert demo_households(tmp_path / "two", seed=7, count=8) == first
    assert demo_households(tmp_path / "three", seed=8, count=8) != first
