"""``/admin/tenants/{tenant}/clock``: a tenant's clock over HTTP (docs/sandbox.md, "Time").

The same operations as ``chronodelta clock``, behind ``OPERATOR`` (an API token gets
401): ``GET`` shows it, ``PUT`` sets it to a time, ``POST .../advance`` moves it on,
``DELETE`` (or ``POST .../reset``) puts it back on the wall clock. Each answers the
clock as it is then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chronodelta.server._errors import BadRequest, NotFound
from chronodelta.server._services import services
from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.clock._model import DURATION_HELP, parse_duration, parse_moment
from chronodelta.server.clock._store import (
    ClockInfo,
    UnknownResource,
    advance_clock,
    reset_clock,
    set_clock,
    show_clocks,
)
from chronodelta.server.operators._access import ADMIN_PREFIX, Operator
from chronodelta.server.operators._routes import OPERATOR

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)
CLOCK = "/tenants/{tenant}/clock"
Body = TypeVar("Body", bound=BaseModel)


class AdvanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(description=DURATION_HELP, examples=["73h"])


class SetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: str = Field(description="ISO 8601 with its offset", examples=["2026-03-02T09:00:00Z"])
    frozen: bool = False


def operator_body(model: type[Body]) -> Callable[..., Awaitable[Body]]:
    """A dependency: the request's JSON body as ``model``, read only after the operator
    check. A body parameter would be parsed before any dependency, so a malformed body
    sent with an API token would get 400 instead of the 401 every /admin path gives."""

    async def parse(request: Request, _operator: Operator = OPERATOR) -> Body:
        try:
            return model.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            reasons = [
                f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
                for error in exc.errors()
            ]
            raise BadRequest(reasons=reasons) from None

    return parse


@contextmanager
def operator_errors() -> Iterator[None]:
    """An unknown tenant (or delta) is 404; any other refusal of the operation, 400."""
    try:
        yield
    except UnknownResource as exc:
        raise NotFound(str(exc)) from None
    except (AdminError, ValueError) as exc:
        raise BadRequest(reasons=[str(exc)]) from None


def clock_wire(info: ClockInfo) -> dict[str, Any]:
    return {
        "tenant": info.tenant,
        "now": info.now.isoformat(),
        "today": info.today.isoformat(),
        "offsetSeconds": info.offset_seconds,
        "frozen": info.frozen,
        "anchored": info.anchored,
    }


@router.get(CLOCK)
def get_clock(request: Request, tenant: str, _operator: Operator = OPERATOR) -> dict[str, Any]:
    pinned = services(request).settings.today_override
    with operator_errors():
        (info,) = show_clocks(services(request).engine, tenant, pinned_today=pinned)
    return clock_wire(info)


@router.put(CLOCK)
def put_clock(
    request: Request, tenant: str, body: SetBody = Depends(operator_body(SetBody))
) -> dict[str, Any]:
    found = services(request)
    with operator_errors():
        moment = parse_moment(body.time)
        info = set_clock(
            found.engine,
            tenant,
            moment,
            frozen=body.frozen,
            pinned_today=found.settings.today_override,
        )
    return clock_wire(info)


@router.post(CLOCK + "/advance")
def advance(
    request: Request, tenant: str, body: AdvanceBody = Depends(operator_body(AdvanceBody))
) -> dict[str, Any]:
    found = services(request)
    with operator_errors():
        by = parse_duration(body.by)
        info = advance_clock(found.engine, tenant, by, pinned_today=found.settings.today_override)
    return clock_wire(info)


@router.delete(CLOCK)
@router.post(CLOCK + "/reset")
def reset(request: Request, tenant: str, _operator: Operator = OPERATOR) -> dict[str, Any]:
    found = services(request)
    with operator_errors():
        info = reset_clock(found.engine, tenant, pinned_today=found.settings.today_override)
    return clock_wire(info)
