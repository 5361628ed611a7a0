"""Random clocking writes through the API, and the state a mirror must end equal to."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

from chronodelta.client import Client, Clocking, ClockingInput, Conflict, date_filter
from chronodelta.sync import COLLECTIONS, Mirror, SyncRequest

from .conftest import SINCE, TODAY

COLLECTION_ATTRIBUTES = {
    "clockings": "clockings",
    "paid-presences": "paid_presences",
    "activity-durations": "activity_durations",
    "calculated-totals": "calculated_totals",
}
BEFORE = dt.date.fromisoformat(SINCE) - dt.timedelta(days=5)  # out of the filter


def _day(rng: random.Random, *, inside: bool = True) -> dt.date:
    first = dt.date.fromisoformat(SINCE) if inside else BEFORE
    last = dt.date.fromisoformat(TODAY if inside else SINCE) - dt.timedelta(0 if inside else 1)
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


def live_clockings(client: Client) -> list[Clocking]:
    return [c for c in client.clockings.list(date_filter(BEFORE, TODAY)) if not c.is_deleted]


def random_writes(
    client: Client,
    rng: random.Random,
    count: int,
    people: int = 6,
    known: list[Clocking] | None = None,
) -> dict[str, int]:
    """``count`` random creates, time changes, date moves (out of the filter and back
    in) and soft deletes of clockings; returns how many of each were made.

    ``known``: the live clockings, kept up to date across calls (else listed first)."""
    known = live_clockings(client) if known is None else known
    made = {"create": 0, "time": 0, "move_out": 0, "move_in": 0, "delete": 0}
    for _ in range(count):
        action = rng.choice(list(made))
        if action == "create" or not known:
            new = ClockingInput(
                person_id=rng.randint(1, people),
                date=_day(rng),
                time_of_day_in_minutes=rng.randint(300, 1300),
                kind="InOut",
            )
            created = client.clockings.create(new)
            assert created.record is not None
            known.append(created.record)
            made["create"] += 1
            continue
        target = known.pop(rng.randrange(len(known)))
        if action == "delete":
            client.clockings.delete(target.id)
            made["delete"] += 1
            continue
        draft = target.to_input()
        if action == "time":
            draft = dataclasses.replace(draft, time_of_day_in_minutes=rng.randint(300, 1300))
        else:
            draft = dataclasses.replace(draft, date=_day(rng, inside=action == "move_in"))
        try:
            updated = client.clockings.update(target.id, draft)
        except Conflict:  # deleted meanwhile by an earlier action: nothing to change
            continue
        assert updated is not None
        known.append(updated)
        made[action] += 1
    return made


def source_state(client: Client, collection: str, references: str = "") -> dict[int, Any]:
    """What the server has in the sync's filter (``date ge SINCE``; lists need an end)."""
    api = getattr(client, COLLECTION_ATTRIBUTES[collection])
    references = SyncRequest(
        (collection,), dt.date.fromisoformat(SINCE), external_references=references
    ).references_for(COLLECTIONS[collection])  # the pairs the sync asks this endpoint for
    records = api.list(date_filter(SINCE, TODAY), external_references=references)
    return {r.id: r.raw for r in records}


def mirror_state(target: str, collection: str) -> dict[int, Any]:
    mirror = Mirror(target)
    try:
        return {record_id: row["raw"] for record_id, row in mirror.rows(collection).items()}
    finally:
        mirror.close()


def assert_mirror_equals_source(
    client: Client, target: str, collections: tuple[str, ...], references: str = ""
) -> None:
    for collection in collections:
        expected = source_state(client, collection, references)
        got = mirror_state(target, collection)
        assert set(got) == set(expected), (
            f"{collection}: missing {sorted(set(expected) - set(got))[:10]}, "
            f"extra {sorted(set(got) - set(expected))[:10]}"
        )
        wrong = [i for i in expected if got[i] != expected[i]]
        assert not wrong, f"{collection}: rows differ from the source: {wrong[:10]}"
