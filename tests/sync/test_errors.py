"""One exception tree for the sync (retriable or fatal by type), the command line
catching exactly it and the SDK's, and one way into the database (``storage``)."""

from __future__ import annotations

import ast
import builtins
import datetime as dt
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from typer.testing import CliRunner

import chronodelta.sync as sync
from chronodelta.cli import _sync as cli_sync
from chronodelta.cli import app
from chronodelta.client import ChronodeltaError, InvalidResponse, TransportError
from chronodelta.sync import (
    ConfigError,
    FatalSyncError,
    InvalidRequest,
    InvalidTransition,
    Mirror,
    MirrorError,
    MirrorRefused,
    MirrorUnavailable,
    RetriableSyncError,
    StateConflict,
    SyncConnection,
    SyncError,
    SyncRequest,
    TooManyRestarts,
    after_page,
    run_sync,
)
from tests.client.fakes import BASE, CLIENT_ID, PREFIX, SECRET, TENANT, FakeApi

SYNC_SOURCES = Path(sync.__file__).parent
CLI_SOURCE = Path(cli_sync.__file__)
# Bases that are never raised themselves: a raised error is always one of their leaves.
ABSTRACT = {SyncError, RetriableSyncError, FatalSyncError, MirrorError}


def sync_modules() -> list[ModuleType]:
    return [sync] + [
        importlib.import_module(f"chronodelta.sync.{info.name}")
        for info in pkgutil.iter_modules(sync.__path__)
    ]


def defined_exceptions() -> set[type[BaseException]]:
    return {
        value
        for module in sync_modules()
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__.startswith("chronodelta.sync")
    }


def test_every_exception_the_sync_defines_is_a_sync_error_and_exported() -> None:
    defined = defined_exceptions()
    assert len(defined) >= 11
    assert all(issubclass(error, SyncError) for error in defined), defined
    assert {error.__name__ for error in defined} <= set(sync.__all__)


def test_each_raised_error_is_retriable_or_fatal_never_both() -> None:
    for error in defined_exceptions() - ABSTRACT:
        assert issubclass(error, RetriableSyncError) != issubclass(error, FatalSyncError), error
    assert issubclass(MirrorUnavailable, RetriableSyncError)
    for fatal in (MirrorRefused, StateConflict, ConfigError, InvalidRequest, TooManyRestarts):
        assert issubclass(fatal, FatalSyncError)
    # ``except MirrorError`` still catches every failure of the mirror database.
    assert {MirrorUnavailable, MirrorRefused, StateConflict} <= set(MirrorError.__subclasses__())
    # Errors about values stay ValueErrors, as they were before the tree.
    for value_error in (ConfigError, InvalidRequest, InvalidTransition):
        assert issubclass(value_error, ValueError)


def _raised_classes(module: ModuleType) -> list[tuple[int, object]]:
    """What each ``raise X(...)`` / ``raise X`` of ``module`` names, resolved in it."""
    tree = ast.parse(inspect.getsource(module))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(target, ast.Name):
            names = vars(module) if target.id in vars(module) else vars(builtins)
            found.append((node.lineno, names.get(target.id)))
    return found


def test_the_sync_raises_only_leaves_of_its_tree_and_the_sdks_errors() -> None:
    checked = 0
    for module in sync_modules():
        for line, raised in _raised_classes(module):
            if not inspect.isclass(raised):
                continue  # re-raising an exception object (the prefetch thread's)
            checked += 1
            where = f"{module.__name__}:{line} raises {raised.__name__}"
            assert issubclass(raised, SyncError | ChronodeltaError), where
            assert raised not in ABSTRACT, where
    assert checked >= 25


def _cli_env() -> dict[str, str]:
    return {
        "CHRONODELTA_BASE_URL": "http://127.0.0.1:9",
        "CHRONODELTA_TENANT": "acme",
        "CHRONODELTA_CLIENT_ID": "someone",
        "CHRONODELTA_CLIENT_SECRET": "s3cret-never-shown",
    }


@pytest.mark.parametrize(
    "error",
    [
        MirrorUnavailable("the mirror failed while storing a page: disk I/O error"),
        TooManyRestarts("clockings: the delta was gone 4 times in one run"),
        InvalidTransition("a delta response arrived during the snapshot"),
        TransportError("connection refused", method="GET", url="/x", maybe_applied=False),
    ],
    ids=lambda error: type(error).__name__,
)
def test_the_command_line_reports_sync_and_sdk_errors_with_their_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def failing(*args: object, **kwargs: object) -> object:
        raise error

    monkeypatch.setattr(cli_sync, "run_sync", failing)
    target = f"sqlite:///{tmp_path / 'mirror.db'}"
    result = CliRunner().invoke(
        app, ["sync", "clockings", "--since", "2026-01-01", "--target", target], env=_cli_env()
    )
    assert result.exit_code == 1, result.output
    assert str(error).split(":")[0] in result.output.replace("\n", " ")
    assert "s3cret-never-shown" not in result.output and "Traceback" not in result.output


def test_the_command_line_catches_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain ValueError is a bug, not a report: it must not be dressed as one.
    def failing(*args: object, **kwargs: object) -> object:
        raise ValueError("a bug")

    monkeypatch.setattr(cli_sync, "run_sync", failing)
    target = f"sqlite:///{tmp_path / 'mirror.db'}"
    result = CliRunner().invoke(
        app, ["sync", "clockings", "--since", "2026-01-01", "--target", target], env=_cli_env()
    )
    assert isinstance(result.exception, ValueError) and str(result.exception) == "a bug"


def test_a_bad_target_is_reported_with_its_password_hidden(tmp_path: Path) -> None:
    runner = CliRunner()
    run = runner.invoke(
        app,
        ["sync", "clockings", "--since", "2026-01-01", "--target", "mysql://me:pw-hidden@h/db"],
        env=_cli_env(),
    )
    status = runner.invoke(app, ["sync", "status", "--target", "mysql://me:pw-hidden@h/db"])
    for result in (run, status):
        assert result.exit_code == 1 and "unsupported target scheme" in result.output
        assert "pw-hidden" not in result.output


FOREIGN = "https://elsewhere.example/x?$deltatoken=TOKEN-IN-THE-LINK"


def test_a_link_to_another_server_is_an_invalid_response_that_never_shows_it(
    mirror_target: str,
) -> None:
    """The SDK refuses such a link with a ValueError; from the server, it is a response
    outside the contract, at each place the sync hands the SDK a link."""
    request = SyncRequest(("clockings",), dt.date(2026, 1, 1))
    connection = SyncConnection(BASE, TENANT, CLIENT_ID, SECRET)
    first_page = httpx.Response(200, json={"value": [], "nextLink": FOREIGN})

    def sync(api: FakeApi) -> None:
        mirror = Mirror(mirror_target)
        try:
            options = {"transport": httpx.MockTransport(api)}
            run_sync(connection, mirror, request, client_options=options)
        finally:
            mirror.close()

    def refused(api: FakeApi) -> str:
        with pytest.raises(InvalidResponse, match="link to another server") as raised:
            sync(api)
        return str(raised.value)

    # Following the first page's nextLink; then resuming from it, stored with the page.
    walked = FakeApi().add(first_page)
    messages = [refused(walked), refused(FakeApi())]
    assert [r.url.path for r in walked.api_requests] == [f"{PREFIX}/clockings"]
    # Following a stored deltaLink.
    mirror = Mirror(mirror_target)
    try:
        state = mirror.state("clockings")
        assert state is not None and state.link == FOREIGN
        done = after_page(
            state, records=0, next_link=None, delta_link=FOREIGN, now=dt.datetime.now(dt.UTC)
        )
        mirror.save(state, done)
    finally:
        mirror.close()
    messages.append(refused(FakeApi()))
    assert all("TOKEN-IN-THE-LINK" not in m and "elsewhere" not in m for m in messages)
