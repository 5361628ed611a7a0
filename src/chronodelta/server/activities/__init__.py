"""Activity definitions: GUID ids, the vendor's shape, and their two homes
(``/activity-definitions`` and ``/activity-structure-versions/{version}/levels/{level}/
activity-definitions``)."""
