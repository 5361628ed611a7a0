"""What every console route uses: the tenant a path names, redirects, notices, errors."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import RedirectResponse

from chronodelta.server._errors import ApiError
from chronodelta.server.admin._tenants import AdminError, tenant_id
from chronodelta.server.clock._store import show_clocks
from chronodelta.server.console._access import CONSOLE_PREFIX, console_state
from chronodelta.server.console._pages import PAGE_HEADERS

# The sentences a redirect after a change may ask the next page to show: fixed text,
# with at most a record id in it (never text taken from the URL otherwise).
NOTICES = {
    "created": "Clocking {id} added",
    "saved": "Clocking {id} saved",
    "deleted": "Clocking {id} deleted",
    "revoked": "Client {id} revoked",
    "expired": "Delta {id} expired: its links answer 410 from now on",
    "fault-added": "Fault rule {id} added",
    "faults-cleared": "{id} fault rule(s) cleared",
    "clock": "The tenant's clock is changed",
    "snapshot-take": "Snapshot {id} taken",
    "snapshot-restore": "Restored snapshot {id}: the tenant's open deltas answer 410",
    "snapshot-delete": "Snapshot {id} deleted",
    "snapshot-reset": "Reset to the {id} state: the tenant's open deltas answer 410",
}


class PageNotFound(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def tenant_of(request: Request, tenant: str) -> int:
    """The id of the tenant the path names; 404 page when there is none."""
    try:
        return tenant_id(console_state(request).engine, tenant)
    except AdminError as exc:
        raise PageNotFound(str(exc)) from None


def tenant_today(request: Request, tenant: str) -> dt.date:
    """ "Today" by the tenant's clock (issue 13, item 1), which an operator may move."""
    state = console_state(request)
    (clock,) = show_clocks(state.engine, tenant, pinned_today=state.settings.today_override)
    return clock.today


def notice(request: Request) -> str | None:
    template = NOTICES.get(request.query_params.get("notice", ""))
    return None if template is None else template.format(id=request.query_params.get("id", ""))


def reasons(error: ApiError | AdminError) -> list[str]:
    if isinstance(error, AdminError):
        return [str(error)]
    return error.reasons or [error.message]


def url(path: str, **query: str) -> str:
    return f"{CONSOLE_PREFIX}{path}?{urlencode(query)}" if query else CONSOLE_PREFIX + path


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers=PAGE_HEADERS)
