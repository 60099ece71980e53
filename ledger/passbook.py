"""Passbook codes: ``LM1:<household id>:<card no>:<mac>``.

ASCII and uppercase only, so the code fits QR alphanumeric mode and Code 128 and survives zbar,
which garbles UTF-8. The mac is the first 6 characters of base32(HMAC-SHA256(township key,
"LM1:<household id>:<card no>")): a shop verifies a code offline with the key it pulled, and a
mistyped or forged code is refused, never guessed. Six base32 characters are 30 bits: a forger
must guess one in a billion per attempt, and every attempt happens at a counter in front of a
shopkeeper.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from ledger.errors import LedgerError

PREFIX = "LM1"
MAC_LENGTH = 6
_HOUSEHOLD_ID = re.compile(r"^[A-Z0-9]{1,16}$")
# Card numbers are written without leading zeros: the mac covers the number as printed.
_CODE = re.compile(r"^LM1:([A-Z0-9]{1,16}):([1-9][0-9]{0,3}):([A-Z2-7]{6})$")


@dataclass(frozen=True)
class PassbookCode:
    household_id: str
    card_no: int
    mac: str

    @property
    def text(self) -> str:
        return f"{PREFIX}:{self.household_id}:{self.card_no}:{self.mac}"


def valid_household_id(household_id: str) -> bool:
    return bool(_HOUSEHOLD_ID.match(household_id))


def compute_mac(key: bytes, household_id: str, card_no: int) -> str:
    message = f"{PREFIX}:{household_id}:{card_no}".encode("ascii")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:MAC_LENGTH]


def make_code(key: bytes, household_id: str, card_no: int) -> str:
    if not valid_household_id(household_id):
        raise ValueError(f"household id must be 1-16 uppercase letters or digits: {household_id!r}")
    if not 1 <= card_no <= 9999:
        raise ValueError(f"card number out of range: {card_no}")
    return PassbookCode(household_id, card_no, compute_mac(key, household_id, card_no)).text


def parse_code(text: str) -> PassbookCode:
    """Split a scanned or typed code into its parts, without checking the mac."""
    cleaned = text.strip()
    # Only ASCII can be a code: upper() would turn some other letters into ASCII ones (ſ -> S, ß -> SS).
    match = _CODE.match(cleaned.upper()) if cleaned.isascii() else None
    if not match:
        raise LedgerError("passbook_malformed")
    return PassbookCode(match.group(1), int(match.group(2)), match.group(3))


def verify_code(key: bytes, text: str) -> PassbookCode:
    """Parse and check a code against the township key; raise ``LedgerError`` if it does not check out.

    Revocation is a separate question (it needs the card register); see ``services.lookup_passbook``.
    """
    code = parse_code(text)
    expected = compute_mac(key, code.household_id, code.card_no)
    if not hmac.compare_digest(expected, code.mac):
        raise LedgerError("passbook_forged")
    return code


# ----- the township key on paper (the recovery sheet of ``lovemart init``) -----------------------------------

KEY_PREFIX = "LMKEY1"


def key_text(key: bytes) -> str:
    """The key as a person can copy it: base32 in groups of four ("ABCD-EFGH-…"), no padding."""
    plain = base64.b32encode(key).decode("ascii").rstrip("=")
    return "-".join(plain[i : i + 4] for i in range(0, len(plain), 4))


def key_of_text(text: str) -> bytes:
    """The key from what was typed off the recovery sheet (or scanned from its QR code): dashes, spaces
    and case do not matter; anything else that is not base32 is refused (``recovery_key_invalid``)."""
    plain = re.sub(r"[\s-]", "", text.upper().removeprefix(KEY_PREFIX + ":").split(":")[-1])
    if not plain or not re.fullmatch(r"[A-Z2-7]+", plain):
        raise LedgerError("recovery_key_invalid")
    try:
        key = base64.b32decode(plain + "=" * (-len(plain) % 8))
    except ValueError as error:
        raise LedgerError("recovery_key_invalid") from error
    if len(key) < 16:
        raise LedgerError("recovery_key_invalid")
    return key


def key_qr_text(township_id: str, key: bytes) -> str:
    """What the recovery sheet's QR code holds: ``LMKEY1:<township>:<key>``, ASCII like a passbook code."""
    return f"{KEY_PREFIX}:{township_id}:{base64.b32encode(key).decode('ascii').rstrip('=')}"
