"""Activity definitions over HTTP, on SQLite and PostgreSQL.

Seed 003's table: ``activityLevels.activityDefinition.id`` is a *string*. The contract's
"Fidelity" section: activity definitions have GUID ids, live at
``/activity-structure-versions/{structureVersionId}/levels/{level}/activity-definitions
[/{ref}]``, and have the fields id, structureVersion, level, changeVersion,
name.default, name.translations, parent.id, shortCode, dataEntryCode (at most 16),
externalReference (at most 16, unique in structure and level), info, activeFrom,
activeUntil.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from chronodelta.domain import API_PREFIX, Scope, is_guid
from tests.server.conftest import Api, make_api

FLAT = f"{API_PREFIX}/activity-definitions"
CLOCKINGS = f"{API_PREFIX}/clockings"
READ = (Scope.ACTIVITY_DEFINITIONS_READ,)
VENDOR_FIELDS = {
    "id", "structureVersion", "level", "changeVersion", "name", "parent", "shortCode",
    "dataEntryCode", "externalReference", "info", "activeFrom", "activeUntil",
}  # fmt: skip
UNKNOWN_GUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def small_pages(engine: Engine, database_url: str) -> Iterator[Api]:
    """Pages of 5, so that one structure level spans several."""
    yield from make_api(engine, database_url, page_size=5)


def walk(api: Api, url: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    link: str | None = url
    while link is not None:
        response = api.http.get(link, headers=api.auth(*READ))
        assert response.status_code == 200, response.text
        records += response.json()["value"]
        link = response.json().get("nextLink")
    return records


def level_path(version: str, level: int | str) -> str:
    return f"{API_PREFIX}/activity-structure-versions/{version}/levels/{level}/activity-definitions"


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"]
    return " | ".join([body["error"]["message"], *body["error"].get("reasons", [])])


def current(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The demo data's bookable definitions: those of the structure without an end."""
    return [d for d in definitions if "activeUntil" not in d]


def test_definitions_have_guid_ids_and_the_vendors_fields(api: Api) -> None:
    """Contract, "Fidelity": the vendor's fields; ids, structure versions and parents are
    GUIDs (seed 003: a string); codes at most 16 characters."""
    definitions = walk(api, FLAT)
    assert len(definitions) == 22  # two structure versions of the demo data
    by_id = {d["id"]: d for d in definitions}
    for d in definitions:
        assert set(d) <= VENDOR_FIELDS and {"id", "structureVersion", "level", "name"} <= set(d)
        assert is_guid(d["id"]) and d["id"] == d["id"].lower() and is_guid(d["structureVersion"])
        assert set(d["name"]) == {"default", "translations"}
        assert set(d["name"]["translations"]) == {"nl", "fr"}
        assert len(d["dataEntryCode"]) <= 16 and len(d["externalReference"]) <= 16
        if d["level"] == 2:
            parent = by_id[d["parent"]["id"]]
            assert (parent["level"], parent["structureVersion"]) == (1, d["structureVersion"])
        else:
            assert "parent" not in d
    in_level = {(d["structureVersion"], d["level"], d["externalReference"]) for d in definitions}
    assert len(in_level) == len(definitions)
    one = definitions[0]
    got = api.http.get(f"{FLAT}/{one['id'].upper()}", headers=api.auth(*READ))
    assert got.status_code == 200 and got.json() == one


def test_a_flat_get_of_what_is_not_a_known_guid_is_a_404(api: Api) -> None:
    """Seed 003: the id is a string (a GUID); an integer id of older versions names no
    definition (404, as a non-integer id of the other reference collections: without
    externalReferences naming the collection, the path value is an id)."""
    refused = api.http.get(f"{FLAT}/1", headers=api.auth(*READ))
    assert "ids are GUIDs" in error(refused, 404)
    error(api.http.get(f"{FLAT}/{UNKNOWN_GUID}", headers=api.auth(*READ)), 404)


def test_a_structure_level_lists_its_definitions_page_by_page(small_pages: Api) -> None:
    """Contract, "Fidelity": /activity-structure-versions/{id}/levels/{level}/
    activity-definitions; paged like any list (nextLink until it is absent)."""
    api = small_pages
    definitions = walk(api, FLAT)
    versions = {d["structureVersion"] for d in definitions}
    assert len(versions) == 2
    for version in versions:
        for level in (1, 2):
            expected = [
                d for d in definitions if (d["structureVersion"], d["level"]) == (version, level)
            ]
            listed = walk(api, level_path(version.upper(), level))
            assert sorted(listed, key=lambda d: d["id"]) == sorted(expected, key=lambda d: d["id"])
    task_level = level_path(current(definitions)[0]["structureVersion"], 2)
    first = api.http.get(task_level, headers=api.auth(*READ)).json()
    assert len(first["value"]) == 5 and first["nextLink"].startswith(task_level + "?")


def test_a_structure_level_gets_a_definition_by_guid_or_external_reference(api: Api) -> None:
    """The vendor's {activityDefinitionReference}: "The internal ID (GUID) or an external
    reference of the activity definition" (unique within structure and level)."""
    task = next(d for d in current(walk(api, FLAT)) if d["level"] == 2)
    path = level_path(task["structureVersion"], 2)
    for reference in (task["id"], task["id"].upper(), task["externalReference"]):
        response = api.http.get(f"{path}/{reference}", headers=api.auth(*READ))
        assert response.status_code == 200 and response.json() == task, reference
    other_level = level_path(task["structureVersion"], 1)
    for reference in (task["id"], task["externalReference"], "X" * 17):
        error(api.http.get(f"{other_level}/{reference}", headers=api.auth(*READ)), 404)


@pytest.mark.parametrize(
    ("version", "level", "status", "says"),
    [
        ("not-a-guid", "1", 400, "structureVersionId"),
        ("1", "1", 400, "structureVersionId"),
        (UNKNOWN_GUID, "1", 404, "No activity structure version"),
        (None, "0", 400, "level"),
        (None, "x", 400, "level"),
        (None, "11", 400, "level"),
        (None, "3", 404, "has no level 3"),
    ],
)
def test_a_bad_structure_version_or_level_is_400_or_404_in_the_error_format(
    api: Api, version: str | None, level: str, status: int, says: str
) -> None:
    """Contract, "Errors": 400 for a malformed value, 404 for an unknown one, always in
    the error body; the demo structure has levels 1 and 2."""
    version = version or walk(api, FLAT)[0]["structureVersion"]
    for path in (level_path(version, level), f"{level_path(version, level)}/{UNKNOWN_GUID}"):
        assert says in error(api.http.get(path, headers=api.auth(*READ)), status), path


def test_a_control_character_in_a_reference_is_400(api: Api) -> None:
    """Bad input is a 400, never a 500 (PostgreSQL cannot compare text holding a NUL)."""
    version = walk(api, FLAT)[0]["structureVersion"]
    path = f"{level_path(version, 1)}/ERP%00"
    assert "control character" in error(api.http.get(path, headers=api.auth(*READ)), 400)


def test_the_structure_paths_need_the_read_scope(api: Api) -> None:
    """Seeds: 401 for a token without the scope (connector-protimeapi-activity-definitions.read)."""
    version = walk(api, FLAT)[0]["structureVersion"]
    response = api.http.get(level_path(version, 1), headers=api.auth(Scope.CLOCKINGS_READ))
    assert "activity-definitions.read" in error(response, 401)


def test_a_delta_of_activity_definitions_carries_guids(api: Api) -> None:
    """Seed 000: a delta's records have changeVersion and id; here the id is a GUID."""
    records = walk(api, f"{FLAT}?delta")
    assert len(records) == 22 and all(is_guid(r["id"]) for r in records)
