#!/usr/bin/env bash
# The HTTP comparison on new events: server CPU per request of the reference receiver
# against two servers that verify, bind, parse and deduplicate nothing.
#
# Rows (in this order by default):
#   hyper     bare hyper 1 reading the body, answering 200 (baseline_hyper.rs)
#   signed    `receive --quiet --threads 1`, every request a new task id with a fresh
#             kie.ai signature (the headline: what a user pays per new event)
#   insecure  `receive --quiet --threads 1 --insecure`, new events, unsigned
#   recall    `receive --quiet --threads 1`, one signed body sent again and again (exact
#             retries; the whole pipeline runs and the dedup claim answers `duplicate`, as
#             the byte-identical recall was removed: a separate row, never the headline)
#   axum      an axum 0.8 route taking Json<serde_json::Value> (baseline_axum.rs)
#
# usage: benches/http/compare.sh [ROW...]
# env:   ROUNDS=3 DURATION=10 WARMUP=2 CONNECTIONS=32 PORT=3950 BODY=complete
#        SERVER_CPU=0 LOAD_CPU=1 (the cores the server and the load generator are pinned to)
#        RECEIVE_ARGS= (more flags for the receiver rows; default: none, its defaults)
#
# The load is `vocals-callback load` (src/bin/vocals-callback/load.rs) on a current-thread
# runtime pinned to LOAD_CPU: CONNECTIONS keep-alive HTTP/1 connections, one request in
# flight on each, every request a new task id signed on the spot with the current second
# (the same signed load for hyper and axum, which ignore the signature; unsigned for
# `insecure`). Every server runs on one thread (`--threads 1`) pinned to SERVER_CPU.
#
# Each round starts every row's server afresh (a new receiver has an empty binding and
# dedup store: a round of N new events leaves N entries), sends WARMUP seconds of load
# (not measured), then DURATION seconds measured: the server's utime+stime from
# /proc/PID/stat before and after, divided by the requests answered. The rows alternate
# within a round (hyper, signed, ..., then round 2), so a drift of the shared machine
# touches every row alike; the table takes the median of the ROUNDS rounds and the ratios
# are computed from it in the same run. Every answer must be 200: a row with any other
# answer (for a receiver on today's defaults, 503 `binding_cache_full` past 100 000 new
# events) is marked INVALID, since refusals cost less than handling, and the script exits 1.
# A receiver row sees rate × (WARMUP + DURATION) new signatures: past what its binding holds
# for the 300 s window (100 000 today; 900 000 in the default 64 MiB once the time-bucketed
# binding lands, which a one-core receiver at ~80 000/s exceeds in 12 s) it refuses, so on
# a fast machine pass RECEIVE_ARGS="--binding-memory MIB" or shorten the rounds.
# Generated files go under $CARGO_TARGET_DIR (or target/)/http-compare.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-3950}
BODY=${BODY:-complete}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
if [ $# -gt 0 ]; then ROWS="$*"; else ROWS=${ROWS:-hyper signed insecure recall axum}; fi
TARGET=${CARGO_TARGET_DIR:-target}
OUT="$TARGET/http-compare"
EXAMPLES="$TARGET/release/examples"
CLI="$TARGET/release/vocals-callback"
PATH_=/vocals-callback
URL="http://127.0.0.1:$PORT$PATH_"

for r in $ROWS; do
  case $r in hyper|signed|insecure|recall|axum) ;;
    *) echo "unknown row $r (hyper, signed, insecure, recall, axum)" >&2; exit 2;; esac
done
for v in "$DURATION" "$WARMUP" "$ROUNDS"; do
  case $v in (*[!0-9]*|'') echo "DURATION, WARMUP and ROUNDS are whole numbers (seconds)" >&2; exit 2;; esac
done
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed (the summary)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*" >&2; }

step "build (release)"
cargo build --release --features cli --bin vocals-callback --example baseline_hyper --example baseline_axum

mkdir -p "$OUT"
rm -f "$OUT"/results.tsv "$OUT"/*.load "$OUT"/*.log
KEY=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
TICK=$(getconf CLK_TCK)

# All CPU time of the machine, and utime + stime of one process, in clock ticks (fields 14
# and 15 of /proc/PID/stat; the name in field 2 may hold spaces, so count from the ')').
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

start_server() { # row round -> sets PID
  local row=$1 log="$OUT/$1-$2.log"
  local receive=("$CLI" receive --listen "127.0.0.1:$PORT" --path "$PATH_" --quiet --threads 1)
  # shellcheck disable=SC2206 # RECEIVE_ARGS is a list of flags
  receive+=(${RECEIVE_ARGS:-})
  case $row in
    signed|recall) taskset -c "$SERVER_CPU" "${receive[@]}" --key "$KEY" 2>"$log" & ;;
    insecure)      taskset -c "$SERVER_CPU" "${receive[@]}" --insecure 2>"$log" & ;;
    hyper)         taskset -c "$SERVER_CPU" "$EXAMPLES/baseline_hyper" --listen "127.0.0.1:$PORT" --path "$PATH_" --threads 1 2>"$log" & ;;
    axum)          taskset -c "$SERVER_CPU" "$EXAMPLES/baseline_axum" --listen "127.0.0.1:$PORT" --path "$PATH_" --threads 1 2>"$log" & ;;
  esac
  PID=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$log" 2>/dev/null && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$row did not start:" >&2; cat "$log" >&2; exit 1
}

stop_server() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}
trap 'if [ -n "${PID:-}" ]; then kill -TERM "$PID" 2>/dev/null || true; fi' EXIT

load() { # row seconds -> the load's report on stdout
  local flags=(--url "$URL" --connections "$CONNECTIONS" --duration "$2" --body "$BODY")
  case $1 in
    insecure) flags+=(--insecure) ;;
    recall)   flags+=(--key "$KEY" --repeat) ;;
    *)        flags+=(--key "$KEY") ;;
  esac
  taskset -c "$LOAD_CPU" "$CLI" load "${flags[@]}"
}

# The value of key= on the load's summary line.
summary() { awk -v k="$2" '/^summary / { for (i = 2; i <= NF; i++) { split($i, kv, "=");
  if (kv[1] == k) print kv[2] } }' "$1"; }

printf 'row\tround\trps\tp50_us\tp99_us\tanswered\tcpu_us_per_req\tnon200\tfailed\treceived\tduplicate\tload_cpu_pct\tother_cpu_pct\n' >"$OUT/results.tsv"
for round in $(seq "$ROUNDS"); do
  for row in $ROWS; do
    step "$row, round $round/$ROUNDS"
    start_server "$row" "$round"
    load "$row" "$WARMUP" >"$OUT/$row-$round.warmup"
    busy_before=$(busy_ticks)
    before=$(cpu_ticks "$PID")
    # bash's `time` gives the generator's own CPU time: near 100% of its core means it,
    # not the server, set the pace (requests/s is then a floor; CPU per request holds).
    { TIMEFORMAT='%U %S'; time load "$row" "$DURATION" >"$OUT/$row-$round.load"; } 2>"$OUT/$row-$round.time"
    after=$(cpu_ticks "$PID")
    busy_after=$(busy_ticks)
    stop_server; PID=
    f="$OUT/$row-$round.load"
    cat "$f" >&2
    answered=$(summary "$f" answered)
    ok=$(summary "$f" status_200)
    secs=$(summary "$f" seconds)
    load_s=$(tail -n1 "$OUT/$row-$round.time" | awk '{ print $1 + $2 }')
    load_cpu=$(awk -v w="$load_s" -v d="$secs" 'BEGIN { printf "%.0f", w / d * 100 }')
    # CPU used by anything else on the machine during the round, in % of one core.
    other=$(awk -v b="$busy_before" -v a="$busy_after" -v sb="$before" -v sa="$after" \
      -v t="$TICK" -v w="$load_s" -v d="$secs" \
      'BEGIN { o = ((a - b) - (sa - sb)) / t - w; if (o < 0) o = 0; printf "%.0f", o / d * 100 }')
    cpu=$(awk -v a="$after" -v b="$before" -v t="$TICK" -v n="$answered" \
      'BEGIN { printf "%.2f", (a - b) / t * 1e6 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$round" \
      "$(summary "$f" rate)" "$(summary "$f" p50_us)" "$(summary "$f" p99_us)" "$answered" "$cpu" \
      "$((answered - ${ok:-0}))" "$(summary "$f" failed)" "$(summary "$f" received)" \
      "$(summary "$f" duplicate)" "$load_cpu" "$other" >>"$OUT/results.tsv"
    echo "server CPU ${cpu} us/request; the load generator used ${load_cpu}% of its core; other processes ${other}% of a core" >&2
  done
done

step "results ($OUT/results.tsv)"
python3 - "$OUT/results.tsv" "$CONNECTIONS" "$DURATION" "$WARMUP" "$ROUNDS" "$BODY" <<'EOF'
import csv, statistics, sys
path, conns, duration, warmup, rounds, body = sys.argv[1:]
rows = list(csv.DictReader(open(path), delimiter="\t"))
order = []
for r in rows:
    if r["row"] not in order:
        order.append(r["row"])
label = {
    "hyper": "bare hyper reading the body",
    "signed": "the receiver, signed new events",
    "insecure": "the receiver `--insecure`, new events",
    "recall": "the receiver, one signed body repeated (exact retries: not the headline)",
    "axum": "axum `Json<serde_json::Value>`",
}
agg = {}
for s in order:
    rs = [r for r in rows if r["row"] == s]
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    agg[s] = dict(rps=med("rps"), p50=med("p50_us"), p99=med("p99_us"), cpu=med("cpu_us_per_req"),
                  load=med("load_cpu_pct"), other=max(float(r["other_cpu_pct"]) for r in rs),
                  n=sum(int(r["answered"]) for r in rs),
                  bad=sum(int(r["non200"]) + int(r["failed"]) for r in rs),
                  received=sum(int(r["received"]) for r in rs),
                  duplicate=sum(int(r["duplicate"]) for r in rs))
print(f"\n`vocals-callback load --connections {conns} --body {body}`, every request a new task id "
      f"signed on the spot (recall: one body repeated); each server on one thread pinned to its "
      f"core, the load generator on the other; {warmup} s warm-up, then {duration} s measured; "
      f"median of {rounds} rounds.\n")
print("| server | requests/s | p50 | p99 | server CPU per request | ratio to bare hyper | load generator CPU | non-200 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for s in order:
    a = agg[s]
    ratio = f"{a['cpu'] / agg['hyper']['cpu']:.2f}×" if "hyper" in agg and agg["hyper"]["cpu"] else "n/a"
    flag = " **INVALID: refusals**" if a["bad"] else ""
    print(f"| {label[s]}{flag} | {a['rps']:,.0f} | {a['p50']:.0f} µs | {a['p99']:.0f} µs | "
          f"{a['cpu']:.2f} µs | {ratio} | {a['load']:.0f}% | {a['bad']} |")
print()
def ratio(x, y):
    return agg[x]["cpu"] / agg[y]["cpu"]
if "signed" in agg and "hyper" in agg:
    print(f"- the receiver (signed new events) / bare hyper: {ratio('signed', 'hyper'):.2f}× CPU per "
          f"request (issue 13's target: at most 1.35×, stretch 1.2×)")
if "axum" in agg and "signed" in agg:
    print(f"- axum / the receiver (signed new events): {ratio('axum', 'signed'):.2f}× CPU per request "
          f"(target: at least 1.6×, stretch 2×)")
for s in ("signed", "insecure"):
    if s in agg:
        a = agg[s]
        print(f"- {s}: `received` {a['received']} of {a['n']} answers, `duplicate` {a['duplicate']}")
if "recall" in agg:
    a = agg["recall"]
    print(f"- recall: `duplicate` {a['duplicate']} of {a['n']} answers (one `received` per round)")
saturated = [s for s in order if agg[s]["load"] >= 90]
if saturated:
    print(f"- the load generator used 90% or more of its core against {', '.join(saturated)}: there "
          f"it set the pace, so requests/s is a floor; the CPU per request still holds.")
other = max(a["other"] for a in agg.values())
if other >= 10:
    print(f"- other processes used up to {other:.0f}% of a core during a round: the machine was "
          f"shared, so the figures are noisier than on an idle one.")
bad = [s for s in order if agg[s]["bad"]]
if bad:
    print(f"\nFAILED: {', '.join(bad)} got answers other than 200 (see the .load files): "
          f"those rows measured refusals, not handling")
    sys.exit(1)
EOF
