"""The SDK's webhooks (issue 12, item 6) against a real server and a loopback receiver,
on both databases: management on Client and AsyncClient, and verify_webhook."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import Engine

from chronodelta.client import (
    AsyncClient,
    Client,
    NotFound,
    WebhookVerificationFailed,
    verify_webhook,
)
from tests.server.webhooks.receiver import USER_AGENT, Receiver, post_clocking, provision


def test_manage_and_verify_with_the_sdk(engine: Engine, database_url: str) -> None:
    tenant = provision(engine, database_url)
    with Receiver() as receiver, tenant.server() as server:
        client = Client(
            server.base_url, "acme", tenant.client_id, tenant.client_secret, user_agent=USER_AGENT
        )
        with client, tenant.http(server) as http:
            created = client.webhooks.create(
                receiver.url, "clockings", external_references=[("people", "@employee-number")]
            )
            assert created.signing_key and created.signing_key.startswith("whsec_")
            assert created.external_references == "(people,@employee-number)"
            assert client.webhooks.get(created.id).signing_key is None
            assert [w.id for w in client.webhooks.list(filter="status eq 'Enabled'")] == [
                created.id
            ]
            assert client.webhooks.list(filter="status eq 'Disabled'") == []
            clocking = post_clocking(http)
            (got,) = receiver.wait_for(lambda r: len(r) == 1)
            (event,) = verify_webhook(got.headers, got.body, created.signing_key)
            assert (event.webhook_id, event.collection_name) == (created.id, "clockings")
            assert event.change_type == "InsertOrUpdate" and event.event_id == got.webhook_id
            assert event.change_version == clocking["changeVersion"]
            assert "@employee-number" in event.data["person"]["externalReferences"]
            with pytest.raises(WebhookVerificationFailed):
                verify_webhook(got.headers, got.body + b" ", created.signing_key)
            with pytest.raises(WebhookVerificationFailed):
                verify_webhook({}, got.body, created.signing_key)
            other_key = client.webhooks.create(receiver.url, "clockings").signing_key
            assert other_key is not None
            with pytest.raises(WebhookVerificationFailed):
                verify_webhook(got.headers, got.body, other_key)
            client.webhooks.delete(created.id)
            with pytest.raises(NotFound):
                client.webhooks.get(created.id)
            assert client.webhooks.deliveries(created.id)[0].response_status == 204


def test_the_async_client_manages_webhooks(engine: Engine, database_url: str) -> None:
    tenant = provision(engine, database_url)

    async def run(base_url: str, url: str) -> None:
        async with AsyncClient(
            base_url, "acme", tenant.client_id, tenant.client_secret, user_agent=USER_AGENT
        ) as client:
            created = await client.webhooks.create(url, "paid-presences")
            assert (await client.webhooks.get(created.id)).collection_name == "paid-presences"
            assert [w.id for w in await client.webhooks.list()] == [created.id]
            assert await client.webhooks.deliveries(created.id) == []
            await client.webhooks.delete(created.id)
            assert await client.webhooks.list() == []

    with Receiver() as receiver, tenant.server() as server:
        asyncio.run(run(server.base_url, receiver.url))
