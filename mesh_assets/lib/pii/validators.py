"""Validators for PII candidates: is a regex match really a card number, an IBAN, a phone number, an SSN?

Payment cards (Luhn), IBANs (per-country length and BBAN format, mod 97, national check digits) and phone
numbers (country calling codes, numbering plans) are checked by ``python-stdnum`` and ``phonenumbers``,
which track the registries. Two rules stay here because neither library has them in the form the scan
needs: US SSN ranges (``stdnum.us.ssn`` also refuses publicised numbers such as 078-05-1120, which are
still personal data when they appear in a product) and UK National Insurance prefixes (no NINO module).
"""

from __future__ import annotations

import re

#: Regions whose national phone formats the scan's patterns recognise (no leading +): NANP, UK, France.
NATIONAL_PHONE_REGIONS = ("US", "GB", "FR")

#: UK National Insurance prefixes that are never issued (HMRC).
NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn_valid(number: str) -> bool:
    """The digits of ``number`` pass the Luhn check (payment cards)."""
    from stdnum import luhn

    digits = _digits(number)
    return bool(digits) and luhn.is_valid(digits)


def card_valid(text: str) -> bool:
    """``text`` is a payment card number: 13-19 digits, major industry identifier 2-6, Luhn-valid."""
    digits = _digits(text)
    # Major industry identifiers 2-6: airlines/travel, banking and financial cards.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def iban_valid(text: str) -> bool:
    """``text`` (spaces allowed) is an IBAN: known country, its BBAN format and length, mod 97 = 1."""
    from stdnum import iban

    compact = text.replace(" ", "")
    # ISO 13616 bounds (Norway's 15 to 34 characters) first: ISINs (12) are the scan's most common candidate.
    return 15 <= len(compact) <= 34 and iban.is_valid(compact)


def phone_valid(text: str) -> bool:
    """``text`` is a phone number.

    International forms (``+44 20 7946 0958``) must be a valid number of the country their calling code
    names. National forms carry no country, so a number that is possible (right length and shape) in any
    region whose formats the patterns match counts: the scan errs towards blocking a publication.
    """
    import phonenumbers

    try:
        if text.startswith("+"):
            return phonenumbers.is_valid_number(phonenumbers.parse(text, None))
        return any(phonenumbers.is_possible_number(phonenumbers.parse(text, region))
                   for region in NATIONAL_PHONE_REGIONS)
    except phonenumbers.NumberParseException:
        return False


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN ranges: area 001-899 except 666, group 01-99, serial 0001-9999."""
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def nino_prefix_valid(prefix: str) -> bool:
    """A UK National Insurance number's two letters are a prefix HMRC issues."""
    return prefix.upper() not in NINO_BAD_PREFIXES


def email_local_part_valid(local: str) -> bool:
    """An e-mail address's local part neither starts nor ends with a dot and has no two dots in a row."""
    return not (local.startswith(".") or local.endswith(".") or ".." in local)
