"""The SOQL subset the platform sends, parsed and evaluated on plain dict records.

Grammar (keywords case-insensitive, field names resolved case-insensitively)::

    SELECT field [, field]* FROM Object
      [WHERE condition [AND condition]*]
      [ORDER BY field [ASC|DESC] [, field [ASC|DESC]]*]
      [LIMIT n]

    condition := field (= | != | <> | < | <= | > | >=) literal | field [NOT] IN (literal [, literal]*)
    literal   := 'string' | datetime (2026-03-14T09:21:33Z or +hh:mm, optional .SSS) | date (2026-03-14)
                 | number | true | false | null

Anything else (OR, sub-queries, functions, relationship fields) is refused with :class:`MalformedQuery`
naming the part at fault, as Salesforce answers ``MALFORMED_QUERY``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


class MalformedQuery(ValueError):
    """The query is outside the SOQL subset or not SOQL at all (``MALFORMED_QUERY``)."""


class InvalidField(ValueError):
    """A field the object does not have (``INVALID_FIELD``)."""


class InvalidType(ValueError):
    """An object the org does not have (``INVALID_TYPE``)."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<bad>\S+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "ORDER", "BY", "ASC", "DESC", "LIMIT", "IN", "NOT", "NULLS"}
_UNSUPPORTED = {"OR", "GROUP", "HAVING", "OFFSET", "FOR", "WITH", "USING", "TYPEOF", "LIKE", "INCLUDES", "EXCLUDES"}


@dataclass(frozen=True)
class Token:
    """One lexical token and the 1-based column where it starts."""

    kind: str
    text: str
    column: int


@dataclass(frozen=True)
class Condition:
    """``field op value`` (``op`` is one of = != < <= > >= in, not in)."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Query:
    """A parsed SOQL query of the subset."""

    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...]
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None


def _tokens(soql: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(soql):
        if soql[position:].strip() == "":
            break
        match = _TOKEN.match(soql, position)
        if match is None:  # pragma: no cover - the 'bad' alternative matches any non-space run
            raise MalformedQuery(f"unexpected character at column {position + 1}")
        kind = match.lastgroup or "bad"
        text = match.group(kind)
        column = match.start(kind) + 1
        if kind == "bad":
            raise MalformedQuery(f"unexpected token {text!r} at column {column}")
        if kind == "word" and text.upper() in _KEYWORDS | _UNSUPPORTED:
            kind, text = "keyword", text.upper()
        tokens.append(Token(kind, text, column))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, soql: str) -> None:
        self.tokens = _tokens(soql)
        self.at = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise MalformedQuery("unexpected end of query")
        self.at += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "keyword" and token.text in words:
            self.at += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        token = self.peek()
        if token is None:
            raise MalformedQuery(f"unexpected end of query, expecting {word}")
        if not (token.kind == "keyword" and token.text == word):
            raise MalformedQuery(f"unexpected token {token.text!r} at column {token.column}, expecting {word}")
        self.at += 1

    def name(self, what: str) -> str:
        token = self.take()
        if token.kind == "keyword" and token.text in _UNSUPPORTED:
            raise MalformedQuery(f"{token.text} at column {token.column} is not supported by the local server")
        if token.kind != "word":
            raise MalformedQuery(f"unexpected token {token.text!r} at column {token.column}, expecting {what}")
        if "." in token.text:
            raise MalformedQuery(f"relationship field {token.text!r} at column {token.column} is not supported")
        return token.text

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.at += 1
            return True
        return False

    def literal(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "datetime":
            return parse_datetime(token.text)
        if token.kind == "date":
            return dt.date.fromisoformat(token.text)
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "word" and token.text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.text.lower()]
        raise MalformedQuery(f"unexpected token {token.text!r} at column {token.column}, expecting a literal value")

    def condition(self) -> Condition:
        field = self.name("a field name")
        if self.keyword("NOT"):
            self.expect_keyword("IN")
            return Condition(field, "not in", self.value_list())
        if self.keyword("IN"):
            return Condition(field, "in", self.value_list())
        token = self.take()
        if token.kind == "keyword" and token.text in _UNSUPPORTED:
            raise MalformedQuery(f"{token.text} at column {token.column} is not supported by the local server")
        if token.kind != "op":
            raise MalformedQuery(f"unexpected token {token.text!r} at column {token.column}, expecting an operator")
        op = "!=" if token.text == "<>" else token.text
        value = self.literal()
        if value is None and op not in ("=", "!="):
            raise MalformedQuery(f"null can only be compared with = or != (field {field})")
        return Condition(field, op, value)

    def value_list(self) -> tuple[Any, ...]:
        if not self.punct("("):
            token = self.peek()
            raise MalformedQuery(f"expecting '(' after IN{f' at column {token.column}' if token else ''}")
        values = [self.literal()]
        while self.punct(","):
            values.append(self.literal())
        if not self.punct(")"):
            raise MalformedQuery("expecting ')' to close the IN list")
        return tuple(values)

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields = [self.name("a field name")]
        while self.punct(","):
            fields.append(self.name("a field name"))
        self.expect_keyword("FROM")
        sobject = self.name("an object name")
        where: list[Condition] = []
        if self.keyword("WHERE"):
            where.append(self.condition())
            while self.keyword("AND"):
                where.append(self.condition())
        order_by: list[tuple[str, bool]] = []
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            while True:
                field = self.name("a field name")
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                order_by.append((field, descending))
                if not self.punct(","):
                    break
        limit = None
        if self.keyword("LIMIT"):
            token = self.take()
            if token.kind != "number" or not token.text.isdigit():
                raise MalformedQuery(f"LIMIT expects an integer, got {token.text!r} at column {token.column}")
            limit = int(token.text)
        token = self.peek()
        if token is not None:
            if token.kind == "keyword" and token.text in _UNSUPPORTED:
                raise MalformedQuery(f"{token.text} at column {token.column} is not supported by the local server")
            raise MalformedQuery(f"unexpected token {token.text!r} at column {token.column}")
        return Query(tuple(fields), sobject, tuple(where), tuple(order_by), limit)


def parse(soql: str) -> Query:
    """Parse ``soql``; :class:`MalformedQuery` names the token at fault and its column."""
    if not soql or not soql.strip():
        raise MalformedQuery("empty query")
    return _Parser(soql).parse()


def parse_datetime(text: str) -> dt.datetime:
    """A Salesforce or SOQL datetime (``...Z``, ``...+0000``, ``...+00:00``, optional milliseconds) as UTC."""
    normal = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", normal):
        normal = f"{normal[:-2]}:{normal[-2:]}"
    try:
        return dt.datetime.fromisoformat(normal).astimezone(dt.UTC)
    except ValueError as exc:
        raise MalformedQuery(f"invalid datetime literal {text!r}") from exc


def format_datetime(moment: dt.datetime) -> str:
    """Salesforce's REST datetime format, millisecond resolution: ``2026-03-14T09:21:33.123+0000``."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _comparable(stored: Any, literal: Any) -> Any:
    """``stored`` (as kept in JSON) converted to the literal's type, or None when it cannot be compared."""
    if stored is None:
        return None
    try:
        if isinstance(literal, dt.datetime):
            return parse_datetime(str(stored))
        if isinstance(literal, dt.date):
            return dt.date.fromisoformat(str(stored)[:10])
    except (ValueError, MalformedQuery):
        return None
    return stored


def _matches(record: dict[str, Any], condition: Condition) -> bool:
    stored = record.get(condition.field)
    if condition.op in ("in", "not in"):
        hit = any(_comparable(stored, v) == v for v in condition.value if v is not None) or (
            stored is None and None in condition.value
        )
        return hit if condition.op == "in" else not hit
    if condition.value is None:
        return (stored is None) == (condition.op == "=")
    value = _comparable(stored, condition.value)
    if value is None:
        return condition.op == "!="
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    try:
        return compare[condition.op](value, condition.value)
    except TypeError as exc:
        raise MalformedQuery(f"cannot compare field {condition.field} ({stored!r}) with {condition.value!r}") from exc


def _resolve(name: str, known: dict[str, str], sobject: str) -> str:
    canonical = known.get(name.lower())
    if canonical is None:
        raise InvalidField(f"No such column '{name}' on entity '{sobject}'")
    return canonical


def resolve(query: Query, schemas: dict[str, Iterable[str]]) -> Query:
    """``query`` with its object and fields spelled as the org spells them; unknown ones raise."""
    objects = {name.lower(): name for name in schemas}
    sobject = objects.get(query.sobject.lower())
    if sobject is None:
        raise InvalidType(f"sObject type '{query.sobject}' is not supported.")
    known = {field.lower(): field for field in schemas[sobject]}
    return Query(
        tuple(_resolve(f, known, sobject) for f in query.fields),
        sobject,
        tuple(Condition(_resolve(c.field, known, sobject), c.op, c.value) for c in query.where),
        tuple((_resolve(f, known, sobject), desc) for f, desc in query.order_by),
        query.limit,
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)  # nulls first, Salesforce's default


def evaluate(query: Query, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records matching ``query`` (already resolved), ordered and limited; whole records (see :func:`select`)."""
    rows = [r for r in records if all(_matches(r, c) for c in query.where)]
    for field, descending in reversed(query.order_by):  # stable sorts, last key first
        rows.sort(key=lambda r, f=field: _sort_key(r.get(f)), reverse=descending)
    return rows if query.limit is None else rows[: query.limit]


def select(query: Query, record: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``record`` that ``query`` selects, in its order."""
    return {f: record.get(f) for f in query.fields}
