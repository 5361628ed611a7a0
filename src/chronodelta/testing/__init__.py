"""Helpers for chronodelta's tests and benchmarks (not used by the server at run time)."""

from ._postgres import PostgresUnavailable, ThrowawayPostgres
from ._server import ServerProcess, free_port

__all__ = ["PostgresUnavailable", "ServerProcess", "ThrowawayPostgres", "free_port"]
