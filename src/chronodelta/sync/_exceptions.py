"""Every exception the sync raises, in one hierarchy.

As in the SDK (``chronodelta.client``), the question that decides what a caller does is
answered by type: **try again later, or not?**

* ``RetriableSyncError``: the same sync may succeed later without any change (the
  mirror database was unreachable, or locked past its busy timeout). Nothing of the
  response being applied was kept. ``run_sync(follow=True)`` logs it and tries again
  at the next poll.
* ``FatalSyncError``: something must change first: an option, a setting, the target,
  or the other process that writes to the same mirror.

::

    SyncError
    ├── RetriableSyncError
    │   └── MirrorUnavailable  (MirrorError) unreachable, connection lost, locked too long
    └── FatalSyncError
        ├── ConfigError        (ValueError)  a connection setting missing, a bad config file
        ├── InvalidRequest     (ValueError)  what to mirror: unknown collection, bad dates, ...
        ├── InvalidTransition  (ValueError)  a response that does not fit the stored state
        ├── TooManyRestarts                  the delta was gone (410) again and again
        ├── MirrorRefused      (MirrorError) bad target, foreign tables, another source, ...
        └── StateConflict      (MirrorError) another sync changed the state first

``MirrorError`` is a base of the three mirror errors on both sides (multiple
inheritance, like the SDK's ``ApiError``), so ``except MirrorError`` catches every
failure of the mirror database. It, ``SyncError`` and the two axes are never raised
themselves.

The SDK's own errors (``chronodelta.client.ChronodeltaError``: ``TransportError``,
``Unauthorized``, ``InvalidResponse``, ...) come through unchanged; their tree has the
same retriable/fatal split. A caller needs ``except (SyncError, ChronodeltaError)``
and nothing else. No message carries the client secret or a link (links carry the
delta token); a target is shown with its password hidden.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the sync raises."""


class RetriableSyncError(SyncError):
    """The same sync may succeed later unchanged; nothing of the failed step was kept."""


class FatalSyncError(SyncError):
    """Running the sync again unchanged will not help."""


class MirrorError(SyncError):
    """The mirror database failed or cannot be used (see the subclasses)."""


class MirrorUnavailable(MirrorError, RetriableSyncError):
    """The mirror database could not be reached, lost the connection, or stayed locked
    past the busy timeout (``--follow`` tries again at the next poll)."""


class MirrorRefused(MirrorError, FatalSyncError):
    """The target cannot be a mirror as it is: a bad URL, tables of another shape, a
    mirror of another source or of a newer schema, or a statement the database refused."""


class StateConflict(MirrorError, FatalSyncError):
    """The stored state changed under this sync: another sync runs on the same mirror."""


class ConfigError(FatalSyncError, ValueError):
    """A setting is missing or the config file is unusable (never shows a secret)."""


class InvalidRequest(FatalSyncError, ValueError):
    """What to mirror cannot be synced: an unknown collection, ``--until`` before
    ``--since``, a malformed ``--external-references``, an ``--interval`` out of range."""


class InvalidTransition(FatalSyncError, ValueError):
    """A response that does not fit the stored state (a snapshot page while following
    deltas, a page with both links or neither)."""


class TooManyRestarts(FatalSyncError):
    """The delta was gone (410) again right after each fresh start in one run: another
    sync with the same API client supersedes it, or the server expires it at once."""
