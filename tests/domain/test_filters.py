"""The ``filter=`` grammar (contract, "Filtering"): parsing, printing and validation."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronodelta.domain._filters import (
    ACTIVITY_DURATIONS_FILTER,
    CLOCKINGS_FILTER,
    PAID_PRESENCES_FILTER,
    And,
    CollectionFilterSpec,
    Condition,
    Constant,
    FieldKind,
    FilterCriteria,
    FilterError,
    FilterField,
    FilterSyntaxError,
    ListValue,
    Node,
    Or,
    PeopleGrouping,
    Selection,
    compile_filter,
    format_filter,
    parse_filter,
)

TODAY = dt.date(2025, 6, 15)
D = dt.date


def cond(name: str, op: str, value: object, position: int = 0) -> Condition:
    """A condition; a tuple value becomes an unqualified list."""
    if isinstance(value, tuple):
        return Condition(name, op, ListValue(None, tuple(Constant(v) for v in value)))
    assert isinstance(value, int | str)
    return Condition(name, op, Constant(value), position)


def crit(lo: D | None, hi: D | None, **values: set[int | str]) -> FilterCriteria:
    return FilterCriteria(lo, hi, tuple((k, frozenset(v)) for k, v in values.items()))


def as_mode(mode: str) -> Literal["list", "delta"]:
    assert mode in ("list", "delta")
    return "list" if mode == "list" else "delta"


def compile_(
    text: str | None, mode: str = "list", spec: CollectionFilterSpec = CLOCKINGS_FILTER
) -> FilterCriteria:
    return compile_filter(text, spec, mode=as_mode(mode), today=TODAY)


# --- parsing --------------------------------------------------------------------------

A1, B2, C3 = cond("a", "eq", 1), cond("b", "eq", 2), cond("c", "eq", 3)


def named(qualifier: str, *ids: int) -> Condition:
    """``person in qualifier(ids...)``."""
    return Condition("person", "in", ListValue(qualifier, tuple(Constant(i) for i in ids)))


PARSES = [
    ("date ge '2025-01-01'", cond("date", "ge", "2025-01-01")),
    ("person in (1, 2,3)", cond("person", "in", (1, 2, 3))),
    ("person in ids(1)", Condition("person", "in", ListValue("ids", (Constant(1),)))),
    ("person eq (1)", cond("person", "eq", (1,))),  # grammar allows; validation refuses
    ("a eq -5", cond("a", "eq", -5)),
    ("a eq 007", cond("a", "eq", 7)),
    ("a eq true", Condition("a", "eq", Constant(True))),
    ("a eq false", Condition("a", "eq", Constant(False))),
    ("name eq 'O''Brien'", cond("name", "eq", "O'Brien")),
    ("a eq ''", cond("a", "eq", "")),
    ("a eq ''''", cond("a", "eq", "'")),
    ("a eq 'x  and y'", cond("a", "eq", "x  and y")),
    ("\t a eq 1 \t", A1),
    ("a in(1)", cond("a", "in", (1,))),
    ("a eq'x'and b eq 2", And((cond("a", "eq", "x"), B2))),
    ("Date eq 1", cond("Date", "eq", 1)),  # identifiers are case-sensitive
    ("x1 eq 1", cond("x1", "eq", 1)),
    ("a eq 1 and b eq 2 or c eq 3", Or((And((A1, B2)), C3))),
    ("a eq 1 or b eq 2 and c eq 3", Or((A1, And((B2, C3))))),
    ("(a eq 1 or b eq 2) and c eq 3", And((Or((A1, B2)), C3))),
    ("(a eq 1 and b eq 2) and c eq 3", And((And((A1, B2)), C3))),  # grouping kept
    ("a eq 1 or (b eq 2 or c eq 3)", Or((A1, Or((B2, C3))))),
    ("((a eq 1))", A1),
    ("a eq 1 and b eq 2 and c eq 3", And((A1, B2, C3))),
    # Contract, "Fidelity", "Filters": named lists, with or without a space before "(".
    ("person in circle(2, 8)", named("circle", 2, 8)),
    ("person in circle (1,2,3)", named("circle", 1, 2, 3)),
    ("person in org-group(121, 122)", named("org-group", 121, 122)),
    ("person in org-tree\t(121)", named("org-tree", 121)),
    ("counter-group eq 1", cond("counter-group", "eq", 1)),  # hyphens join words ...
    ("a eq-1", cond("a", "eq", -1)),  # ... but not a word and a number
    ("a-b1-c eq 1", cond("a-b1-c", "eq", 1)),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PARSES)
def test_parse_valid(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


def test_parse_records_field_positions() -> None:
    node = parse_filter("  person eq 1 and (date eq '2025-01-01')")
    assert isinstance(node, And)
    assert [c.position for c in node.items if isinstance(c, Condition)] == [2, 19]


def test_constant_equality_tells_booleans_from_integers() -> None:
    # True == 1 in Python; a filter's `true` must not compare equal to its `1`.
    assert Constant(True) != Constant(1)
    assert parse_filter("a eq true") != parse_filter("a eq 1")
    assert len({Constant(True), Constant(1), Constant(False), Constant(0)}) == 4


@pytest.mark.parametrize(
    "build",
    [
        lambda: And((A1,)),
        lambda: Or(()),
        lambda: Condition("and", "eq", Constant(1)),
        lambda: Condition("a b", "eq", Constant(1)),
        lambda: Condition("a", "gt", Constant(1)),
        lambda: ListValue(None, ()),
        lambda: ListValue("in", (Constant(1),)),
        lambda: ListValue("org-", (Constant(1),)),
        lambda: Condition("a-1", "eq", Constant(1)),
        lambda: Constant(10**18),
    ],
)
def test_nodes_refuse_what_the_grammar_cannot_express(build: object) -> None:
    assert callable(build)
    with pytest.raises(ValueError):
        build()


SYNTAX_ERRORS = [
    (
        "date gt '2025-01-01'",
        5,
        "expected 'eq', 'ge', 'le' or 'in' after 'date', found 'gt'",
    ),
    ("date lt '2025-01-01'", 5, "found 'lt'"),
    ("person ne 1", 7, "found 'ne'"),
    ("contains(kind, 'In')", 8, "functions are not supported"),
    ('kind eq "InOut"', 8, "double quotes"),
    ("kind eq 'InOut", 8, "unterminated string"),
    ("kind eq 'a''", 8, "unterminated string"),
    ("date ge '2025-01-01' x", 21, "found 'x'"),
    ("person in ()", 11, "expected a value in the list, found ')'"),
    ("person in (1,,2)", 13, "found ','"),
    ("person in (1,2", 14, "',' or ')'"),
    ("(person eq 1", 12, "to close the '(' at position 0"),
    ("person eq 1)", 11, "')' without a matching '('"),
    ("date ge 2025-01-01", 8, "single quotes"),
    ("kind eq InOut", 8, "strings and dates go in single quotes"),
    ("date EQ '2025-01-01'", 5, "keywords are lowercase"),
    ("person eq 1 AND date eq '2025-01-01'", 12, "found 'AND'"),
    ("", 0, "expected a field name or '(', found the end of the filter"),
    ("person eq", 9, "found the end of the filter"),
    ("person eq 1 and", 15, "expected a field name"),
    ("true eq 1", 0, "expected a field name"),
    ("person in and(1)", 10, "found 'and'"),
    ("date ge '2025-01-01' and or date le '2025-12-31'", 25, "found 'or'"),
    ("person_id eq 1", 6, "unexpected character '_'"),
    ("person.id eq 1", 6, "unexpected character '.'"),
    ("persón eq 1", 4, "unexpected character 'ó'"),
    ("person eq ０", 10, "unexpected character"),  # not an ASCII digit
    ("person eq 1;", 11, "unexpected character ';'"),
    ("person eq 1\nand b eq 2", 11, "unexpected character '\\n'"),
    ("person eq 12ab", 10, "invalid number '12ab'"),
    ("person eq 1and b eq 2", 10, "invalid number '1and'"),
    ("person eq - 1", 10, "'-' must be directly followed by digits"),
    ("person eq 1234567890123456789", 10, "more than 18 digits"),
    ("(" * 33 + "a eq 1" + ")" * 33, 32, "nested more than 32 deep"),
    ("person in org-(1)", 13, "'-' must be directly followed by digits"),
    ("person in org--tree(1)", 13, "'-' must be directly followed by digits"),
    ("person in org-tree-(1)", 18, "'-' must be directly followed by digits"),
    ("person in org-tree", 10, "found 'org-tree' (a named list needs '(' after its name"),
    ("person in circle 1", 10, "like circle(1, 2); strings and dates go in single quotes"),
    ("person in circle()", 17, "expected a value in the list, found ')'"),
]


@pytest.mark.parametrize(("text", "position", "problem"), SYNTAX_ERRORS)
def test_syntax_errors_say_what_and_where(text: str, position: int, problem: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    err = caught.value
    assert err.position == position
    assert str(err).startswith(f"Filter syntax error at position {position}: ")
    assert problem in str(err)
    assert err.reasons == [str(err)]


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse_filter("(" * 32 + "a eq 1" + ")" * 32) == A1


# --- printing -------------------------------------------------------------------------

FORMATS = [
    (And((Or((A1, B2)), C3)), "(a eq 1 or b eq 2) and c eq 3"),
    (And((And((A1, B2)), C3)), "(a eq 1 and b eq 2) and c eq 3"),
    (Or((And((A1, B2)), C3)), "a eq 1 and b eq 2 or c eq 3"),
    (Or((Or((A1, B2)), C3)), "(a eq 1 or b eq 2) or c eq 3"),
    (cond("n", "eq", "O'Brien"), "n eq 'O''Brien'"),
    (
        Condition("p", "in", ListValue("ids", (Constant(-1), Constant("x"), Constant(True)))),
        "p in ids(-1, 'x', true)",
    ),
    (Condition("person", "in", ListValue("org-tree", (Constant(4),))), "person in org-tree(4)"),
]


@pytest.mark.parametrize(("node", "text"), FORMATS)
def test_format_filter_is_canonical(node: Node, text: str) -> None:
    assert format_filter(node) == text
    assert parse_filter(text) == node


# --- compiling: accepted filters ------------------------------------------------------

VALID = [
    ("delta", "date ge '2025-01-01'", crit(D(2025, 1, 1), None)),
    (
        "list",
        "date ge '2025-01-01' and date le '2025-12-31'",
        crit(D(2025, 1, 1), D(2025, 12, 31)),
    ),
    (
        "list",
        "date le '2025-12-31' and date ge '2025-01-01'",
        crit(D(2025, 1, 1), D(2025, 12, 31)),
    ),
    (
        "list",
        "person in (1,2,3) and date eq '2025-03-04'",
        crit(D(2025, 3, 4), D(2025, 3, 4), person={1, 2, 3}),
    ),
    (
        "list",
        "(person eq 1 or person eq 2) and date ge '2025-01-01' and date le '2025-01-31'",
        crit(D(2025, 1, 1), D(2025, 1, 31), person={1, 2}),
    ),
    (
        "list",
        "(kind eq 'InOut' or kind eq 'Reason') and date eq '2025-03-04'",
        crit(D(2025, 3, 4), D(2025, 3, 4), kind={"InOut", "Reason"}),
    ),
    (
        "list",
        "date eq '2025-03-04' and (kind eq 'InOut' or (kind in ('Reason') or kind eq 'Activity'))",
        crit(D(2025, 3, 4), D(2025, 3, 4), kind={"InOut", "Reason", "Activity"}),
    ),
    (
        "list",
        "person in (1,2,3) and person in (2,3,4) and date eq '2025-03-04'",
        crit(D(2025, 3, 4), D(2025, 3, 4), person={2, 3}),
    ),
    (
        "list",
        "(date ge '2025-01-01' and person eq 7) and date le '2025-01-31'",
        crit(D(2025, 1, 1), D(2025, 1, 31), person={7}),
    ),
    (
        "list",
        "person eq -3 and date ge '2024-02-29' and date le '2025-02-27'",
        crit(D(2024, 2, 29), D(2025, 2, 27), person={-3}),
    ),
    (
        "delta",
        "date ge '2025-01-01' and date le '2025-12-31' and kind eq 'Activity'",
        crit(D(2025, 1, 1), D(2025, 12, 31), kind={"Activity"}),
    ),
    ("delta", "date eq '2025-06-15'", crit(TODAY, TODAY)),  # starting today is allowed
    ("delta", "date ge '2024-01-01'", crit(D(2024, 1, 1), None)),  # the earliest start
    (  # one year after 9999-06-01 is past date.max: no overflow, any end is near enough
        "list",
        "date ge '9999-06-01' and date le '9999-12-31'",
        crit(D(9999, 6, 1), D(9999, 12, 31)),
    ),
    # Contract, "Fidelity", "Lists": the real-time sync tutorial lists with a start
    # alone; the list then covers one year (the longest range a list may have).
    ("list", "date ge '2025-01-01'", crit(D(2025, 1, 1), D(2025, 12, 31))),
    ("list", "date ge '2024-02-29'", crit(D(2024, 2, 29), D(2025, 2, 27))),
    ("list", "date ge '9999-06-01'", crit(D(9999, 6, 1), D.max)),
    ("delta", "date ge '2025-01-02'", crit(D(2025, 1, 2), None)),  # a delta's end stays open
]


@pytest.mark.parametrize(("mode", "text", "expected"), VALID)
def test_valid_filters_compile_to_criteria(mode: str, text: str, expected: FilterCriteria) -> None:
    assert compile_(text, mode) == expected


@pytest.mark.parametrize("spec", [PAID_PRESENCES_FILTER, ACTIVITY_DURATIONS_FILTER])
def test_calculated_collections_filter_on_person_and_date(
    spec: CollectionFilterSpec,
) -> None:
    text = "person eq 3 and date ge '2025-01-01' and date le '2025-01-31'"
    assert compile_(text, spec=spec) == crit(D(2025, 1, 1), D(2025, 1, 31), person={3})
    with pytest.raises(FilterError, match=r"Unknown filter field 'kind'.*supports: date, person"):
        compile_(text + " and kind eq 'InOut'", spec=spec)


# --- compiling: refusals --------------------------------------------------------------

REFUSALS = [
    ("list", "foo eq 1 and date eq '2025-01-01'",
     ["Unknown filter field 'foo' at position 0; this collection supports: date, kind, person"]),
    ("list", "date ge '2025-01-01' or person eq 1", ["'or' may only join", "'date'", "'person'"]),
    ("list", "date eq '2025-01-01' or date eq '2025-01-02'", ["'or'", "range field 'date'"]),
    ("list", "((person eq 1 and kind eq 'InOut') or person eq 2) and date eq '2025-01-01'",
     ["'or' may only join", "contains an 'and' group"]),
    ("list", "person ge 1 and date eq '2025-01-01'",
     ["'ge' cannot be used with 'person'", "position 0"]),
    ("list", "person eq (1,2) and date eq '2025-01-01'", ["'eq' takes a single value", "'in'"]),
    ("list", "person in 1 and date eq '2025-01-01'", ["'in' takes a list for 'person'"]),
    ("list", "date in ('2025-01-01')", ["'date' is a range field", "'ge', 'le' or 'eq'"]),
    ("list", "date ge '2025-01-01' and date eq '2025-02-01'", ["'date' lower bound given twice"]),
    ("list", "date ge '2025-01-01' and date ge '2025-01-02' and date le '2025-02-01'",
     ["'date' lower bound given twice", "positions 0 and 25"]),
    ("list", "date le '2025-01-01' and date le '2025-01-02' and date ge '2024-12-01'",
     ["'date' upper bound given twice"]),
    ("list", "date eq '2025-02-30'", ["'2025-02-30'", "not a valid date"]),
    ("list", "date eq '2025-1-01'", ["'2025-1-01'", "not a valid date"]),
    ("list", "date eq '20250101'", ["'20250101'", "not a valid date"]),
    ("list", "date eq 20250101", ["needs a date in single quotes", "20250101"]),
    ("list", "date eq true", ["needs a date in single quotes", "true"]),
    ("list", "date ge '2025-05-01' and date le '2025-04-30'",
     ["empty", "2025-05-01", "2025-04-30"]),
    ("list", "kind eq 1 and date eq '2025-01-01'",
     ["'kind' takes values in single quotes, found 1"]),
    ("list", "person eq '1' and date eq '2025-01-01'", ["'person' takes whole numbers, found '1'"]),
    ("list", "person eq true and date eq '2025-01-01'", ["boolean true", "'person'"]),
    ("list", "kind in ('InOut', false) and date eq '2025-01-01'", ["boolean false", "'kind'"]),
    ("list", "kind eq 'inout' and date eq '2025-01-01'",
     ["'inout' is not a valid value for 'kind'", "'ActivityEnd', 'InOut', 'Reason'"]),
    ("list", "person in foo(1,2) and date eq '2025-01-01'",
     ["List qualifier 'foo' is not supported for field 'person' at position 0",
      "'person' takes 'circle', 'org-group', 'org-tree'"]),
    ("list", "kind in circle(1) and date eq '2025-01-01'",
     ["List qualifier 'circle' is not supported for field 'kind' at position 0"]),
    ("list", "person in circle('a') and date eq '2025-01-01'",
     ["'circle' takes whole numbers (ids), found 'a' at position 0"]),
    ("list", "person in org-tree(1, true) and date eq '2025-01-01'",
     ["'org-tree' takes whole numbers (ids), found true"]),
    ("list", "person eq circle(1) and date eq '2025-01-01'", ["'eq' takes a single value"]),
    ("list", "person in Circle(1) and date eq '2025-01-01'",
     ["List qualifier 'Circle' is not supported"]),  # qualifiers are case-sensitive
    ("list", "date eq '2025-01-01' and (person in circle(1) or kind eq 'InOut')",
     ["'or' may only join", "mixes 'person', 'kind'"]),
    ("delta", "person in org-tree(1) and date ge '2025-01-01'",
     ["'person' cannot be used in a delta filter"]),  # seed 001: "People cannot be used"
    ("delta", "(person in circle(1) or person eq 2) and date ge '2025-01-01'",
     ["'person' cannot be used in a delta filter"]),
    ("list", "date ge '2025-01-01' and date le '2026-01-01'",
     ["longer than one year", "at most 2025-12-31"]),
    ("list", "date ge '2024-02-29' and date le '2025-02-28'",
     ["longer than one year", "at most 2025-02-27"]),
    ("list", "date le '2025-01-01'", ["needs a start date", "date ge"]),
    ("list", "person eq 1", ["The filter must constrain 'date' (for example: date ge"]),
    ("delta", "person eq 1 and date ge '2025-01-01'",
     ["'person' cannot be used in a delta filter"]),
    ("delta", "(person eq 1 or person eq 2) and date ge '2025-01-01'",
     ["'person' cannot be used in a delta filter"]),
    ("delta", "date ge '2023-12-31'", ["too early", "2024-01-01"]),
    ("delta", "date ge '2025-06-16'", ["in the future", "2025-06-16"]),
    ("delta", "date le '2025-06-01'", ["delta filter needs a start date"]),
    ("delta", "date ge '2024-06-01' and date le '2025-06-01'", ["longer than one year"]),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "text", "fragments"), REFUSALS)
def test_refusals_say_what_is_wrong(mode: str, text: str, fragments: list[str]) -> None:
    with pytest.raises(FilterError) as caught:
        compile_(text, mode)
    assert type(caught.value) is FilterError  # a semantic problem, not a syntax one
    reasons = caught.value.reasons
    assert any(all(f in r for f in fragments) for r in reasons), reasons


@pytest.mark.parametrize("text", [None, "", "  \t "])
@pytest.mark.parametrize("mode", ["list", "delta"])
def test_missing_filter_asks_for_the_required_date(text: str | None, mode: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_(text, mode)
    example = "date ge '2025-01-01' and date le '2025-12-31'"
    assert caught.value.reasons == [f"The filter must constrain 'date' (for example: {example})"]


def test_no_filter_is_fine_without_required_fields() -> None:
    spec = CollectionFilterSpec("things", (FilterField("person", FieldKind.MULTIPLE, int),))
    assert compile_filter(None, spec, mode="list", today=TODAY) == crit(None, None)


def test_all_semantic_reasons_are_collected() -> None:
    text = "foo eq 1 and person ge 2 and kind eq 'Nope' and date eq '2025-02-30'"
    with pytest.raises(FilterError) as caught:
        compile_(text)
    reasons = caught.value.reasons
    assert len(reasons) == 4, reasons
    for fragment, reason in zip(["'foo'", "'ge'", "'Nope'", "'2025-02-30'"], reasons, strict=True):
        assert fragment in reason
    assert str(caught.value) == "; ".join(reasons)


@pytest.mark.parametrize(
    "text",
    [
        "date ge '2025-01-01' and date le '2025-02-30'",  # not also "needs an end date"
        "date ge '2025-01-01' or person eq 1",  # not also "must constrain 'date'"
        "date in ('2025-01-01')",
        "date ge '2025-01-01' and date ge '2025-01-02'",  # not also "needs an end date"
    ],
)
def test_a_broken_date_condition_gives_one_reason_not_follow_on_noise(text: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_(text)
    assert len(caught.value.reasons) == 1, caught.value.reasons


def test_compile_passes_syntax_errors_through() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        compile_("date gt '2025-01-01'")
    assert caught.value.position == 5


# --- criteria -------------------------------------------------------------------------


def test_equal_criteria_have_equal_canonical_text() -> None:
    one = compile_("date eq '2025-03-04' and person in (3,1,2)")
    other = compile_(
        "(person eq 2 or person in (3,1)) and date le '2025-03-04' and date ge '2025-03-04'"
    )
    assert one == other and hash(one) == hash(other)
    assert one.canonical() == other.canonical()
    assert (
        one.canonical() == "date ge '2025-03-04' and date le '2025-03-04' and person in (1, 2, 3)"
    )
    assert compile_("date eq '2025-03-04' and person in (1,2,4)").canonical() != one.canonical()
    assert compile_(one.canonical()) == one  # the canonical text is itself a filter


def test_criteria_values_are_order_independent() -> None:
    a, b = ("kind", frozenset({"InOut"})), ("person", frozenset({1}))
    first, second = (
        FilterCriteria(None, None, (b, a)),
        FilterCriteria(None, None, (a, b)),
    )
    assert first == second and first.canonical() == second.canonical()
    assert first.get("person") == frozenset({1})
    assert first.get("date") is None


def test_contradictory_constraints_select_nothing() -> None:
    got = compile_("person eq 1 and person eq 2 and date eq '2025-01-01'")
    assert got.get("person") == frozenset()
    assert got.canonical().endswith("person in ()")


# --- named collections: circles, org groups, org trees --------------------------------

JAN_4 = "date eq '2025-01-04'"


def sel(values: set[int | str], **groupings: set[int | str]) -> Selection:
    names = {"org_group": "org-group", "org_tree": "org-tree", "circle": "circle"}
    return Selection(
        "person",
        frozenset(values),
        tuple((names[k], frozenset(v)) for k, v in groupings.items()),
    )


SELECTIONS = [
    # Contract, "Fidelity", "Filters": person in circle(2, 8), person in org-group(121, 122).
    ("person in circle(2, 8)", (), (sel(set(), circle={2, 8}),)),
    ("person in circle (2,8)", (), (sel(set(), circle={2, 8}),)),
    ("person in org-group(121, 122)", (), (sel(set(), org_group={121, 122}),)),
    ("person in org-tree(121)", (), (sel(set(), org_tree={121}),)),
    (
        "(person eq 1 or person in circle(2) or (person in circle(3) or person in org-tree(4)))",
        (),
        (sel({1}, circle={2, 3}, org_tree={4}),),
    ),
    (  # plain constraints still intersect; a named one is kept for the database
        "person in (1, 2) and person in (2, 3) and person in org-group(5)",
        (("person", frozenset({2})),),
        (sel(set(), org_group={5}),),
    ),
    (  # two named constraints must both hold; the same one twice is one
        "person in circle(1) and person in org-tree(2) and person in circle(1)",
        (),
        (sel(set(), circle={1}), sel(set(), org_tree={2})),
    ),
]


@pytest.mark.parametrize(("text", "values", "selections"), SELECTIONS)
def test_named_collections_compile_to_selections(
    text: str, values: tuple[Any, ...], selections: tuple[Selection, ...]
) -> None:
    got = compile_(f"{text} and {JAN_4}")
    assert got == FilterCriteria(D(2025, 1, 4), D(2025, 1, 4), values, selections)
    assert compile_(got.canonical()) == got  # the canonical text is a filter for the same


def test_selections_compare_equal_however_written() -> None:
    one = compile_(f"(person in org-tree(4) or person in circle(3, 2) or person eq 1) and {JAN_4}")
    other = compile_(
        f"{JAN_4} and (person in circle(2) or person eq 1 or person in org-tree (4) "
        "or person in circle(3))"
    )
    assert one == other and hash(one) == hash(other)
    assert one.canonical() == (
        "date ge '2025-01-04' and date le '2025-01-04' and "
        "(person in (1) or person in circle(2, 3) or person in org-tree(4))"
    )
    assert compile_(f"person in circle(2) and {JAN_4}") != compile_(
        f"person in org-group(2) and {JAN_4}"
    )


@pytest.mark.parametrize("spec", [PAID_PRESENCES_FILTER, ACTIVITY_DURATIONS_FILTER])
def test_every_person_filter_takes_named_collections(spec: CollectionFilterSpec) -> None:
    got = compile_(f"person in org-tree(7) and {JAN_4}", spec=spec)
    assert got.selections == (sel(set(), org_tree={7}),)


# --- properties -----------------------------------------------------------------------

# Letters that spell keywords, so that some draws collide with them (and are skipped).
WORDS = st.builds(
    str.__add__, st.sampled_from("AEQadeilnoqrt"), st.text("adeilnoqrtu09", max_size=4)
)
# Words, sometimes joined by hyphens ("org-tree"): a hyphen joins a word, never a number.
IDENTIFIERS = (
    st.lists(WORDS, min_size=1, max_size=3)
    .map("-".join)
    .filter(lambda s: s not in {"and", "or", "eq", "ge", "le", "in", "true", "false"})
)
STRINGS = st.text(alphabet=st.sampled_from("'a ()\",\t")) | st.text(max_size=10)
CONSTANTS = st.builds(
    Constant,
    st.booleans() | st.integers(-(10**18) + 1, 10**18 - 1) | STRINGS,
)
LISTS = st.builds(
    ListValue,
    st.none() | IDENTIFIERS,
    st.lists(CONSTANTS, min_size=1, max_size=4).map(tuple),
)
CONDITIONS = st.builds(
    Condition, IDENTIFIERS, st.sampled_from(["eq", "ge", "le", "in"]), CONSTANTS | LISTS
)


def _trees(leaves: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        groups = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.builds(And, groups) | st.builds(Or, groups)

    return st.recursive(leaves, extend, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(_trees(CONDITIONS))
def test_format_then_parse_gives_the_same_tree(node: Node) -> None:
    text = format_filter(node)
    again = parse_filter(text)
    assert again == node
    assert format_filter(again) == text
    for leaf in _leaves(again):  # positions point at the field names
        assert text[leaf.position :].startswith(leaf.field + " ")


def _leaves(node: Node) -> list[Condition]:
    if isinstance(node, Condition):
        return [node]
    return [leaf for item in node.items for leaf in _leaves(item)]


FRAGMENTS = st.sampled_from(
    ["and", "or", "eq", "ge", "le", "in", "true", "false", "(", ")", ",", "'", "''", " ",
     "\t", "1", "-", "-5", "007", "date", "person", "kind", "'2025-01-01'", "'InOut'", "x",
     '"', "AND", "gt", "é", "\n", "contains(", "foo(", "9" * 20, "circle", "org-tree(",
     "org-group", "org-", "-tree"]
)  # fmt: skip
GRAMMARISH = st.lists(FRAGMENTS, max_size=14).map("".join) | st.lists(FRAGMENTS, max_size=14).map(
    " ".join
)


def _parse_or_syntax_error(text: str) -> None:
    try:
        node = parse_filter(text)
    except FilterSyntaxError as err:
        assert 0 <= err.position <= len(text)
        assert f"at position {err.position}" in str(err)
    else:
        assert parse_filter(format_filter(node)) == node


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_parse_any_text_raises_only_syntax_errors(text: str) -> None:
    _parse_or_syntax_error(text)


@settings(max_examples=400, deadline=None)
@given(GRAMMARISH)
def test_parse_grammar_fragments_raises_only_syntax_errors(text: str) -> None:
    _parse_or_syntax_error(text)


SPECS = st.sampled_from([CLOCKINGS_FILTER, PAID_PRESENCES_FILTER, ACTIVITY_DURATIONS_FILTER])
MODES = st.sampled_from(["list", "delta"])


@settings(max_examples=300, deadline=None)
@given(st.text() | GRAMMARISH, SPECS, MODES, st.dates())
def test_compile_any_text_raises_only_filter_errors(
    text: str, spec: CollectionFilterSpec, mode: str, today: D
) -> None:
    try:
        compile_filter(text, spec, mode=as_mode(mode), today=today)
    except FilterError as err:
        assert err.reasons and all(isinstance(r, str) and r for r in err.reasons)


DATE_TEXTS = st.sampled_from(
    ["2024-01-01", "2024-02-29", "2024-06-15", "2025-01-01", "2025-02-28", "2025-06-15",
     "2025-12-31", "2026-01-01", "2026-06-15", "2023-12-31"]
)  # fmt: skip
ODD_TEXTS = st.sampled_from(["2025-02-30", "25-01-01", "inout", "1"])
ODD_CONSTANTS = st.builds(Constant, DATE_TEXTS | ODD_TEXTS | st.integers(-2, 3) | st.booleans())
# Random conditions on known and unknown fields: almost always refused somewhere.
ODD_CONDITIONS = st.builds(
    Condition,
    st.sampled_from(["date", "person", "kind", "foo"]),
    st.sampled_from(["eq", "ge", "le", "in"]),
    ODD_CONSTANTS
    | st.builds(ListValue, st.none() | st.just("q"), st.lists(ODD_CONSTANTS, min_size=1,
                                                             max_size=3).map(tuple)),
)  # fmt: skip
DATE_PARTS = st.one_of(
    st.builds(lambda d: [cond("date", "eq", d)], DATE_TEXTS),
    st.builds(lambda d: [cond("date", "ge", d)], DATE_TEXTS),
    st.builds(
        lambda a, b: [cond("date", "ge", a), cond("date", "le", b)],
        DATE_TEXTS,
        DATE_TEXTS,
    ),
)
PEOPLE = st.integers(1, 4)
KINDS = st.sampled_from(["InOut", "Reason", "Activity", "ActivityEnd"])


def _or_groups(leaves: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        return st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items)))

    return st.recursive(leaves, extend, max_leaves=4)


def _multiple_parts(
    name: str, values: st.SearchStrategy[int | str], qualifiers: tuple[str, ...] = ()
) -> st.SearchStrategy[Node]:
    """A condition on a multiple field, or an 'or' group of them (possibly nested);
    with `qualifiers`, some are named lists like ``person in circle(1, 2)``."""
    eqs = st.builds(lambda v: cond(name, "eq", v), values)
    ins = st.lists(values, min_size=1, max_size=3).map(lambda vs: cond(name, "in", tuple(vs)))
    if qualifiers:
        ids = st.lists(GROUP_IDS.map(Constant), min_size=1, max_size=3).map(tuple)
        named = st.builds(
            lambda q, items: Condition(name, "in", ListValue(q, items)),
            st.sampled_from(qualifiers),
            ids,
        )
        return _or_groups(eqs | ins | named)
    return _or_groups(eqs | ins)


GROUP_IDS = st.integers(1, 5)  # 5 names no collection: it selects nobody
PERSON_PARTS = _multiple_parts("person", PEOPLE, tuple(g.value for g in PeopleGrouping))
KIND_PARTS = _multiple_parts("kind", KINDS)
ODD_TREES = _trees(ODD_CONDITIONS)


@st.composite
def filter_cases(draw: st.DrawFn) -> tuple[CollectionFilterSpec, str, Node]:
    """A collection, a mode and a filter: mostly a date part, some person/kind parts and
    sometimes one odd condition, shuffled; otherwise a tree of odd conditions."""
    spec, mode = draw(SPECS), draw(MODES)
    if draw(st.integers(0, 4)) == 0:
        return spec, mode, draw(ODD_TREES)
    parts: list[Node] = list(draw(DATE_PARTS))
    if mode == "list" or draw(st.integers(0, 4)) == 0:  # person is refused in a delta
        parts += draw(st.lists(PERSON_PARTS, max_size=2))
    if spec is CLOCKINGS_FILTER:
        parts += draw(st.lists(KIND_PARTS, max_size=2))
    if draw(st.integers(0, 4)) == 0:
        parts.append(draw(ODD_CONDITIONS))
    parts = draw(st.permutations(parts))
    return spec, mode, parts[0] if len(parts) == 1 else And(tuple(parts))


@settings(max_examples=300, deadline=None)
@given(filter_cases(), st.dates(min_value=D(2024, 1, 1), max_value=D(2026, 12, 31)))
def test_compile_valid_syntax_gives_criteria_within_the_rules_or_filter_error(
    case: tuple[CollectionFilterSpec, str, Node], today: D
) -> None:
    spec, mode, node = case
    text = format_filter(node)
    try:
        got = compile_filter(text, spec, mode=as_mode(mode), today=today)
    except FilterSyntaxError:
        raise AssertionError(f"printed filter did not parse: {text!r}") from None
    except FilterError as err:
        assert err.reasons
        return
    _assert_within_rules(got, mode, today)
    if all(vals for _, vals in got.values):  # canonical text is a filter for the same criteria
        again = compile_filter(got.canonical(), spec, mode=as_mode(mode), today=today)
        assert again == got


def _assert_within_rules(got: FilterCriteria, mode: str, today: D) -> None:
    assert got.date_from is not None
    if got.date_to is not None:
        assert got.date_from <= got.date_to
        assert (got.date_to - got.date_from).days < 366
    if mode == "list":
        assert got.date_to is not None
    else:
        assert D(today.year - 1, 1, 1) <= got.date_from <= today
        assert got.get("person") is None and not got.selections


# A small world of people 1-4, org groups 1-4 (a tree: a group's parent has a lower id)
# and circles 1-4, to check what a compiled filter selects against a direct reading of
# its syntax tree. Id 5 names nothing.
@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[int, int | None], dict[int, int], dict[int, set[int]]]:
    parents = {g: draw(st.none() | st.integers(1, g - 1)) if g > 1 else None for g in range(1, 5)}
    group_of = {p: g for p in range(1, 5) if (g := draw(st.integers(0, 4)))}
    circles = {c: draw(st.sets(st.integers(1, 4))) for c in range(1, 5)}
    return parents, group_of, circles


def _members(
    world: tuple[dict[int, int | None], dict[int, int], dict[int, set[int]]],
    qualifier: str,
    ids: frozenset[int | str],
) -> set[int]:
    parents, group_of, circles = world
    if qualifier == "circle":
        return {p for c in ids if isinstance(c, int) for p in circles.get(c, set())}

    def under(group: int | None) -> bool:  # the group or one of its ancestors is named
        while group is not None:
            if group in ids:
                return True
            group = parents[group] if qualifier == "org-tree" else None
        return False

    return {p for p, g in group_of.items() if under(g)}


def _direct(node: Node, person: int, world: Any) -> bool:
    """Whether `person` passes the person conditions of `node` (others pass)."""
    if isinstance(node, And):
        return all(_direct(item, person, world) for item in node.items)
    if isinstance(node, Or):
        return any(_direct(item, person, world) for item in node.items)
    if node.field != "person":
        return True
    if isinstance(node.value, Constant):
        return node.value.value == person
    ids = frozenset(c.value for c in node.value.items if not isinstance(c.value, bool))
    if node.value.qualifier is None:
        return person in ids
    return person in _members(world, node.value.qualifier, ids)


def _selected(got: FilterCriteria, person: int, world: Any) -> bool:
    plain = got.get("person")
    if plain is not None and person not in plain:
        return False
    return all(
        person in s.values or any(person in _members(world, q, ids) for q, ids in s.groupings)
        for s in got.selections
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(PERSON_PARTS, min_size=1, max_size=3), worlds())
def test_compiled_person_filters_select_what_the_syntax_tree_says(
    parts: list[Node], world: Any
) -> None:
    node = And((cond("date", "eq", "2025-01-04"), *parts))
    got = compile_(format_filter(node))
    for person in range(1, 5):
        assert _selected(got, person, world) == _direct(node, person, world), person
