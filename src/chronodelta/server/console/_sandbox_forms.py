"""The sandbox pages' forms as typed: text fields turned into the library's values.

A field that does not parse is an ``AdminError`` with the field's name, which the page
shows beside the form (as the CLI shows its own message); the library checks the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.faults._rules import FaultSpec
from chronodelta.server.request_log._store import RequestLogQuery


def _int(name: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise AdminError(f"{name}: must be a whole number, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class RequestFilter:
    """The request log's filters: client id, method, a piece of the path, a status
    ("503" or "5xx"), and how many of the newest calls to show."""

    client: str = ""
    method: str = ""
    path: str = ""
    status: str = ""
    limit: str = "100"

    def query(self) -> RequestLogQuery:
        return RequestLogQuery(
            client=self.client.strip() or None,
            method=self.method.strip() or None,
            path=self.path.strip() or None,
            status=self.status.strip() or None,
            limit=_int("limit", self.limit) or 100,
        )


@dataclass(frozen=True)
class FaultForm:
    """A fault rule as the form sends it (``action``: status, latency or drop)."""

    client: str = ""
    method: str = ""
    path: str = ""
    action: str = "status"
    status: str = "503"
    retry_after: str = ""
    latency_ms: str = ""
    count: str = ""
    probability: str = ""

    def spec(self) -> FaultSpec:
        if self.action not in ("status", "latency", "drop"):
            raise AdminError("action: choose status, latency or drop")
        probability = self.probability.strip()
        try:
            chance = float(probability) if probability else None
        except ValueError:
            message = f"probability: must be a number from 0 to 1, got {probability!r}"
            raise AdminError(message) from None
        return FaultSpec(
            client_id=self.client.strip() or None,
            method=self.method.strip() or None,
            path_glob=self.path.strip() or None,
            status_code=_int("status", self.status) if self.action == "status" else None,
            retry_after=_int("retry after", self.retry_after) if self.action == "status" else None,
            latency_ms=_int("latency", self.latency_ms) if self.action == "latency" else None,
            drop=self.action == "drop",
            count=_int("count", self.count),
            probability=chance,
        )
