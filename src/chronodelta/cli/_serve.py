"""``serve``: migrate, optionally bootstrap the demo tenant, and run uvicorn."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from sqlalchemy.exc import OperationalError
from uvicorn.config import STARTUP_FAILURE

from chronodelta.storage import upgrade

from ._common import DatabaseOption, console, engine_for, fail

if TYPE_CHECKING:
    from chronodelta.server import NewClient, Settings

APP_FACTORY = "chronodelta.server._app:create_app"
EDGE_PROTOCOL = "chronodelta.server._middleware:EdgeHttpProtocol"


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
    console_pages: Annotated[
        bool,
        typer.Option(
            "--console/--no-console",
            help="Serve the operator console at /console (CHRONODELTA_CONSOLE).",
        ),
    ] = True,
) -> None:
    """Migrate the database, then serve the API.

    Example: chronodelta serve --port 8000 --workers 4 --database postgresql://chrono@127.0.0.1/cd
    """
    from chronodelta.server import (  # on use: see cli/_admin.py
        bootstrap_demo,
        list_signing_keys,
        rotate_signing_key,
        set_operator_password,
    )
    from chronodelta.server.operators._store import DEMO_OPERATOR

    if not console_pages:
        # Every worker reads its Settings from the environment (docs/api.md, "Settings").
        os.environ["CHRONODELTA_CONSOLE"] = "false"
    settings = _edge_settings()
    with engine_for(database) as engine:
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise fail(f"cannot reach the database: {exc.orig}") from None
        if not list_signing_keys(engine):
            # Made here, before the workers start: racing first starts would each add one.
            rotate_signing_key(engine)
        if workers > 1 and engine.dialect.name == "sqlite":
            console.print(
                "[yellow]note:[/] SQLite serializes writes; use PostgreSQL to scale writers"
            )
        client = bootstrap_demo(engine, until=dt.date.today()) if demo else None
        # A sandbox's operator (the /admin API and the console, docs/sandbox.md) gets a
        # new password at every demo start, printed here: none is kept in clear.
        operator = set_operator_password(engine, DEMO_OPERATOR) if demo else None
    base = f"http://{host}:{port}"
    if operator is not None:
        # Before the walk-through, whose lines up to "serving on" are commands to paste
        # into bash (tests/cli/test_walkthrough.py runs them).
        pages = f", and the console at {base}/console" if settings.console else ""
        console.print(
            f"operator (the /admin API as HTTP Basic{pages}): "
            f"{operator.name} / {operator.password}",
            markup=False,
            highlight=False,
        )
    if client is not None:
        print_walkthrough(client, host, port)
    elif demo:
        console.print(
            "demo tenant already set up; a new client: chronodelta clients create --tenant acme"
        )
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="chronodelta-metrics-")
    also = f"; console: {base}/console" if settings.console else ""
    console.print(f"serving on {base}  (Swagger UI: {base}/swagger{also})")
    options = uvicorn_options(host, port, access_log, settings.keep_alive_seconds)
    if workers == 1:
        uvicorn.run(APP_FACTORY, **options)
    else:
        run_workers(uvicorn.Config(APP_FACTORY, workers=workers, **options), workers)


def uvicorn_options(
    host: str, port: int, access_log: bool, keep_alive_seconds: int
) -> dict[str, Any]:
    return dict(
        factory=True,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        server_header=False,
        # Issue 10, item 4: the HTTP edges (head size, request deadline, idle fresh
        # connections) live in this protocol; each worker reads its limits from the
        # environment, as its Settings do (docs/api.md, "Settings").
        http=EDGE_PROTOCOL,
        timeout_keep_alive=keep_alive_seconds,
        # The API has no WebSocket route: an upgrade request is plain HTTP here, not
        # a connection handed to a WebSocket library, outside the limits above.
        ws="none",
    )


def run_workers(config: uvicorn.Config, workers: int) -> None:
    """Several workers, each accepting on its own socket (``server/_workers.py``)."""
    from chronodelta.server._workers import PortInUse, ReusePortWorkers, reuse_port_sockets

    try:
        sockets = reuse_port_sockets(config.host, config.port, workers, config.backlog)
    except PortInUse as exc:
        raise fail(str(exc.strerror)) from None

    def serving() -> None:  # the line uvicorn logs once it serves (chronodelta.testing)
        logging.getLogger("uvicorn.error").info(
            "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", config.host, config.port
        )

    if not ReusePortWorkers(config, sockets).run(on_serving=serving):
        raise typer.Exit(STARTUP_FAILURE)


def _edge_settings() -> Settings:
    """The settings, read from the environment now, so that a bad value stops serve
    with its message instead of failing every worker."""
    from chronodelta.server import Settings

    try:
        return Settings()
    except ValueError as exc:
        raise fail(str(exc)) from None


def print_walkthrough(
    client: NewClient, host: str, port: int, *, today: dt.date | None = None
) -> None:
    """Seed 004's tutorial, steps 1 to 5 and a next poll, as bash commands for ``client``.

    curl makes the requests, python3 one-liners pull fields out of the JSON, shell
    variables carry the token, ids and deltaLink from step to step. The tutorial's dates
    are moved to a year the delta rules accept on ``today`` (default: the server's
    today, which ``CHRONODELTA_TODAY`` may pin): ``tests/cli/test_walkthrough.py`` runs
    the printed commands against a real server.
    """
    delta_start, clocking_date = _tutorial_dates(today or _server_today())
    console.print(
        f"""
[bold]Demo tenant ready.[/] Store this secret now: it is not kept.

  tenant:        {client.tenant}
  client_id:     {client.client_id}
  client_secret: {client.client_secret}

[bold]Walk-through[/] (the vendor's "Your First Clocking Integration"), to paste into bash:
""",
        highlight=False,
        soft_wrap=True,
    )
    host_in_url = f"[{host}]" if ":" in host else host
    script = _walkthrough_script(client, f"http://{host_in_url}:{port}", delta_start, clocking_date)
    # Plain text: the commands' brackets and colons are not Rich markup or emoji.
    console.print(script, markup=False, emoji=False, highlight=False, soft_wrap=True)


def _tutorial_dates(today: dt.date) -> tuple[dt.date, dt.date]:
    """The delta's start and the clockings' date: the tutorial's January 1st and 15th,
    of this year once its January 15th has come, else of the previous year. So the start
    is in the past and not before January 1st of the previous year (the delta rules),
    and the clockings lie in the delta and not in the future."""
    year = today.year if today >= dt.date(today.year, 1, 15) else today.year - 1
    return dt.date(year, 1, 1), dt.date(year, 1, 15)


def _server_today() -> dt.date:
    from chronodelta.server import Settings

    try:
        return Settings().today()
    except ValueError:  # a bad setting: the server reports it when it starts
        return dt.date.today()


_API = "$BASE/connector/protimeapi/api/v1"
_AUTH = '-A "$UA" -H "Authorization: Bearer $TOKEN"'
# python3 one-liners that read JSON (or headers) on standard input and print fields.
# The id in a response's Location header (curl -D - writes the headers to stdout):
_LOCATION_ID = (
    'python3 -c \'import sys; print([h.split("/")[-1].strip() for h in sys.stdin'
    ' if h.lower().startswith("location:")][0])\''
)
# The token, after the scopes granted (on standard error):
_TOKEN_AND_SCOPES = (
    "python3 -c 'import json,sys; t=json.load(sys.stdin);"
    ' print(t["scope"], file=sys.stderr); print(t["access_token"])\''
)
# A snapshot page's record count (on standard error) and its nextLink, if any:
_PAGE_REPORT = (
    "python3 -c 'import json,sys; p=json.load(sys.stdin);"
    ' print(len(p["value"]), "records", file=sys.stderr); print(p.get("nextLink", ""))\''
)
# A change feed's count of changes, and the changes of the record whose id is $1:
_CHANGES_OF = (
    'python3 -c \'import json,sys; v=json.load(sys.stdin)["value"]; print(len(v), "changes");'
    ' print(*[json.dumps(c) for c in v if c["data"]["id"] == int(sys.argv[1])], sep="\\n")\''
)


def _field(name: str) -> str:
    """A python3 one-liner that prints one field of the JSON on its standard input."""
    return f"""python3 -c 'import json,sys; print(json.load(sys.stdin)["{name}"])'"""


def _post_clocking(date: dt.date, minutes: int) -> str:
    body = (
        f'{{"person": {{"id": 1}}, "date": "{date}", '
        f'"timeOfDayInMinutes": {minutes}, "kind": "InOut"}}'
    )
    return f"""curl -s {_AUTH} -X POST "{_API}/clockings" \\
  -H 'Content-Type: application/json' -d '{body}'"""


def _walkthrough_script(client: NewClient, base: str, delta_start: dt.date, date: dt.date) -> str:
    scopes = "connector-protimeapi-clockings.read connector-protimeapi-clockings.write"
    return f"""BASE={base}
UA='Tutorial/1.0 (Acme)'  # every request must send a User-Agent: ServiceName/Version (Company)

# 1. Authenticate with read and write scopes (prints the scopes granted)
TOKEN=$(curl -s -A "$UA" -X POST "$BASE/tenants/{client.tenant}/connect/token" \\
  -H 'Content-Type: application/x-www-form-urlencoded' \\
  --data-urlencode grant_type=client_credentials \\
  --data-urlencode 'client_id={client.client_id}' \\
  --data-urlencode 'client_secret={client.client_secret}' \\
  --data-urlencode 'scope={scopes}' \\
  | {_TOKEN_AND_SCOPES})

# 2. Create an InOut clocking for person 1 at 08:30 (510 minutes) on {date}:
#    201 Created, and its Location header names the new clocking; ID is the id in it
ID=$({_post_clocking(date, 510)} -D - -o /dev/null \\
  | tee /dev/stderr | {_LOCATION_ID})

# 3. Retrieve it: the person, date, time and kind sent, and a changeVersion
curl -s {_AUTH} "{_API}/clockings/$ID"; echo

# 4. Set up delta tracking: the list with &delta and a date filter, whose start must be
#    in the past and not before January 1st of last year (-G --data-urlencode puts the
#    filter in the URL, percent-encoded). The initial delta is paged (the demo data fills
#    several pages): follow every nextLink until a page has the deltaLink instead. This
#    prints each page's record count, then the deltaLink.
PAGE=$(curl -s -G {_AUTH} "{_API}/clockings" \\
  --data-urlencode "filter=date ge '{delta_start}'" -d delta)
while NEXT=$(echo "$PAGE" | {_PAGE_REPORT}) && [ -n "$NEXT" ]; do
  PAGE=$(curl -s {_AUTH} "$BASE$NEXT")
done
DELTA_LINK=$(echo "$PAGE" | {_field("deltaLink")})
echo "$DELTA_LINK"

# 5. Check for changes: call the deltaLink. The clocking of step 2 comes back as
#    InsertOrUpdate: a delta's first call repeats the changes of the last minutes before
#    it started (5 by default), as the vendor's does. Right after `make serve` they include
#    the demo data, so this prints the count of changes and the step 2 clocking's only.
#    Each response brings a new deltaLink: keep it for the next call.
CHANGES=$(curl -s {_AUTH} "$BASE$DELTA_LINK")
echo "$CHANGES" | {_CHANGES_OF} "$ID"
DELTA_LINK=$(echo "$CHANGES" | {_field("deltaLink")})

# 6. The next poll: create a clocking (person 1 out at 17:00, 1020 minutes; prints 201),
#    then call the new deltaLink: just that change, as InsertOrUpdate, and the link after
#    it. Poll within 72 hours each time, or the delta expires (410 Gone): back to step 4.
{_post_clocking(date, 1020)} -o /dev/null -w '%{{http_code}}\\n'
CHANGES=$(curl -s {_AUTH} "$BASE$DELTA_LINK")
echo "$CHANGES" | python3 -m json.tool
DELTA_LINK=$(echo "$CHANGES" | {_field("deltaLink")})
"""
