#!/usr/bin/env bash
# The 1 000 000-callback check: `vocals-callback receive --quiet` on its defaults (a key it
# generates, the in-memory backend, inline dispatch), then `vocals-callback load` sending
# REQUESTS callbacks over CONNECTIONS keep-alive connections, each a new task id with a
# fresh kie.ai signature, as fast as the receiver answers. Every answer must be 200: one
# 503 (`binding_cache_full`, the capacity cliff of issue 13) or any other refusal fails
# the check. CI runs it on the installed command (.ci/run); by hand:
#
# usage: benches/http/million.sh [BINARY]     (default: target/release/vocals-callback,
#                                              built with --features cli if missing)
# env:   REQUESTS=1000000 CONNECTIONS=32
#        SERVER_CPU= LOAD_CPU= (pin each to a core with taskset, e.g. 0 and 1; default: not pinned)
#        RECEIVE_ARGS= (more flags for `receive`, e.g. "--threads 1")
#
# Prints the load's report (answers per status and refusal reason, rate, latency, the first
# unexpected answer) and the receiver's peak memory; exits 1 if any answer was not 200.
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS=${REQUESTS:-1000000}
CONNECTIONS=${CONNECTIONS:-32}
BIN=${1:-}
if [ -z "$BIN" ]; then
  BIN=${CARGO_TARGET_DIR:-target}/release/vocals-callback
  [ -x "$BIN" ] || cargo build --release --features cli --bin vocals-callback
fi
# Commands pinned to a core with taskset (which execs, so $! is the program itself), or not.
on() { # core -> the taskset prefix, or nothing
  if [ -n "$1" ]; then echo "taskset -c $1"; fi
}

dir=$(mktemp -d)
log="$dir/receive.log"
# shellcheck disable=SC2046,SC2086 # the prefix and RECEIVE_ARGS are lists of words
# RUST_LOG=error: on the failing path every refusal would log two lines (1.8 M of them).
RUST_LOG=${RUST_LOG:-error} $(on "${SERVER_CPU:-}") "$BIN" receive --listen 127.0.0.1:0 --quiet ${RECEIVE_ARGS:-} 2>"$log" &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$log")
key=$(sed -n 's/^VOCALS_KEYS=//p' "$log")
[ -n "$url" ] && [ -n "$key" ] || { echo "receive printed no address or key:"; cat "$log"; exit 1; }

start=$(date +%s.%N)
status=0
# shellcheck disable=SC2046
$(on "${LOAD_CPU:-}") "$BIN" load --url "$url" --key "$key" --requests "$REQUESTS" \
  --connections "$CONNECTIONS" --expect-status 200 || status=$?
end=$(date +%s.%N)
peak=$(awk '/^VmHWM:/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$receiver/status" 2>/dev/null || echo "?")
awk -v s="$start" -v e="$end" -v p="$peak" \
  'BEGIN { printf "# %.1f s for the load; the receiver peaked at %s resident\n", e - s, p }'
kill -TERM "$receiver"
wait "$receiver" || true
if [ "$status" -ne 0 ]; then
  echo "# FAILED: not every one of the $REQUESTS signed new callbacks was answered 200" >&2
fi
exit "$status"
