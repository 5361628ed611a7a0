"""Helpers for chronodelta's tests and benchmarks (not used by the server at run time)."""

from ._load import (
    Acknowledged,
    ApiClient,
    Exchange,
    LoadConfig,
    LoadError,
    LoadResult,
    RequestKind,
    describe_exchanges,
    run_load,
)
from ._postgres import PostgresUnavailable, ThrowawayPostgres
from ._server import ServerProcess, free_port

__all__ = [
    "Acknowledged",
    "ApiClient",
    "Exchange",
    "LoadConfig",
    "LoadError",
    "LoadResult",
    "PostgresUnavailable",
    "RequestKind",
    "ServerProcess",
    "ThrowawayPostgres",
    "describe_exchanges",
    "free_port",
    "run_load",
]
