"""``chronodelta sync``: mirror collections into SQLite or PostgreSQL; ``sync status``.

A thin shell over ``chronodelta.sync``: options, signals, output. ``chronodelta sync
COLLECTION... --since DATE`` runs ``sync run`` (the group's default command), so both
``chronodelta sync clockings --since ...`` and ``chronodelta sync status`` work.

It catches exactly the sync's ``SyncError`` and the SDK's ``ChronodeltaError``: every
failure either can report has a clear message, and anything else is a bug whose
traceback should show.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from typer.core import TyperGroup

from chronodelta.client import ChronodeltaError
from chronodelta.sync import (
    COLLECTIONS,
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_TARGET,
    LogReporter,
    Mirror,
    Reporter,
    RichReporter,
    SyncError,
    SyncRequest,
    WebhookOptions,
    read_config_file,
    resolve_connection,
    run_sync,
)

from ._common import JsonOption, console, fail, print_json


class _DefaultRun(TyperGroup):
    """``sync ARGS`` means ``sync run ARGS`` unless ARGS name a sub-command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sync_app = typer.Typer(
    cls=_DefaultRun,
    help="Mirror collections into SQLite or PostgreSQL through delta, crash-proof.",
    no_args_is_help=True,
)

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        help=f"sqlite:///PATH or postgresql://USER@HOST/DB (default {DEFAULT_TARGET}).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    str | None, typer.Option("--config", help="A TOML file with base_url, tenant, ... target.")
]


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} must be a date written YYYY-MM-DD, got {text!r}", 2) from None


def _configure_logging(verbose: bool, rich_console: Console | None) -> None:
    handler: logging.Handler
    if rich_console is not None:
        handler = RichHandler(console=rich_console, show_path=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("chronodelta.sync", "chronodelta.client"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM or Ctrl-C: finish the response being committed, then stop. A second
    signal stops at once (the open transaction rolls back; nothing is half-applied).

    The handler must not set the Event itself: ``Event.set`` takes the Event's lock,
    which the main thread holds for a moment each time it enters or leaves
    ``stop.wait`` (the poll interval), and a handler runs on the main thread, so a
    signal in that moment deadlocked the process. Instead the C-level handler writes
    the signal number to a socket (``signal.set_wakeup_fd``, which takes no lock) and a
    watcher thread sets the Event.
    """
    stop = threading.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    received: list[int] = []  # appended by the handler only

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt

    reader, writer = socket.socketpair()
    writer.setblocking(False)  # set_wakeup_fd requires it

    def watch() -> None:
        while data := reader.recv(64):  # b"" once ``writer`` is closed
            if any(number in data for number in signals):
                stop.set()

    watcher = threading.Thread(target=watch, name="sync-signals", daemon=True)
    watcher.start()
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    previous = {s: signal.signal(s, handle) for s in signals}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        signal.set_wakeup_fd(previous_fd)
        writer.close()
        watcher.join()
        reader.close()


@sync_app.command("run")
def sync_run(
    collections: Annotated[
        list[str],
        typer.Argument(
            help="Collections to mirror: " + ", ".join(COLLECTIONS) + ".", show_default=False
        ),
    ],
    since: Annotated[str, typer.Option("--since", help="First date (YYYY-MM-DD).")],
    until: Annotated[
        str | None, typer.Option("--until", help="Last date (default: open-ended).")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="Clocking kinds (repeatable): InOut, Reason, Activity, "
            "ActivityEnd; clockings only.",
        ),
    ] = None,
    external_references: Annotated[
        str,
        typer.Option(
            "--external-references",
            help="e.g. (people,@badge-number); each collection gets the pairs its "
            "endpoint supports.",
        ),
    ] = "",
    target: TargetOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep polling every --interval seconds.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between polls (at most 24 h).")
    ] = DEFAULT_INTERVAL_SECONDS,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="API origin [env CHRONODELTA_BASE_URL].")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant [env CHRONODELTA_TENANT].")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="[env CHRONODELTA_CLIENT_ID]")
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(
            "--client-secret", help="[env CHRONODELTA_CLIENT_SECRET; prefer it or --config]"
        ),
    ] = None,
    token_url: Annotated[
        str | None,
        typer.Option(
            "--token-url",
            help="The OAuth2 token endpoint, if not {base-url}/tenants/{tenant}/connect/token "
            "(the vendor's is on its authentication host) [env CHRONODELTA_TOKEN_URL].",
        ),
    ] = None,
    config: ConfigOption = None,
    webhook_listen: Annotated[
        str | None,
        typer.Option(
            "--webhook-listen",
            help="With --follow: listen for webhook deliveries on HOST:PORT and read a "
            "collection's delta as soon as one arrives (needs --webhook-url).",
        ),
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            "--webhook-url",
            help="The URL the server is to POST deliveries to (it must reach "
            "--webhook-listen); one webhook per collection, deleted on exit.",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every committed response.")
    ] = False,
) -> None:
    """Bring a mirror of COLLECTIONS up to date (and keep it so with --follow).

    Each API response is committed together with the link after it: kill it at any
    moment and the next run continues where it stopped. On 410 it starts a new delta
    by itself and removes what vanished meanwhile.

    With --webhook-listen and --webhook-url it registers a webhook per collection and
    reads the delta at once on each verified delivery; it still polls every --interval.

    Example: chronodelta sync clockings paid-presences --since 2026-01-01 --follow
    """
    try:
        settings = read_config_file(config)
        connection = resolve_connection(
            base_url=base_url,
            tenant=tenant,
            client_id=client_id,
            client_secret=client_secret,
            token_url=token_url,
            config=settings,
        )
        first = _date(since, "--since")
        assert first is not None
        request = SyncRequest(
            tuple(collections),
            first,
            _date(until, "--until"),
            tuple(kind or ()),
            external_references,
        )
        webhooks = _webhook_options(webhook_listen, webhook_url, follow)
    except SyncError as exc:  # a setting or an option: a usage error
        raise fail(str(exc), 2) from None
    chosen_target = target or settings.get("target") or DEFAULT_TARGET
    on_terminal = sys.stderr.isatty()
    rich_console = Console(stderr=True) if on_terminal and not verbose else None
    _configure_logging(verbose, rich_console)
    reporter: Reporter = (
        RichReporter(rich_console) if rich_console is not None else LogReporter(verbose=verbose)
    )
    try:
        mirror = Mirror(chosen_target)
    except SyncError as exc:
        raise fail(str(exc)) from None
    # Imports and setup are done and live until exit: keep the cyclic GC, which the
    # decoded records of every page set off, from walking them again and again.
    gc.freeze()
    try:
        with _stop_on_signals() as stop, reporter:
            result = run_sync(
                connection,
                mirror,
                request,
                reporter=reporter,
                follow=follow,
                interval=interval,
                stop=stop,
                webhooks=webhooks,
            )
    except KeyboardInterrupt:
        raise fail("stopped at once; run again to continue from the last commit", 130) from None
    except (SyncError, ChronodeltaError) as exc:
        raise fail(str(exc)) from None
    finally:
        mirror.close()
    if result.stopped and not follow:
        raise fail("stopped before the mirror was up to date; run again to continue", 1)
    if not result.stopped:
        done = ", ".join(f"{c.collection} (+{c.upserted} -{c.deleted})" for c in result.collections)
        logging.getLogger("chronodelta.sync").info("up to date: %s", done)


def _webhook_options(listen: str | None, url: str | None, follow: bool) -> WebhookOptions | None:
    if listen is None and url is None:
        return None
    if listen is None or url is None:
        raise fail("--webhook-listen and --webhook-url go together", 2)
    if not follow:
        raise fail("--webhook-listen and --webhook-url need --follow", 2)
    return WebhookOptions.parse(listen, url)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{sign}{hours}h {rest // 60:02d}m" if hours else f"{sign}{rest // 60}m {rest % 60:02d}s"


@sync_app.command("status")
def sync_status(
    target: TargetOption = None, config: ConfigOption = None, json: JsonOption = False
) -> None:
    """Show each mirrored collection: records, last success, link age, time to expiry.

    Example: chronodelta sync status --target sqlite:///var/mirror.db --json
    """
    try:
        settings = read_config_file(config)
        mirror = Mirror(target or settings.get("target") or DEFAULT_TARGET)
        try:
            lines = mirror.status()
        finally:
            mirror.close()
    except SyncError as exc:
        raise fail(str(exc)) from None
    if json:
        print_json(lines)
        return
    if not lines:
        console.print("nothing mirrored yet")
        return
    table = Table("collection", "records", "phase", "last success", "link age", "expires in")
    for line in lines:
        row: list[Any] = [
            line.collection,
            f"{line.records:,}",
            f"{line.phase} (gen {line.generation})",
            line.last_success.isoformat(timespec="seconds") if line.last_success else "never",
            _duration(line.link_age_seconds),
            _duration(line.expires_in_seconds),
        ]
        table.add_row(*row)
    console.print(table)
