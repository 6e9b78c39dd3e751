#!/usr/bin/env bash
# Inbound throughput: signed WhatsApp Cloud API text webhooks posted over HTTP (server/examples/loadgen.rs,
# one message per delivery, 500 contacts) to the release server, through the whatsapp-cloud plugin to a
# durable commit, on SQLite and (when reachable) PostgreSQL. Baseline in the same run: raw inserts of
# message-shaped rows with the same driver and durability (server/examples/raw_insert.rs), one row per
# transaction and 64 per transaction. Prints a Markdown table for docs/performance.md, with the server's CPU
# per message and the cores it kept busy (from /proc), which tell a CPU-bound run from a commit-bound one.
#
# Usage: bench/ingest.sh [DELIVERIES] [CONCURRENCY]   (default 20000 64)
# PostgreSQL: BENCH_PG=postgres://postgres@127.0.0.1:5432 (default; skipped when pg_isready says no).
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-20000}"
concurrency="${2:-64}"
pg="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
cargo build --release -p switchboard --bin switchboard --example loadgen --example raw_insert >/dev/null 2>&1
root="$PWD"
bin="$root/target/release/switchboard"
loadgen="$root/target/release/examples/loadgen"
raw="$root/target/release/examples/raw_insert"
work="$(mktemp -d)"
pgdb="bench_ingest_$$"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
  dropdb --if-exists -h 127.0.0.1 -U postgres "$pgdb" >/dev/null 2>&1 || true
  dropdb --if-exists -h 127.0.0.1 -U postgres "${pgdb}_raw" >/dev/null 2>&1 || true
}
trap cleanup EXIT
secret="bench-app-secret"
port=18790

# The server's CPU time so far (user + system), in clock ticks, from /proc.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Runs the server on database $1 (empty: SQLite in the data directory) and prints messages/s, the server's
# CPU time per message in µs and the cores it used on average: near the machine's core count (less the load
# generator's share) the run was CPU-bound; well below, it waited on commits.
ingest() {
  local url="$1" dir="$work/server-$port"
  mkdir -p "$dir"
  cd "$dir"
  export SWITCHBOARD_DATABASE__URL="$url" SWITCHBOARD_LOG__LEVEL=warn SWITCHBOARD_JOBS__ENABLED=false
  "$bin" init --workspace Bench --email bench@example.test --password bench-password >/dev/null
  local token
  token=$("$bin" token create --email bench@example.test --name bench | tail -n 1)
  SWITCHBOARD_SERVER__LISTEN="127.0.0.1:$port" "$bin" serve 2>/dev/null &
  server=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.05; done
  local channel
  channel=$(curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"WA\",\"plugin_id\":\"whatsapp-cloud\",\"config\":{\"phone_number_id\":\"1122334455667\",\"business_account_id\":\"1\"},\"secrets\":{\"access_token\":\"t\",\"app_secret\":\"$secret\",\"verify_token\":\"v\"}}" \
    "http://127.0.0.1:$port/api/v1/channels" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
  local ticks0 ticks1 start end rate
  ticks0=$(cpu_ticks "$server")
  start=$(date +%s%N)
  rate=$("$loadgen" "http://127.0.0.1:$port/webhooks/$channel" "$secret" "$count" "$concurrency" |
    sed -n 's/.*: \([0-9]*\) messages\/s$/\1/p')
  end=$(date +%s%N)
  ticks1=$(cpu_ticks "$server")
  awk -v r="$rate" -v t="$((ticks1 - ticks0))" -v hz="$(getconf CLK_TCK)" -v n="$count" -v ns="$((end - start))" \
    'BEGIN { printf "%s %.0f %.2f\n", r, t / hz * 1e6 / n, (t / hz) / (ns / 1e9) }'
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
  unset SWITCHBOARD_DATABASE__URL
  cd "$root"
  port=$((port + 1))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "| Backend | Raw insert, 1 row/txn | Raw insert, 64 rows/txn | Webhook → plugin → commit → 200 | Ratio to 64 rows/txn | Server CPU per message | Server's cores in use |"
echo "|---|---|---|---|---|---|---|"
raw_out=$("$raw" "sqlite://$work/raw.db")
single=$(echo "$raw_out" | awk '/^single/ {print $2}')
batched=$(echo "$raw_out" | awk '/^batched64/ {print $2}')
read -r sqlite cpu cores <<<"$(ingest "")"
echo "| SQLite | $single rows/s | $batched rows/s | **$sqlite messages/s** | $(ratio "$sqlite" "$batched") | $cpu µs | $cores |"
if pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  createdb -h 127.0.0.1 -U postgres "${pgdb}_raw"
  raw_out=$("$raw" "$pg/${pgdb}_raw")
  single=$(echo "$raw_out" | awk '/^single/ {print $2}')
  batched=$(echo "$raw_out" | awk '/^batched64/ {print $2}')
  createdb -h 127.0.0.1 -U postgres "$pgdb"
  read -r postgres cpu cores <<<"$(ingest "$pg/$pgdb")"
  echo "| PostgreSQL | $single rows/s | $batched rows/s | **$postgres messages/s** | $(ratio "$postgres" "$batched") | $cpu µs | $cores |"
fi
echo
echo "$count deliveries, $concurrency in flight, $(nproc) cores, $(date -u +%Y-%m-%d)."
