#!/usr/bin/env bash
# The HTTP comparison: the reference receiver (verify the kie.ai signature, bind it to the
# body, parse, deduplicate, answer) against two servers that do none of it:
#   hyper     a bare hyper 1 server that reads the body and answers 200 (baseline_hyper.rs)
#   axum      an axum 0.8 route taking Json<serde_json::Value> (baseline_axum.rs)
#
# usage: benches/http/compare.sh [SERVER...]       (default: receiver hyper axum)
# env:   ROUNDS=2 DURATION=10s CONNECTIONS=32 REQUESTS=20000 PORT=3950
#        SERVER_CPU=0 WRK_CPU=1 (the cores the server and wrk are pinned to)
#
# Each run: a fresh set of REQUESTS distinct signed `complete` callbacks (the 1.6 KB fixture
# tests/fixtures/bodies/complete.json, distinct task ids, signed now so they stay inside the
# 300 s window), one server started alone pinned to SERVER_CPU, wrk pinned to WRK_CPU
# (`wrk -t1 -cCONNECTIONS -dDURATION --latency`) cycling through the callbacks, the server's
# CPU time (utime+stime from /proc/PID/stat) read before and after. The servers alternate
# (receiver, hyper, axum, receiver, ...). Every answer must be 2xx; the script fails if one
# is not, or if wrk reports socket errors. Generated files go under $CARGO_TARGET_DIR (or
# target/)/http-compare.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
REQUESTS=${REQUESTS:-20000}
PORT=${PORT:-3950}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
if [ $# -gt 0 ]; then SERVERS="$*"; else SERVERS=${SERVERS:-receiver hyper axum}; fi
TARGET=${CARGO_TARGET_DIR:-target}
OUT="$TARGET/http-compare"
BIN="$TARGET/release/examples"
PATH_=/vocals-callback
URL="http://127.0.0.1:$PORT$PATH_"

for s in $SERVERS; do
  case $s in receiver|hyper|axum) ;; *) echo "unknown server $s (receiver, hyper, axum)" >&2; exit 2;; esac
done
secs=${DURATION%s}
case $secs in (*[!0-9]*|'') echo "DURATION must be whole seconds, like 10s" >&2; exit 2;; esac
if [ "$secs" -gt 240 ]; then
  echo "DURATION over 240s: the signatures would leave the receiver's 300 s window" >&2; exit 2
fi

step() { printf '\n== %s\n' "$*" >&2; }

step "wrk"
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y wrk || { $sudo apt-get update && $sudo apt-get install -y wrk; }
fi
wrk --version 2>&1 | head -1 || true
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed (benches/http/make_requests.py)" >&2; exit 1; }

step "build (release)"
cargo build --release --examples --features testkit
cargo build --release --bin vocals-callback --features cli

mkdir -p "$OUT"
rm -f "$OUT"/results.tsv "$OUT"/*.wrk "$OUT"/*.log
KEY=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
TICK=$(getconf CLK_TCK)

# utime + stime of a process, in clock ticks (fields 14 and 15; the name in field 2 may
# hold spaces, so count from the closing parenthesis).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

start_server() { # name -> sets PID
  local name=$1 log="$OUT/$1-$2.log"
  case $name in
    receiver) taskset -c "$SERVER_CPU" "$TARGET/release/vocals-callback" receive --listen "127.0.0.1:$PORT" --path "$PATH_" --key "$KEY" --quiet 2>"$log" & ;;
    hyper)    taskset -c "$SERVER_CPU" "$BIN/baseline_hyper" --listen "127.0.0.1:$PORT" --path "$PATH_" 2>"$log" & ;;
    axum)     taskset -c "$SERVER_CPU" "$BIN/baseline_axum" --listen "127.0.0.1:$PORT" --path "$PATH_" 2>"$log" & ;;
  esac
  PID=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$log" 2>/dev/null && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$log" >&2; exit 1
}

stop_server() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}
trap 'if [ -n "${PID:-}" ]; then kill -TERM "$PID" 2>/dev/null || true; fi' EXIT

# wrk's latency units to microseconds.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : (u == "m") ? 60000000 : 0;
  printf "%.1f", n * f }'; }

printf 'server\tround\trps\tp50_us\tp99_us\trequests\tcpu_us_per_req\tnon2xx\tsocket_errors\treceived\tduplicate\tother\twrk_cpu_pct\tother_cpu_pct\n' >"$OUT/results.tsv"
for round in $(seq "$ROUNDS"); do
  for name in $SERVERS; do
    step "$name, round $round/$ROUNDS"
    python3 benches/http/make_requests.py --key "$KEY" --count "$REQUESTS" \
      --fixture tests/fixtures/bodies/complete.json --out-dir "$OUT" >&2
    start_server "$name" "$round"
    busy_before=$(busy_ticks)
    before=$(cpu_ticks "$PID")
    # bash's `time` gives wrk's own CPU time: near DURATION means wrk, not the server, was
    # the limit, and requests/s is then a floor for that server.
    { TIMEFORMAT='%U %S'; time taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" \
        --latency -s "$OUT/requests.lua" "$URL" >"$OUT/$name-$round.wrk"; } 2>"$OUT/$name-$round.time"
    after=$(cpu_ticks "$PID")
    busy_after=$(busy_ticks)
    stop_server; PID=
    w="$OUT/$name-$round.wrk"
    cat "$w" >&2
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$w")
    total=$(awk '/ requests in / {print $1}' "$w")
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$w")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$w")")
    errors=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$w")
    answers=$(grep '^answers:' "$w" || true)
    [ -n "$answers" ] || { echo "wrk printed no answer counts (did the Lua script run?)" >&2; exit 1; }
    field() { echo "$answers" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
    wrk_s=$(tail -n1 "$OUT/$name-$round.time" | awk '{ print $1 + $2 }')
    wrk_cpu=$(awk -v w="$wrk_s" -v d="$secs" 'BEGIN { printf "%.0f", w / d * 100 }')
    # CPU used by anything else on the machine during the run, in % of one core.
    other=$(awk -v b="$busy_before" -v a="$busy_after" -v sb="$before" -v sa="$after" \
      -v t="$TICK" -v w="$wrk_s" -v d="$secs" \
      'BEGIN { o = ((a - b) - (sa - sb)) / t - w; if (o < 0) o = 0; printf "%.0f", o / d * 100 }')
    cpu=$(awk -v a="$after" -v b="$before" -v t="$TICK" -v n="$total" \
      'BEGIN { printf "%.2f", (a - b) / t * 1e6 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$rps" "$p50" \
      "$p99" "$total" "$cpu" "$(field non2xx)" "${errors:-0}" "$(field received)" \
      "$(field duplicate)" "$(field other)" "$wrk_cpu" "$other" >>"$OUT/results.tsv"
    echo "server CPU ${cpu} us/request; wrk used ${wrk_cpu}% of its core; other processes ${other}% of a core" >&2
  done
done

step "results ($OUT/results.tsv)"
python3 - "$OUT/results.tsv" "$REQUESTS" "$CONNECTIONS" "$DURATION" "$ROUNDS" <<'EOF'
import csv, statistics, sys
path, distinct, conns, duration, rounds = sys.argv[1:]
rows = list(csv.DictReader(open(path), delimiter="\t"))
order = []
for r in rows:
    if r["server"] not in order:
        order.append(r["server"])
agg = {}
for s in order:
    rs = [r for r in rows if r["server"] == s]
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    agg[s] = dict(rps=med("rps"), p50=med("p50_us"), p99=med("p99_us"), cpu=med("cpu_us_per_req"),
                  wrk=med("wrk_cpu_pct"), other=max(float(r["other_cpu_pct"]) for r in rs),
                  n=sum(int(r["requests"]) for r in rs),
                  bad=sum(int(r["non2xx"]) + int(r["socket_errors"]) for r in rs),
                  received=sum(int(r["received"]) for r in rs),
                  duplicate=sum(int(r["duplicate"]) for r in rs))
print(f"\n{distinct} distinct signed `complete` callbacks (1.6 KB) in a loop; wrk -t1 -c{conns} "
      f"-d{duration} --latency; server and wrk on separate cores; median of {rounds} rounds.\n")
print("| server | requests/s | p50 | p99 | server CPU per request | wrk CPU | non-2xx or socket errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
for s in order:
    a = agg[s]
    print(f"| {s} | {a['rps']:,.0f} | {a['p50']:.0f} µs | {a['p99']:.0f} µs | "
          f"{a['cpu']:.1f} µs | {a['wrk']:.0f}% | {a['bad']} |")
def ratio(x, y, k):
    return f"{agg[x][k] / agg[y][k]:.2f}x" if x in agg and y in agg and agg[y][k] else "n/a"
print()
for x, y in (("receiver", "hyper"), ("axum", "receiver")):
    if x in agg and y in agg:
        print(f"- {x}/{y}: requests/s {ratio(x, y, 'rps')}, CPU per request {ratio(x, y, 'cpu')}, "
              f"p99 {ratio(x, y, 'p99')}")
if "receiver" in agg:
    a = agg["receiver"]
    print(f"- the receiver answered `received` {a['received']} times and `duplicate` "
          f"{a['duplicate']} times: after the first pass over the {distinct} callbacks every "
          f"request is a byte-identical repeat of one already handled: it takes the whole "
          f"pipeline (MAC, binding hit, parse) and the dedup claim answers `duplicate`, so no "
          f"handler runs; the baselines do the same work for every request.")
saturated = [s for s in order if agg[s]["wrk"] >= 90]
if saturated:
    print(f"- wrk used 90% or more of its core against {', '.join(saturated)}: there the load "
          f"generator is the limit, so requests/s is a floor; CPU per request still holds.")
other = max(a["other"] for a in agg.values())
if other >= 10:
    print(f"- other processes used up to {other:.0f}% of a core during a run: the machine was "
          f"shared, so the figures are noisier than on an idle one.")
bad = sum(a["bad"] for a in agg.values())
if bad:
    print(f"\nFAILED: {bad} answers were not 2xx or hit socket errors (see the .wrk files)")
    sys.exit(1)
EOF
