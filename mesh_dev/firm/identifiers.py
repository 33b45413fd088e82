"""Identifier formats of the firm and of the systems it uses (Bloomberg FIGI, Salesforce, AWS)."""

from __future__ import annotations

from mesh_dev.firm.randomness import DrawStream

FIGI_ALPHABET = "BCDFGHJKLMNPQRSTVWXYZ0123456789"  # FIGIs carry no vowels
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SALESFORCE_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ACCOUNT_PREFIX = "001"
CONTRACT_PREFIX = "800"


def client_id(number: int) -> str:
    """``C-0001`` style client id."""
    return f"C-{number:04d}"


def tenant_id(number: int) -> str:
    """``tnt-0001`` style tenant id of a client."""
    return f"tnt-{number:04d}"


def portfolio_id(number: int) -> str:
    """``P-0001`` style portfolio id."""
    return f"P-{number:04d}"


def composite_id(number: int) -> str:
    """``COMP-01`` style composite id."""
    return f"COMP-{number:02d}"


def security_id(number: int) -> str:
    """``S-00001`` style security id."""
    return f"S-{number:05d}"


def benchmark_id(number: int) -> str:
    """``BM-01`` style benchmark id."""
    return f"BM-{number:02d}"


def trade_id(number: int) -> str:
    """``T-00000001`` style trade id."""
    return f"T-{number:08d}"


def flow_id(number: int) -> str:
    """``F-00000001`` style cash flow id."""
    return f"F-{number:08d}"


def figi_check_digit(body: str) -> int:
    """The FIGI check digit of the first eleven characters (modified Luhn, letters A=10..Z=35)."""
    total = 0
    for position, char in enumerate(body):
        value = int(char) if char.isdigit() else ord(char) - ord("A") + 10
        if position % 2 == 1:
            value *= 2
        total += sum(int(digit) for digit in str(value))
    return (10 - total % 10) % 10


def new_figi(draws: DrawStream, taken: set[str]) -> str:
    """A fresh ``BBG`` + 9 character FIGI (8 random, 1 check digit) not in ``taken`` (added to it)."""
    while True:
        body = "BBG" + "".join(draws.choice(FIGI_ALPHABET) for _ in range(8))
        figi = body + str(figi_check_digit(body))
        if figi not in taken:
            taken.add(figi)
            return figi


def salesforce_id_suffix(id15: str) -> str:
    """The three case-insensitive checksum characters that make a 15-char Salesforce Id 18 chars."""
    suffix = ""
    for start in (0, 5, 10):
        flags = sum(1 << bit for bit, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        suffix += SALESFORCE_SUFFIX[flags]
    return suffix


def new_salesforce_id(prefix: str, draws: DrawStream, taken: set[str]) -> str:
    """A fresh 18-character Salesforce Id with the key ``prefix`` (``001`` Account, ``800`` Contract)."""
    while True:
        id15 = prefix + "Dn" + "0000" + "".join(draws.choice(BASE62) for _ in range(6))
        sf_id = id15 + salesforce_id_suffix(id15)
        if sf_id not in taken:
            taken.add(sf_id)
            return sf_id


def new_aws_account_id(draws: DrawStream, taken: set[str]) -> str:
    """A fresh 12-digit AWS account id whose first digit is not zero."""
    while True:
        account = str(draws.integer(1, 10)) + "".join(str(draws.integer(0, 10)) for _ in range(11))
        if account not in taken:
            taken.add(account)
            return account
