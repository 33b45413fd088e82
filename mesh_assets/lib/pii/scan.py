"""PII scan of a data product revision before it is published to AWS Data Exchange.

Every string column of an Arrow table is scanned for e-mail addresses, phone numbers, national
identifiers (US SSN, UK National Insurance number), payment card numbers and IBANs. A cheap
vectorised prefilter (``pyarrow.compute`` regular expressions, RE2) keeps only the candidate cells;
exact detection and validation (Luhn, mod-97, SSN ranges, NINO prefixes) then run in Python on those
candidates only. Findings never carry a raw value: samples are masked (``j***@example.com``,
``****-****-****-1111``) and located by column and row index.

A hit blocks the revision (:func:`pii_verdict`). Known, published values (a firm's support address)
and whole columns can be allowed with a :class:`PiiAllowList`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mesh_assets.lib.quality.verdict import Verdict

SAMPLES_PER_COLUMN_AND_KIND = 3


class PiiKind(StrEnum):
    """The kinds of personal data the scan looks for."""

    EMAIL = "email"
    PHONE = "phone"
    US_SSN = "us_ssn"
    UK_NINO = "uk_nino"
    CARD_NUMBER = "card_number"
    IBAN = "iban"


@dataclass(frozen=True)
class PiiAllowList:
    """What may look like PII and still be published.

    ``columns``: column names never scanned. ``column_kinds``: kinds allowed in one column only (a
    ``desk_phone`` column may hold phone numbers and is still scanned for the other kinds).
    ``values``: exact values allowed anywhere (compared case-insensitively, spaces ignored), e.g. the
    firm's published support address. ``patterns``: regular expressions a detected value must match
    in full to be allowed (e.g. ``r".*@mesh-capital\\.example"``).
    """

    columns: frozenset[str] = frozenset()
    column_kinds: Mapping[str, frozenset[PiiKind]] = field(default_factory=dict)
    values: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"PII allow-list pattern {pattern!r} is not a valid regular expression") from exc

    def allows_column(self, column: str) -> bool:
        """The whole column is exempt from the scan."""
        return column in self.columns

    def allows(self, column: str, kind: PiiKind, value: str) -> bool:
        """This detected ``value`` of ``kind`` in ``column`` is allowed."""
        if kind in self.column_kinds.get(column, frozenset()):
            return True
        if _normalise(value) in {_normalise(v) for v in self.values}:
            return True
        return any(re.fullmatch(p, value, flags=re.IGNORECASE) for p in self.patterns)


def _normalise(value: str) -> str:
    return re.sub(r"\s+", "", value).casefold()


@dataclass(frozen=True)
class PiiHit:
    """One cell holding PII: where, what kind, and the value masked (never the raw value)."""

    column: str
    row: int
    kind: PiiKind
    masked: str

    def as_metadata(self) -> dict[str, Any]:
        """Plain-dict form for check metadata."""
        return {"column": self.column, "row": self.row, "kind": str(self.kind), "masked": self.masked}


@dataclass(frozen=True)
class PiiFindings:
    """Outcome of a scan: hit counts per column and kind, a few masked samples, what was skipped."""

    rows_scanned: int
    columns_scanned: tuple[str, ...]
    columns_allowed: tuple[str, ...]
    columns_not_text: tuple[str, ...]
    hits_by_column: Mapping[str, Mapping[str, int]]
    samples: tuple[PiiHit, ...]
    allowed_values: int = 0

    @property
    def total_hits(self) -> int:
        """Number of (cell, kind) hits over all columns."""
        return sum(n for kinds in self.hits_by_column.values() for n in kinds.values())

    @property
    def has_pii(self) -> bool:
        """At least one cell holds PII that is not allow-listed."""
        return self.total_hits > 0


# --- detectors ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Detector:
    kind: PiiKind
    prefilter: str  # RE2, run vectorised over the column
    pattern: re.Pattern[str]  # exact, Python
    validate: Callable[[re.Match[str]], bool]
    mask: Callable[[str], str]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn_valid(number: str) -> bool:
    """The digits of ``number`` pass the Luhn check (payment cards)."""
    digits = _digits(number)
    if not digits:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# IBAN length per country (SWIFT IBAN registry).
IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(text: str) -> bool:
    """``text`` (spaces allowed) is an IBAN: known country, its length, check digits mod 97 = 1."""
    iban = re.sub(r"\s", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", iban) or IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN ranges: area 001-899 except 666, group 01-99, serial 0001-9999."""
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _valid_email(m: re.Match[str]) -> bool:
    local = m.group("local")
    return not (local.startswith(".") or local.endswith(".") or ".." in local)


def _valid_phone(m: re.Match[str]) -> bool:
    text = m.group(0)
    digits = _digits(text)
    if text.startswith("+"):
        # "+1234567.89" is a signed amount, not a phone number.
        if re.fullmatch(r"\+\d+\.\d+", text):
            return False
        national = re.sub(r"\(0\)", "", text)
        return 8 <= len(_digits(national)) <= 15
    return 10 <= len(digits) <= 11


def _valid_ssn(m: re.Match[str]) -> bool:
    return ssn_valid(m.group("area"), m.group("group"), m.group("serial"))


def _valid_nino(m: re.Match[str]) -> bool:
    return m.group("prefix").upper() not in _NINO_BAD_PREFIXES


def _valid_card(m: re.Match[str]) -> bool:
    digits = _digits(m.group(0))
    # Major industry identifiers 2-6: airlines/travel, banking and financial cards.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def _valid_iban(m: re.Match[str]) -> bool:
    return iban_valid(m.group(0))


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


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"

DETECTORS: tuple[_Detector, ...] = (
    _Detector(
        PiiKind.EMAIL,
        r"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+\.[A-Za-z]",
        re.compile(rf"(?<![\w.%+-])(?P<local>[A-Za-z0-9._%+-]+)@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,}}(?![\w-])"),
        _valid_email,
        mask_email,
    ),
    _Detector(
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
        _valid_phone,
        mask_phone,
    ),
    _Detector(
        PiiKind.US_SSN,
        r"\d{3}-\d{2}-\d{4}",
        re.compile(r"(?<![\w\-])(?P<area>\d{3})-(?P<group>\d{2})-(?P<serial>\d{4})(?![\w\-])"),
        _valid_ssn,
        mask_ssn,
    ),
    _Detector(
        PiiKind.UK_NINO,
        r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
        re.compile(
            r"(?<![A-Za-z0-9])(?P<prefix>[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])"
            r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
        ),
        _valid_nino,
        mask_nino,
    ),
    _Detector(
        PiiKind.CARD_NUMBER,
        r"\d{13}|\d{3,6}[ -]\d{3,6}[ -]\d",
        re.compile(r"(?<![\w\-.])(?:\d{13,19}|\d{3,6}(?P<sep>[ \-])\d{3,6}(?:(?P=sep)\d{1,6}){1,4})(?![\w\-]|\.\d)"),
        _valid_card,
        mask_card,
    ),
    _Detector(
        PiiKind.IBAN,
        r"[A-Z]{2}\d{2} ?[A-Z0-9]{4}",
        re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"),
        _valid_iban,
        mask_iban,
    ),
)


def detect(text: str, kinds: Iterable[PiiKind] | None = None) -> list[tuple[PiiKind, str]]:
    """Every validated PII value in ``text`` as ``(kind, raw value)``; for tests and ad-hoc use."""
    wanted = set(kinds) if kinds is not None else set(PiiKind)
    return [
        (d.kind, m.group(0)) for d in DETECTORS if d.kind in wanted for m in d.pattern.finditer(text) if d.validate(m)
    ]


# --- the scan ----------------------------------------------------------------------------------------------------


def _is_text(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        return _is_text(dtype.value_type)
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype)


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type) or pa.types.is_string_view(column.type):
        return column.cast(pa.large_string())
    return column


def scan_table(table: pa.Table, allow: PiiAllowList | None = None) -> PiiFindings:
    """Scan every string column of ``table`` for PII; ``allow`` exempts columns, kinds per column and values."""
    allow = allow or PiiAllowList()
    scanned: list[str] = []
    allowed_columns: list[str] = []
    not_text: list[str] = []
    hits: dict[str, dict[str, int]] = {}
    samples: list[PiiHit] = []
    allowed_values = 0
    for name in table.column_names:
        column = table[name]
        if not _is_text(column.type):
            not_text.append(name)
            continue
        if allow.allows_column(name):
            allowed_columns.append(name)
            continue
        scanned.append(name)
        strings = _as_strings(column)
        for detector in DETECTORS:
            candidates = pc.fill_null(pc.match_substring_regex(strings, detector.prefilter), False)
            rows = pc.indices_nonzero(candidates).to_pylist()
            if not rows:
                continue
            values = pc.take(strings, pa.array(rows, pa.int64())).to_pylist()
            for row, value in zip(rows, values, strict=True):
                found = [m.group(0) for m in detector.pattern.finditer(value) if detector.validate(m)]
                if not found:
                    continue
                blocking = [v for v in found if not allow.allows(name, detector.kind, v)]
                if not blocking:
                    allowed_values += 1
                    continue
                per_kind = hits.setdefault(name, {})
                per_kind[detector.kind] = per_kind.get(detector.kind, 0) + 1
                if per_kind[detector.kind] <= SAMPLES_PER_COLUMN_AND_KIND:
                    samples.append(PiiHit(name, row, detector.kind, detector.mask(blocking[0])))
    return PiiFindings(
        rows_scanned=table.num_rows,
        columns_scanned=tuple(scanned),
        columns_allowed=tuple(allowed_columns),
        columns_not_text=tuple(not_text),
        hits_by_column={c: {str(k): n for k, n in kinds.items()} for c, kinds in hits.items()},
        samples=tuple(samples),
        allowed_values=allowed_values,
    )


def pii_verdict(findings: PiiFindings) -> Verdict:
    """Blocking verdict: failed when any column holds PII; metadata has counts and masked samples only."""
    columns = sorted(findings.hits_by_column)
    if findings.has_pii:
        detail = "; ".join(
            f"{c}: " + ", ".join(f"{n} {k}" for k, n in sorted(findings.hits_by_column[c].items())) for c in columns
        )
        description = (
            f"PII found in {len(columns)} of {len(findings.columns_scanned)} text columns "
            f"({findings.total_hits} values over {findings.rows_scanned} rows): {detail}"
        )
    else:
        description = f"no PII in {len(findings.columns_scanned)} text columns over {findings.rows_scanned} rows" + (
            f" ({findings.allowed_values} allow-listed values)" if findings.allowed_values else ""
        )
    return Verdict(
        not findings.has_pii,
        description,
        {
            "rows_scanned": findings.rows_scanned,
            "columns_scanned": list(findings.columns_scanned),
            "columns_allow_listed": list(findings.columns_allowed),
            "columns_not_text": list(findings.columns_not_text),
            "hits_total": findings.total_hits,
            "hits_by_column": {c: dict(findings.hits_by_column[c]) for c in columns},
            "allow_listed_values": findings.allowed_values,
            "kinds_checked": [str(k) for k in PiiKind],
            "samples": [hit.as_metadata() for hit in findings.samples],
        },
    )
