"""``read_statement``: one read-only statement in as few round trips as the database
allows (autocommit on PostgreSQL), for the reads made on every API call (issue 13)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.storage import plain_write_transaction, read_statement, tables


def test_it_reads_what_was_committed_and_leaves_no_transaction_open(engine: Engine) -> None:
    query = sa.select(tables.tenants.c.name).where(tables.tenants.c.name == sa.bindparam("n"))
    assert read_statement(engine, query, {"n": "acme"}) == []
    with plain_write_transaction(engine) as connection:
        connection.execute(
            tables.tenants.insert().values(name="acme", created_at=dt.datetime.now(dt.UTC))
        )
    assert [row.name for row in read_statement(engine, query, {"n": "acme"})] == ["acme"]
    # The connection went back to the pool idle: a write right after does not wait on it.
    with plain_write_transaction(engine) as connection:
        connection.execute(tables.tenants.delete())
    assert read_statement(engine, query, {"n": "acme"}) == []
