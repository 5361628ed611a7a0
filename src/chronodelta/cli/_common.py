"""Helpers every command shares: the database option, output, error exits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from chronodelta.storage import (
    DATABASE_URL_ENV,
    DatabaseUrlError,
    create_engine,
    resolve_database_url,
)

console = Console()
err_console = Console(stderr=True)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar=DATABASE_URL_ENV,
        help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: ./var/chronodelta.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def engine_for(database: str | None) -> Iterator[Engine]:
    """An engine for the chosen database; the URL also goes to the environment so that
    server worker processes started later use the same one."""
    url = resolve_database_url(database)
    os.environ[DATABASE_URL_ENV] = url
    try:
        engine = create_engine(url)
    except DatabaseUrlError as exc:
        raise fail(str(exc)) from None
    try:
        yield engine
    finally:
        engine.dispose()


def print_json(value: Any) -> None:
    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        if isinstance(obj, dt.date | dt.datetime):
            return obj.isoformat()
        raise TypeError

    typer.echo(orjson.dumps(value, default=default, option=orjson.OPT_INDENT_2).decode())
