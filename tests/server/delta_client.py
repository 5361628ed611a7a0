"""A minimal, correct delta client for tests: walks pages, applies changes by version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Http(Protocol):
    def get(self, url: str, *, params: Any = ..., headers: Any = ...) -> Any: ...


@dataclass
class Mirror:
    """The client's copy: id -> record, with the newest version seen per id."""

    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    versions: dict[int, str] = field(default_factory=dict)
    delta_link: str | None = None

    def put(self, record: dict[str, Any]) -> None:
        if record["changeVersion"] >= self.versions.get(record["id"], ""):
            self.records[record["id"]] = record
            self.versions[record["id"]] = record["changeVersion"]

    def apply(self, change: dict[str, Any]) -> None:
        data = change["data"]
        if data["changeVersion"] < self.versions.get(data["id"], ""):
            return  # contract: ignore a change older than one already applied
        if change["changeType"] == "InsertOrUpdate":
            self.put(data)
        else:
            assert change["changeType"] == "Delete", change
            assert set(data) == {"changeVersion", "id"}, data
            self.records.pop(data["id"], None)
            self.versions[data["id"]] = data["changeVersion"]


def start(http: Http, url: str, params: dict[str, str], headers: dict[str, str]) -> Mirror:
    """Seed 000 steps 1-2: the list GET plus &delta, then every nextLink."""
    mirror = Mirror()
    response = http.get(url, params={**params, "delta": ""}, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        for record in page["value"]:
            mirror.put(record)
        if "nextLink" not in page:
            assert set(page) == {"value", "deltaLink"}, page.keys()
            mirror.delta_link = page["deltaLink"]
            return mirror
        assert "deltaLink" not in page
        response = http.get(page["nextLink"], headers=headers)


def follow(http: Http, mirror: Mirror, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Seed 000 step 3: one delta call; applies it and keeps the new deltaLink."""
    assert mirror.delta_link is not None
    response = http.get(mirror.delta_link, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"value", "deltaLink"}
    versions = [c["data"]["changeVersion"] for c in body["value"]]
    assert versions == sorted(versions), "changes must come in changeVersion order"
    ids = [c["data"]["id"] for c in body["value"]]
    assert len(ids) == len(set(ids)), "each record at most once"
    for change in body["value"]:
        mirror.apply(change)
    mirror.delta_link = body["deltaLink"]
    changes: list[dict[str, Any]] = body["value"]
    return changes
