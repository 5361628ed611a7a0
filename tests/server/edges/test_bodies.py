"""Control characters in what a client sends are a 400, the same on SQLite and
PostgreSQL (issue 10, item 1: the authenticated part).

A NUL in an external-reference value of a clocking body, or in the value of
``PUT .../{collection}/{id}/external-references/{name}``, reached PostgreSQL, which
cannot store it, and gave a 500 (with its traceback logged); SQLite stored the custom
value. A lone surrogate (``"\\ud800"`` in JSON) cannot be encoded for either database.
Now every such text field is refused at the edge (the request body's model), with the
contract's error body naming the field. Names, path text, query text and filters never
reached the database with them; the last test keeps it that way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chronodelta.domain import API_PREFIX
from tests.server.edges.conftest import Served, error_reasons

CLOCKINGS = f"{API_PREFIX}/clockings"
DAY = "2026-01-15"
DAY_FILTER = {"filter": f"date ge '{DAY}' and date le '{DAY}'"}
# C0 controls (tab and newline included: no reference holds one), DEL, lone surrogates.
REFUSED = ["\x00", "\x01", "\t", "\n", "\x1b", "\x1f", "\x7f", "\ud800", "\udfff"]
REFERENCE_COLLECTIONS = (
    "people",
    "terminals",
    "activity-definitions",
    "absence-definitions",
    "counter-definitions",
    "shift-definitions",
)


def clocking_bodies(value: str) -> dict[str, dict[str, Any]]:
    """Clocking bodies naming a record by an external reference ``value``, by the
    field the refusal must name."""
    base = {"person": {"id": 1}, "date": DAY, "timeOfDayInMinutes": 510, "kind": "InOut"}
    refs = {"externalReferences": {"@badge-number": value}}
    return {
        "person.externalReferences.@badge-number": {**base, "person": refs},
        "person.externalReferences.HRMID": {
            **base,
            "person": {"externalReferences": {"HRMID": value}},
        },
        "terminal.externalReferences.@external-code": {
            **base,
            "terminal": {"externalReferences": {"@external-code": value}},
        },
        "reason.externalReferences.@absence-code": {
            **base,
            "kind": "Reason",
            "reason": {"externalReferences": {"@absence-code": value}},
        },
        "activityLevels.0.activityDefinition.externalReferences.@data-entry-code": {
            **base,
            "kind": "Activity",
            "activityLevels": [
                {
                    "level": 1,
                    "activityDefinition": {"externalReferences": {"@data-entry-code": value}},
                }
            ],
        },
    }


def as_json(body: object) -> bytes:
    # json.dumps escapes every control character and lone surrogate (\\u0000,
    # \\ud800), as a client's serializer does; httpx's json= cannot encode a surrogate.
    return json.dumps(body).encode("ascii")


def send(served: Served, method: str, path: str, body: object) -> Any:
    return served.http.request(
        method,
        path,
        content=as_json(body),
        headers={**served.auth, "Content-Type": "application/json"},
    )


def day_clockings(served: Served) -> list[dict[str, Any]]:
    response = served.http.get(CLOCKINGS, params=DAY_FILTER, headers=served.auth)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["value"]
    return records


def test_control_characters_in_a_clocking_bodys_reference_values_are_a_400(
    served: Served,
) -> None:
    before = day_clockings(served)
    clocking_1 = served.http.get(f"{CLOCKINGS}/1", headers=served.auth).json()
    for character in REFUSED:
        for field, body in clocking_bodies(f"67{character}67").items():
            for method, path in (("POST", CLOCKINGS), ("PUT", f"{CLOCKINGS}/1")):
                response = send(served, method, path, body)
                reasons = error_reasons(response, 400, "BadRequest")
                assert any(
                    r.startswith(f"{field}:") and "control characters" in r for r in reasons
                ), (method, field, repr(character), reasons)
    # A reference name with one is refused by the name's own rule (letters, digits, ...).
    for name in ("HR\x00MID", "@badge-number\x00"):
        body = {**clocking_bodies("6767676")["person.externalReferences.HRMID"]}
        body["person"] = {"externalReferences": {name: "6767676"}}
        error_reasons(send(served, "POST", CLOCKINGS, body), 400, "BadRequest")
    assert day_clockings(served) == before
    assert served.http.get(f"{CLOCKINGS}/1", headers=served.auth).json() == clocking_1


def test_control_characters_in_a_custom_reference_value_are_a_400(served: Served) -> None:
    references = f"{API_PREFIX}/people/1/external-references"
    for character in REFUSED:
        response = send(served, "PUT", f"{references}/HRMID", {"value": f"E{character}4821"})
        reasons = error_reasons(response, 400, "BadRequest")
        assert any(r.startswith("value:") and "control characters" in r for r in reasons), (
            repr(character),
            reasons,
        )
    for collection in REFERENCE_COLLECTIONS:
        path = f"{API_PREFIX}/{collection}/1/external-references/HRMID"
        error_reasons(send(served, "PUT", path, {"value": "E\x004821"}), 400, "BadRequest")
    # Nothing was stored (SQLite used to keep the NUL value) ...
    stored = served.http.get(references, headers=served.auth)
    assert stored.status_code == 200 and "HRMID" not in stored.json()["externalReferences"]
    # ... and a printable value is still set (spaces and non-ASCII letters are text).
    accepted = send(served, "PUT", f"{references}/HRMID", {"value": "E-4821 Zoë"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["externalReferences"]["HRMID"] == "E-4821 Zoë"


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        # A reference name in the path (custom names: letters, digits, '.', '_', '-').
        ("PUT", f"{API_PREFIX}/people/1/external-references/HR%00MID", None),
        ("DELETE", f"{API_PREFIX}/people/1/external-references/HR%00MID", None),
        ("DELETE", f"{API_PREFIX}/people/1/external-references/HR%7FMID", None),
        # Query text: reference pairs, filter string constants, page and delta tokens.
        (
            "GET",
            CLOCKINGS,
            {**DAY_FILTER, "externalReferences": "(people,HR\x00MID)"},
        ),
        ("GET", CLOCKINGS, {"filter": f"date ge '{DAY}' and date le '{DAY}\x00'"}),
        ("GET", CLOCKINGS, {"filter": f"{DAY_FILTER['filter']} and kind eq 'In\x00Out'"}),
        ("GET", f"{API_PREFIX}/delta/clockings", {"deltaToken": "a\x00b"}),
    ],
)
def test_control_characters_in_names_paths_and_queries_are_a_400(
    served: Served, method: str, path: str, params: dict[str, str] | None
) -> None:
    body = {"value": "E-4821"} if method == "PUT" else None
    response = served.http.request(
        method,
        path,
        params=params,
        content=as_json(body) if body else None,
        headers={**served.auth, "Content-Type": "application/json"},
    )
    error_reasons(response, 400, "BadRequest")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (CLOCKINGS, {**DAY_FILTER, "continuationToken": "a\x00b"}),
        (f"{API_PREFIX}/people", {"continuationToken": "\x00"}),
    ],
)
def test_a_continuation_token_with_control_characters_is_a_409(
    served: Served, path: str, params: dict[str, str]
) -> None:
    """Not a token at all, so an invalid one: contract, "Fidelity", "Paging" ("an invalid
    or expired continuation token answers 409 'Continuation token conflict'")."""
    response = served.http.get(path, params=params, headers=served.auth)
    assert error_reasons(response, 409, "Conflict")
    assert response.json()["error"]["message"] == "Continuation token conflict"
