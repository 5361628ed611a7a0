"""A server that answers every GET with one fixed body: the client's floor.

``page_ceiling`` starts it (``python -m uvicorn bench._static_page:app``, with
``STATIC_PAGE_BODY`` naming a file holding a real list page) and walks it with the
same client as the list walk: HTTP and parsing cost the same, the server costs
nothing. Its rate bounds what any server could give this client.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(os.environ.get("STATIC_PAGE_BODY", "/dev/null")).read_bytes()


def page(_request: Request) -> Response:
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", page)])
