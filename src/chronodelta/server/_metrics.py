"""Prometheus metrics; multi-process aware when several workers serve.

With ``--workers N`` the ``serve`` command sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start, and every worker writes its samples there, so that ``/metrics`` on any
worker reports the whole server.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "chronodelta_http_requests_total",
    "HTTP requests by method, route and status code",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "chronodelta_http_request_duration_seconds",
    "Time to the last byte of the response, by method and route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def render_metrics() -> tuple[bytes, str]:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
