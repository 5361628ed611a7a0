"""Operator tasks behind the CLI: tenants, API clients, seeding and recalculation."""
