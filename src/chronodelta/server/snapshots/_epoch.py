"""How many times a tenant's state was restored: what a list's continuation token
remembers, so that a list walked across a reset answers 409 instead of mixing states.

Issue 13, item 4, with the paging contract: a keyset position names "the last record
sent"; after a restore the records after it may be of another state, so the token is
refused like an expired one ("Continuation token conflict") and the client starts
the list again. Kept as the tenant's counter ``restores`` (``tenant_counters``),
which a restore raises in its own transaction.
"""

from __future__ import annotations

from chronodelta.storage import WriteTransaction

RESTORES = "restores"


def count_restore(tx: WriteTransaction) -> None:
    """Raise the count, committed with the restore (the counter row is the tenant's)."""
    tx.allocate_ids(RESTORES, 1)
