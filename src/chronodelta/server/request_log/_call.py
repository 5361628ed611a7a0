"""What one API call has learnt about itself on its way through the app.

``CallRecorder`` puts a ``CallNotes`` in the ASGI scope of every API call; the access
check (``auth/_access.py``) fills in the caller once its token is verified and fires
the tenant's fault rules once it is admitted, in the route's thread. The recorder
reads the notes when the response goes out: a latency or drop rule acts there, at the
ASGI layer, and the log row names the caller and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from chronodelta.server.faults._injected import InjectedFault
from chronodelta.server.faults._rules import FaultRule, FaultRules

if TYPE_CHECKING:
    from chronodelta.server.auth._tokens import Principal

NOTES_KEY = "chronodelta.call"


@dataclass(frozen=True)
class Caller:
    tenant: str
    client_id: str | None


class CallNotes:
    """Mutable, but written at most once per field, by one thread at a time (the
    request's own path: the event loop, then the route's worker thread, then the loop)."""

    __slots__ = ("admitted", "caller", "fault", "faults")

    def __init__(self, faults: FaultRules | None) -> None:
        self.faults = faults
        self.caller: Caller | None = None
        self.fault: FaultRule | None = None
        self.admitted = False

    def admit(self, method: str, path: str, *, has_fault_rules: bool = True) -> None:
        """Fire the caller's fault rules, once per call; a status rule raises its error.

        ``has_fault_rules``: False when the tenant is known to have none live (the
        request's read of its tenant, ``server/_tenant_now.py``): no need to read them.
        """
        if self.admitted or self.caller is None:
            return
        self.admitted = True
        if self.faults is not None and has_fault_rules:
            caller = self.caller
            self.fault = self.faults.fired(caller.tenant, caller.client_id, method, path)
        if self.fault is not None and self.fault.action == "status":
            raise InjectedFault(self.fault)


def notes_of(request: Request) -> CallNotes | None:
    found = request.scope.get(NOTES_KEY)
    return found if isinstance(found, CallNotes) else None


def caller_identified(request: Request, principal: Principal) -> None:
    """The call's token is verified: it is ``principal``'s (issue 13, item 3)."""
    notes = notes_of(request)
    if notes is not None:
        notes.caller = Caller(principal.tenant, principal.client_id)


def caller_admitted(request: Request, *, has_fault_rules: bool = True) -> None:
    """The call passed the access check: its tenant's fault rules may fire (item 2).

    After authentication, so that ``--client`` can match; a status rule raises here
    and is rendered by the one error handler like any other error.
    """
    notes = notes_of(request)
    if notes is not None:
        notes.admit(request.method, request.url.path, has_fault_rules=has_fault_rules)
