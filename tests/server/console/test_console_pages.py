"""The console's pages on a running server, on both databases (issue 13, item 5):
tenants and API clients (create, revoke), the person-day view (add, edit, delete a
clocking beside its calculated totals), webhooks and their deliveries. Each write is
checked through the API too: the console writes through the API's own backend, so
its changes are what the API, its deltas and its totals show.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx

from tests.server.conftest import SEED_UNTIL

from .conftest import API, SEEDED_FROM, Console, Sandbox

DAY_PAGE = "/console/tenants/acme/day"


def paid_minutes(api: httpx.Client, person: int, date: dt.date) -> int:
    """The person-day's paid presence through the API (0 when it has none)."""
    response = api.get(
        f"{API}/paid-presences", params={"filter": f"date eq '{date}' and person eq {person}"}
    )
    assert response.status_code == 200, response.text
    return sum(p["durationInMinutes"] for p in response.json()["value"])


def clockings_of(api: httpx.Client, person: int, date: dt.date) -> list[dict[str, Any]]:
    response = api.get(
        f"{API}/clockings", params={"filter": f"date eq '{date}' and person eq {person}"}
    )
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["value"]
    return records


def shown_paid_presence(html: str) -> str:
    """The duration cell(s) of the page's paid-presences table."""
    table = html.split('id="paid-presences"', 1)[1].split("</table>", 1)[0]
    return " ".join(re.findall(r'class="duration">([^<]*)<', table))


def shown_total(html: str, field: str) -> str:
    found = re.search(rf'data-field="{field}">([^<]*)<', html)
    assert found, html
    return found.group(1)


def hours(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def add_clocking(console: Console, person: int, date: dt.date, time: str) -> httpx.Response:
    page = f"{DAY_PAGE}?person={person}&date={date}"
    return console.submit(
        page,
        "/console/tenants/acme/clockings",
        person=str(person),
        date=str(date),
        time=time,
        kind="InOut",
    )


def test_the_person_day_view_adds_edits_and_deletes_through_the_api_backend(
    sandbox: Sandbox, console: Console
) -> None:
    person, date = 2, dt.date(2026, 1, 24)  # a day after the seeded ones: empty
    with sandbox.api() as api:
        # A delta started before the console's writes sees them (they are API writes).
        start = api.get(f"{API}/clockings", params={"filter": "date ge '2026-01-21'", "delta": ""})
        assert start.status_code == 200, start.text
        while "deltaLink" not in (page := start.json()):
            start = api.get(page["nextLink"])
        delta_link = page["deltaLink"]
        empty = console.get(DAY_PAGE, person=person, date=str(date))
        assert "No clocking on this day." in empty.text and shown_paid_presence(empty.text) == ""

        # Add: in at 08:00, out at 16:30; the redirect shows both and the paid presence.
        added = add_clocking(console, person, date, "08:00")
        assert added.status_code == 303, added.text
        assert "Clocking" in console.follow(added).text
        day = console.follow(add_clocking(console, person, date, "16:30"))
        stored = clockings_of(api, person, date)
        assert [c["timeOfDayInMinutes"] for c in stored] == [480, 990]
        minutes = paid_minutes(api, person, date)
        assert minutes > 0
        assert shown_paid_presence(day.text) == hours(minutes)
        [total] = api.get(
            f"{API}/calculated-totals",
            params={"filter": f"date eq '{date}' and person eq {person}"},
        ).json()["value"]
        assert shown_total(day.text, "timePresentDurationInMinutes") == hours(
            total["timePresentDurationInMinutes"]
        )

        # Edit: out at 12:00 instead; the totals follow, and the page shows them.
        out = stored[1]
        edit_page = f"/console/tenants/acme/clockings/{out['id']}"
        saved = console.submit(
            edit_page, edit_page, person=str(person), date=str(date), time="12:00",
            kind="InOut", version=out["changeVersion"],
        )  # fmt: skip
        assert saved.status_code == 303, saved.text
        later, shown = paid_minutes(api, person, date), console.follow(saved).text
        assert later < minutes and shown_paid_presence(shown) == hours(later)
        assert shown_total(shown, "timePresentDurationInMinutes") == hours(240)  # 08:00-12:00
        edited = api.get(f"{API}/clockings/{out['id']}").json()
        assert (edited["timeOfDayInMinutes"], edited["originalTimeOfDayInMinutes"]) == (720, 990)

        # An edit from a page shown before that change is refused (409), not applied.
        stale = console.submit(
            edit_page, edit_page, person=str(person), date=str(date), time="18:00",
            kind="InOut", version=out["changeVersion"],
        )  # fmt: skip
        assert stale.status_code == 409 and "If-Match" in stale.text
        assert api.get(f"{API}/clockings/{out['id']}").json()["timeOfDayInMinutes"] == 720

        # Delete: the clocking stays with status Deleted, and the paid presence goes.
        deleted = console.submit(
            f"{DAY_PAGE}?person={person}&date={date}",
            f"/console/tenants/acme/clockings/{out['id']}/delete",
            person=str(person), date=str(date), version=edited["changeVersion"],
        )  # fmt: skip
        assert deleted.status_code == 303, deleted.text
        assert api.get(f"{API}/clockings/{out['id']}").json()["status"] == "Deleted"
        assert paid_minutes(api, person, date) != later

        # The delta started before has every change, as InsertOrUpdate of their last state.
        changes = api.get(delta_link).json()["value"]
        ours = {c["data"]["id"]: c["data"] for c in changes if c["changeType"] == "InsertOrUpdate"}
        assert ours[out["id"]]["status"] == "Deleted"
        assert ours[stored[0]["id"]]["timeOfDayInMinutes"] == 480


def test_a_refused_clocking_shows_the_reasons_and_writes_nothing(
    sandbox: Sandbox, console: Console
) -> None:
    person, date = 3, dt.date(2026, 1, 25)
    page = f"{DAY_PAGE}?person={person}&date={date}"
    for fields, reason in (
        ({"time": "25:00", "kind": "InOut"}, "time: must be a time of day"),
        ({"time": "09:00", "kind": "Reason"}, "reason: required when kind is Reason"),
        ({"time": "09:00", "kind": "Sideways"}, "kind"),
        ({"time": "09:00", "kind": "InOut", "terminal": "999999"}, "terminal.id: 999999"),
    ):
        response = console.submit(
            page, "/console/tenants/acme/clockings", person=str(person), date=str(date), **fields
        )
        assert response.status_code == 400, (fields, response.text)
        assert "Refused:" in response.text and reason in response.text, (fields, response.text)
    with sandbox.api() as api:
        assert clockings_of(api, person, date) == []


def test_the_day_view_shows_a_seeded_day_as_the_api_does(
    sandbox: Sandbox, console: Console
) -> None:
    with sandbox.api() as api:
        totals = api.get(
            f"{API}/calculated-totals",
            params={"filter": f"date ge '{SEEDED_FROM}' and date le '{SEED_UNTIL}'"},
        ).json()["value"]
        total = totals[0]  # a seeded person-day with clockings and totals
        person, date = total["person"]["id"], dt.date.fromisoformat(total["date"])
        stored = clockings_of(api, person, date)
        minutes = paid_minutes(api, person, date)
    page = console.get(DAY_PAGE, person=str(person), date=str(date)).text
    assert stored and all(f'data-clocking="{c["id"]}"' in page for c in stored)
    assert shown_paid_presence(page) == (hours(minutes) if minutes else "")
    for field in ("timePresentDurationInMinutes", "flextimeBalanceInMinutes"):
        assert shown_total(page, field) == hours(total[field]), field
    assert console.get(DAY_PAGE, person="1", date="not-a-date").status_code == 400
    assert console.get("/console/tenants/nope/day").status_code == 404


def test_a_client_created_in_the_console_works_once_shown_and_is_revoked(
    sandbox: Sandbox, console: Console
) -> None:
    description = "<script>alert('x')</script> & co"
    created = console.submit(
        "/console/tenants/acme",
        "/console/tenants/acme/clients",
        description=description,
        scope=["connector-protimeapi-clockings.read"],
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    client_id = re.search(r'id="client-id">([^<]+)<', created.text)
    secret = re.search(r'id="client-secret">([^<]+)<', created.text)
    assert client_id and secret
    token = httpx.post(
        f"{sandbox.server.base_url}/tenants/acme/connect/token",
        headers={"User-Agent": "console-tests/1.0 (chronodelta)"},
        data={"grant_type": "client_credentials", "client_id": client_id.group(1),
              "client_secret": secret.group(1)},
    )  # fmt: skip
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "connector-protimeapi-clockings.read"

    listing = console.get("/console/tenants/acme").text
    assert client_id.group(1) in listing
    # Escaped, never markup; and no secret or hash on the page.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in listing
    assert "<script>alert" not in listing
    assert secret.group(1) not in listing and "$argon2" not in listing

    revoked = console.submit(
        "/console/tenants/acme", f"/console/tenants/acme/clients/{client_id.group(1)}/revoke"
    )
    assert revoked.status_code == 303
    assert f"Client {client_id.group(1)} revoked" in console.follow(revoked).text
    refused = httpx.get(
        f"{sandbox.server.base_url}{API}/clockings",
        params={"filter": "date eq '2026-01-02'"},
        headers={
            "User-Agent": "t/1 (c)",
            "Authorization": f"Bearer {token.json()['access_token']}",
        },
    )
    assert refused.status_code == 401
    none_chosen = console.submit("/console/tenants/acme", "/console/tenants/acme/clients")
    assert none_chosen.status_code == 400 and "Choose one scope" in none_chosen.text


def test_webhooks_and_their_deliveries_are_shown_without_their_signing_keys(
    sandbox: Sandbox, console: Console
) -> None:
    with sandbox.api() as api:
        created = api.post(
            f"{API}/webhooks",
            json={"destinationUrl": "http://127.0.0.1:9/hook?a=<b>", "collectionName": "clockings"},
        )
        assert created.status_code == 201, created.text
        webhook = created.json()
        assert webhook["signingKey"].startswith("whsec_")
    listing = console.get("/console/tenants/acme/webhooks")
    assert listing.status_code == 200
    assert webhook["id"] in listing.text and "http://127.0.0.1:9/hook?a=&lt;b&gt;" in listing.text
    detail = console.get(f"/console/tenants/acme/webhooks/{webhook['id']}")
    assert detail.status_code == 200 and "Deliveries" in detail.text
    for page in (listing.text, detail.text):
        assert "whsec_" not in page and webhook["signingKey"] not in page
    assert console.get("/console/tenants/acme/webhooks/not-a-webhook").status_code == 404
