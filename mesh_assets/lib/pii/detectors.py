"""The PII detectors: per kind, a cheap RE2 prefilter, an exact Python pattern, a validator and a mask.

The prefilter runs vectorised over a whole column (``pyarrow.compute``) and keeps only candidate cells;
the exact pattern then finds candidate values in those cells, and the validators (``python-stdnum``,
``phonenumbers``, see :mod:`mesh_assets.lib.pii.validators`) decide whether each one is PII.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mesh_assets.lib.pii.findings import PiiKind
from mesh_assets.lib.pii.masks import mask_card, mask_email, mask_iban, mask_nino, mask_phone, mask_ssn
from mesh_assets.lib.pii.validators import (
    card_valid,
    email_local_part_valid,
    iban_valid,
    nino_prefix_valid,
    phone_valid,
    ssn_valid,
)


@dataclass(frozen=True)
class Detector:
    """How one kind of PII is found: prefilter (RE2, vectorised), exact pattern, validator, mask."""

    kind: PiiKind
    prefilter: str  # RE2, run vectorised over the column
    pattern: re.Pattern[str]  # exact, Python
    validate: Callable[[re.Match[str]], bool]
    mask: Callable[[str], str]


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"

DETECTORS: tuple[Detector, ...] = (
    Detector(
        PiiKind.EMAIL,
        r"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+\.[A-Za-z]",
        re.compile(rf"(?<![\w.%+-])(?P<local>[A-Za-z0-9._%+-]+)@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,}}(?![\w-])"),
        lambda m: email_local_part_valid(m.group("local")),
        mask_email,
    ),
    Detector(
        PiiKind.PHONE,
        r"\+\s?[1-9]|\(\d{3}\)|\d{3}[-.]\d{3}[-.]\d{4}|0\d{2,4}[ -]\d{3}|0\d[ .]\d{2}[ .]\d{2}",
        re.compile(
            r"(?<![\w+\-.])(?:"
            # E.164 and international forms: +44 20 7946 0958, +1 (212) 555-0100, +14155552671
            r"\+[1-9](?:[ .\-]?(?:\(\d{1,4}\)|\d)){6,16}"
            # North American national forms: (212) 555-0100, 212-555-0100, 212.555.0100, 1-800-555-0199
            r"|(?:1[ .\-]?)?(?:\([2-9]\d{2}\)[ ]?|[2-9]\d{2}[.\-])[2-9]\d{2}[.\-]\d{4}"
            # UK national forms: 020 7946 0958, 07700 900123, 0161-496-0000
            r"|0[1-9]\d{1,3}[ \-]\d{3,4}[ \-]?\d{3,4}"
            # French-style pairs: 01 23 45 67 89
            r"|0[1-9](?:[ .]\d{2}){4}"
            r")(?![\w\-]|\.\d)"
        ),
        lambda m: phone_valid(m.group(0)),
        mask_phone,
    ),
    Detector(
        PiiKind.US_SSN,
        r"\d{3}-\d{2}-\d{4}",
        re.compile(r"(?<![\w\-])(?P<area>\d{3})-(?P<group>\d{2})-(?P<serial>\d{4})(?![\w\-])"),
        lambda m: ssn_valid(m.group("area"), m.group("group"), m.group("serial")),
        mask_ssn,
    ),
    Detector(
        PiiKind.UK_NINO,
        r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
        re.compile(
            r"(?<![A-Za-z0-9])(?P<prefix>[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])"
            r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
        ),
        lambda m: nino_prefix_valid(m.group("prefix")),
        mask_nino,
    ),
    Detector(
        PiiKind.CARD_NUMBER,
        r"\d{13}|\d{3,6}[ -]\d{3,6}[ -]\d",
        re.compile(r"(?<![\w\-.])(?:\d{13,19}|\d{3,6}(?P<sep>[ \-])\d{3,6}(?:(?P=sep)\d{1,6}){1,4})(?![\w\-]|\.\d)"),
        lambda m: card_valid(m.group(0)),
        mask_card,
    ),
    Detector(
        PiiKind.IBAN,
        r"[A-Z]{2}\d{2} ?[A-Z0-9]{4}",
        re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"),
        lambda m: iban_valid(m.group(0)),
        mask_iban,
    ),
)


def detect(text: str, kinds: Iterable[PiiKind] | None = None) -> list[tuple[PiiKind, str]]:
    """Every validated PII value in ``text`` as ``(kind, raw value)``; for tests and ad-hoc use."""
    wanted = set(kinds) if kinds is not None else set(PiiKind)
    return [
        (d.kind, m.group(0)) for d in DETECTORS if d.kind in wanted for m in d.pattern.finditer(text) if d.validate(m)
    ]
