"""Delta synchronization: the tracker (start, snapshot pages, change feeds, expiry),
the delta service the routes call, retention, and the ``/delta`` route."""
