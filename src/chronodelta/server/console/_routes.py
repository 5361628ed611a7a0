"""The console's routes: parse the form or query, call one library function, render.

Every route takes ``SESSION`` (a page) or ``FORM_SESSION`` (a form POST, CSRF-checked);
only the login page and the static assets do without, and even they refuse an
``Authorization`` header (``_access``). A POST that changes something answers with a
redirect to the page that shows the change (so reloading does not post twice), or
renders its form again with the reasons it was refused.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from chronodelta.domain import SERVED_SCOPES, Scope
from chronodelta.server._clock import utc_now
from chronodelta.server._errors import ApiError, BadRequest
from chronodelta.server._services import services
from chronodelta.server.admin._clients import list_clients, revoke_client
from chronodelta.server.admin._tenants import AdminError, create_client
from chronodelta.server.console import _views as views
from chronodelta.server.console._access import (
    CONSOLE_PREFIX,
    FORM_SESSION,
    SESSION,
    CsrfRefused,
    OperatorSession,
    console_state,
    no_authorization_header,
    secure_cookies,
    verify_login,
)
from chronodelta.server.console._pages import (
    STATIC,
    STATIC_TYPES,
    render,
)
from chronodelta.server.console._session import (
    LOGIN_COOKIE,
    LOGIN_FORM_LIFETIME,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    new_login_nonce,
    new_session,
)
from chronodelta.server.console._web import (
    PageNotFound,
    notice,
    reasons,
    redirect,
    tenant_of,
    tenant_today,
    url,
)
from chronodelta.server.console._writes import ClockingWrites
from chronodelta.server.webhooks._backend import webhook_filter
from chronodelta.server.webhooks._outbox import subscribable_collections

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
ANONYMOUS = Depends(no_authorization_header)
# Where a login may send the browser back to: a console path, nothing else.
_NEXT = re.compile(r"/console(?:/[\w./~%-]*)?(?:\?[\w.~%&=+,:'-]*)?")


# ---- login, logout, assets --------------------------------------------------------


@router.get("/login", dependencies=[ANONYMOUS])
def login_page(request: Request, next: str = "") -> Response:
    return _login_form(request, next, errors=[], status=200)


@router.post("/login", dependencies=[ANONYMOUS])
def login(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    state = console_state(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not state.signer.csrf_matches("login:" + nonce, csrf):
        raise CsrfRefused()
    password_hash = verify_login(state.engine, name.strip(), password)
    if password_hash is None:
        return _login_form(request, next, errors=["Wrong operator name or password"], status=401)
    session = new_session(name.strip(), utc_now())
    response = redirect(next if _NEXT.fullmatch(next) else CONSOLE_PREFIX)
    response.set_cookie(
        SESSION_COOKIE,
        state.signer.cookie(session, password_hash),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=CONSOLE_PREFIX,
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(LOGIN_COOKIE, path=CONSOLE_PREFIX, httponly=True, samesite="strict")
    return response


def _login_form(request: Request, next: str, *, errors: list[str], status: int) -> Response:
    nonce = new_login_nonce()
    response = render(
        "login.html",
        signed_in=None,
        status=status,
        headers={"WWW-Authenticate": 'Session realm="chronodelta console"'}
        if status == 401
        else None,
        login_csrf=console_state(request).signer.csrf_token("login:" + nonce),
        next=next if _NEXT.fullmatch(next) else "",
        errors=errors,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=int(LOGIN_FORM_LIFETIME.total_seconds()),
        path=CONSOLE_PREFIX,
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
def logout(_signed_in: OperatorSession = FORM_SESSION) -> Response:
    response = redirect(f"{CONSOLE_PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PREFIX, httponly=True, samesite="strict")
    return response


@router.get("/static/{name}", dependencies=[ANONYMOUS])
def static_asset(name: str) -> Response:
    if name not in STATIC_TYPES:
        raise PageNotFound(f"No console asset named {name!r}")
    return Response(
        (STATIC / name).read_bytes(),
        media_type=STATIC_TYPES[name],
        headers={"Cache-Control": "no-cache"},
    )


# ---- tenants and API clients ------------------------------------------------------


@router.get("")
def tenants(request: Request, signed_in: OperatorSession = SESSION) -> Response:
    summaries = views.tenant_summaries(console_state(request).engine)
    return render("tenants.html", signed_in=signed_in, summaries=summaries)


@router.get("/tenants/{tenant}")
def clients(request: Request, tenant: str, signed_in: OperatorSession = SESSION) -> Response:
    return _clients_page(request, signed_in, tenant)


def _clients_page(
    request: Request,
    signed_in: OperatorSession,
    tenant: str,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    engine = console_state(request).engine
    tenant_of(request, tenant)
    return render(
        "clients.html",
        signed_in=signed_in,
        status=status,
        tenant=tenant,
        clients=list_clients(engine, tenant),
        scopes=[s.value for s in SERVED_SCOPES],
        errors=errors or [],
        notice=notice(request),
    )


@router.post("/tenants/{tenant}/clients")
def create_api_client(
    request: Request,
    tenant: str,
    description: Annotated[str, Form()] = "",
    scope: Annotated[list[str] | None, Form()] = None,
    signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    tenant_of(request, tenant)
    known = {s.value for s in SERVED_SCOPES}
    unknown = sorted(set(scope or ()) - known)
    if unknown or not scope:
        reasons = [f"scope: {s!r} is not a scope this server serves" for s in unknown]
        return _clients_page(
            request, signed_in, tenant, errors=reasons or ["Choose one scope at least"], status=400
        )
    engine = console_state(request).engine
    created = create_client(engine, tenant, [Scope(s) for s in scope], description.strip())
    # Shown this once, on a page that is never cached (PAGE_HEADERS), never again.
    return render("client_created.html", signed_in=signed_in, tenant=tenant, client=created)


@router.post("/tenants/{tenant}/clients/{client_id}/revoke")
def revoke_api_client(
    request: Request, tenant: str, client_id: str, _signed_in: OperatorSession = FORM_SESSION
) -> Response:
    try:
        revoke_client(console_state(request).engine, tenant, client_id)
    except AdminError as exc:
        raise PageNotFound(str(exc)) from None
    return redirect(url(f"/tenants/{tenant}", notice="revoked", id=client_id))


# ---- the person-day view ----------------------------------------------------------


ClockingFields = Annotated[str, Form()]


def clocking_form(
    date: ClockingFields = "",
    time: ClockingFields = "",
    kind: ClockingFields = "",
    terminal: ClockingFields = "",
    reason: ClockingFields = "",
    is_open: ClockingFields = "",
    activity: ClockingFields = "",
) -> views.ClockingForm:
    return views.ClockingForm(date, time, kind, terminal, reason, is_open, activity)


CLOCKING_FORM = Depends(clocking_form)


@router.get("/tenants/{tenant}/day")
def person_day(
    request: Request,
    tenant: str,
    person: Annotated[str, Query()] = "",
    date: Annotated[str, Query()] = "",
    signed_in: OperatorSession = SESSION,
) -> Response:
    return _day_page(request, signed_in, tenant, person, date)


def _day_page(
    request: Request,
    signed_in: OperatorSession,
    tenant: str,
    person: str,
    date: str,
    *,
    errors: list[str] | None = None,
    status: int = 200,
    form: views.ClockingForm | None = None,
) -> Response:
    owner = tenant_of(request, tenant)
    engine = console_state(request).engine
    choices = views.day_choices(engine, owner)
    try:
        day = views.parse_day(date, tenant_today(request, tenant))
    except ApiError as exc:
        day, errors, status = tenant_today(request, tenant), exc.reasons, 400
    person_id = _person_id(person, choices)
    shown = None if person_id is None else views.person_day(engine, owner, person_id, day)
    return render(
        "day.html",
        signed_in=signed_in,
        status=status,
        tenant=tenant,
        choices=choices,
        person_id=person_id,
        date=day,
        day=shown,
        form=form or views.ClockingForm(date=day.isoformat(), time="", kind="InOut"),
        errors=errors or [],
        notice=notice(request),
    )


def _person_id(text: str, choices: views.DayChoices) -> int | None:
    if text.strip().isdigit():
        return int(text)
    return int(choices.people[0].value) if choices.people else None


@router.post("/tenants/{tenant}/clockings")
def create_clocking(
    request: Request,
    tenant: str,
    person: Annotated[str, Form()] = "",
    form: views.ClockingForm = CLOCKING_FORM,
    signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    writes = _writes(request, tenant, signed_in)
    try:
        record = writes.create(views.clocking_body(_form_person(person), form))
    except ApiError as exc:
        return _day_page(
            request, signed_in, tenant, person, form.date, errors=reasons(exc),
            status=exc.status_code, form=form,
        )  # fmt: skip
    return redirect(_dayurl(tenant, person, record["date"], "created", record["id"]))


@router.get("/tenants/{tenant}/clockings/{clocking_id}")
def clocking_page(
    request: Request, tenant: str, clocking_id: int, signed_in: OperatorSession = SESSION
) -> Response:
    return _clocking_page(request, signed_in, tenant, clocking_id)


def _clocking_page(
    request: Request,
    signed_in: OperatorSession,
    tenant: str,
    clocking_id: int,
    *,
    errors: list[str] | None = None,
    status: int = 200,
    form: views.ClockingForm | None = None,
) -> Response:
    owner = tenant_of(request, tenant)
    try:
        record = services(request).backend.get_clocking(owner, clocking_id)
    except ApiError as exc:
        raise PageNotFound(exc.message) from None
    return render(
        "clocking.html",
        signed_in=signed_in,
        status=status,
        tenant=tenant,
        clocking=record,
        choices=views.day_choices(console_state(request).engine, owner),
        form=form or views.ClockingForm.of(record),
        errors=errors or [],
    )


@router.post("/tenants/{tenant}/clockings/{clocking_id}")
def update_clocking(
    request: Request,
    tenant: str,
    clocking_id: int,
    person: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    form: views.ClockingForm = CLOCKING_FORM,
    signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    writes = _writes(request, tenant, signed_in)
    try:
        body = views.clocking_body(_form_person(person), form)
        record = writes.update(clocking_id, body, version)
    except ApiError as exc:
        return _clocking_page(
            request, signed_in, tenant, clocking_id, errors=reasons(exc),
            status=exc.status_code, form=form,
        )  # fmt: skip
    return redirect(_dayurl(tenant, person, record["date"], "saved", clocking_id))


@router.post("/tenants/{tenant}/clockings/{clocking_id}/delete")
def delete_clocking(
    request: Request,
    tenant: str,
    clocking_id: int,
    person: Annotated[str, Form()] = "",
    date: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    signed_in: OperatorSession = FORM_SESSION,
) -> Response:
    writes = _writes(request, tenant, signed_in)
    try:
        writes.delete(clocking_id, version)
    except ApiError as exc:
        return _day_page(
            request, signed_in, tenant, person, date, errors=reasons(exc),
            status=exc.status_code,
        )  # fmt: skip
    return redirect(_dayurl(tenant, person, date, "deleted", clocking_id))


def _writes(request: Request, tenant: str, signed_in: OperatorSession) -> ClockingWrites:
    return ClockingWrites(services(request), tenant, tenant_of(request, tenant), signed_in.operator)


def _form_person(text: str) -> int:
    if not text.strip().isdigit():
        raise BadRequest(reasons=["person: choose a person"])
    return int(text)


def _dayurl(tenant: str, person: str, date: object, notice: str, record_id: object) -> str:
    return url(
        f"/tenants/{tenant}/day", person=person, date=str(date), notice=notice, id=str(record_id)
    )


# ---- webhooks ---------------------------------------------------------------------


@router.get("/tenants/{tenant}/webhooks")
def webhooks(request: Request, tenant: str, signed_in: OperatorSession = SESSION) -> Response:
    owner = tenant_of(request, tenant)
    found = services(request).webhooks.list(owner, webhook_filter(None), subscribable_collections())
    return render("webhooks.html", signed_in=signed_in, tenant=tenant, webhooks=found)


@router.get("/tenants/{tenant}/webhooks/{webhook_id}")
def webhook(
    request: Request, tenant: str, webhook_id: str, signed_in: OperatorSession = SESSION
) -> Response:
    owner = tenant_of(request, tenant)
    backend, readable = services(request).webhooks, subscribable_collections()
    try:
        log = backend.deliveries(owner, webhook_id, readable)["value"]
    except ApiError as exc:
        raise PageNotFound(exc.message) from None
    try:
        shown = backend.get(owner, webhook_id, readable)
    except ApiError:
        shown = None  # deleted: its delivery log stays (contract, "Webhooks")
    return render(
        "webhook.html",
        signed_in=signed_in,
        tenant=tenant,
        webhook_id=webhook_id,
        webhook=shown,
        deliveries=log,
    )
