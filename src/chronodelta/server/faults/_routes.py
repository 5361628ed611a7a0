"""``/admin/tenants/{tenant}/faults``: list, add and clear fault rules (operators only).

``POST`` takes ``{"client", "method", "path", "status", "retryAfter", "latencyMs",
"drop", "count", "probability"}`` (as ``faults add``'s options) and answers 201 with
the rule; ``DELETE`` clears every rule of the tenant, ``DELETE .../{id}`` one.
docs/sandbox.md, "Faults".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from chronodelta.server._errors import BadRequest, NotFound
from chronodelta.server._services import services
from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.faults._rules import (
    FaultRule,
    FaultRuleError,
    FaultSpec,
    add_fault_rule,
    clear_fault_rules,
    list_fault_rules,
)
from chronodelta.server.operators._access import ADMIN_PREFIX, Operator
from chronodelta.server.operators._routes import OPERATOR

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


class FaultRuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    client: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: int | None = Field(None, alias="retryAfter")
    latency_ms: int | None = Field(None, alias="latencyMs")
    drop: bool = False
    count: int | None = None
    probability: float | None = None

    def spec(self) -> FaultSpec:
        return FaultSpec(
            client_id=self.client,
            method=self.method,
            path_glob=self.path,
            status_code=self.status,
            retry_after=self.retry_after,
            latency_ms=self.latency_ms,
            drop=self.drop,
            count=self.count,
            probability=self.probability,
        )


def fault_rule_json(rule: FaultRule) -> dict[str, Any]:
    """A rule as the admin API and ``faults list --json`` show it."""
    return {
        "id": rule.id,
        "tenant": rule.tenant,
        "client": rule.client_id,
        "method": rule.method,
        "path": rule.path_glob,
        "action": rule.action,
        "status": rule.status_code,
        "retryAfter": rule.retry_after,
        "latencyMs": rule.latency_ms,
        "remaining": rule.remaining,
        "probability": rule.probability,
        "createdAt": rule.created_at.isoformat(),
        "does": rule.describe(),
    }


@router.get("/tenants/{tenant}/faults")
def faults_of_tenant(request: Request, tenant: str, _operator: Operator = OPERATOR) -> Any:
    try:
        rules = list_fault_rules(services(request).engine, tenant)
    except AdminError as exc:
        raise NotFound(str(exc)) from None
    return {"value": [fault_rule_json(rule) for rule in rules]}


@router.post("/tenants/{tenant}/faults", status_code=201)
async def add_fault(request: Request, tenant: str, _operator: Operator = OPERATOR) -> JSONResponse:
    # The body is parsed here, after the operator check: parsed by FastAPI, a malformed
    # one would get 400 before an API token got its 401.
    try:
        spec = FaultRuleBody.model_validate_json(await request.body() or b"{}").spec()
    except ValidationError as exc:
        raise BadRequest(reasons=[_describe(e) for e in exc.errors()]) from None
    try:
        rule = await run_in_threadpool(add_fault_rule, services(request).engine, tenant, spec)
    except FaultRuleError as exc:
        raise BadRequest(reasons=[str(exc)]) from None
    except AdminError as exc:
        raise NotFound(str(exc)) from None
    return JSONResponse(fault_rule_json(rule), status_code=201)


@router.delete("/tenants/{tenant}/faults")
def clear_faults(request: Request, tenant: str, _operator: Operator = OPERATOR) -> Any:
    return {"cleared": _cleared(request, tenant, None)}


@router.delete("/tenants/{tenant}/faults/{rule_id}")
def clear_fault(request: Request, tenant: str, rule_id: int, _operator: Operator = OPERATOR) -> Any:
    return {"cleared": _cleared(request, tenant, rule_id)}


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg', 'is invalid')}"


def _cleared(request: Request, tenant: str, rule_id: int | None) -> int:
    try:
        return clear_fault_rules(services(request).engine, tenant, rule_id)
    except AdminError as exc:  # no such tenant, or no such rule
        raise NotFound(str(exc)) from None
