"""Fault rules: add, list, clear, and the one read each API call makes.

Issue 13, item 2: "Rules live in the database, so they apply in every worker at once;
``--count`` is exact across workers". A counted rule is claimed with one conditional
``UPDATE ... SET remaining = remaining - 1 WHERE id = ? AND remaining > 0``: whichever
worker's update changes the row fired it, so N calls fail however many workers race.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import random
import re
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server._clock import utc_now
from chronodelta.server.admin._tenants import AdminError, tenant_id
from chronodelta.storage import plain_write_transaction, read_statement, read_transaction, tables

FaultAction = Literal["status", "latency", "drop"]
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_LATENCY_MS = 120_000
MAX_RETRY_AFTER = 86_400
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
# Answered without a Retry-After they would tell a client nothing about when to come back.
_NEEDS_RETRY_AFTER = frozenset({429, 503})


class FaultRuleError(AdminError):
    """A fault rule that cannot be added, or one that does not exist."""


@dataclass(frozen=True)
class FaultSpec:
    """What an operator asks for: which calls (None: any) and what happens to them."""

    client_id: str | None = None
    method: str | None = None
    path_glob: str | None = None
    status_code: int | None = None
    retry_after: int | None = None
    latency_ms: int | None = None
    drop: bool = False
    count: int | None = None
    probability: float | None = None


@dataclass(frozen=True)
class FaultRule:
    id: int
    tenant: str
    client_id: str | None
    method: str | None
    path_glob: str | None
    action: FaultAction
    status_code: int | None
    retry_after: int | None
    latency_ms: int | None
    remaining: int | None  # what is left of --count; None: unlimited
    probability: float | None
    created_at: dt.datetime

    def matches(self, client_id: str | None, method: str, path: str) -> bool:
        return (
            (self.client_id is None or self.client_id == client_id)
            and (self.method is None or self.method == method)
            and (self.path_glob is None or fnmatch.fnmatchcase(path, self.path_glob))
        )

    def describe(self) -> str:
        """What the rule does, as the request log shows it ("status 503", "drop")."""
        if self.action == "status":
            return f"status {self.status_code}"
        if self.action == "latency":
            return f"latency {self.latency_ms} ms"
        return "drop"


def add_fault_rule(engine: Engine, tenant: str, spec: FaultSpec) -> FaultRule:
    """Add a rule to ``tenant``; it applies from the next API call, in every worker."""
    values = _checked_values(spec)
    found = tenant_id(engine, tenant)
    with plain_write_transaction(engine) as connection:
        new_id = connection.execute(
            tables.fault_rules.insert().values(tenant_id=found, created_at=utc_now(), **values)
        ).inserted_primary_key
    assert new_id is not None
    return _one(engine, int(new_id[0]))


def list_fault_rules(engine: Engine, tenant: str | None = None) -> list[FaultRule]:
    """Every rule (of ``tenant``), oldest first: the order in which they are tried."""
    query = _RULES.order_by(tables.fault_rules.c.id)
    if tenant is not None:
        query = query.where(tables.fault_rules.c.tenant_id == tenant_id(engine, tenant))
    with read_transaction(engine) as connection:
        return [_rule(row) for row in connection.execute(query)]


def clear_fault_rules(engine: Engine, tenant: str, rule_id: int | None = None) -> int:
    """Remove ``tenant``'s rules (or only ``rule_id``); how many were removed."""
    rules = tables.fault_rules
    where = rules.c.tenant_id == tenant_id(engine, tenant)
    if rule_id is not None:
        where = sa.and_(where, rules.c.id == rule_id)
    with plain_write_transaction(engine) as connection:
        removed = connection.execute(rules.delete().where(where)).rowcount
    if rule_id is not None and not removed:
        raise FaultRuleError(f"tenant {tenant} has no fault rule {rule_id}")
    return int(removed)


class FaultRules:
    """The per-call check, one per worker: read the tenant's live rules, fire the first.

    One indexed read per call (``ix_fault_rules_tenant_id_id``; BENCHMARKS.md,
    "Sandbox overhead"); a write only when a counted rule fires.
    """

    def __init__(self, engine: Engine, chance: random.Random | None = None) -> None:
        self._engine = engine
        self._chance = chance or random.Random()

    def fired(self, tenant: str, client_id: str | None, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this call, if any (the oldest matching one that does)."""
        for row in read_statement(self._engine, _LIVE_RULES, {"tenant": tenant}):
            rule = _rule(row)
            if not rule.matches(client_id, method, path):
                continue
            if rule.probability is not None and self._chance.random() >= rule.probability:
                continue
            if rule.remaining is None or self._claim(rule.id):
                return rule
        return None

    def _claim(self, rule_id: int) -> bool:
        """Take one of a counted rule's remaining calls; False if another worker took the last."""
        with plain_write_transaction(self._engine) as connection:
            return bool(connection.execute(_CLAIM, {"rule": rule_id}).rowcount)


_RULES = sa.select(tables.fault_rules, tables.tenants.c.name.label("tenant")).join(
    tables.tenants, tables.tenants.c.id == tables.fault_rules.c.tenant_id
)
# Built once: every API call of a tenant runs it.
_LIVE_RULES = _RULES.where(
    tables.tenants.c.name == sa.bindparam("tenant"),
    sa.or_(tables.fault_rules.c.remaining.is_(None), tables.fault_rules.c.remaining > 0),
).order_by(tables.fault_rules.c.id)
_CLAIM = (
    tables.fault_rules.update()
    .where(tables.fault_rules.c.id == sa.bindparam("rule"), tables.fault_rules.c.remaining > 0)
    .values(remaining=tables.fault_rules.c.remaining - 1)
)


def _one(engine: Engine, rule_id: int) -> FaultRule:
    with read_transaction(engine) as connection:
        return _rule(connection.execute(_RULES.where(tables.fault_rules.c.id == rule_id)).one())


def _rule(row: sa.Row[tuple[object, ...]]) -> FaultRule:
    m = row._mapping
    return FaultRule(
        id=int(m["id"]),
        tenant=str(m["tenant"]),
        client_id=m["client_id"],
        method=m["method"],
        path_glob=m["path_glob"],
        action=m["action"],
        status_code=m["status_code"],
        retry_after=m["retry_after"],
        latency_ms=m["latency_ms"],
        remaining=m["remaining"],
        probability=m["probability"],
        created_at=m["created_at"],
    )


def _checked_values(spec: FaultSpec) -> dict[str, object]:
    """The row for ``spec``, or FaultRuleError saying what is wrong with it."""
    actions = [spec.status_code is not None, spec.latency_ms is not None, spec.drop]
    if sum(actions) != 1:
        raise FaultRuleError("give exactly one of --status, --latency-ms and --drop")
    if spec.count is not None and spec.probability is not None:
        raise FaultRuleError("give --count or --probability, not both")
    if spec.count is not None and not 1 <= spec.count <= 1_000_000:
        raise FaultRuleError("--count must be between 1 and 1000000")
    if spec.probability is not None and not 0.0 <= spec.probability <= 1.0:
        raise FaultRuleError("--probability must be between 0 and 1")
    if spec.status_code is not None and not 400 <= spec.status_code <= 599:
        raise FaultRuleError("--status must be an error status, 400 to 599")
    action: FaultAction = "status" if actions[0] else "latency" if actions[1] else "drop"
    return {
        **_matching(spec),
        "action": action,
        "status_code": spec.status_code,
        "retry_after": _retry_after(spec),
        "latency_ms": _latency(spec),
        "remaining": spec.count,
        "probability": spec.probability,
    }


def _matching(spec: FaultSpec) -> dict[str, str | None]:
    method = spec.method.upper() if spec.method else None
    if method is not None and method not in METHODS:
        raise FaultRuleError(f"--method must be one of {', '.join(sorted(METHODS))}")
    if spec.client_id is not None and not (
        len(spec.client_id) <= 64 and _PRINTABLE.fullmatch(spec.client_id)
    ):
        raise FaultRuleError("--client must be a client id (at most 64 printable characters)")
    glob = spec.path_glob or None
    if glob is not None and not (glob.startswith(("/", "*")) and len(glob) <= 500):
        raise FaultRuleError("--path must be a glob of the path, starting with / or *")
    return {"client_id": spec.client_id, "method": method, "path_glob": glob}


def _retry_after(spec: FaultSpec) -> int | None:
    if spec.retry_after is not None:
        if spec.status_code is None:
            raise FaultRuleError("--retry-after goes with --status")
        if not 0 <= spec.retry_after <= MAX_RETRY_AFTER:
            raise FaultRuleError(f"--retry-after must be between 0 and {MAX_RETRY_AFTER}")
        return spec.retry_after
    return 1 if spec.status_code in _NEEDS_RETRY_AFTER else None


def _latency(spec: FaultSpec) -> int | None:
    if spec.latency_ms is not None and not 1 <= spec.latency_ms <= MAX_LATENCY_MS:
        raise FaultRuleError(f"--latency-ms must be between 1 and {MAX_LATENCY_MS}")
    return spec.latency_ms
