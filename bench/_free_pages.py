"""Run the server with every list page built once and kept: the cost of the request
path alone, for ``bench.page_ceiling``'s "stack floor".

    python bench/_free_pages.py -m MODULE [ARG ...]   (as ``ServerProcess`` runs it)

Each dated list page (``DatedWalk.read``, also what the read-ahead calls) is read the
first time it is asked for and its body kept by its key; every later walk gets it
without a database read or a serializer call, while the rest of the request (uvicorn,
the middleware, FastAPI's dependencies, the token, the tenant's clock, fault rules and
stamp, the response) runs as always. A walk from this server is what any speed-up of
building pages could give at most. Never for real use: the kept pages go stale.
"""

from __future__ import annotations

import runpy
import sys
import threading

from chronodelta.server.records import _dated
from chronodelta.server.records._lists import ListStart
from chronodelta.server.records._read_ahead import PageBody, PageKey


def keep_pages() -> None:
    read = _dated.DatedWalk.read
    kept: dict[PageKey, PageBody] = {}
    lock = threading.Lock()

    def read_once(walk: _dated.DatedWalk, start: ListStart) -> PageBody:
        key = walk.key(start.key)
        with lock:
            page = kept.get(key)
        if page is None:
            page = read(walk, start)
            with lock:
                kept[key] = page
        return page

    setattr(_dated.DatedWalk, "read", read_once)  # noqa: B010 (mypy refuses a method assigned)


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        raise SystemExit(__doc__)
    module, *args = sys.argv[2:]
    keep_pages()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
