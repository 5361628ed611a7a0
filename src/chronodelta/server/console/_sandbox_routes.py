"""The console's pages over the other sandbox controls (issue 13, items 1 to 4): a
tenant's deltas with their time left, the request log with filters, fault rules, the
tenant clock, and its snapshots and reset. Each calls the library function the CLI and
``/admin`` call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from chronodelta.server._services import services
from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.clock._model import DURATION_HELP, parse_duration, parse_moment
from chronodelta.server.clock._store import advance_clock, reset_clock, set_clock, show_clocks
from chronodelta.server.console import _sandbox_forms as forms
from chronodelta.server.console._access import (
    CONSOLE_PREFIX,
    FORM_SESSION,
    SESSION,
    OperatorSession,
    console_state,
)
from chronodelta.server.console._pages import render
from chronodelta.server.console._web import PageNotFound, notice, reasons, redirect, tenant_of, url
from chronodelta.server.delta._admin import expire_delta, list_deltas
from chronodelta.server.faults._rules import add_fault_rule, clear_fault_rules, list_fault_rules
from chronodelta.server.request_log._store import query_request_log
from chronodelta.server.snapshots._service import (
    delete_snapshot,
    list_snapshots,
    reset_tenant,
    restore_tenant,
    snapshot_tenant,
)
from chronodelta.server.snapshots._store import SEEDED

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
Field = Annotated[str, Form()]
Filter = Annotated[str, Query()]


# ---- deltas -----------------------------------------------------------------------


@router.get("/tenants/{tenant}/deltas")
def deltas(request: Request, tenant: str, signed_in: OperatorSession = SESSION) -> Response:
    tenant_of(request, tenant)
    found = services(request)
    shown = list_deltas(found.engine, tenant, ttl=found.deltas.ttl)
    return render(
        "deltas.html", signed_in=signed_in, tenant=tenant, deltas=shown, notice=notice(request)
    )


@router.post("/tenants/{tenant}/deltas/{delta_id}/expire")
def expire(
    request: Request, tenant: str, delta_id: int, _signed_in: OperatorSession = FORM_SESSION
) -> Response:
    try:
        expire_delta(console_state(request).engine, tenant, delta_id)
    except AdminError as exc:
        raise PageNotFound(str(exc)) from None
    return redirect(url(f"/tenants/{tenant}/deltas", notice="expired", id=str(delta_id)))


# ---- the request log --------------------------------------------------------------


@router.get("/tenants/{tenant}/requests")
def requests(
    request: Request,
    tenant: str,
    client: Filter = "",
    method: Filter = "",
    path: Filter = "",
    status: Filter = "",
    limit: Filter = "100",
    signed_in: OperatorSession = SESSION,
) -> Response:
    tenant_of(request, tenant)
    shown = forms.RequestFilter(client, method, path, status, limit)
    errors: list[str] = []
    try:
        rows = query_request_log(console_state(request).engine, tenant, shown.query())
    except AdminError as exc:
        rows, errors = [], reasons(exc)
    return render(
        "requests.html",
        signed_in=signed_in,
        status=400 if errors else 200,
        tenant=tenant,
        shown=shown,
        rows=[row.to_json() for row in rows],
        errors=errors,
        enabled=console_state(request).settings.request_log,
    )


# ---- fault rules ------------------------------------------------------------------


@router.get("/tenants/{tenant}/faults")
def faults(request: Request, tenant: str, signed_in: OperatorSession = SESSION) -> Response:
    return _faults_page(request, signed_in, tenant, forms.FaultForm())


def _faults_page(
    request: Request,
    signed_in: OperatorSession,
    tenant: str,
    form: forms.FaultForm,
    *,
    errors: list[str] | None = None,
) -> Response:
    tenant_of(request, tenant)
    state = console_state(request)
    return render(
        "faults.html",
        signed_in=signed_in,
        status=400 if errors else 200,
        tenant=tenant,
        rules=list_fault_rules(state.engine, tenant),
        form=form,
        errors=errors or [],
        notice=notice(request),
        enabled=state.settings.faults,
    )


@router.post("/tenants/{tenant}/faults")
def add_fault(
    request: Request,
    tenant: str,
    client: Field = "",
    method: Field = "",
    path: Field = "",
    action: Field = "status",
    status: Field = "",
    retry_after: Field = "",
    latency_ms: Field = "",
    count: Field = "",
    probability: Field = "",
    signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    form = forms.FaultForm(
        client, method, path, action, status, retry_after, latency_ms, count, probability
    )
    tenant_of(request, tenant)
    try:
        rule = add_fault_rule(console_state(request).engine, tenant, form.spec())
    except AdminError as exc:
        return _faults_page(request, signed_in, tenant, form, errors=reasons(exc))
    return redirect(url(f"/tenants/{tenant}/faults", notice="fault-added", id=str(rule.id)))


@router.post("/tenants/{tenant}/faults/clear")
def clear_faults(
    request: Request,
    tenant: str,
    rule: Field = "",
    _signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    tenant_of(request, tenant)
    try:
        removed = clear_fault_rules(
            console_state(request).engine, tenant, int(rule) if rule.isdigit() else None
        )
    except AdminError as exc:
        raise PageNotFound(str(exc)) from None
    return redirect(url(f"/tenants/{tenant}/faults", notice="faults-cleared", id=str(removed)))


# ---- the tenant clock -------------------------------------------------------------


@router.get("/tenants/{tenant}/clock")
def clock(request: Request, tenant: str, signed_in: OperatorSession = SESSION) -> Response:
    return _clock_page(request, signed_in, tenant)


def _clock_page(
    request: Request, signed_in: OperatorSession, tenant: str, *, errors: list[str] | None = None
) -> Response:
    tenant_of(request, tenant)
    state = console_state(request)
    (shown,) = show_clocks(state.engine, tenant, pinned_today=state.settings.today_override)
    return render(
        "clock.html",
        signed_in=signed_in,
        status=400 if errors else 200,
        tenant=tenant,
        clock=shown,
        duration_help=DURATION_HELP,
        errors=errors or [],
        notice=notice(request),
    )


@router.post("/tenants/{tenant}/clock")
def change_clock(
    request: Request,
    tenant: str,
    change: Field = "",
    by: Field = "",
    time: Field = "",
    frozen: Field = "",
    signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    """One form, three buttons (``change``): advance by ``by``, set to ``time``, reset."""
    tenant_of(request, tenant)
    state = console_state(request)
    pinned = state.settings.today_override
    try:
        if change == "advance":
            advance_clock(state.engine, tenant, parse_duration(by), pinned_today=pinned)
        elif change == "set":
            moment = parse_moment(time)
            set_clock(state.engine, tenant, moment, frozen=frozen == "on", pinned_today=pinned)
        elif change == "reset":
            reset_clock(state.engine, tenant, pinned_today=pinned)
        else:
            raise AdminError("choose advance, set or reset")
    except (AdminError, ValueError) as exc:
        return _clock_page(request, signed_in, tenant, errors=[str(exc)])
    return redirect(url(f"/tenants/{tenant}/clock", notice="clock"))


# ---- reset and snapshots ----------------------------------------------------------


@router.get("/tenants/{tenant}/snapshots")
def snapshots(request: Request, tenant: str, signed_in: OperatorSession = SESSION) -> Response:
    return _snapshots_page(request, signed_in, tenant)


def _snapshots_page(
    request: Request, signed_in: OperatorSession, tenant: str, *, errors: list[str] | None = None
) -> Response:
    tenant_of(request, tenant)
    return render(
        "snapshots.html",
        signed_in=signed_in,
        status=400 if errors else 200,
        tenant=tenant,
        snapshots=list_snapshots(console_state(request).engine, tenant),
        errors=errors or [],
        notice=notice(request),
    )


@router.post("/tenants/{tenant}/snapshots")
def change_snapshots(
    request: Request,
    tenant: str,
    change: Field = "",
    name: Field = "",
    signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    """One form per button (``change``): take ``name``, restore it, delete it, or reset
    the tenant to its seeded state (``tenants snapshot/restore/delete-snapshot/reset``)."""
    tenant_of(request, tenant)
    engine, name = console_state(request).engine, name.strip()
    try:
        if change == "take":
            snapshot_tenant(engine, tenant, name)
        elif change == "restore":
            restore_tenant(engine, tenant, name)
        elif change == "delete":
            delete_snapshot(engine, tenant, name)
        elif change == "reset":
            reset_tenant(engine, tenant)
            name = SEEDED
        else:
            raise AdminError("choose take, restore, delete or reset")
    except AdminError as exc:
        return _snapshots_page(request, signed_in, tenant, errors=reasons(exc))
    return redirect(url(f"/tenants/{tenant}/snapshots", notice=f"snapshot-{change}", id=name))
