"""Which changes of a delta response to apply (pure: no I/O).

Seed 000: "If you receive a record whose changeVersion is older than one you already
processed (same ID), ignore the older one. The changeVersion supports string
comparison for ordering." What the mirror has processed for an id is the version of
its row, or of the Delete that removed it (a tombstone). So:

* an ``InsertOrUpdate`` applies if its version is newer than both;
* a ``Delete`` applies if its version is not older than the row's (then the row goes
  and the tombstone keeps the version), and is ignored if older;
* an equal version is the same change delivered again (the first call of a delta
  repeats recent changes on purpose): applying it again changes nothing, so an equal
  InsertOrUpdate is skipped and an equal Delete is harmless.

Within one response each record should appear once; if one appears twice, the newest
version wins, whatever the order. That holds for a response applied in batches too
(``Mirror.apply_change_batches``): each batch is planned against the versions the
mirror holds, which include those the earlier batches wrote in the same transaction,
rows and tombstones alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chronodelta.client import Change


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """What to write for one delta response, or one batch of it: records to upsert,
    ids to delete (with the Delete's version, which becomes the tombstone), and how
    many were ignored."""

    upserts: tuple[Any, ...]
    deletes: tuple[tuple[int, str], ...]
    ignored: int

    @property
    def applied(self) -> int:
        return len(self.upserts) + len(self.deletes)


@dataclass(frozen=True, slots=True)
class ChangeCounts:
    """How many changes of a delta response were upserted, deleted and ignored.

    Counts, not records: a response applied in batches writes each batch and lets
    its records go (which is the point of reading it in batches); ``+`` adds the
    counts of its batches.
    """

    upserted: int = 0
    deleted: int = 0
    ignored: int = 0

    @classmethod
    def of(cls, plan: ChangePlan) -> ChangeCounts:
        return cls(len(plan.upserts), len(plan.deletes), plan.ignored)

    @property
    def applied(self) -> int:
        return self.upserted + self.deleted

    def __add__(self, later: ChangeCounts) -> ChangeCounts:
        return ChangeCounts(
            self.upserted + later.upserted,
            self.deleted + later.deleted,
            self.ignored + later.ignored,
        )


def is_newer(version: str, than: str | None) -> bool:
    """String order is version order (20 upper-case hex digits)."""
    return than is None or version > than


def plan_changes(
    changes: Iterable[Change[Any]],
    rows: Mapping[int, str],
    tombstones: Mapping[int, str],
) -> ChangePlan:
    """Decide a response's writes from the versions the mirror holds.

    ``rows``: id -> changeVersion of the mirror's rows; ``tombstones``: id ->
    changeVersion of applied Deletes. Only ids of ``changes`` need to be present.
    """
    latest: dict[int, Change[Any]] = {}
    seen = 0
    for change in changes:
        seen += 1
        held = latest.get(change.id)
        if held is None or change.change_version > held.change_version:
            latest[change.id] = change
    upserts: list[Any] = []
    deletes: list[tuple[int, str]] = []
    for record_id, change in latest.items():
        row_version = rows.get(record_id)
        gone_version = tombstones.get(record_id)
        if change.is_delete:
            if row_version is not None and change.change_version >= row_version:
                deletes.append((record_id, change.change_version))
            elif row_version is None and is_newer(change.change_version, gone_version):
                deletes.append((record_id, change.change_version))  # keep the newest tombstone
        elif is_newer(change.change_version, row_version) and is_newer(
            change.change_version, gone_version
        ):
            upserts.append(change.record)
    return ChangePlan(tuple(upserts), tuple(deletes), seen - len(upserts) - len(deletes))
