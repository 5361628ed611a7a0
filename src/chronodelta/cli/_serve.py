"""``serve``: migrate, optionally bootstrap the demo tenant, and run uvicorn."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from sqlalchemy.exc import OperationalError

from chronodelta.storage import upgrade

from ._common import DatabaseOption, console, engine_for, fail

if TYPE_CHECKING:
    from chronodelta.server import NewClient

APP_FACTORY = "chronodelta.server._app:create_app"


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    database: DatabaseOption = None,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help="Worker processes (use PostgreSQL for more than one)."),
    ] = 1,
    demo: Annotated[
        bool,
        typer.Option(help="On an empty database, create tenant acme with a client and demo data."),
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Migrate the database, then serve the API.

    Example: chronodelta serve --port 8000 --workers 4 --database postgresql://chrono@127.0.0.1/cd
    """
    from chronodelta.server import bootstrap_demo  # on use: see cli/_admin.py

    with engine_for(database) as engine:
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise fail(f"cannot reach the database: {exc.orig}") from None
        if workers > 1 and engine.dialect.name == "sqlite":
            console.print(
                "[yellow]note:[/] SQLite serializes writes; use PostgreSQL to scale writers"
            )
        client = bootstrap_demo(engine, until=dt.date.today()) if demo else None
    if client is not None:
        print_walkthrough(client, host, port)
    elif demo:
        console.print(
            "demo tenant already set up; a new client: chronodelta clients create --tenant acme"
        )
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="chronodelta-metrics-")
    console.print(f"serving on http://{host}:{port}  (Swagger UI: http://{host}:{port}/swagger)")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
        server_header=False,
    )


def print_walkthrough(client: NewClient, host: str, port: int) -> None:
    """Seed 004's tutorial, steps 1 to 3, as curl commands with this client."""
    base = f"http://{host}:{port}"
    scopes = "connector-protimeapi-clockings.read connector-protimeapi-clockings.write"
    console.print(
        f"""
[bold]Demo tenant ready.[/] Store this secret now: it is not kept.

  tenant:        {client.tenant}
  client_id:     {client.client_id}
  client_secret: {client.client_secret}

[bold]Walk-through[/] (the vendor's "Your First Clocking Integration"):

# 1. token with read and write scopes
TOKEN=$(curl -s -A 'Tutorial/1.0 (Acme)' -X POST {base}/tenants/{client.tenant}/connect/token \\
  -H 'Content-Type: application/x-www-form-urlencoded' \\
  --data-urlencode grant_type=client_credentials \\
  --data-urlencode client_id={client.client_id} \\
  --data-urlencode client_secret={client.client_secret} \\
  --data-urlencode 'scope={scopes}' \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# 2. create an InOut clocking for person 1 at 08:30 on 2026-01-15 (201 + Location)
curl -si -A 'Tutorial/1.0 (Acme)' -X POST {base}/connector/protimeapi/api/v1/clockings \\
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -d '{{"person": {{"id": 1}}, "date": "2026-01-15", "timeOfDayInMinutes": 510, "kind": "InOut"}}'

# 3. retrieve it (use the id from the Location header)
curl -s -A 'Tutorial/1.0 (Acme)' -H "Authorization: Bearer $TOKEN" \\
  {base}/connector/protimeapi/api/v1/clockings/ID
""",
        highlight=False,
        soft_wrap=True,
    )
