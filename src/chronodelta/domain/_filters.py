"""The vendor's ``filter=`` query language: parser, canonical printer and validation.

Contract, "Filtering": the vendor publishes this grammar and we accept exactly it,
nothing wider::

    expression       = term { "or" term }
    term             = condition { "and" condition }
    condition        = simple-condition | "(" expression ")"
    simple-condition = identifier rel-op factor
    rel-op           = "eq" | "ge" | "le" | "in"
    factor           = constant | list
    constant         = integer | string | bool        (strings and dates in single quotes)
    list             = [identifier] "(" constant { "," constant } ")"

A list's identifier names a collection to take the values from (contract, "Fidelity",
"Filters"): ``person in circle(2, 8)`` selects the people of circles 2 and 8,
``person in org-group(121, 122)`` the people of those org groups, and
``person in org-tree(121)`` the people of group 121 and of every group below it. A
space before the ``(`` is allowed (the vendor's how-to writes ``circle (1,2,3)``).

The grammar leaves the lexical level open; these are our choices:

- Keywords ``and or eq ge le in true false`` are lowercase only and reserved: ``AND``
  or ``Eq`` are identifiers (so they fail where a keyword is expected), and a keyword
  cannot be a field name or list qualifier.
- identifier: an ASCII letter followed by ASCII letters and digits, in runs joined by
  single hyphens that are followed by a letter (``org-tree``; no ``_`` or ``.``), so
  that ``person eq-1`` still reads as ``eq`` and ``-1``.
- integer: an optional ``-`` directly followed by ASCII digits, at most 18 of them (so
  every integer fits a signed 64-bit id; longer ones are a syntax error).
- string: single-quoted; a quote inside is doubled (``'O''Brien'``); any other
  character, including a space, stands for itself. Dates are strings (``'2025-01-01'``).
- Spaces and tabs separate tokens and are otherwise insignificant. Words and numbers
  must not touch each other (``1and`` is an invalid number, ``personeq`` one identifier);
  parentheses, commas and quotes need no surrounding space.
- Nothing else is a token: no ``ne``/``gt``/``lt``, no functions, no double quotes, no
  newlines. Parentheses may nest at most ``_MAX_DEPTH`` deep, so that no input can
  exhaust the interpreter's stack (contract, "Errors": never a 500).

Parsing keeps the source's grouping: ``a and b and c`` is one ``And`` of three, while
``(a and b) and c`` is an ``And`` holding an ``And``; ``format_filter`` prints it back
with the same parentheses, so ``parse_filter(format_filter(n)) == n``.

``compile_filter`` then checks a parsed filter against a collection's fields and the
request mode (a list GET or the start of a delta) and reduces it to ``FilterCriteria``.
Choices where the contract is silent:

- ``or`` may only join plain conditions on one multiple field, parenthesized ``or``
  groups included; an ``and`` group inside an ``or`` is refused even when all its
  conditions are on that field.
- Constraints on one multiple field joined by ``and`` intersect; an empty result
  (``person eq 1 and person eq 2``) is not an error, it selects nothing. A constraint
  that names collections (``person in circle(2)``, or an ``or`` group with one) is kept
  as a ``Selection``, resolved by the database; unknown collection ids select nobody.
- A list with a start date and no end covers one year: it ends the day before the same
  date a year later (``date ge '2026-01-01'`` lists through 2026-12-31), the longest
  range a list may have (contract, "Fidelity", "Lists"). A delta's open end stays open.
- "One year" from a start is the same day a calendar year later, exclusive (Feb 29
  falls back to Feb 28); a delta's start may be today ("in the past" includes today).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import string
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NamedTuple, NoReturn

from chronodelta.domain._records import ClockingKind

_KEYWORDS = frozenset({"and", "or", "eq", "ge", "le", "in", "true", "false"})
_REL_OPS = ("eq", "ge", "le", "in")
_MAX_DIGITS = 18
_MAX_DEPTH = 32
_WHITESPACE = " \t"
_DIGITS = string.digits
_LETTERS = string.ascii_letters
_ALNUM = _LETTERS + _DIGITS
_IDENTIFIER_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z][A-Za-z0-9]*)*")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- errors ---------------------------------------------------------------------------


class FilterError(Exception):
    """A filter that cannot be used; `reasons` are human sentences for the API's error body."""

    reasons: list[str]

    def __init__(self, reasons: str | list[str]) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("; ".join(self.reasons))


class FilterSyntaxError(FilterError):
    """The text does not follow the grammar; `position` is the 0-based offset of the problem."""

    position: int

    def __init__(self, problem: str, position: int) -> None:
        self.position = position
        super().__init__(f"Filter syntax error at position {position}: {problem}")


# --- the syntax tree ------------------------------------------------------------------


def _is_identifier(text: str) -> bool:
    return _IDENTIFIER_RE.fullmatch(text) is not None and text not in _KEYWORDS


@dataclass(frozen=True, slots=True, eq=False)
class Constant:
    """An integer, a string (dates stay raw text here) or a boolean.

    Equality also compares the type: plain dataclass equality would make
    ``Constant(True) == Constant(1)`` because ``True == 1`` in Python.
    """

    value: int | str | bool

    def __post_init__(self) -> None:
        # Every node must print to text the parser accepts (see format_filter).
        if not isinstance(self.value, int | str):
            raise TypeError(f"constant must be int, str or bool, not {self.value!r}")
        if _is_big_int(self.value):
            raise ValueError(f"integer constant has more than {_MAX_DIGITS} digits")

    def _key(self) -> tuple[type, int | str | bool]:
        return (type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constant) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _is_big_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_MAX_DIGITS


@dataclass(frozen=True, slots=True)
class ListValue:
    qualifier: str | None
    items: tuple[Constant, ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("a list needs at least one constant")
        if self.qualifier is not None and not _is_identifier(self.qualifier):
            raise ValueError(f"list qualifier {self.qualifier!r} is not an identifier")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: Constant | ListValue
    position: int = dataclasses.field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not _is_identifier(self.field):
            raise ValueError(f"field {self.field!r} is not an identifier")
        if self.op not in _REL_OPS:
            raise ValueError(f"operator {self.op!r} is not one of {_REL_OPS}")


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("'and' needs at least two items")


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("'or' needs at least two items")


Node = Condition | And | Or


# --- lexer ----------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "ident", "kw", "int", "str", "(", ")", ",", "end"
    text: str  # the source text of the token
    value: int | str | None  # the int, or the string with its quotes undone
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
            continue
        if ch in "(),":
            tok, i = _Token(ch, ch, None, i), i + 1
        elif ch == "'":
            tok, i = _lex_string(text, i)
        elif ch in _LETTERS:
            tok, i = _lex_word(text, i)
        elif ch in _DIGITS or ch == "-":
            tok, i = _lex_number(text, i)
        else:
            _bad_character(ch, i)
        tokens.append(tok)
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


def _bad_character(ch: str, pos: int) -> NoReturn:
    if ch == '"':
        raise FilterSyntaxError(
            "double quotes are not allowed; put strings and dates in single quotes", pos
        )
    raise FilterSyntaxError(f"unexpected character {ch!r}", pos)


def _run_end(text: str, i: int) -> int:
    """The end of the run of ASCII letters and digits starting at `i`."""
    while i < len(text) and text[i] in _ALNUM:
        i += 1
    return i


def _lex_word(text: str, start: int) -> tuple[_Token, int]:
    end = _run_end(text, start)
    # A hyphen followed by a letter joins the next run ("org-tree"); before a digit it
    # starts a number, as in "person eq-1".
    while text.startswith("-", end) and end + 1 < len(text) and text[end + 1] in _LETTERS:
        end = _run_end(text, end + 1)
    word = text[start:end]
    return _Token("kw" if word in _KEYWORDS else "ident", word, None, start), end


def _lex_number(text: str, start: int) -> tuple[_Token, int]:
    digits_start = start + 1 if text[start] == "-" else start
    end = _run_end(text, digits_start)
    digits, literal = text[digits_start:end], text[start:end]
    if not digits:
        raise FilterSyntaxError("'-' must be directly followed by digits", start)
    if not all(c in _DIGITS for c in digits):
        raise FilterSyntaxError(f"invalid number '{literal}'", start)
    if end < len(text) and text[end] == "-":
        raise FilterSyntaxError(
            f"invalid number '{literal}-'; put dates in single quotes, like '2025-01-01'",
            start,
        )
    if len(digits) > _MAX_DIGITS:
        raise FilterSyntaxError(f"number has more than {_MAX_DIGITS} digits", start)
    return _Token("int", literal, int(literal), start), end


def _lex_string(text: str, start: int) -> tuple[_Token, int]:
    parts: list[str] = []
    i = start + 1
    while True:
        quote = text.find("'", i)
        if quote == -1:
            raise FilterSyntaxError(f"unterminated string starting at position {start}", start)
        if text.startswith("''", quote):  # a doubled quote stands for one quote
            parts.append(text[i : quote + 1])
            i = quote + 2
            continue
        parts.append(text[i:quote])
        return _Token("str", text[start : quote + 1], "".join(parts), start), quote + 1


# --- parser ---------------------------------------------------------------------------


def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return "the end of the filter"
    if tok.kind == "str":
        shown = tok.text if len(tok.text) <= 40 else tok.text[:36] + "...'"
        return f"the string {shown}"
    if tok.kind == "int":
        return f"the number {tok.text}"
    if tok.kind == "ident" and tok.text.lower() in _KEYWORDS:
        return f"'{tok.text}' (keywords are lowercase)"
    return f"'{tok.text}'"


class _Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        tok = self.peek()
        self.index += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (text is None or tok.text == text)

    def fail(self, expected: str, hint: str = "") -> NoReturn:
        tok = self.peek()
        raise FilterSyntaxError(f"expected {expected}, found {_describe(tok)}{hint}", tok.pos)

    def parse(self) -> Node:
        node = self.expression()
        if self.at(")"):
            raise FilterSyntaxError("found ')' without a matching '('", self.peek().pos)
        if not self.at("end"):
            self.fail("'and', 'or' or the end of the filter")
        return node

    def expression(self) -> Node:
        items = [self.term()]
        while self.at("kw", "or"):
            self.advance()
            items.append(self.term())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def term(self) -> Node:
        items = [self.condition()]
        while self.at("kw", "and"):
            self.advance()
            items.append(self.condition())
        return items[0] if len(items) == 1 else And(tuple(items))

    def condition(self) -> Node:
        if self.at("("):
            return self.group()
        if not self.at("ident"):
            self.fail("a field name or '('")
        name = self.advance()
        op = self.rel_op(name)
        return Condition(name.text, op, self.factor(op), name.pos)

    def group(self) -> Node:
        opening = self.advance()
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise FilterSyntaxError(f"parentheses nested more than {_MAX_DEPTH} deep", opening.pos)
        node = self.expression()
        if not self.at(")"):
            self.fail("'and', 'or' or ')'", f" (to close the '(' at position {opening.pos})")
        self.advance()
        self.depth -= 1
        return node

    def rel_op(self, name: _Token) -> str:
        tok = self.peek()
        if tok.kind == "kw" and tok.text in _REL_OPS:
            return self.advance().text
        hint = " (functions are not supported)" if tok.kind == "(" else ""
        self.fail(f"'eq', 'ge', 'le' or 'in' after '{name.text}'", hint)

    def factor(self, op: str) -> Constant | ListValue:
        if self.at("("):
            return self.list_value(None)
        if self.at("ident") and self.peek(1).kind == "(":
            return self.list_value(self.advance().text)
        if self.at("ident") and op == "in":
            self.fail(
                "a list after 'in'",
                " (a named list needs '(' after its name, like circle(1, 2); "
                "strings and dates go in single quotes)",
            )
        if self.at("ident"):
            self.fail(f"a value after '{op}'", " (strings and dates go in single quotes)")
        return self.constant(f"a value after '{op}'")

    def list_value(self, qualifier: str | None) -> ListValue:
        self.advance()  # the "("
        items = [self.constant("a value in the list")]
        while self.at(","):
            self.advance()
            items.append(self.constant("a value after ','"))
        if not self.at(")"):
            self.fail("',' or ')' in the list")
        self.advance()
        return ListValue(qualifier, tuple(items))

    def constant(self, expected: str) -> Constant:
        tok = self.peek()
        if tok.kind in ("int", "str") and tok.value is not None:
            self.advance()
            return Constant(tok.value)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            self.advance()
            return Constant(tok.text == "true")
        self.fail(expected, " (a number, a string in single quotes, true or false)")


def parse_filter(text: str) -> Node:
    """Parse filter text; raises FilterSyntaxError (and nothing else) for any bad input."""
    return _Parser(text).parse()


# --- printer --------------------------------------------------------------------------


def _format_constant(value: int | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _format_value(value: Constant | ListValue) -> str:
    if isinstance(value, Constant):
        return _format_constant(value.value)
    items = ", ".join(_format_constant(c.value) for c in value.items)
    return f"{value.qualifier or ''}({items})"


def format_filter(node: Node) -> str:
    """Canonical text for `node`: single spaces, parentheses only where grouping needs them."""
    if isinstance(node, Condition):
        return f"{node.field} {node.op} {_format_value(node.value)}"
    if isinstance(node, And):
        # Parenthesize every nested group: an Or so it binds as written, an And so the
        # source's grouping (which parsing keeps) survives the round trip.
        return " and ".join(_wrap(item, (And, Or)) for item in node.items)
    return " or ".join(_wrap(item, (Or,)) for item in node.items)


def _wrap(node: Node, needs_parens: tuple[type, ...]) -> str:
    text = format_filter(node)
    return f"({text})" if isinstance(node, needs_parens) else text


# --- collection specs -----------------------------------------------------------------


class FieldKind(StrEnum):
    MULTIPLE = "multiple"  # a set of values; eq/in, may be joined by 'or'
    RANGE = "range"  # an interval; ge/le/eq


class PeopleGrouping(StrEnum):
    """The collections a ``person in <name>(ids)`` list may name (contract, "Fidelity").

    People belong to org groups, which form a tree (each has a parent), and to circles
    (named sets of people). ``org-group`` takes a group's own people, ``org-tree`` also
    those of every group below it.
    """

    CIRCLE = "circle"
    ORG_GROUP = "org-group"
    ORG_TREE = "org-tree"


@dataclass(frozen=True, slots=True)
class FilterField:
    name: str
    kind: FieldKind
    value_type: type[int | dt.date | str | bool]
    allowed_values: frozenset[str] | None = None
    required: bool = False
    # The list qualifiers an 'in' may use: "person in circle(2, 8)" (ids are integers).
    qualifiers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.kind is FieldKind.RANGE and self.value_type is not dt.date:
            raise ValueError("a range field holds dates")
        if self.qualifiers and self.kind is not FieldKind.MULTIPLE:
            raise ValueError("only a multiple field takes list qualifiers")
        if self.kind is FieldKind.MULTIPLE and self.value_type not in (int, str, bool):
            raise ValueError("a multiple field holds ints, strings or booleans")
        if self.allowed_values is not None and self.value_type is not str:
            raise ValueError("allowed_values only applies to string fields")


@dataclass(frozen=True, slots=True)
class CollectionFilterSpec:
    collection: str
    fields: tuple[FilterField, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate filter field in {names}")
        # FilterCriteria has one date_from/date_to pair, so one range field at most.
        if sum(f.kind is FieldKind.RANGE for f in self.fields) > 1:
            raise ValueError("at most one range field per collection")

    def lookup(self, name: str) -> FilterField | None:
        return next((f for f in self.fields if f.name == name), None)


# Contract, "Filtering": per-collection fields. `kind` takes the clocking kinds.
_PERSON = FilterField(
    "person", FieldKind.MULTIPLE, int, qualifiers=frozenset(g.value for g in PeopleGrouping)
)
_DATE = FilterField("date", FieldKind.RANGE, dt.date, required=True)
_KIND = FilterField(
    "kind",
    FieldKind.MULTIPLE,
    str,
    allowed_values=frozenset(k.value for k in ClockingKind),
)
CLOCKINGS_FILTER = CollectionFilterSpec("clockings", (_PERSON, _DATE, _KIND))
PAID_PRESENCES_FILTER = CollectionFilterSpec("paid-presences", (_PERSON, _DATE))
ACTIVITY_DURATIONS_FILTER = CollectionFilterSpec("activity-durations", (_PERSON, _DATE))
CALCULATED_TOTALS_FILTER = CollectionFilterSpec("calculated-totals", (_PERSON, _DATE))
# The vendor's counter definitions list: "counter-group: Filter by one or more counter
# groups", "enabled: Filter by enabled status (true or false)"; both optional.
COUNTER_DEFINITIONS_FILTER = CollectionFilterSpec(
    "counter-definitions",
    (
        FilterField("counter-group", FieldKind.MULTIPLE, int),
        FilterField("enabled", FieldKind.MULTIPLE, bool),
    ),
)

# Contract, "Delta": "`person` may not be used (400)" (seeds: "People cannot be used in
# the delta").
_NOT_IN_DELTA = frozenset({"person"})


# --- criteria -------------------------------------------------------------------------


def _value_sort_key(value: int | str) -> tuple[int, int, str]:
    return (1, 0, value) if isinstance(value, str) else (0, value, "")


@dataclass(frozen=True, slots=True)
class Selection:
    """A constraint on a multiple field that names collections, as in
    ``person in circle(2, 8)`` or ``(person eq 1 or person in org-tree(4))``.

    It selects the union of the plain `values` and of the members of each named
    collection: `groupings` holds one (qualifier, ids) pair per qualifier, sorted. Only
    the database knows the members, so the server resolves it when it reads.
    """

    field: str
    values: frozenset[int | str]
    groupings: tuple[tuple[str, frozenset[int | str]], ...]

    def __post_init__(self) -> None:
        if not self.groupings:
            raise ValueError("a selection names at least one collection")
        object.__setattr__(self, "groupings", tuple(sorted(self.groupings, key=lambda g: g[0])))

    def text(self) -> str:
        """Filter text for the selection; an ``or`` group when it has several parts."""
        parts = [f"{self.field} in {name}({_format_items(ids)})" for name, ids in self.groupings]
        if self.values:
            parts.insert(0, f"{self.field} in ({_format_items(self.values)})")
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def _format_items(values: frozenset[int | str]) -> str:
    return ", ".join(_format_constant(v) for v in sorted(values, key=_value_sort_key))


@dataclass(frozen=True, slots=True)
class FilterCriteria:
    """What a valid filter selects: an inclusive date range and value sets per field.

    `values` holds one (name, allowed values) pair per multiple field constrained by
    plain values, sorted by name, and `selections` every constraint that names
    collections (all must hold), sorted by text and without repeats: equal criteria
    compare and hash equal however they were built.
    """

    date_from: dt.date | None
    date_to: dt.date | None
    values: tuple[tuple[str, frozenset[int | str]], ...] = ()
    selections: tuple[Selection, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(sorted(self.values, key=lambda kv: kv[0])))
        unique = {s.text(): s for s in self.selections}
        object.__setattr__(self, "selections", tuple(unique[t] for t in sorted(unique)))

    def get(self, name: str) -> frozenset[int | str] | None:
        return next((vals for key, vals in self.values if key == name), None)

    def canonical(self) -> str:
        """Stable text (same criteria, same text) to bind paging tokens to the filter.

        It is filter text itself, except that a contradictory constraint (an empty set,
        from e.g. ``person eq 1 and person eq 2``) is written ``in ()``.
        """
        parts = []
        if self.date_from is not None:
            parts.append(f"date ge '{self.date_from.isoformat()}'")
        if self.date_to is not None:
            parts.append(f"date le '{self.date_to.isoformat()}'")
        for name, vals in self.values:
            parts.append(f"{name} in ({_format_items(vals)})")
        parts += [selection.text() for selection in self.selections]
        return " and ".join(parts)


# --- validation -----------------------------------------------------------------------


def _one_year_after(start: dt.date) -> dt.date | None:
    """Start plus one calendar year (Feb 29 falls back to Feb 28); None past year 9999."""
    if start.year == dt.MAXYEAR:
        return None
    try:
        return start.replace(year=start.year + 1)
    except ValueError:
        return dt.date(start.year + 1, 2, 28)


def _last_allowed_end(start: dt.date) -> dt.date:
    limit = _one_year_after(start)
    return dt.date.max if limit is None else limit - dt.timedelta(days=1)


def _and_clauses(node: Node) -> list[Node]:
    """The conjuncts of `node`; a parenthesized `and` group inside an `and` is flattened."""
    if isinstance(node, And):
        return [clause for item in node.items for clause in _and_clauses(item)]
    return [node]


def _or_leaves(node: Node) -> list[Node]:
    if isinstance(node, Or):
        return [leaf for item in node.items for leaf in _or_leaves(item)]
    return [node]


def _first_position(node: Node) -> int:
    return node.position if isinstance(node, Condition) else _first_position(node.items[0])


class _Bound(NamedTuple):
    date: dt.date
    position: int


class _Union(NamedTuple):
    """What one constraint on a multiple field allows: plain values, named collections."""

    values: frozenset[int | str]
    groupings: dict[str, frozenset[int | str]]

    def __or__(self, other: _Union) -> _Union:
        names = self.groupings.keys() | other.groupings.keys()
        empty: frozenset[int | str] = frozenset()
        return _Union(
            self.values | other.values,
            {n: self.groupings.get(n, empty) | other.groupings.get(n, empty) for n in names},
        )


class _Compiler:
    """Validates one parsed filter, collecting every reason before failing."""

    def __init__(self, spec: CollectionFilterSpec, mode: str, today: dt.date) -> None:
        self.spec, self.mode, self.today = spec, mode, today
        self.reasons: list[str] = []
        self.mentioned: set[str] = set()  # known fields the filter refers to
        self.values: dict[str, frozenset[int | str]] = {}
        self.selections: list[Selection] = []
        self.lower: _Bound | None = None
        self.upper: _Bound | None = None
        self.range_failed = False  # the range field was used but wrongly

    def reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def run(self, node: Node | None) -> FilterCriteria:
        for clause in _and_clauses(node) if node is not None else []:
            if isinstance(clause, Condition):
                self.condition(clause)
            else:
                self.or_group(clause)
        self.check_required()
        self.check_range()
        if self.reasons:
            raise FilterError(self.reasons)
        date_from = self.lower.date if self.lower else None
        date_to = self.upper.date if self.upper else None
        if self.mode == "list" and date_from is not None and date_to is None:
            date_to = _last_allowed_end(date_from)  # an open end lists one year
        return FilterCriteria(
            date_from, date_to, tuple(self.values.items()), tuple(self.selections)
        )

    def lookup(self, cond: Condition) -> FilterField | None:
        found = self.spec.lookup(cond.field)
        if found is None:
            supported = ", ".join(sorted(f.name for f in self.spec.fields))
            self.reason(
                f"Unknown filter field '{cond.field}' at position {cond.position}; "
                f"this collection supports: {supported}"
            )
            return None
        self.mentioned.add(found.name)
        if self.mode == "delta" and found.name in _NOT_IN_DELTA:
            self.reason(f"'{found.name}' cannot be used in a delta filter")
        return found

    def condition(self, cond: Condition) -> None:
        spec_field = self.lookup(cond)
        if spec_field is None:
            return
        if spec_field.kind is FieldKind.RANGE:
            self.range_condition(cond, spec_field)
            return
        allowed = self.multiple_values(cond, spec_field)
        if allowed is not None:
            self.constrain(spec_field.name, allowed)

    def constrain(self, name: str, allowed: _Union) -> None:
        """Several constraints on one multiple field joined by 'and' intersect; one that
        names collections is kept whole, for the database to intersect."""
        if allowed.groupings:
            groupings = tuple(allowed.groupings.items())
            self.selections.append(Selection(name, allowed.values, groupings))
            return
        vals = allowed.values
        self.values[name] = self.values[name] & vals if name in self.values else vals

    # -- 'or' groups --

    def or_group(self, node: Node) -> None:
        """Contract: `or` only joins conditions on one field of the multiple kind."""
        leaves = _or_leaves(node)
        where = f"the 'or' group at position {_first_position(node)}"
        conds = [leaf for leaf in leaves if isinstance(leaf, Condition)]
        if len(conds) != len(leaves):
            self.reason(f"{self.or_rule()}; {where} contains an 'and' group")
            return
        found = [self.lookup(c) for c in conds]
        known = {f.name: f for f in found if f is not None}
        if any(f.kind is FieldKind.RANGE for f in known.values()):
            self.range_failed = True
        if len(known) > 1:
            self.reason(f"{self.or_rule()}; {where} mixes " + ", ".join(f"'{n}'" for n in known))
        elif len(known) == 1 and None not in found:
            self.or_single_field(conds, next(iter(known.values())), where)

    def or_single_field(self, conds: list[Condition], spec_field: FilterField, where: str) -> None:
        if spec_field.kind is FieldKind.RANGE:
            self.reason(f"{self.or_rule()}; {where} uses range field '{spec_field.name}'")
            return
        results = [self.multiple_values(c, spec_field) for c in conds]
        union = _Union(frozenset(), {})
        for allowed in results:
            if allowed is None:
                return
            union |= allowed
        self.constrain(spec_field.name, union)

    def or_rule(self) -> str:
        names = sorted(f.name for f in self.spec.fields if f.kind is FieldKind.MULTIPLE)
        return (
            f"'or' may only join conditions on one field of the multiple kind ({', '.join(names)})"
        )

    # -- multiple fields --

    def multiple_values(self, cond: Condition, spec_field: FilterField) -> _Union | None:
        name, at = spec_field.name, f"at position {cond.position}"
        if cond.op in ("ge", "le"):
            self.reason(f"'{cond.op}' cannot be used with '{name}' {at}; use 'eq' or 'in'")
            return None
        if cond.op == "eq" and isinstance(cond.value, ListValue):
            self.reason(f"'eq' takes a single value for '{name}' {at}; use 'in' for a list")
            return None
        if isinstance(cond.value, Constant):
            if cond.op == "in":
                self.reason(f"'in' takes a list for '{name}' {at}, like {name} in (...)")
                return None
            items: tuple[Constant, ...] = (cond.value,)
        elif cond.value.qualifier is not None:
            return self.named_values(cond.value, spec_field, at)
        else:
            items = cond.value.items
        members = [self.member(c, spec_field, at) for c in items]
        if None in members:
            return None
        return _Union(frozenset(m for m in members if m is not None), {})

    def named_values(self, value: ListValue, spec_field: FilterField, at: str) -> _Union | None:
        """``person in circle(2, 8)``: ids of the named collection, whole numbers."""
        qualifier, name = value.qualifier, spec_field.name
        if qualifier not in spec_field.qualifiers:
            known = ", ".join(f"'{q}'" for q in sorted(spec_field.qualifiers))
            hint = f"; '{name}' takes {known}" if known else ""
            self.reason(
                f"List qualifier '{qualifier}' is not supported for field '{name}' {at}{hint}"
            )
            return None
        ids: list[int | str] = []
        for const in value.items:
            if isinstance(const.value, bool) or not isinstance(const.value, int):
                shown = _format_constant(const.value)
                self.reason(f"'{qualifier}' takes whole numbers (ids), found {shown} {at}")
                return None
            ids.append(const.value)
        return _Union(frozenset(), {qualifier: frozenset(ids)})

    def member(self, const: Constant, spec_field: FilterField, at: str) -> int | str | None:
        value, name = const.value, spec_field.name
        shown = _format_constant(value)
        if spec_field.value_type is bool:
            if not isinstance(value, bool):
                self.reason(f"'{name}' takes true or false, found {shown} {at}")
                return None
            return value
        if isinstance(value, bool):
            self.reason(f"The boolean {shown} is not a valid value for '{name}' {at}")
        elif spec_field.value_type is int and not isinstance(value, int):
            self.reason(f"'{name}' takes whole numbers, found {shown} {at}")
        elif spec_field.value_type is str and not isinstance(value, str):
            self.reason(f"'{name}' takes values in single quotes, found {shown} {at}")
        elif spec_field.allowed_values is not None and value not in spec_field.allowed_values:
            allowed = ", ".join(f"'{v}'" for v in sorted(spec_field.allowed_values))
            self.reason(
                f"{shown} is not a valid value for '{name}' {at}; allowed values: {allowed}"
            )
        else:
            return value
        return None

    # -- the range field --

    def range_condition(self, cond: Condition, spec_field: FilterField) -> None:
        date = self.date_value(cond, spec_field.name)
        if date is None:
            self.range_failed = True
            return
        bound = _Bound(date, cond.position)
        if cond.op in ("ge", "eq"):  # 'eq X' means from X to X
            self.lower = self.set_bound(self.lower, bound, f"'{spec_field.name}' lower bound")
        if cond.op in ("le", "eq"):
            self.upper = self.set_bound(self.upper, bound, f"'{spec_field.name}' upper bound")

    def set_bound(self, old: _Bound | None, new: _Bound, what: str) -> _Bound:
        if old is not None:
            self.reason(f"{what} given twice (at positions {old.position} and {new.position})")
            self.range_failed = True
        return new

    def date_value(self, cond: Condition, name: str) -> dt.date | None:
        at = f"at position {cond.position}"
        if cond.op == "in" or isinstance(cond.value, ListValue):
            self.reason(f"'{name}' is a range field {at}: use 'ge', 'le' or 'eq' with one date")
            return None
        raw = cond.value.value
        if not isinstance(raw, str) or isinstance(raw, bool):
            self.reason(
                f"'{name}' needs a date in single quotes like '2025-01-01', "
                f"found {_format_constant(raw)} {at}"
            )
            return None
        try:
            if _DATE_RE.fullmatch(raw) is None:
                raise ValueError(raw)
            return dt.date.fromisoformat(raw)
        except ValueError:
            self.reason(
                f"{_format_constant(raw)} {at} is not a valid date for '{name}' "
                "(expected 'YYYY-MM-DD')"
            )
            return None

    # -- whole-filter rules --

    def check_required(self) -> None:
        for spec_field in self.spec.fields:
            if spec_field.required and spec_field.name not in self.mentioned:
                self.reason(
                    f"The filter must constrain '{spec_field.name}' "
                    f"(for example: {_example(spec_field)})"
                )

    def check_range(self) -> None:
        if self.range_failed or (self.lower is None and self.upper is None):
            return  # nothing usable to check; the reasons so far say why
        lower = self.lower.date if self.lower else None
        upper = self.upper.date if self.upper else None
        if lower is not None and upper is not None and lower > upper:
            self.reason(f"The date range is empty: its start {lower} is after its end {upper}")
        elif self.mode == "list":
            self.check_list_range(lower, upper)
        else:
            self.check_delta_range(lower, upper)

    def check_list_range(self, lower: dt.date | None, upper: dt.date | None) -> None:
        # Contract, "Fidelity", "Lists": the vendor's real-time sync tutorial lists with
        # a start alone; `run` ends such a range one year later. An end alone has no
        # start to count a year from.
        if lower is None:
            self.reason(
                "A list filter needs a start date: add date ge 'YYYY-MM-DD' "
                "(at most one year before the end)"
            )
        elif upper is not None:
            self.check_span(lower, upper)

    def check_delta_range(self, lower: dt.date | None, upper: dt.date | None) -> None:
        # Contract, "Delta": the start must be in the past (we allow today) and no
        # earlier than January 1st of the previous year; an end is optional.
        earliest = dt.date(max(self.today.year - 1, dt.MINYEAR), 1, 1)
        if lower is None:
            self.reason(
                "A delta filter needs a start date: date ge 'YYYY-MM-DD', "
                f"no earlier than {earliest}"
            )
            return
        if lower > self.today:
            self.reason(
                f"The delta's start date {lower} is in the future; "
                f"it must be {self.today} or earlier"
            )
        if lower < earliest:
            self.reason(
                f"The delta's start date {lower} is too early; the earliest allowed is {earliest} "
                "(January 1st of the previous year)"
            )
        if upper is not None:
            self.check_span(lower, upper)

    def check_span(self, lower: dt.date, upper: dt.date) -> None:
        # Contract: a date range spans at most one year (end < start + 1 calendar year).
        if upper > _last_allowed_end(lower):
            self.reason(
                f"The date range from {lower} to {upper} is longer than one year; "
                f"the end may be at most {_last_allowed_end(lower)}"
            )


def _example(spec_field: FilterField) -> str:
    if spec_field.kind is FieldKind.RANGE:
        return f"{spec_field.name} ge '2025-01-01' and {spec_field.name} le '2025-12-31'"
    if spec_field.allowed_values:
        return f"{spec_field.name} eq '{min(spec_field.allowed_values)}'"
    if spec_field.value_type is bool:
        return f"{spec_field.name} eq true"
    sample = "1" if spec_field.value_type is int else "'x'"
    return f"{spec_field.name} eq {sample}"


def compile_filter(
    text: str | None,
    spec: CollectionFilterSpec,
    *,
    mode: Literal["list", "delta"],
    today: dt.date,
) -> FilterCriteria:
    """Parse `text` and check it against `spec` and `mode` (a list GET or a delta start).

    Raises FilterSyntaxError for text outside the grammar (the first problem) and
    FilterError with every semantic problem found otherwise. None or blank text
    constrains nothing, which fails if the collection has a required field.
    """
    if mode not in ("list", "delta"):
        raise ValueError(f"unknown filter mode {mode!r}")
    blank = text is None or text.strip(_WHITESPACE) == ""
    node = None if blank or text is None else parse_filter(text)
    return _Compiler(spec, mode, today).run(node)
