"""Webhooks (contract, "Webhooks"; issue 12; docs/webhooks.md).

* ``_routes`` / ``_backend``: the management API (register, list, get, delete, log);
* ``_outbox``: events written in the transaction of each change, for every collection,
  through the one hook ``storage`` offers (registered here, on import);
* ``_store`` / ``_delivery`` / ``_state``: delivery in every worker, leases, retries;
* ``_destinations``: URL rules and the SSRF guard.
"""

from chronodelta.server.webhooks._outbox import ANY_SUBSCRIPTION, write_events
from chronodelta.storage import observe_versioned_writes

# Every process that imports the server writes events for every versioned write; a
# late write skips the hook when the tenant has no enabled subscription (its probe).
observe_versioned_writes(write_events, ANY_SUBSCRIPTION)
