#!/usr/bin/env bash
# Instructions per new-event request of the service's `received` path, counted by
# callgrind (see benches/callgrind/icount.rs): repeatable on a loaded machine, unlike time,
# so two versions of the pipeline can be compared. Run it on each, then compare the figures.
#
#   benches/callgrind/icount.sh [N]        (default N = 2000; runs N and 2N)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
command -v valgrind >/dev/null || { echo "icount needs valgrind (Debian: valgrind)"; exit 1; }
cargo build --quiet --profile bench --features testkit --example icount
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {
  valgrind --tool=callgrind --callgrind-out-file="$out/$1" \
    --toggle-collect='icount::serve_all' target/release/examples/icount "$1" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
one=$(count "$n")
two=$(count $((2 * n)))
echo "received: $(((two - one) / n)) instructions per request (N = $n)"
