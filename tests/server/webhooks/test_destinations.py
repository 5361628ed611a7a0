"""URL rules and the SSRF guard at delivery time (issue 12, item 5)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from chronodelta.server.webhooks._destinations import (
    DestinationRefused,
    delivery_target,
    refusal,
    url_problem,
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "169.254.169.254",
        "10.1.2.3",
        "192.168.0.1",
        "::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_non_global_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


def test_global_addresses_pass() -> None:
    assert refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("2606:4700::1111")) is None


def test_each_delivery_checks_again_and_pins_the_address() -> None:
    # "refused at registration and again at each delivery (DNS may change)".
    with pytest.raises(DestinationRefused, match="loopback"):
        asyncio.run(delivery_target("http://localhost:8080/x", allow_private=False))
    target = asyncio.run(delivery_target("http://localhost:8080/x", allow_private=True))
    assert target.url == "http://localhost:8080/x" and target.host_header is None


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://x/",
        "http:///x",
        "https://a@b/",
        "http://h/x#f",
        "http://h:99999/",
        "http://h/a b",
        "http://" + "h" * 2050,
    ],
)
def test_url_problems(url: str) -> None:
    assert url_problem(url) is not None
