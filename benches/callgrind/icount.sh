#!/usr/bin/env bash
# Instructions per new-event request of the service's `received` path, counted by
# callgrind (see benches/callgrind/icount.rs): repeatable on a loaded machine, unlike time,
# so two versions of the pipeline can be compared. Run it on each, then compare the figures.
#
#   benches/callgrind/icount.sh [N] [BODY]   (default N = 2000, runs N and 2N; BODY is
#                                             complete (1.6 KB, default) or text (146 B))
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
body=${2:-complete}
command -v valgrind >/dev/null || { echo "icount needs valgrind (Debian: valgrind)"; exit 1; }
cargo build --quiet --profile bench --features testkit --example icount
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {
  valgrind --tool=callgrind --callgrind-out-file="$out/$1" \
    --toggle-collect='icount::serve_all' target/release/examples/icount "$1" "$body" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
one=$(count "$n")
two=$(count $((2 * n)))
echo "received, $body: $(((two - one) / n)) instructions per request (N = $n)"
