"""Tenant snapshots, restore and reset (issue 13, item 4; docs/sandbox.md)."""
