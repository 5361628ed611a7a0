"""The operator console at ``/console``: server-rendered pages over the sandbox controls.

Issue 13, item 5: "for operators (its own login ...; not served when --no-console or
CHRONODELTA_CONSOLE=false) ... Server-rendered, assets shipped in the package (it
works with no network), no secrets in pages, CSRF-protected forms." The pages call
the same library functions as the CLI and the ``/admin`` API; clocking writes go
through the API's own ``ConnectorBackend``, so totals, deltas and webhooks see them.
"""
