"""The request log: every API call of a tenant, as its integration made it (issue 13,
item 3; docs/sandbox.md).

``CallRecorder`` (ASGI) notes each call of the token endpoint and the ``/connector``
API; the per-request access check names its caller (``caller_identified``) and runs
the tenant's fault rules (``caller_admitted``). Each worker buffers the rows and a
background thread writes them in batches; retention keeps a bounded log per tenant.
"""
