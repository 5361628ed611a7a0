"""Calculated totals: recalculating paid presences and activity durations inside a
clocking write, and their read-only routes."""
