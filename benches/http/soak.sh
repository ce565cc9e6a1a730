#!/usr/bin/env bash
# Sustained load on the defaults: `receive --quiet` (generated key, in-memory backend,
# inline, tokio's default runtime), then `vocals-callback load --rate RATE --duration SECS`
# of signed new callbacks, every answer required to be 200; the receiver's resident memory
# is sampled every 30 s (it must level off once the 300 s window is full).
#
# usage: benches/http/soak.sh [BINARY]    env: RATE=4000 DURATION=600
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${RATE:-4000}
DURATION=${DURATION:-600}
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/vocals-callback}
[ -x "$BIN" ] || cargo build --release --features cli --bin vocals-callback
dir=$(mktemp -d)
RUST_LOG=error "$BIN" receive --listen 127.0.0.1:0 --quiet 2>"$dir/receive.log" &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$dir/receive.log" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$dir/receive.log")
key=$(sed -n 's/^VOCALS_KEYS=//p' "$dir/receive.log")
(
  start=$(date +%s)
  while kill -0 "$receiver" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$receiver/status" 2>/dev/null) || break
    echo "# $(($(date +%s) - start)) s: receiver resident ${rss} MiB"
    sleep 30
  done
) &
status=0
"$BIN" load --url "$url" --key "$key" --duration "$DURATION" --rate "$RATE" --expect-status 200 || status=$?
awk '/^VmHWM:/ { printf "# the receiver peaked at %.0f MiB resident\n", $2 / 1024 }' "/proc/$receiver/status"
exit "$status"
