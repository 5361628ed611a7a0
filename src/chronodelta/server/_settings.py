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


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


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
    # Issue 14, item 2: build a list's next page while the client reads this one
    # (server/records/_read_ahead.py); served only if the tenant did not change.
    page_read_ahead: bool = field(
        default_factory=lambda: _bool_env("CHRONODELTA_PAGE_READ_AHEAD", True)
    )
    max_body_bytes: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_MAX_BODY_BYTES", 1024 * 1024)
    )
    # Issue 10, item 4 (HTTP edges, enforced by _middleware.EdgeHttpProtocol in every
    # worker): the request line and headers together at most this many bytes (else 431);
    # a request must arrive whole within request_timeout_seconds of its first byte (else
    # 408, connection closed); an idle connection is closed after keep_alive_seconds.
    max_header_bytes: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_MAX_HEADER_BYTES", 32 * 1024)
    )
    request_timeout_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_REQUEST_TIMEOUT_SECONDS", 30)
    )
    keep_alive_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_KEEP_ALIVE_SECONDS", 5)
    )
    # Contract: a token lives 30 minutes.
    token_lifetime_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_LIFETIME_SECONDS", 1800)
    )
    # Issue 10, item 3: tokens issued per client and minute (only right secrets count).
    token_requests_per_minute: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE", 60)
    )
    # Issue 10, item 2 (docs/security.md): failed token requests per source address and
    # minute; argon2id verifications (19 MiB each) at once per worker; how long a token
    # request waits for one before it gets 429.
    token_failures_per_minute: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_FAILURES_PER_MINUTE", 30)
    )
    token_verify_concurrency: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_VERIFY_CONCURRENCY", 2)
    )
    token_verify_wait_ms: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_VERIFY_WAIT_MS", 1000)
    )
    # Issue 10, item 2: a failure past the per-source limit is answered (429) this long
    # after the request came, so that a flood from one address gets one answer per
    # connection and delay instead of as many as the worker can serve.
    token_failure_delay_ms: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_TOKEN_FAILURE_DELAY_MS", 1000)
    )
    # Issue 10, items 9 and 11 (docs/security.md): how old a worker's copy of the revoked
    # clients and of the signing keys may get. A revoked client's tokens are refused in
    # every worker within the first; a rotated key signs everywhere within the second
    # (a token with a key a worker has not seen yet makes it read the keys at once).
    revocation_refresh_seconds: float = field(
        default_factory=lambda: _float_env("CHRONODELTA_REVOCATION_REFRESH_SECONDS", 2.0)
    )
    key_refresh_seconds: float = field(
        default_factory=lambda: _float_env("CHRONODELTA_KEY_REFRESH_SECONDS", 10.0)
    )
    # Issue 10, item 10: the URL clients reach the server at ("https://api.example.com"),
    # which fixes the issuer and the discovery URLs; empty: built from each request.
    public_url: str | None = field(
        default_factory=lambda: os.environ.get("CHRONODELTA_PUBLIC_URL") or None
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
    # Issue 12 (docs/webhooks.md): a webhook's lifetime (validUntil); retries of one event
    # after its first attempt and the first wait (doubling, with jitter); the time one
    # delivery may take; webhooks delivered at once per worker; whether destinations
    # may resolve to loopback, private or link-local addresses (turn it off on a shared
    # back end); whether this process delivers at all (it always writes the outbox).
    webhook_lifetime_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_WEBHOOK_LIFETIME_SECONDS", 30 * 86400)
    )
    webhook_retries: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_WEBHOOK_RETRIES", 10)
    )
    webhook_backoff_seconds: float = field(
        default_factory=lambda: _float_env("CHRONODELTA_WEBHOOK_BACKOFF_SECONDS", 5.0)
    )
    webhook_timeout_seconds: float = field(
        default_factory=lambda: _float_env("CHRONODELTA_WEBHOOK_TIMEOUT_SECONDS", 10.0)
    )
    webhook_concurrency: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_WEBHOOK_CONCURRENCY", 16)
    )
    webhook_allow_private: bool = field(
        default_factory=lambda: _bool_env("CHRONODELTA_WEBHOOK_ALLOW_PRIVATE", True)
    )
    webhook_delivery: bool = field(
        default_factory=lambda: _bool_env("CHRONODELTA_WEBHOOK_DELIVERY", True)
    )
    # Issue 12, retention (webhooks/_retention.py): how long delivery attempts and ended
    # (deleted, disabled, expired) webhooks are kept, and the attempts kept per webhook.
    webhook_log_retention_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_WEBHOOK_LOG_RETENTION_SECONDS", 30 * 86400)
    )
    webhook_log_max_attempts: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_WEBHOOK_LOG_MAX_ATTEMPTS", 1000)
    )
    # Issue 13, item 5 (docs/sandbox.md, "Console"): serve the operator console at
    # /console; false (or `serve --no-console`) and every /console path is a 404.
    console: bool = field(default_factory=lambda: _bool_env("CHRONODELTA_CONSOLE", True))
    # Issue 13, items 2 and 3 (docs/sandbox.md): whether API calls meet the tenant's
    # fault rules (one indexed read per call) and are written to the request log; the
    # request bodies of writes are kept up to request_log_body_bytes; each worker writes
    # its rows every request_log_flush_ms and holds at most request_log_buffer_rows
    # unwritten (more are dropped and counted); retention keeps at most
    # request_log_max_rows rows per tenant, none older than request_log_max_age_seconds.
    faults: bool = field(default_factory=lambda: _bool_env("CHRONODELTA_FAULTS", True))
    request_log: bool = field(default_factory=lambda: _bool_env("CHRONODELTA_REQUEST_LOG", True))
    request_log_body_bytes: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_REQUEST_LOG_BODY_BYTES", 4096)
    )
    request_log_flush_ms: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_REQUEST_LOG_FLUSH_MS", 200)
    )
    request_log_buffer_rows: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_REQUEST_LOG_BUFFER_ROWS", 10_000)
    )
    request_log_max_rows: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_REQUEST_LOG_MAX_ROWS", 10_000)
    )
    request_log_max_age_seconds: int = field(
        default_factory=lambda: _int_env("CHRONODELTA_REQUEST_LOG_MAX_AGE_SECONDS", 7 * 86400)
    )

    def today(self) -> dt.date:
        return self.today_override or dt.date.today()

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 100_000:
            raise ValueError("CHRONODELTA_PAGE_SIZE must be between 1 and 100000")
        if self.delta_ttl_seconds < 0 or self.delta_overlap_seconds < 0:
            raise ValueError("delta TTL and overlap must not be negative")
        if not 0 <= self.revocation_refresh_seconds <= 300:
            raise ValueError("CHRONODELTA_REVOCATION_REFRESH_SECONDS must be between 0 and 300")
        if not 0 <= self.key_refresh_seconds <= 3600:
            raise ValueError("CHRONODELTA_KEY_REFRESH_SECONDS must be between 0 and 3600")
        if self.max_body_bytes < 1024:
            raise ValueError("CHRONODELTA_MAX_BODY_BYTES must be at least 1024")
        # Room for a 4,096-character URI (which gets its own 414) and the usual headers.
        if not 8192 <= self.max_header_bytes <= 1024 * 1024:
            raise ValueError("CHRONODELTA_MAX_HEADER_BYTES must be between 8192 and 1048576")
        if not 1 <= self.request_timeout_seconds <= 3600:
            raise ValueError("CHRONODELTA_REQUEST_TIMEOUT_SECONDS must be between 1 and 3600")
        if not 1 <= self.keep_alive_seconds <= 3600:
            raise ValueError("CHRONODELTA_KEEP_ALIVE_SECONDS must be between 1 and 3600")
        self._check_webhooks()
        self._check_request_log()

    def _check_webhooks(self) -> None:
        if self.webhook_lifetime_seconds < 1:
            raise ValueError("CHRONODELTA_WEBHOOK_LIFETIME_SECONDS must be at least 1")
        if not 0 <= self.webhook_retries <= 100:
            raise ValueError("CHRONODELTA_WEBHOOK_RETRIES must be between 0 and 100")
        if not 0 <= self.webhook_backoff_seconds <= 3600:
            raise ValueError("CHRONODELTA_WEBHOOK_BACKOFF_SECONDS must be between 0 and 3600")
        if not 0.1 <= self.webhook_timeout_seconds <= 300:
            raise ValueError("CHRONODELTA_WEBHOOK_TIMEOUT_SECONDS must be between 0.1 and 300")
        if not 1 <= self.webhook_concurrency <= 1000:
            raise ValueError("CHRONODELTA_WEBHOOK_CONCURRENCY must be between 1 and 1000")
        if self.webhook_log_retention_seconds < 1:
            raise ValueError("CHRONODELTA_WEBHOOK_LOG_RETENTION_SECONDS must be at least 1")
        if self.webhook_log_max_attempts < 1:
            raise ValueError("CHRONODELTA_WEBHOOK_LOG_MAX_ATTEMPTS must be at least 1")

    def _check_request_log(self) -> None:
        if not 0 <= self.request_log_body_bytes <= 1024 * 1024:
            raise ValueError("CHRONODELTA_REQUEST_LOG_BODY_BYTES must be between 0 and 1048576")
        if not 10 <= self.request_log_flush_ms <= 60_000:
            raise ValueError("CHRONODELTA_REQUEST_LOG_FLUSH_MS must be between 10 and 60000")
        if not 1 <= self.request_log_buffer_rows <= 1_000_000:
            raise ValueError("CHRONODELTA_REQUEST_LOG_BUFFER_ROWS must be between 1 and 1000000")
        if self.request_log_max_rows < 1:
            raise ValueError("CHRONODELTA_REQUEST_LOG_MAX_ROWS must be at least 1")
        if self.request_log_max_age_seconds < 1:
            raise ValueError("CHRONODELTA_REQUEST_LOG_MAX_AGE_SECONDS must be at least 1")
