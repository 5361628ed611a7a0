#!/usr/bin/env bash
# Check by hand that the Swagger UI renders with no network (what
# tests/server/test_swagger_offline.py checks in the test suite).
#
#   scripts/check-swagger-offline.sh [PORT]
#
# With a server already listening on 127.0.0.1:PORT (default 8000, as `make serve`),
# that server is checked. Otherwise a throwaway server (empty SQLite database in a
# temporary directory) is started on PORT for the check and stopped afterwards.
# The page is rendered in headless Chromium with every host except 127.0.0.1 made
# unresolvable, so anything loaded from a CDN would leave it blank.
# Prints OK, or FAILED and why (exit status 1).
set -euo pipefail

PORT="${1:-8000}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="http://127.0.0.1:${PORT}"
WORK="$(mktemp -d)"
SERVER_PID=""

fail() {
    echo "FAILED: $*"
    exit 1
}

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

[[ "$PORT" =~ ^[0-9]+$ ]] || fail "PORT must be a number, got '$PORT'"
command -v curl >/dev/null || fail "curl is not installed"
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$CHROMIUM" ] || fail "Chromium is not installed (apt-get install chromium)"

if ! curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
    CLI="$ROOT/.venv/bin/chronodelta"
    [ -x "$CLI" ] || CLI="$(command -v chronodelta || true)"
    [ -n "$CLI" ] || fail "nothing serves $BASE and the chronodelta command is not installed"
    echo "starting a throwaway server on $BASE"
    "$CLI" serve --port "$PORT" --database "sqlite:///$WORK/swagger-check.db" \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    # Bounded wait for readiness: curl retries refused connections (with its own
    # back-off) for at most 60 seconds.
    if ! curl -fsS -o /dev/null --retry 60 --retry-connrefused --retry-max-time 60 \
            "$BASE/healthz" 2>/dev/null; then
        tail -n 20 "$WORK/server.log" || true
        fail "the server on $BASE did not become ready"
    fi
fi

# The page itself must name no other host.
HTML="$(curl -fsS "$BASE/swagger")" || fail "GET $BASE/swagger failed"
if grep -Eq 'https?://|//cdn' <<<"$HTML"; then
    fail "/swagger references another host: $(grep -Eo '(https?:)?//[^"'\'' ]+' <<<"$HTML" | head -n 3 | tr '\n' ' ')"
fi
for asset in $(grep -Eo '(src|href)="[^"]+"' <<<"$HTML" | sed -E 's/^(src|href)="//; s/"$//'); do
    curl -fsS -o /dev/null "$BASE$asset" || fail "asset $asset is not served"
done

DOM="$WORK/dom.html"
if ! "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --user-data-dir="$WORK/profile" \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
        --virtual-time-budget=15000 --dump-dom "$BASE/swagger" >"$DOM" 2>"$WORK/chromium.log"; then
    tail -n 20 "$WORK/chromium.log" || true
    fail "Chromium could not load $BASE/swagger"
fi
grep -q 'Retrieve a list of clockings' "$DOM" || fail "the page did not render the operations (no 'Retrieve a list of clockings')"
grep -q 'opblock' "$DOM" || fail "the page did not render Swagger UI's operation blocks"
echo "OK: $BASE/swagger renders offline"
