"""Masks for PII samples: a hint of the value (a domain, the last digits), never the value itself."""

from __future__ import annotations

import re


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def mask_email(value: str) -> str:
    """``john.doe@example.com`` -> ``j***@example.com``."""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    """Every digit but the last two hidden: ``+44 20 7946 0958`` -> ``+********58``."""
    digits = _digits(value)
    return ("+" if value.startswith("+") else "") + "*" * (len(digits) - 2) + digits[-2:]


def mask_ssn(value: str) -> str:
    """``123-45-6789`` -> ``***-**-6789``."""
    return f"***-**-{_digits(value)[-4:]}"


def mask_nino(value: str) -> str:
    """``AB 12 34 56 C`` -> ``** ** ** 56 *``."""
    return f"** ** ** {_digits(value)[-2:]} *"


def mask_card(value: str) -> str:
    """``4111 1111 1111 1111`` -> ``****-****-****-1111``."""
    digits = _digits(value)
    hidden_groups = -(-(len(digits) - 4) // 4)
    return "-".join(["****"] * hidden_groups + [digits[-4:]])


def mask_iban(value: str) -> str:
    """``GB82 WEST 1234 5698 7654 32`` -> ``GB** **** ... 32``."""
    iban = re.sub(r"\s", "", value).upper()
    return f"{iban[:2]}** **** ... {iban[-2:]}"
