"""The request log's rows: written in batches, read newest first, trimmed by retention.

On PostgreSQL the batches of all workers are written one at a time (an advisory
transaction lock), so that row ids become visible in increasing order: a reader that
follows the log by id (``requests --follow``, ``since_id``) never passes a row that a
slower batch commits later with a smaller id (the gap docs/architecture.md explains
for change versions). SQLite writes one batch at a time anyway.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server.admin._tenants import AdminError, tenant_id
from chronodelta.server.request_log._entry import LogEntry, LoggedRequest
from chronodelta.storage import is_postgresql, plain_write_transaction, read_transaction, tables

MAX_LIMIT = 1000
_WRITE_LOCK_KEY = 0x6368726F6E6F6C67  # "chronolg": the request log's batches
_STATUS_CLASS = re.compile(r"([1-5])xx")


@dataclass(frozen=True)
class RequestLogQuery:
    """Which rows to read. ``status`` is a code ("503") or a class ("5xx"); ``path`` a
    substring of the path; ``since_id``/``since``: only rows after that id/time."""

    client: str | None = None
    method: str | None = None
    path: str | None = None
    status: str | None = None
    since_id: int | None = None
    since: dt.datetime | None = None
    limit: int = 100
    oldest_first: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise AdminError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.status is not None and not (
            _STATUS_CLASS.fullmatch(self.status)
            or (self.status.isdigit() and 100 <= int(self.status) <= 599)
        ):
            raise AdminError("status must be a status code (503) or a class (5xx)")
        if self.since is not None and self.since.tzinfo is None:
            raise AdminError("since must be a time with a UTC offset")


def write_entries(engine: Engine, entries: Sequence[LogEntry]) -> int:
    """Insert a batch in one transaction; rows of tenants that do not exist are skipped."""
    if not entries:
        return 0
    names = sorted({entry.tenant for entry in entries})
    with plain_write_transaction(engine) as connection:
        if is_postgresql(engine):
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_WRITE_LOCK_KEY)))
        found = connection.execute(
            sa.select(tables.tenants.c.name, tables.tenants.c.id).where(
                tables.tenants.c.name.in_(names)
            )
        )
        ids = {str(name): int(number) for name, number in found}
        rows = [_row(entry, ids[entry.tenant]) for entry in entries if entry.tenant in ids]
        if rows:
            connection.execute(tables.request_log.insert(), rows)
    return len(rows)


def query_request_log(
    engine: Engine, tenant: str, query: RequestLogQuery | None = None
) -> list[LoggedRequest]:
    """``tenant``'s logged calls that ``query`` selects, newest first (or oldest first)."""
    query = query or RequestLogQuery()
    log = tables.request_log
    found = tenant_id(engine, tenant)
    statement = sa.select(log).where(log.c.tenant_id == found, *_conditions(query))
    order = log.c.id.asc() if query.oldest_first else log.c.id.desc()
    with read_transaction(engine) as connection:
        rows = connection.execute(statement.order_by(order).limit(query.limit)).all()
    return [_logged(row, tenant) for row in rows]


def _conditions(query: RequestLogQuery) -> list[sa.ColumnElement[bool]]:
    log = tables.request_log
    conditions: list[sa.ColumnElement[bool]] = []
    if query.client is not None:
        conditions.append(log.c.client_id == query.client)
    if query.method is not None:
        conditions.append(log.c.method == query.method.upper())
    if query.path:
        # A substring, not a pattern: % and _ in it are literal.
        escaped = query.path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(log.c.path.like(f"%{escaped}%", escape="\\"))
    if query.status is not None:
        if query.status.isdigit():
            conditions.append(log.c.status == int(query.status))
        else:
            low = int(query.status[0]) * 100
            conditions.append(log.c.status.between(low, low + 99))
    if query.since_id is not None:
        conditions.append(log.c.id > query.since_id)
    if query.since is not None:
        conditions.append(log.c.logged_at >= query.since.astimezone(dt.UTC))
    return conditions


@dataclass(frozen=True)
class TrimReport:
    by_count: int
    by_age: int


def trim_request_log(
    engine: Engine, *, max_rows: int, max_age: dt.timedelta, now: dt.datetime
) -> TrimReport:
    """Keep at most ``max_rows`` rows per tenant, none logged before ``now - max_age``.

    One short transaction per tenant (SQLite has one write lock; API writers wait).
    """
    log = tables.request_log
    with read_transaction(engine) as connection:
        tenant_ids = list(connection.scalars(sa.select(log.c.tenant_id).distinct()))
    by_count = by_age = 0
    for tenant in tenant_ids:
        with plain_write_transaction(engine) as connection:
            by_age += connection.execute(
                log.delete().where(log.c.tenant_id == tenant, log.c.logged_at < now - max_age)
            ).rowcount
            # The newest row past the limit: it and everything older go.
            boundary = connection.scalar(
                sa.select(log.c.id)
                .where(log.c.tenant_id == tenant)
                .order_by(log.c.id.desc())
                .offset(max_rows)
                .limit(1)
            )
            if boundary is not None:
                by_count += connection.execute(
                    log.delete().where(log.c.tenant_id == tenant, log.c.id <= boundary)
                ).rowcount
    return TrimReport(by_count, by_age)


def _row(entry: LogEntry, tenant: int) -> dict[str, object]:
    reasons = entry.error_reasons
    return {
        "tenant_id": tenant,
        "logged_at": entry.logged_at,
        "client_id": entry.client_id,
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "status": entry.status,
        "duration_ms": entry.duration_ms,
        "response_bytes": entry.response_bytes,
        "error_code": entry.error_code,
        "error_reasons": orjson.dumps(list(reasons)).decode() if reasons is not None else None,
        "fault_rule_id": entry.fault_rule_id,
        "fault": entry.fault,
        "request_body": entry.request_body,
        "request_body_truncated": entry.request_body_truncated,
    }


def _logged(row: sa.Row[tuple[object, ...]], tenant: str) -> LoggedRequest:
    m = row._mapping
    reasons = m["error_reasons"]
    logged_at: dt.datetime = m["logged_at"]
    if logged_at.tzinfo is None:  # SQLite keeps no offset; every time written is UTC
        logged_at = logged_at.replace(tzinfo=dt.UTC)
    return LoggedRequest(
        id=int(m["id"]),
        tenant=tenant,
        logged_at=logged_at,
        client_id=m["client_id"],
        method=m["method"],
        path=m["path"],
        query=m["query"],
        status=int(m["status"]),
        duration_ms=float(m["duration_ms"]),
        response_bytes=int(m["response_bytes"]),
        error_code=m["error_code"],
        error_reasons=tuple(orjson.loads(reasons)) if reasons is not None else None,
        fault_rule_id=m["fault_rule_id"],
        fault=m["fault"],
        request_body=m["request_body"],
        request_body_truncated=bool(m["request_body_truncated"]),
    )
