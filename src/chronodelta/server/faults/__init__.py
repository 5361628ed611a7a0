"""Faults: make a tenant's API calls fail on purpose (issue 13, item 2; docs/sandbox.md).

Rules live in the database (``fault_rules``), so a rule added by the CLI applies to
the next call in every worker; each API call reads its tenant's rules once, if it has
any (the request's one read of its tenant, ``server/_tenant_now.py``, tells). A rule
answers a status in the API's error format, adds latency, or cuts the response.
"""
