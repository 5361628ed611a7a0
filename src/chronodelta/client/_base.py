"""What ``Client`` and ``AsyncClient`` share: the protocol they drive, and what it knows.

The twins differ only in how they do I/O; everything they are configured with lives in
one ``Protocol`` (``_protocol.py``), built here once for both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx

from ._auth import Credentials
from ._protocol import Protocol
from ._retry import RetryPolicy


class ClientBase:
    def __init__(
        self,
        base_url: str | httpx.URL,
        tenant: str,
        client_id: str,
        client_secret: str,
        *,
        user_agent: str,
        scopes: Sequence[str] | None,
        retry: RetryPolicy | None,
        token_url: str | httpx.URL | None,
        refresh_margin: float,
        random: Callable[[], float],
    ) -> None:
        self._protocol = Protocol(
            base_url=base_url,
            tenant=tenant,
            credentials=Credentials(client_id, client_secret),
            user_agent=user_agent,
            scopes=scopes,
            retry=retry or RetryPolicy(),
            random=random,
            token_url=token_url,
            refresh_margin=refresh_margin,
        )

    @property
    def base_url(self) -> httpx.URL:
        return self._protocol.base_url

    @property
    def tenant(self) -> str:
        return self._protocol.tenant

    @property
    def user_agent(self) -> str:
        return self._protocol.user_agent

    @property
    def retry(self) -> RetryPolicy:
        """The policy this client retries with (for a caller's own retries)."""
        return self._protocol.retry

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={str(self.base_url)!r} tenant={self.tenant!r} "
            f"client_id={self._protocol.credentials.client_id!r}>"
        )
