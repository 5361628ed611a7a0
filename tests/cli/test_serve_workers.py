"""``chronodelta serve --workers N`` on PostgreSQL: several processes, one consistent API."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

PATH = "/connector/protimeapi/api/v1/clockings"


@pytest.mark.postgresql
def test_several_workers_serve_concurrent_writers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(request, "postgresql", tmp_path)
    client = provision_with_cli(url, people=3, days=2, until="2026-01-20")
    with (
        ServerProcess(url, args=["--workers", "3"]) as server,
        httpx.Client(
            base_url=server.base_url, headers={"User-Agent": "workers-test/1.0 (chronodelta)"}
        ) as http,
    ):
        auth = bearer(http, client)

        def create(minute: int) -> dict[str, object]:
            body = {
                "person": {"id": 1},
                "date": "2026-01-19",
                "timeOfDayInMinutes": minute,
                "kind": "InOut",
            }
            response = http.post(PATH, json=body, headers=auth)
            assert response.status_code == 201, response.text
            record: dict[str, object] = response.json()
            return record

        with ThreadPoolExecutor(max_workers=8) as pool:
            records = list(pool.map(create, range(60)))
        assert len({r["id"] for r in records}) == 60
        assert len({r["changeVersion"] for r in records}) == 60
        listed = http.get(
            PATH, headers=auth, params={"filter": "date eq '2026-01-19' and person eq 1"}
        ).json()["value"]
        assert {r["id"] for r in records} <= {r["id"] for r in listed}
        metrics = http.get("/metrics").text
        assert 'route="/connector/protimeapi/api/v1/clockings"' in metrics
    assert server.output.count("Application startup complete") >= 3
