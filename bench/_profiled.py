"""Run a Python script under cProfile in all of its threads, one combined profile.

    python -m bench._profiled OUT.prof SCRIPT [ARG ...]
    python bench/_profiled.py OUT.prof -m MODULE [ARG ...]

``python -m cProfile`` profiles the main thread only, and the server runs its sync
route handlers in a threadpool; here every thread started through ``threading`` gets
its own profiler, and the profiles are merged into ``OUT.prof`` when the script ends.

SIGTERM ends the script with ``SystemExit`` (the profile is written). uvicorn needs
this: after its graceful shutdown it raises the signal it caught again, and SIGTERM's
default action would kill the process before the profile is written.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import signal
import sys
import threading
from types import FrameType
from typing import Any


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out, script, *args = sys.argv[1:]
    module: str | None = None
    if script == "-m":  # python _profiled.py OUT -m MODULE ARG...: what ServerProcess runs
        if not args:
            raise SystemExit(__doc__)
        module, *args = args
    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_thread_profiler(_frame: FrameType, _event: str, _arg: Any) -> None:
        profiler = cProfile.Profile()
        with lock:
            profilers.append(profiler)
        profiler.enable()  # replaces this hook for the rest of the thread

    def exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        sys.exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, exit_on_sigterm)
    threading.setprofile(start_thread_profiler)
    sys.argv = [module or script, *args]
    main_profiler = cProfile.Profile()
    main_profiler.enable()
    try:
        if module is not None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(script, run_name="__main__")
    except SystemExit:
        pass
    finally:
        main_profiler.disable()
        threading.setprofile(None)
        with lock:
            stats = pstats.Stats(main_profiler, *profilers)
        stats.dump_stats(out)


if __name__ == "__main__":
    main()
