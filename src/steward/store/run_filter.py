"""The run search language: parsed into a small tree, never pasted into SQL.

Grammar (keywords are case-insensitive)::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := term ("and" term)*
    term       := "(" or_expr ")" | comparison
    comparison := field op value | field "in" list | field "not in" list
                | field "is null" | field "is not null"
    field      := ("metrics" | "params" | "tags" | "attributes") "." key | attribute
    key        := name | `quoted name` | "quoted name"
    op         := = | != | < | <= | > | >= | like | ilike | not like
    value      := number | 'string' | "string"

``metric.``, ``param.``, ``tag.``, ``attribute.`` and ``attr.`` are accepted as
prefixes too, and ``run_name`` / ``name``, ``status``, ``run_id`` / ``id``,
``created_by``, ``start_time``, ``end_time`` as bare attributes.

A filter nests at most ``MAX_DEPTH`` parentheses, holds at most
``MAX_COMPARISONS`` comparisons (a list after ``in`` counts as one) and lists
at most ``MAX_LIST_VALUES`` values: past these, Python's stack or the database
(SQLite's expression depth is 1,000, its bound values 32,766) would fail, so the
parser refuses first, in one line naming the limit and where it was passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from steward.errors import InvalidInput

ENTITY_ALIASES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
ATTRIBUTE_ALIASES = {
    "run_name": "name",
    "name": "name",
    "status": "status",
    "run_id": "id",
    "id": "id",
    "created_by": "created_by",
    "user": "created_by",
    "start_time": "start_time",
    "end_time": "end_time",
}
NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "like", "ilike", "not like")

Value = float | str

MAX_DEPTH = 32
"""Parentheses a filter may nest."""
MAX_COMPARISONS = 256
"""Comparisons a filter may hold; use ``in (…)`` for many values of one field."""
MAX_LIST_VALUES = 10_000
"""Values an ``in (…)`` list may hold."""


@dataclass(frozen=True)
class Comparison:
    """``entity.key op value`` (``value`` is a tuple for ``in`` / ``not in``)."""

    entity: str
    key: str
    op: str
    value: Value | tuple[Value, ...] | None


@dataclass(frozen=True)
class And:
    """All of ``terms`` hold."""

    terms: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``terms`` holds."""

    terms: tuple[Expression, ...]


Expression = Comparison | And | Or

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<backtick>`[^`]*`)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-:/]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _fail(source: str, position: int, message: str) -> InvalidInput:
    caret = " " * position + "^"
    return InvalidInput(f"invalid filter: {message} at position {position}:\n  {source}\n  {caret}")


def _over_limit(position: int, what: str) -> InvalidInput:
    """A one-line refusal of a filter past a size limit (too big to echo)."""
    return InvalidInput(f"invalid filter: {what} (at position {position}); simplify the filter.")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise _fail(source, position, f"unexpected character {source[position]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


def _unquote(text: str) -> str:
    quote = text[0]
    body = text[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0
        self.comparisons = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.current
        return token.kind == "word" and token.text.lower() in words

    def expect_punct(self, text: str) -> None:
        if self.current.kind != "punct" or self.current.text != text:
            raise self.error(f"expected {text!r}")
        self.advance()

    def error(self, message: str) -> InvalidInput:
        token = self.current
        found = "end of filter" if token.kind == "end" else repr(token.text)
        return _fail(self.source, token.position, f"{message}, found {found}")

    def parse(self) -> Expression:
        expression = self.parse_or()
        if self.current.kind != "end":
            raise self.error("expected 'and', 'or' or end of filter")
        return expression

    def parse_or(self) -> Expression:
        terms = [self.parse_and()]
        while self.at_word("or"):
            self.advance()
            terms.append(self.parse_and())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def parse_and(self) -> Expression:
        terms = [self.parse_term()]
        while self.at_word("and"):
            self.advance()
            terms.append(self.parse_term())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def parse_term(self) -> Expression:
        if self.current.kind == "punct" and self.current.text == "(":
            if self.depth == MAX_DEPTH:
                raise _over_limit(
                    self.current.position, f"parentheses nested deeper than {MAX_DEPTH} levels"
                )
            self.depth += 1
            self.advance()
            inner = self.parse_or()
            self.expect_punct(")")
            self.depth -= 1
            return inner
        if self.comparisons == MAX_COMPARISONS:
            raise _over_limit(
                self.current.position,
                f"more than {MAX_COMPARISONS} comparisons (for many values of one field, "
                "use 'in (…)')",
            )
        self.comparisons += 1
        return self.parse_comparison()

    def parse_field(self) -> tuple[str, str]:
        token = self.current
        if token.kind != "word":
            raise self.error("expected a field such as metrics.accuracy or params.model")
        self.advance()
        word = token.text.lower()
        if self.current.kind == "punct" and self.current.text == ".":
            if word not in ENTITY_ALIASES:
                raise _fail(
                    self.source,
                    token.position,
                    f"unknown field prefix {token.text!r}; use metrics., params., tags. "
                    "or attributes.",
                )
            self.advance()
            key_token = self.current
            if key_token.kind == "word":
                key = key_token.text
                self.advance()
                # Keys may contain dots (params.model.depth): join word.word…
                while self.current.kind == "punct" and self.current.text == ".":
                    self.advance()
                    if self.current.kind not in ("word", "number"):
                        raise self.error("expected the rest of the key after '.'")
                    key += "." + self.advance().text
            elif key_token.kind in ("backtick", "string"):
                key = key_token.text[1:-1]
                self.advance()
            else:
                raise self.error("expected a key name after the prefix")
            entity = ENTITY_ALIASES[word]
        else:
            entity, key = "attributes", word
        if entity == "attributes":
            if key.lower() not in ATTRIBUTE_ALIASES:
                raise _fail(
                    self.source,
                    token.position,
                    f"unknown run attribute {key!r}; known: {sorted(set(ATTRIBUTE_ALIASES))}",
                )
            key = ATTRIBUTE_ALIASES[key.lower()]
        if not key:
            raise _fail(self.source, token.position, "empty key name")
        return entity, key

    def parse_value(self) -> Value:
        token = self.current
        if token.kind == "number":
            self.advance()
            return float(token.text)
        if token.kind == "string":
            self.advance()
            return _unquote(token.text)
        raise self.error("expected a number or a quoted string")

    def parse_comparison(self) -> Comparison:
        start = self.current.position
        entity, key = self.parse_field()
        numeric = entity == "metrics" or (entity == "attributes" and key in NUMERIC_ATTRIBUTES)
        if self.at_word("is"):
            self.advance()
            negate = self.at_word("not")
            if negate:
                self.advance()
            if not self.at_word("null"):
                raise self.error("expected 'null' after 'is'")
            self.advance()
            return Comparison(entity, key, "is not null" if negate else "is null", None)
        if self.at_word("not"):
            self.advance()
            if self.at_word("in"):
                self.advance()
                return Comparison(entity, key, "not in", self.parse_list(numeric, start))
            if self.at_word("like"):
                self.advance()
                op = "not like"
            else:
                raise self.error("expected 'in' or 'like' after 'not'")
        elif self.at_word("in"):
            self.advance()
            return Comparison(entity, key, "in", self.parse_list(numeric, start))
        elif self.at_word("like", "ilike"):
            op = self.advance().text.lower()
        elif self.current.kind == "op":
            op = {"==": "=", "<>": "!="}.get(self.current.text, self.current.text)
            self.advance()
        else:
            raise self.error("expected a comparison operator (=, !=, <, <=, >, >=, like, in)")
        value_position = self.current.position
        value = self.parse_value()
        self._check_types(entity, key, op, value, numeric, value_position)
        return Comparison(entity, key, op, value)

    def parse_list(self, numeric: bool, start: int) -> tuple[Value, ...]:
        self.expect_punct("(")
        values = [self.parse_value()]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            if len(values) == MAX_LIST_VALUES:
                raise _over_limit(
                    self.current.position, f"more than {MAX_LIST_VALUES:,} values in one list"
                )
            values.append(self.parse_value())
        self.expect_punct(")")
        if any(isinstance(value, float) != numeric for value in values):
            kind = "numbers" if numeric else "quoted strings"
            raise _fail(self.source, start, f"the values in this list must all be {kind}")
        return tuple(values)

    def _check_types(
        self, entity: str, key: str, op: str, value: Value, numeric: bool, position: int
    ) -> None:
        if numeric:
            if op not in COMPARISON_OPS:
                raise _fail(self.source, position, f"{op!r} does not apply to {entity}.{key}")
            if not isinstance(value, float):
                raise _fail(self.source, position, f"{entity}.{key} compares with numbers")
            return
        if op not in STRING_OPS:
            hint = " (params and tags are strings; compare metrics numerically)"
            raise _fail(self.source, position, f"{op!r} does not apply to {entity}.{key}{hint}")
        if not isinstance(value, str):
            raise _fail(
                self.source, position, f"{entity}.{key} is a string; quote the value: '{value:g}'"
            )


def parse_filter(source: str | None) -> Expression | None:
    """Parse a run filter; None or blank means "match everything".

    Raises:
        InvalidInput: with the position of the problem and a caret under it.
    """
    if source is None or not source.strip():
        return None
    return _Parser(source).parse()


@dataclass(frozen=True)
class OrderKey:
    """One ``order_by`` entry: ``metrics.acc DESC``."""

    entity: str
    key: str
    descending: bool


def parse_order_by(clauses: list[str] | None) -> list[OrderKey]:
    """Parse ``order_by`` entries such as ``"metrics.acc DESC"`` or ``"start_time"``."""
    result: list[OrderKey] = []
    for clause in clauses or []:
        parts = clause.strip().rsplit(None, 1)
        descending = False
        if len(parts) == 2 and parts[1].lower() in ("asc", "desc"):
            descending = parts[1].lower() == "desc"
            field_text = parts[0]
        else:
            field_text = clause.strip()
        parser = _Parser(field_text)
        entity, key = parser.parse_field()
        if parser.current.kind != "end":
            raise InvalidInput(
                f"invalid order_by {clause!r}: expected '<field> [ASC|DESC]', "
                "e.g. 'metrics.accuracy DESC'."
            )
        result.append(OrderKey(entity, key, descending))
    return result
