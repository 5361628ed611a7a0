"""Webhooks in the SDK: management on ``Client.webhooks`` / ``AsyncClient.webhooks``, and
``verify_webhook`` for the receiving side (docs/webhooks.md, docs/sdk.md).

The operations are I/O-free generators over ``Protocol.call`` (the house style of
``_protocol.py``); ``Webhooks`` and ``AsyncWebhooks`` only drive them.
"""

from __future__ import annotations

import binascii
import builtins
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from standardwebhooks.webhooks import Webhook as _Verifier
from standardwebhooks.webhooks import WebhookVerificationError as _Refused

from chronodelta.domain import API_PREFIX

from ._exceptions import FatalError
from ._protocol import Flow, Protocol, decode_json
from ._query import ExternalReferences, format_external_references

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._client import Client

PATH = f"{API_PREFIX}/webhooks"


class WebhookVerificationFailed(FatalError):
    """A delivery's signature, timestamp (more than 5 minutes off) or body is not valid."""


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    valid_until: dt.datetime
    status: str  # "Enabled" or "Disabled"
    destination_url: str
    collection_name: str
    external_references: str | None = None
    disabled_reason: str | None = None
    signing_key: str | None = None  # only in what ``create`` returns

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Webhook:
        return cls(
            id=wire["id"],
            valid_until=dt.datetime.fromisoformat(wire["validUntil"]),
            status=wire["status"],
            destination_url=wire["destinationUrl"],
            collection_name=wire["collectionName"],
            external_references=wire.get("externalReferences"),
            disabled_reason=wire.get("disabledReason"),
            signing_key=wire.get("signingKey"),
        )


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    event_id: str
    change_version: str
    attempt: int
    attempted_at: dt.datetime
    response_status: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event: a delta item (``change_type``, ``data``) and where it came from."""

    event_id: str  # the webhook-id header: the same on every retry of the event
    webhook_id: str
    collection_name: str
    change_type: str  # "InsertOrUpdate" or "Delete"
    data: dict[str, Any]

    @property
    def change_version(self) -> str:
        return str(self.data["changeVersion"])


def verify_webhook(headers: Mapping[str, str], body: bytes | str, key: str) -> list[WebhookEvent]:
    """The events of one delivery, once its Standard Webhooks signature checks out.

    ``key`` is the ``whsec_...`` signing key ``create`` returned. Raises
    ``WebhookVerificationFailed`` for a wrong or missing signature, a timestamp more
    than 5 minutes off, or a body that is not an event. chronodelta sends one event
    per POST; the list leaves room for batches.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        payload = _Verifier(key).verify(body, lowered)
    except (_Refused, ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise WebhookVerificationFailed(f"webhook delivery refused: {exc}") from None
    items = payload if isinstance(payload, list) else [payload]
    try:
        return [
            WebhookEvent(
                lowered["webhook-id"],
                str(item["webhookId"]),
                str(item["collectionName"]),
                str(item["changeType"]),
                dict(item["data"]),
            )
            for item in items
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise WebhookVerificationFailed(f"webhook delivery is not an event: {exc}") from None


# ---- the operations, as flows --------------------------------------------------------


def create_flow(
    protocol: Protocol, destination_url: str, collection: str, references: ExternalReferences
) -> Flow[Webhook]:
    query = f"?{urlencode({'externalReferences': format_external_references(references)})}"
    link = PATH + (query if references else "")
    body = {"destinationUrl": destination_url, "collectionName": collection}
    request, response = yield from protocol.call("POST", link, body=body)
    return Webhook.from_wire(decode_json(request, response))


def list_flow(protocol: Protocol, filter_text: str | None) -> Flow[list[Webhook]]:
    link = PATH + (f"?{urlencode({'filter': filter_text})}" if filter_text else "")
    request, response = yield from protocol.call("GET", link)
    return [Webhook.from_wire(w) for w in decode_json(request, response)["value"]]


def get_flow(protocol: Protocol, webhook_id: str) -> Flow[Webhook]:
    request, response = yield from protocol.call("GET", f"{PATH}/{webhook_id}")
    return Webhook.from_wire(decode_json(request, response))


def delete_flow(protocol: Protocol, webhook_id: str) -> Flow[None]:
    yield from protocol.call("DELETE", f"{PATH}/{webhook_id}")


def deliveries_flow(protocol: Protocol, webhook_id: str) -> Flow[list[WebhookDelivery]]:
    request, response = yield from protocol.call("GET", f"{PATH}/{webhook_id}/deliveries")
    return [
        WebhookDelivery(
            d["eventId"],
            d["changeVersion"],
            d["attempt"],
            dt.datetime.fromisoformat(d["attemptedAt"]),
            d["responseStatus"],
            d["latencyInMilliseconds"],
            d["error"],
        )
        for d in decode_json(request, response)["value"]
    ]


# ---- the twins -----------------------------------------------------------------------


class Webhooks:
    """``client.webhooks``: register, list, read and delete webhooks."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, destination_url: str, collection: str, *, external_references: ExternalReferences = ()
    ) -> Webhook:
        """Register a webhook; keep its ``signing_key``: it is shown only now."""
        flow = create_flow(self._client._protocol, destination_url, collection, external_references)
        return self._client._run(flow)

    def list(self, *, filter: str | None = None) -> list[Webhook]:
        """E.g. ``filter="status eq 'Disabled'"`` (status and collectionName)."""
        return self._client._run(list_flow(self._client._protocol, filter))

    def get(self, webhook_id: str) -> Webhook:
        return self._client._run(get_flow(self._client._protocol, webhook_id))

    def delete(self, webhook_id: str) -> None:
        self._client._run(delete_flow(self._client._protocol, webhook_id))

    def deliveries(self, webhook_id: str) -> builtins.list[WebhookDelivery]:
        return self._client._run(deliveries_flow(self._client._protocol, webhook_id))


class AsyncWebhooks:
    """``AsyncClient.webhooks``: as ``Webhooks``, awaited."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self, destination_url: str, collection: str, *, external_references: ExternalReferences = ()
    ) -> Webhook:
        flow = create_flow(self._client._protocol, destination_url, collection, external_references)
        return await self._client._run(flow)

    async def list(self, *, filter: str | None = None) -> list[Webhook]:
        return await self._client._run(list_flow(self._client._protocol, filter))

    async def get(self, webhook_id: str) -> Webhook:
        return await self._client._run(get_flow(self._client._protocol, webhook_id))

    async def delete(self, webhook_id: str) -> None:
        await self._client._run(delete_flow(self._client._protocol, webhook_id))

    async def deliveries(self, webhook_id: str) -> builtins.list[WebhookDelivery]:
        return await self._client._run(deliveries_flow(self._client._protocol, webhook_id))
