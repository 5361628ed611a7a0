"""A webhook receiver to try chronodelta's webhooks with (docs/webhooks.md, "Tutorial").

    WEBHOOK_SECRET=whsec_... python3 scripts/webhook_receiver.py http://127.0.0.1:8800/hooks

It listens on the URL's host and port, verifies every POST with the ``standardwebhooks``
library (the signing key is the ``signingKey`` that ``POST /webhooks`` answered, shown
only then), prints each verified event on one line and answers 204; a delivery that
does not verify (wrong key, altered body, timestamp more than 5 minutes off) is printed
as refused and answered 401, so the server retries it. A GET answers 200, so a script
can wait until the receiver is up. Only the standard library and ``standardwebhooks``
(``pip install standardwebhooks``): copy it anywhere.

Answer quickly and do the work afterwards: the server gives a delivery 10 s. An event
says *that* something changed; read the delta for what changed.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def describe(event: dict[str, Any]) -> str:
    data = event.get("data", {})
    return (
        f"{event.get('collectionName')} {event.get('changeType')} id={data.get('id')} "
        f"changeVersion={data.get('changeVersion')} {json.dumps(data, sort_keys=True)}"
    )


def handler_for(verifier: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer(200, b"webhook receiver: POST deliveries here\n")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = verifier.verify(body, headers)
            except (WebhookVerificationError, ValueError) as exc:
                print(f"refused {headers.get('webhook-id')}: {exc}", flush=True)
                self.answer(401)
                return
            print(f"verified {headers['webhook-id']}: {describe(event)}", flush=True)
            self.answer(204)

        def answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:  # one line per event is enough
            pass

    return Handler


def main(argv: list[str]) -> int:
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if len(argv) != 1 or not secret.startswith("whsec_"):
        print(__doc__, file=sys.stderr)
        return 2
    parts = urlsplit(argv[0])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    server = ThreadingHTTPServer((host, port), handler_for(Webhook(secret)))
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
