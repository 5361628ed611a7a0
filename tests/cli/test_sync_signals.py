"""``chronodelta sync``'s signal handling: a first SIGTERM or Ctrl-C asks the sync to
stop after the response being committed, and may arrive at any instant."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# The handler used to call Event.set(), which takes the Event's lock. The main thread
# holds that lock for a moment each time it enters or leaves stop.wait(interval); a
# signal in that moment deadlocked the process. This reproduces the moment exactly:
# the signal is raised while the lock is held and its handler runs right there.
SIGNAL_WHILE_THE_EVENT_LOCK_IS_HELD = textwrap.dedent(
    """
    import signal
    from chronodelta.cli._sync import _stop_on_signals

    with _stop_on_signals() as stop:
        with stop._cond:
            signal.raise_signal(signal.SIGTERM)
            len("x")  # a call: the interpreter runs the Python handler here
        print("stop requested:", stop.wait(timeout=30), flush=True)
    """
)


def test_a_signal_while_the_main_thread_holds_the_stop_event_lock_stops_the_sync() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_WHILE_THE_EVENT_LOCK_IS_HELD],
        capture_output=True,
        text=True,
        timeout=120,  # a deadlock would hang for ever; this bounds the test, not a wait
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stop requested: True"
