"""``requests``: a tenant's request log, like a log tail (docs/sandbox.md, "Request log")."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from sqlalchemy.engine import Engine

from ._common import DatabaseOption, engine_for, fail

if TYPE_CHECKING:
    from chronodelta.server import RequestLogQuery

FOLLOW_POLL_SECONDS = 0.5


def requests(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose calls to show.")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many of the last calls.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new calls as they come.")
    ] = False,
    status: Annotated[
        str | None, typer.Option(help="Only this status (503) or class (5xx).")
    ] = None,
    method: Annotated[str | None, typer.Option(help="Only this method.")] = None,
    client: Annotated[str | None, typer.Option(help="Only this API client's calls.")] = None,
    path: Annotated[str | None, typer.Option(help="Only paths containing this text.")] = None,
    database: DatabaseOption = None,
    json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Show a tenant's last API calls, oldest first; --follow keeps printing new ones.

    Rows reach the log within a fraction of a second of the call (each server worker
    writes them in batches). Never a secret or a token.

    Example: chronodelta requests --tenant acme --status 5xx --follow
    """
    from chronodelta.server import AdminError, RequestLogQuery

    try:
        query = RequestLogQuery(client, method, path, status, limit=limit)
    except AdminError as exc:
        raise fail(str(exc)) from None
    with engine_for(database) as engine:
        try:
            _tail(engine, tenant, query, follow=follow, json=json)
        except AdminError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            pass


def _tail(engine: Engine, tenant: str, query: RequestLogQuery, *, follow: bool, json: bool) -> None:
    from chronodelta.server import query_request_log

    rows = list(reversed(query_request_log(engine, tenant, query)))
    last_id = 0
    while True:
        for row in rows:
            # One line per call, never wrapped (a tail is read by grep as much as by eye).
            typer.echo(orjson.dumps(row.to_json()).decode() if json else _line(row.to_json()))
            last_id = max(last_id, row.id)
        if not follow:
            return
        time.sleep(FOLLOW_POLL_SECONDS)  # a tail's poll interval
        newer = dataclasses.replace(query, since_id=last_id, limit=1000, oldest_first=True)
        rows = query_request_log(engine, tenant, newer)


def _line(row: dict[str, object]) -> str:
    target = f"{row['path']}?{row['query']}" if row["query"] else str(row["path"])
    extra = ""
    if row["errorCode"]:
        extra += f"  {row['errorCode']}"
    if row["fault"]:
        extra += f"  [fault {row['faultRuleId']}: {row['fault']}]"
    return (
        f"{row['id']:>7}  {row['time']}  {row['clientId'] or '-'}  {row['status']}  "
        f"{row['method']} {target}  {row['durationMs']} ms  {row['responseBytes']} B{extra}"
    )
