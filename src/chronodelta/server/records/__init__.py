"""Records: the tracked collections (clockings, totals, reference data) as rows and
wire records, page tokens, the connector backend (list, get, clocking writes), and
the list and clocking routes."""
