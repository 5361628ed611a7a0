"""What every list endpoint shares: page size, continuation tokens, nextLink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from chronodelta.domain import CollectionInfo
from chronodelta.server._models import ErrorBody, page_model
from chronodelta.server._tenant_now import TenantStamp, tenant_stamp
from chronodelta.server.records._paging import PagePosition, filter_digest

if TYPE_CHECKING:  # the services import every feature, this module among them
    from chronodelta.server._services import Services
    from chronodelta.server.auth._tokens import Principal

# Keep the filter readable in links, as the vendor's examples show it, while still
# percent-encoding spaces and everything else a URL may not carry raw.
FILTER_SAFE = "'(),@:"


@dataclass(frozen=True, slots=True)
class ListStart:
    """Where a list page starts (None: at the beginning), and the tenant's stamp read
    before the page: the next page's token carries its restore count, so that a list
    walked across a reset answers 409 rather than mix two states (issue 13, item 4);
    a page read ahead is served only under the same stamp (``_read_ahead.py``)."""

    key: tuple[Any, ...] | None
    stamp: TenantStamp

    @property
    def restores(self) -> int:
        return self.stamp.restores


def json_response(body: bytes) -> Response:
    """A JSON body as it is (already encoded: a page's, or one read ahead)."""
    return Response(body, media_type="application/json")


def page_body(
    found: Services,
    *,
    start: ListStart,
    path: str,
    tenant_id: int,
    collection: str,
    records: list[dict[str, Any]],
    next_key: tuple[Any, ...] | None,
    filter_text: str | None,
    canonical_filter: str,
    external_references: str | None = None,
) -> bytes:
    """A list page's JSON: its records and, when more follow, its ``nextLink``."""
    body: dict[str, Any] = {"value": records}
    if next_key is not None:
        token = found.pages.encode(
            tenant_id,
            collection,
            filter_digest(canonical_filter),
            PagePosition(next_key, start.restores),
        )
        query = [f"filter={quote(filter_text, safe=FILTER_SAFE)}"] if filter_text else []
        if external_references:
            query.append(f"externalReferences={quote(external_references, safe=FILTER_SAFE)}")
        query.append(f"continuationToken={token}")
        body["nextLink"] = f"{path}?{'&'.join(query)}"
    return orjson.dumps(body)


def position(
    found: Services, principal: Principal, token: str | None, collection: str, canonical: str
) -> ListStart:
    """Where the page starts (its token checked), under the stamp the request read."""
    tenant_id = principal.tenant_id
    stamp = principal.stamp or tenant_stamp(found.engine, tenant_id)
    if token is None:
        return ListStart(None, stamp)
    digest = filter_digest(canonical)
    return ListStart(
        found.pages.decode(token, tenant_id, collection, digest, stamp.restores).key, stamp
    )


# Seed 000: a delta unused for 72 hours (or of a tenant reset since) answers 410 Gone;
# every list that takes a deltaToken documents it.
DELTA_GONE: dict[int | str, dict[str, Any]] = {
    410: {"model": ErrorBody, "description": "The delta expired or was reset: start a new one"}
}


def add_list_and_get(
    router: APIRouter,
    info: CollectionInfo,
    model: type[BaseModel],
    list_records: Callable[..., Response],
    get_record: Callable[..., Response],
    errors: dict[int | str, dict[str, Any]],
) -> None:
    """Register a read-only collection's list and get routes, documented with ``model``."""
    title = info.name.replace("-", " ")
    for path, endpoint, kind, summary, shape in (
        (info.path, list_records, "list", f"Retrieve a list of {title}", page_model(model)),
        (info.path + "/{record_id}", get_record, "get", f"Retrieve one of {title}", model),
    ):
        router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            summary=summary,
            response_class=Response,
            tags=[info.name],
            operation_id=f"{kind}_{info.name}",
            responses={200: {"model": shape}, **errors, **(DELTA_GONE if kind == "list" else {})},
        )
