"""Filters, external references and URLs, as the vendor's pages write them."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from chronodelta.client import date_filter, format_external_references
from chronodelta.client._query import collection_url, record_url, reference_url, resolve
from chronodelta.domain import API_PREFIX, CLOCKINGS_FILTER, compile_filter

from .fakes import PREFIX, FakeApi, make_client


def test_date_filters() -> None:
    assert date_filter("2026-01-01") == "date ge '2026-01-01'"
    assert (
        date_filter(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
        == "date ge '2025-01-01' and date le '2025-12-31'"
    )
    assert date_filter("2026-01-01", "2026-01-31", person=[1, 2], kind="InOut") == (
        "date ge '2026-01-01' and date le '2026-01-31' and person in (1,2) and kind eq 'InOut'"
    )
    assert date_filter("2026-01-01", kind=["InOut", "Reason"]).endswith(
        "kind in ('InOut','Reason')"
    )
    assert date_filter("2026-01-01", person=3) == "date ge '2026-01-01' and person eq 3"


def test_date_filters_are_in_the_vendor_grammar() -> None:
    text = date_filter("2026-01-01", "2026-01-31", person=[1, 2], kind=["InOut", "Reason"])
    criteria = compile_filter(text, CLOCKINGS_FILTER, mode="list", today=dt.date(2026, 2, 1))
    assert criteria.canonical()


def test_date_filters_select_circles_org_groups_and_org_trees() -> None:
    """Contract, "Fidelity", "Filters": person in circle(2, 8), org-group(...), org-tree(...)."""
    text = date_filter("2026-01-01", circle=[2, 8], org_group=121, org_tree=(4, 5))
    assert text == (
        "date ge '2026-01-01' and person in circle(2,8) and person in org-group(121) "
        "and person in org-tree(4,5)"
    )
    criteria = compile_filter(text, CLOCKINGS_FILTER, mode="list", today=dt.date(2026, 2, 1))
    assert [s.groupings for s in criteria.selections] == [
        (("circle", frozenset({2, 8})),),
        (("org-group", frozenset({121})),),
        (("org-tree", frozenset({4, 5})),),
    ]
    with pytest.raises(ValueError, match="org-tree"):
        date_filter("2026-01-01", org_tree=[])


def test_date_filter_quotes_quotes_and_refuses_empty_lists() -> None:
    assert date_filter("it's") == "date ge 'it''s'"
    with pytest.raises(ValueError, match="kind"):
        date_filter("2026-01-01", kind=[])


def test_external_references() -> None:
    pairs = [("people", "@badge-number"), ("terminals", "@external-code")]
    assert format_external_references(pairs) == "(people,@badge-number)(terminals,@external-code)"
    assert format_external_references("(people,custom)") == "(people,custom)"
    for bad in ([("people", "")], [("people", "a,b")], [("people",)]):
        with pytest.raises(ValueError):
            format_external_references(bad)  # type: ignore[arg-type]


def test_a_delta_start_is_written_as_seed_000_writes_it() -> None:
    url = collection_url(
        "clockings",
        filter="date ge '2025-12-01'",
        external_references=[("people", "@badge-number")],
        delta=True,
    )
    assert url == (
        f"{PREFIX}/clockings?filter=date%20ge%20'2025-12-01'&delta"
        "&externalReferences=(people,@badge-number)"
    )
    assert collection_url("people") == f"{PREFIX}/people"
    assert collection_url("people", delta=True) == f"{PREFIX}/people?delta"
    assert collection_url("clockings", filter="kind eq 'A&B'").endswith("kind%20eq%20'A%26B'")
    assert record_url("people", 4, [("people", "@badge-number")]) == (
        f"{PREFIX}/people/4?externalReferences=(people,@badge-number)"
    )


def test_the_client_sends_the_url_unchanged() -> None:
    api = FakeApi().add(httpx.Response(200, json={"value": []}))
    with make_client(api) as client:
        list(
            client.clockings.list(
                "date ge '2026-01-01' and date le '2026-01-31'",
                external_references="(people,@badge-number)",
            )
        )
    assert api.api_requests[0].url.raw_path == (
        b"/connector/protimeapi/api/v1/clockings?filter=date%20ge%20'2026-01-01'%20and%20"
        b"date%20le%20'2026-01-31'&externalReferences=(people,@badge-number)"
    )


def test_links_resolve_below_the_base_url() -> None:
    link = f"{PREFIX}/clockings?filter=date%20ge%20'2026-01-01'&continuationToken=a+b/c="
    base = httpx.URL("https://acme.myprotime.eu")
    assert str(resolve(base, link)) == "https://acme.myprotime.eu" + link
    behind_a_proxy = httpx.URL("https://gateway.example/protime/")
    assert str(resolve(behind_a_proxy, link)) == "https://gateway.example/protime" + link
    absolute = "https://acme.myprotime.eu" + link
    assert str(resolve(base, absolute)) == absolute


@pytest.mark.parametrize(
    "link",
    ["https://evil.example/connector", "http://acme.myprotime.eu/x", "//evil.example/connector"],
)
def test_links_to_another_server_are_refused(link: str) -> None:
    with pytest.raises(ValueError) as refused:
        resolve(httpx.URL("https://acme.myprotime.eu"), link + "?deltaToken=capability")
    # The message says where the link points, never its token.
    assert "capability" not in str(refused.value)


def test_reference_urls_put_the_addressing_pair_first() -> None:
    """Contract, "Addressing by reference": GET /people/{value}?externalReferences=(people,
    @badge-number); the value is percent-encoded whole (a '/' stays in the segment)."""
    assert reference_url("people", "@badge-number", "6767676") == (
        f"{API_PREFIX}/people/6767676?externalReferences=(people,@badge-number)"
    )
    assert reference_url("people", "HRMID", "A/1 2", [("shift-definitions", "@shift-code")]) == (
        f"{API_PREFIX}/people/A%2F1%202"
        "?externalReferences=(people,HRMID)(shift-definitions,@shift-code)"
    )
    with pytest.raises(ValueError):
        reference_url("people", "@badge-number", "")
