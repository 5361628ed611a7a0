"""The mirror database on SQLite and PostgreSQL: typed rows, the changeVersion rule in
SQL, the sweep of older generations, tombstones, and the state's optimistic guard."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from chronodelta import storage
from chronodelta.client import Change, InvalidResponse, TransportError
from chronodelta.sync import (
    COLLECTIONS,
    Mirror,
    MirrorError,
    StateConflict,
    SyncState,
    after_page,
    begin_generation,
    new_state,
)
from chronodelta.sync._apply import ChangeCounts
from chronodelta.sync._mirror import ROWS_PER_STATEMENT
from chronodelta.sync._tables import tombstones_table
from tests.conftest import new_database_url

CLOCKINGS = COLLECTIONS["clockings"]
GUID = "6e1d0c2b-3a49-5f87-9e6d-5c4b3a291807"
NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=dt.UTC)


def v(n: int) -> str:
    return f"{n:020X}"


Wire = dict[str, Any]


def clocking(record_id: int, version: int, minutes: int = 480, **extra: Any) -> Wire:
    """A clocking as the API sends it (the sync reads records raw, not as models)."""
    return {
        "changeVersion": v(version),
        "id": record_id,
        "person": {"id": 3, "externalReferences": {"@badge-number": "B3"}},
        "date": "2026-01-15",
        "timeOfDayInMinutes": minutes,
        "kind": "InOut",
        "status": "Active",
        **extra,
    }


def page(mirror: Mirror, state: SyncState, records: list[Wire], *, last: bool = False) -> SyncState:
    new = after_page(
        state,
        records=len(records),
        next_link=None if last else f"/next{state.revision}",
        delta_link=f"/delta{state.revision}" if last else None,
        now=NOW,
    )
    mirror.apply_page(CLOCKINGS, state, records, new)
    return new


def fresh(mirror: Mirror) -> SyncState:
    state = begin_generation(new_state("clockings", "src#acme", "date ge '2026-01-01'", ""))
    mirror.save(None, state)
    return state


def test_rows_are_typed_with_nested_ids_flattened_and_the_raw_json(mirror_target: str) -> None:
    """Seed 003: an activity definition id is a string (a GUID), kept as such in the JSON."""
    mirror = Mirror(mirror_target)
    try:
        state = fresh(mirror)
        record = clocking(
            1,
            5,
            terminal={"id": 2},
            geolocation={"longitude": 4.5, "latitude": 51.2},
            activityLevels=[{"level": 1, "activityDefinition": {"id": GUID}}],
            originalTimeOfDayInMinutes=470,
            isGenerated=False,
        )
        page(mirror, state, [record], last=True)
        row = mirror.rows("clockings")[1]
    finally:
        mirror.close()
    assert row["person_id"] == 3 and row["terminal_id"] == 2 and row["date"] == dt.date(2026, 1, 15)
    assert (row["geolocation_longitude"], row["geolocation_latitude"]) == (4.5, 51.2)
    assert row["activity_levels"] == [{"level": 1, "activityDefinitionId": GUID}]
    assert row["original_time_of_day_in_minutes"] == 470 and row["is_generated"] is False
    assert row["raw"] == record and row["change_version"] == v(5)


def test_older_versions_never_overwrite_and_the_sweep_removes_unseen_rows(
    mirror_target: str,
) -> None:
    mirror = Mirror(mirror_target)
    try:
        state = fresh(mirror)
        state = page(mirror, state, [clocking(1, 5), clocking(2, 5), clocking(3, 5)], last=True)
        # A 410 later: generation 2 sees 1 (older version, defensively), 2 (newer);
        # 3 vanished while no delta was watching.
        state = begin_generation(state)
        mirror.save(mirror.state("clockings"), state)
        state = page(mirror, state, [clocking(1, 4, minutes=1), clocking(2, 6, minutes=2)])
        assert set(mirror.rows("clockings")) == {1, 2, 3}  # nothing swept mid-walk
        state = page(mirror, state, [], last=True)
        rows = mirror.rows("clockings")
    finally:
        mirror.close()
    assert set(rows) == {1, 2}
    assert (rows[1]["change_version"], rows[1]["time_of_day_in_minutes"]) == (v(5), 480)
    assert (rows[2]["change_version"], rows[2]["time_of_day_in_minutes"]) == (v(6), 2)
    assert state.phase == "delta" and state.generation == 2


def test_a_page_is_written_in_batches_and_its_remainder(mirror_target: str) -> None:
    count = 2 * ROWS_PER_STATEMENT + 7  # two whole statements and seven rows more
    mirror = Mirror(mirror_target)
    try:
        page(mirror, fresh(mirror), [clocking(i, i, minutes=i) for i in range(1, count + 1)])
        rows = mirror.rows("clockings")
    finally:
        mirror.close()
    assert sorted(rows) == list(range(1, count + 1))
    assert all(
        r["time_of_day_in_minutes"] == i == int(r["change_version"], 16) for i, r in rows.items()
    )


def test_an_id_twice_in_one_page_keeps_the_newest_version(mirror_target: str) -> None:
    # Never sent by a correct server, but PostgreSQL refuses a statement that updates
    # a row twice: the mirror must keep the newer one rather than fail the sync.
    mirror = Mirror(mirror_target)
    try:
        records = [clocking(1, 7, minutes=7), clocking(2, 5), clocking(1, 6, minutes=6)]
        page(mirror, fresh(mirror), records, last=True)
        rows = mirror.rows("clockings")
    finally:
        mirror.close()
    assert set(rows) == {1, 2}
    assert (rows[1]["change_version"], rows[1]["time_of_day_in_minutes"]) == (v(7), 7)


def test_a_record_without_a_required_field_is_an_invalid_response(mirror_target: str) -> None:
    mirror = Mirror(mirror_target)
    try:
        state = fresh(mirror)
        broken = clocking(2, 5)
        del broken["person"]
        with pytest.raises(InvalidResponse, match=r"clockings record.*'person'"):
            page(mirror, state, [clocking(1, 5), broken])
        assert mirror.rows("clockings") == {} and mirror.state("clockings") == state
    finally:
        mirror.close()


def test_changes_apply_by_version_and_deletes_leave_tombstones(mirror_target: str) -> None:
    mirror = Mirror(mirror_target)
    try:
        state = page(mirror, fresh(mirror), [clocking(1, 5), clocking(2, 5)], last=True)
        changes: list[Change[Any]] = [
            Change("Delete", 1, v(6), None, {}),
            Change("InsertOrUpdate", 2, v(4), clocking(2, 4, minutes=9)),
            Change("InsertOrUpdate", 3, v(7), clocking(3, 7)),
        ]
        state, counts = mirror.apply_changes(CLOCKINGS, state, changes, "/d2", NOW)
        assert counts == ChangeCounts(upserted=1, deleted=1, ignored=1)
        # The deleted record's older state, delivered again, must not bring it back.
        late = [Change("InsertOrUpdate", 1, v(5), clocking(1, 5))]
        state, counts = mirror.apply_changes(CLOCKINGS, state, late, "/d3", NOW)
        rows = mirror.rows("clockings")
        stored = mirror.state("clockings")
    finally:
        mirror.close()
    assert counts.applied == 0 and set(rows) == {2, 3}
    assert rows[2]["time_of_day_in_minutes"] == 480
    assert stored == state and stored is not None and stored.link == "/d3"
    assert stored.last_success == NOW and stored.changes_applied == 2


def test_a_second_sync_on_the_same_state_is_refused(mirror_target: str) -> None:
    mirror = Mirror(mirror_target)
    try:
        state = fresh(mirror)
        page(mirror, state, [clocking(1, 5)])
        with pytest.raises(StateConflict):
            page(mirror, state, [clocking(2, 5)])  # built on the revision already replaced
        assert set(mirror.rows("clockings")) == {1}  # its rows rolled back with it
    finally:
        mirror.close()


def test_status_counts_records_and_the_time_left(mirror_target: str) -> None:
    mirror = Mirror(mirror_target)
    try:
        page(mirror, fresh(mirror), [clocking(1, 5), clocking(2, 5)], last=True)
        [line] = mirror.status(now=NOW + dt.timedelta(hours=2))
    finally:
        mirror.close()
    assert (line.collection, line.records, line.phase) == ("clockings", 2, "delta")
    assert line.link_age_seconds == 7200 and line.expires_in_seconds == 70 * 3600


def test_a_database_with_other_tables_of_the_same_name_is_refused(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server_database = new_database_url(request, "sqlite", tmp_path)
    with pytest.raises(MirrorError, match="not a mirror table"):
        Mirror(server_database)
    # Refused before anything was created in it.
    engine = storage.create_engine(server_database)
    try:
        with storage.read_transaction(engine) as connection:
            names = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert "clockings" in names and not {n for n in names if n.startswith("chronodelta_sync")}
    with pytest.raises(MirrorError, match="unsupported target"):
        Mirror("mysql://someone:pw@host/db")


# ---- a delta response applied in batches --------------------------------------------


def upsert(record_id: int, version: int, minutes: int = 480) -> Change[Any]:
    record = clocking(record_id, version, minutes)
    return Change("InsertOrUpdate", record_id, v(version), record, record)


def delete(record_id: int, version: int) -> Change[Any]:
    return Change("Delete", record_id, v(version), None, {"id": record_id})


class Batches:
    """A delta response as ``stream_delta`` gives it: batches, then its deltaLink; or
    ``failure`` raised after them, as a body that breaks off or turns out malformed."""

    def __init__(
        self,
        batches: Sequence[Sequence[Change[Any]]],
        delta_link: str | None,
        failure: Exception | None = None,
    ) -> None:
        self._batches = batches
        self._link = delta_link
        self._failure = failure
        self.delta_link: str | None = None
        self.handed_out = 0

    def __iter__(self) -> Iterator[Sequence[Change[Any]]]:
        for batch in self._batches:
            self.handed_out += 1
            yield batch
        if self._failure is not None:
            raise self._failure
        self.delta_link = self._link


def tombstones(mirror: Mirror) -> dict[int, str]:
    with storage.read_transaction(mirror.engine) as connection:
        query = sa.select(tombstones_table.c.id, tombstones_table.c.change_version)
        return {int(i): str(version) for i, version in connection.execute(query)}


def in_delta_phase(mirror: Mirror) -> SyncState:
    state = page(mirror, fresh(mirror), [clocking(1, 5), clocking(2, 5), clocking(3, 5)], last=True)
    state, _ = mirror.apply_changes(CLOCKINGS, state, [delete(3, 6)], "/d1", NOW)
    return state


def test_a_delta_in_batches_is_one_commit_with_its_link_and_the_totals(
    mirror_target: str,
) -> None:
    mirror = Mirror(mirror_target)
    try:
        state = in_delta_phase(mirror)
        batches = Batches(
            [
                [upsert(1, 7, minutes=1), upsert(4, 7), delete(2, 7)],
                [upsert(5, 8), upsert(1, 4)],  # 1 at an older version: ignored
                [delete(3, 5), upsert(6, 9)],  # 3 already deleted at 6: ignored
            ],
            "/d2",
        )
        new, counts = mirror.apply_change_batches(CLOCKINGS, state, batches, NOW)
        rows = mirror.rows("clockings")
        stored = mirror.state("clockings")
    finally:
        mirror.close()
    assert counts == ChangeCounts(upserted=4, deleted=1, ignored=2) and counts.applied == 5
    assert sorted(rows) == [1, 4, 5, 6] and rows[1]["time_of_day_in_minutes"] == 1
    assert stored == new and new.link == "/d2" and new.changes_applied == 1 + 5
    assert new.revision == state.revision + 1  # one commit


@pytest.mark.parametrize(
    ("failure", "link"),
    [
        (TransportError("cut", method="GET", url="/d1", maybe_applied=True), "/d2"),
        (InvalidResponse("the body turned out malformed"), "/d2"),
        (None, None),  # the batches ended without a deltaLink
    ],
    ids=["cut", "malformed", "no link"],
)
def test_a_delta_that_breaks_off_after_some_batches_leaves_everything_as_before(
    mirror_target: str, failure: Exception | None, link: str | None
) -> None:
    mirror = Mirror(mirror_target)
    try:
        state = in_delta_phase(mirror)
        before = (mirror.rows("clockings"), tombstones(mirror), mirror.state("clockings"))
        batches = Batches(
            [[upsert(1, 9, minutes=9), delete(2, 9)], [upsert(7, 9)], [delete(1, 10)]],
            link,
            failure,
        )
        with pytest.raises(type(failure) if failure else InvalidResponse):
            mirror.apply_change_batches(CLOCKINGS, state, batches, NOW)
        assert batches.handed_out == 3  # all written inside the transaction, then undone
        after = (mirror.rows("clockings"), tombstones(mirror), mirror.state("clockings"))
        # Read again in full, it applies once.
        again = Batches([[upsert(1, 9, minutes=9), delete(2, 9)], [upsert(7, 9)]], "/d2")
        new, _ = mirror.apply_change_batches(CLOCKINGS, state, again, NOW)
        rows = mirror.rows("clockings")
    finally:
        mirror.close()
    assert after == before
    assert sorted(rows) == [1, 7] and rows[1]["change_version"] == v(9) and new.link == "/d2"


SAME_ID = [
    # The changes of record 1 in one response (the mirror holds it at version 5), and
    # what the mirror must hold after: (version, minutes) of the row, or its tombstone.
    ([upsert(1, 11, 11), upsert(1, 13, 13), delete(1, 12)], (v(13), 13)),
    ([upsert(1, 11, 11), delete(1, 13), upsert(1, 12, 12)], v(13)),
    ([delete(1, 11), upsert(1, 12, 12), upsert(1, 6, 6)], (v(12), 12)),
]


def reset_record_1(mirror: Mirror) -> SyncState:
    """Record 1 back at version 5 and no tombstone (the direct way: the changeVersion
    rule never goes back)."""
    table = CLOCKINGS.table
    with storage.plain_write_transaction(mirror.engine) as connection:
        connection.execute(table.delete().where(table.c.id == 1))
        connection.execute(tombstones_table.delete().where(tombstones_table.c.id == 1))
        mirror._write_rows(connection, CLOCKINGS, [clocking(1, 5)], 1)
    state = mirror.state("clockings")
    assert state is not None
    return state


@pytest.mark.parametrize(("changes", "held"), SAME_ID)
def test_the_newest_version_of_an_id_wins_across_batches_whatever_the_order(
    mirror_target: str, changes: list[Change[Any]], held: tuple[str, int] | str
) -> None:
    mirror = Mirror(mirror_target)
    try:
        in_delta_phase(mirror)
        for order in itertools.permutations(changes):
            for batches in ([[change] for change in order], [list(order)]):
                state = reset_record_1(mirror)
                mirror.apply_change_batches(CLOCKINGS, state, Batches(batches, "/d"), NOW)
                row = mirror.rows("clockings").get(1)
                found = (
                    tombstones(mirror).get(1)
                    if row is None
                    else (row["change_version"], row["time_of_day_in_minutes"])
                )
                assert found == held, (order, len(batches))
    finally:
        mirror.close()


def test_two_first_runs_racing_give_a_state_conflict(mirror_target: str) -> None:
    first, second = Mirror(mirror_target), Mirror(mirror_target)
    try:
        state = begin_generation(new_state("clockings", "src#acme", "date ge '2026-01-01'", ""))
        first.save(None, state)
        with pytest.raises(StateConflict, match="another sync created"):
            second.save(None, state)
    finally:
        first.close()
        second.close()


def test_a_target_that_cannot_be_a_file_is_a_mirror_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(MirrorError, match="cannot open the mirror"):
        Mirror(f"sqlite:///{tmp_path}/a-file/sub/mirror.db")


def test_a_sqlite_mirror_has_storages_settings_and_its_own_checkpoint(tmp_path: Path) -> None:
    mirror = Mirror(f"sqlite:///{tmp_path / 'settings.db'}", busy_timeout=7)
    try:
        with storage.read_transaction(mirror.engine) as connection:
            found = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "wal_autocheckpoint")
            }
    finally:
        mirror.close()
    # WAL, synchronous=NORMAL (1): a commit survives the process being killed.
    assert found == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 7000,
        "wal_autocheckpoint": 10_000,
    }
