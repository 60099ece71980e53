"""Passbook codes ``LM1:<household>:<card>:<mac>``: making, parsing, verifying and revoking them."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger import passbook, services
from ledger.errors import LedgerError
from ledger.passbook import compute_mac, make_code, parse_code, verify_code
from tests.conftest import TEST_KEY

OTHER_KEY = b"another township's passbook key!"

household_ids = st.from_regex(r"\A[A-Z0-9]{1,16}\Z")
card_numbers = st.integers(min_value=1, max_value=9999)


def refused(code: str, text: str, key: bytes = TEST_KEY) -> None:
    with pytest.raises(LedgerError) as caught:
        verify_code(key, text)
    assert caught.value.code == code, f"{text!r}: {caught.value.code} instead of {code}"


# ----- making and reading codes --------------------------------------------------------------


def test_code_layout():
    code = make_code(TEST_KEY, "H0001", 1)
    prefix, household, card, mac = code.split(":")
    assert (prefix, household, card) == ("LM1", "H0001", "1")
    assert re.fullmatch(r"[A-Z2-7]{6}", mac)
    assert code.isascii() and code == code.upper()
    # QR alphanumeric mode: digits, uppercase letters, space and $%*+-./:
    assert re.fullmatch(r"[0-9A-Z $%*+\-./:]+", code)
    assert mac == compute_mac(TEST_KEY, "H0001", 1)


def test_round_trip():
    code = make_code(TEST_KEY, "H0001", 7)
    parsed = verify_code(TEST_KEY, code)
    assert (parsed.household_id, parsed.card_no) == ("H0001", 7)
    assert parsed.text == code
    assert parse_code(code) == parsed


def test_mac_depends_on_key_household_and_card():
    base = compute_mac(TEST_KEY, "H1", 1)
    assert compute_mac(OTHER_KEY, "H1", 1) != base
    assert compute_mac(TEST_KEY, "H2", 1) != base
    assert compute_mac(TEST_KEY, "H1", 2) != base


@pytest.mark.parametrize(
    "scanned",
    [
        "lm1:h0001:1:{mac}",
        "  LM1:H0001:1:{mac}  ",
        "LM1:H0001:1:{mac}\r\n",
        "\tlm1:H0001:1:{lmac}\n",
    ],
)
def test_lowercase_and_surrounding_whitespace_are_accepted(scanned):
    mac = compute_mac(TEST_KEY, "H0001", 1)
    parsed = verify_code(TEST_KEY, scanned.format(mac=mac, lmac=mac.lower()))
    assert (parsed.household_id, parsed.card_no) == ("H0001", 1)


@pytest.mark.parametrize("household_id", ["", "h1", "H-1", "张三", "H" * 17, "H 1"])
def test_make_code_refuses_bad_household_ids(household_id):
    with pytest.raises(ValueError):
        make_code(TEST_KEY, household_id, 1)


@pytest.mark.parametrize("card_no", [0, -1, 10_000])
def test_make_code_refuses_bad_card_numbers(card_no):
    with pytest.raises(ValueError):
        make_code(TEST_KEY, "H1", card_no)


# ----- refusals ------------------------------------------------------------------------------


def test_mistyped_mac_is_forged():
    code = make_code(TEST_KEY, "H0001", 1)
    mac = code[-6:]
    wrong = ("A" if mac[0] != "A" else "B") + mac[1:]
    refused("passbook_forged", code[:-6] + wrong)


def test_mistyped_household_is_forged():
    code = make_code(TEST_KEY, "H0001", 1)
    refused("passbook_forged", code.replace("H0001", "H0007"))


def test_mistyped_card_is_forged():
    code = make_code(TEST_KEY, "H0001", 1)
    refused("passbook_forged", code.replace(":1:", ":2:"))


def test_code_of_another_township_is_forged():
    refused("passbook_forged", make_code(OTHER_KEY, "H0001", 1))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "LM1",
        "LM1:H0001:1",
        "LM1:H0001:1:",
        "LM2:H0001:1:ABCDEF",
        "LM1:H0001:1:ABCDE",  # mac too short
        "LM1:H0001:1:ABCDEFG",  # mac too long
        "LM1:H0001:1:ABCDE1",  # 1 is not a base32 digit
        "LM1:H0001:1:ABCDE8",
        "LM1::1:ABCDEF",
        "LM1:H0001::ABCDEF",
        "LM1:H0001:12345:ABCDEF",  # card number too long
        "LM1:H0001:-1:ABCDEF",
        "LM1:H00000000000000001:1:ABCDEF",  # household id too long
        "LM1:H-1:1:ABCDEF",
        "LM1:H0001:1:ABCDEF:X",
        "LM1:H0001:1 :ABCDEF",
        "LM1:H0001 :1:ABCDEF",
        "LM1: H0001:1:ABCDEF",
        "LM1;H0001;1;ABCDEF",
        "LM1:H0001:1:ABC DEF",
        "LM1:H0001:1:ABCDEF\x00",
        "http://example.com/LM1:H0001:1:ABCDEF",
    ],
)
def test_malformed_strings(text):
    refused("passbook_malformed", text)


@pytest.mark.parametrize(
    "text",
    [
        "LM1：H0001：1：ABCDEF",  # full-width colons
        "ＬＭ1:H0001:1:ABCDEF",  # full-width letters
        "LM1:H０００1:1:ABCDEF",  # full-width digits
        "LM1:张三:1:ABCDEF",
        "LM1:H0001:１:ABCDEF",
        "LM1:H0001:1:ABCDÉF",
        "LM1:H0001:1:ABCDEF\u200b",  # zero-width space is not whitespace
        "LM1:H0001:1:🙂🙂🙂🙂🙂🙂",
        "LM1:H0001:٣:ABCDEF",  # Arabic-Indic digit
    ],
)
def test_non_ascii_is_malformed(text):
    refused("passbook_malformed", text)


def test_non_ascii_with_a_valid_mac_is_malformed():
    code = make_code(TEST_KEY, "H0001", 1)
    refused("passbook_malformed", code.replace("1:", "１:", 1))
    refused("passbook_malformed", code.replace("H", "Ｈ", 1))


@pytest.mark.parametrize(
    ("household_id", "typed"),
    [("SISI", "ſISI"), ("SISI", "SıSI"), ("HSS", "Hß"), ("FI1", "ﬁ1"), ("FF1", "ﬀ1")],
)
def test_non_ascii_that_uppercases_to_ascii_is_malformed(household_id, typed):
    code = make_code(TEST_KEY, household_id, 1)
    text = code.replace(household_id, typed, 1)
    assert not text.isascii()
    refused("passbook_malformed", text)


def test_non_canonical_card_number_is_refused():
    mac = compute_mac(TEST_KEY, "H1", 1)
    with pytest.raises(LedgerError) as caught:
        verify_code(TEST_KEY, f"LM1:H1:01:{mac}")
    assert caught.value.code in {"passbook_malformed", "passbook_forged"}


def test_messages_are_filled_in_both_languages():
    for code in ("passbook_malformed", "passbook_forged"):
        error = LedgerError(code)
        assert "{" not in error.message("zh") and "{" not in error.message("en")
        assert error.message("zh") != error.message("en")


# ----- revocation needs the card register ---------------------------------------------------


def test_reissued_passbook_revokes_the_old_card(shop):
    old = shop.household("H1", points=250)
    assert services.balance_for_code(shop.store, old).card_no == 1
    card = services.reissue_passbook(shop.store, "H1")
    assert card.card_no == 2 and card.active
    new = make_code(TEST_KEY, "H1", 2)

    # the old code still checks out cryptographically, but the card register refuses it
    assert verify_code(TEST_KEY, old).card_no == 1
    with pytest.raises(LedgerError) as caught:
        services.balance_for_code(shop.store, old)
    assert caught.value.code == "passbook_revoked"
    assert caught.value.params["card_no"] == 1
    assert "1" in caught.value.message("zh")

    view = services.balance_for_code(shop.store, new)
    assert (view.card_no, view.balance) == (2, 250)
    assert services.balance_for_household(shop.store, "H1").card_no == 2

    # reissuing again revokes card 2 and issues card 3
    assert services.reissue_passbook(shop.store, "H1").card_no == 3
    for code, card_no in ((old, 1), (new, 2)):
        with pytest.raises(LedgerError) as caught:
            services.balance_for_code(shop.store, code)
        assert caught.value.code == "passbook_revoked"
        assert caught.value.params["card_no"] == card_no
    assert services.balance_for_code(shop.store, make_code(TEST_KEY, "H1", 3)).card_no == 3
    assert services.audit(shop.store).ok


def test_card_never_issued_is_unknown(shop):
    shop.household("H1")
    with pytest.raises(LedgerError) as caught:
        services.balance_for_code(shop.store, make_code(TEST_KEY, "H1", 2))
    assert caught.value.code == "passbook_unknown"
    with pytest.raises(LedgerError) as caught:
        services.balance_for_code(shop.store, make_code(TEST_KEY, "H404", 1))
    assert caught.value.code == "passbook_unknown"
    assert "H404" in caught.value.message("zh")


def test_reissue_of_unknown_household_is_refused(shop):
    with pytest.raises(LedgerError) as caught:
        services.reissue_passbook(shop.store, "H404")
    assert caught.value.code == "household_unknown"


# ----- properties ----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(household_ids, card_numbers)
def test_any_household_and_card_round_trip(household_id, card_no):
    code = make_code(TEST_KEY, household_id, card_no)
    assert len(code) <= len("LM1::9999:") + 16 + passbook.MAC_LENGTH
    parsed = verify_code(TEST_KEY, code)
    assert (parsed.household_id, parsed.card_no, parsed.text) == (household_id, card_no, code)
    lowered = verify_code(TEST_KEY, f" {code.lower()}\n")
    assert (lowered.household_id, lowered.card_no) == (household_id, card_no)


@settings(max_examples=300, deadline=None)
@given(household_ids, card_numbers, st.data())
def test_any_single_character_change_is_refused(household_id, card_no, data):
    code = make_code(TEST_KEY, household_id, card_no)
    position = data.draw(st.integers(min_value=0, max_value=len(code) - 1), label="position")
    replacement = data.draw(st.characters(codec="utf-8"), label="replacement")
    # a change of case is not a change: scanners and hand typing give lowercase
    assume(replacement.upper() != code[position])
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(LedgerError) as caught:
        verify_code(TEST_KEY, changed)
    assert caught.value.code in {"passbook_malformed", "passbook_forged"}


@settings(max_examples=200, deadline=None)
@given(household_ids, card_numbers, st.sampled_from(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")), st.data())
def test_any_changed_mac_character_is_forged(household_id, card_no, replacement, data):
    code = make_code(TEST_KEY, household_id, card_no)
    position = data.draw(st.integers(min_value=len(code) - 6, max_value=len(code) - 1))
    assume(replacement != code[position])
    refused("passbook_forged", code[:position] + replacement + code[position + 1 :])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text):
    try:
        parsed = verify_code(TEST_KEY, text)
    except LedgerError as error:
        assert error.code in {"passbook_malformed", "passbook_forged"}
    else:  # astronomically unlikely unless the text is a real code
        assert parsed.text == text.strip().upper()
