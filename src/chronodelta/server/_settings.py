"""Server settings, read from the environment (so that every worker process agrees)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from chronodelta.storage import busy_timeout_from_env, resolve_database_url


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _date_env(name: str) -> dt.date | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=resolve_database_url)
    # How long a request waits for a database lock or connection before it gets 503
    # with Retry-After (CHRONODELTA_DB_BUSY_TIMEOUT_SECONDS, docs/architecture.md).
    db_busy_timeout: float = field(default_factory=busy_timeout_from_env)
    # Contract, "Paging": the page size is the server's choice.
    page_size: int = field(default_factory=lambda: _int_env("CHRONODELTA_PAGE_SIZE", 1000))
    max_body_bytes: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_MAX_BODY_BYTES", 1024 * 1024)
    )
    # Contract: a token lives 30 minutes.
    token_lifetime_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_LIFETIME_SECONDS", 1800)
    )
    token_requests_per_minute: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE", 60)
    )
    # Hosts "<tenant>.<domain>" name a tenant; a token of another tenant is refused
    # there (contract, "Hosts and paths"). Other hosts (127.0.0.1, a proxy) name none.
    tenant_domains: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            os.environ.get("CHRONODELTA_TENANT_DOMAINS", "myprotime.eu localhost").split()
        )
    )

    # Contract, "Delta": a delta expires 72 hours after its last request.
    delta_ttl_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_DELTA_TTL_SECONDS", 72 * 3600)
    )
    # Contract, "Delta": the first call of a new deltaLink re-delivers the changes of
    # the last 5 minutes before the delta started, as the vendor's does.
    delta_overlap_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_DELTA_OVERLAP_SECONDS", 300)
    )
    # The date the delta rules count from ("start in the past, not before January 1st
    # of the previous year"). Empty means the real date; a sandbox may pin it to replay
    # the vendor's dated examples (CHRONODELTA_TODAY=2025-06-01).
    today_override: dt.date | None = field(default_factory=lambda: _date_env("CHRONODELTA_TODAY"))
    retention_interval_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_RETENTION_INTERVAL_SECONDS", 600)
    )

    def today(self) -> dt.date:
        return self.today_override or dt.date.today()

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 100_000:
            raise ValueError("CHRONODELTA_PAGE_SIZE must be between 1 and 100000")
        if self.delta_ttl_seconds < 0 or self.delta_overlap_seconds < 0:
            raise ValueError("delta TTL and overlap must not be negative")
        if self.max_body_bytes < 1024:
            raise ValueError("CHRONODELTA_MAX_BODY_BYTES must be at least 1024")
