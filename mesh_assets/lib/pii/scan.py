"""PII scan of a data product revision before it is published to AWS Data Exchange.

Every string column of an Arrow table is scanned for e-mail addresses, phone numbers, national
identifiers (US SSN, UK National Insurance number), payment card numbers and IBANs. A cheap
vectorised prefilter (``pyarrow.compute`` regular expressions, RE2) keeps only the candidate cells;
exact detection runs in Python on those candidates only, and the candidates are validated by
``python-stdnum`` (Luhn, IBAN) and ``phonenumbers`` (:mod:`mesh_assets.lib.pii.detectors`). Findings
never carry a raw value: samples are masked (``j***@example.com``, ``****-****-****-1111``) and located
by column and row index.

A hit blocks the revision (:func:`pii_verdict`). Known, published values (a firm's support address)
and whole columns can be allowed with a :class:`PiiAllowList`.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mesh_assets.lib.pii.detectors import DETECTORS
from mesh_assets.lib.pii.findings import PiiAllowList, PiiFindings, PiiHit, PiiKind
from mesh_assets.lib.quality.verdict import Verdict

SAMPLES_PER_COLUMN_AND_KIND = 3


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
