"""Goods found by the first letters of their pinyin (``ledger.search``) and the catalogue's search."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger import services
from ledger.model import Item
from ledger.search import MAX_SPELLINGS, Searchable, initials, query_letters
from pos.presenters.catalog import ALL, Catalog
from tests.conftest import ADMIN_CTX, ShopFixture


def test_initials_are_the_first_letter_of_each_syllable_with_letters_and_digits_kept() -> None:
    assert initials("大米")[0] == "DM"
    assert initials("洗衣粉")[0] == "XYF"
    assert initials("5号电池 4节")[0] == "5HDC4J"
    assert initials("A4纸")[0] == "A4Z"
    assert initials("（特价）香皂，块")[0] == "TJXZK"  # punctuation and spaces are skipped, as when typing


def test_a_character_read_two_ways_is_found_either_way_unless_the_word_settles_it() -> None:
    assert set(initials("长")) == {"C", "Z"}  # 长: cháng or zhǎng, alone
    assert initials("长城") == ("CC",)  # the phrase table knows the word
    assert initials("行李") == ("XL",)
    assert set(initials("肥皂")) == {"FZ", "BZ"}


def test_spellings_of_a_name_of_many_two_way_characters_are_capped() -> None:
    assert 1 <= len(initials("长行重还乐得")) <= MAX_SPELLINGS


def test_query_letters_keep_ascii_letters_and_digits_upper_case() -> None:
    assert query_letters(" d m ") == "DM"
    assert query_letters("大米") == ""
    assert query_letters("x" * 40) == "X" * 12


def test_rank_prefers_the_start_of_the_name_then_a_word_inside_then_the_sku_then_the_barcode() -> None:
    rice = Searchable.of("大米", "RICE5", "6901234500011")
    assert rice.rank("DM") == 0
    assert rice.rank("M") == 1
    assert rice.rank("RICE") == 2
    assert rice.rank("0011") == 3
    assert rice.rank("450") is None  # a few digits match too many barcodes to mean anything
    assert rice.rank("FZ") is None
    assert rice.rank("") is None


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@given(st.text(CJK, min_size=1, max_size=8), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", max_size=4))
def test_every_name_is_found_at_rank_0_by_each_start_of_each_of_its_spellings(name: str, tail: str) -> None:
    item = Searchable.of(name + tail, "SKU", None)
    assert item.spellings
    for spelling in item.spellings:
        for end in range(1, len(spelling) + 1):
            assert item.rank(spelling[:end]) == 0


def test_the_catalogue_finds_goods_best_first_and_a_tab_shows_its_category_again(shop: ShopFixture) -> None:
    services.add_item(shop.store, Item("RICE", "大米", "5kg袋", 30, "6901234500011", "粮油"))
    services.add_item(shop.store, Item("SOAP", "肥皂", "块", 10, None, "洗护"))
    services.add_item(shop.store, Item("MILLET", "小米", "2kg袋", 15, None, "粮油"))
    services.add_item(shop.store, Item("BRUSH", "牙刷", "支", 2, "6901234500998", "洗护"))
    services.stock_intake(shop.store, [("MILLET", 5)], supplier="县供销社", ctx=ADMIN_CTX)
    catalog = Catalog(shop.store)
    assert [t.sku for t in catalog.search("dm")] == ["RICE"]
    # M: 米 inside 大米 and 小米, both rank 1, so in the grid's own order
    grid_order = [t.sku for t in catalog.tiles() if t.sku in ("RICE", "MILLET")]
    assert [t.sku for t in catalog.search("M")] == grid_order
    assert [t.sku for t in catalog.search("XM")] == ["MILLET"]
    assert [t.sku for t in catalog.search("0998")] == ["BRUSH"]
    assert catalog.search("QQQ") == []
    assert [t.sku for t in catalog.shown(ALL, "")] == [t.sku for t in catalog.tiles(ALL)]
    assert sorted(t.sku for t in catalog.shown("洗护", "")) == ["BRUSH", "SOAP"]
    assert [t.sku for t in catalog.shown("洗护", "XM")] == ["MILLET"]  # a search looks at every category
    catalog.warm()
    assert catalog.search_example() == ("牙刷", "YS")  # the first item the grid shows
    catalog.refresh()  # a redemption moved stock: the search still finds the same goods
    assert [t.sku for t in catalog.search("FZ")] == ["SOAP"]
