"""The tenant clock (issue 13, item 1): the one source of "now" for a tenant.

A sandbox operator moves a tenant's time (``chronodelta clock``, ``/admin/tenants/{t}/clock``)
and everything time-based of that tenant follows it on a running server: delta expiry,
access token expiry, webhook ``validUntil``, the delta rules' "today", and retention.
``server/_clock.utc_now`` stays the wall clock, for what is no tenant's time (rate-limit
windows, signing-key ages, commit marks).
"""
