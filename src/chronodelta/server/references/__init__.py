"""External references: resolving and adding them to records, the custom reference
store, and the routes of the reference collections and of custom references."""
