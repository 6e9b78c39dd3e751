#!/usr/bin/env bash
# Latency on a large workspace, shared by bench/inbox.sh and bench/search.sh: `switchboard dev seed` fills a
# fresh SQLite database (then PostgreSQL, when reachable) with CONVERSATIONS conversations and MESSAGES
# messages, the release server serves it, and server/examples/KIND_bench.rs times requests one at a time
# (p50, p99) beside the HTTP floor (GET /healthz) and an authenticated one-row read (GET /api/v1/auth/me)
# measured in the same run.
#
# Usage: bench/seeded.sh inbox|search [CONVERSATIONS] [MESSAGES] [REQUESTS]   (default 100000 1000000 300)
# PostgreSQL: BENCH_PG=postgres://postgres@127.0.0.1:5432 (default; skipped when pg_isready says no, or
# with BENCH_PG=off).
#
# The seed step (not what is measured) runs with commits that are not synced one by one, to load a million
# messages in minutes rather than an hour: SQLite with database.sqlite_synchronous=normal, PostgreSQL with
# synchronous_commit=off. `search` then builds the index with `switchboard reindex` (timed: the rebuild
# rate); `inbox` serves with search off, so no index is built on the cores being measured.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: bench/seeded.sh inbox|search [CONVERSATIONS] [MESSAGES] [REQUESTS]}"
case "$kind" in inbox | search) ;; *) echo "unknown benchmark: $kind" >&2; exit 2 ;; esac
conversations="${2:-100000}"
messages="${3:-1000000}"
requests="${4:-300}"
pg="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
cargo build --release -p switchboard --bin switchboard --example "${kind}_bench" >/dev/null 2>&1
root="$PWD"
bin="$root/target/release/switchboard"
bench="$root/target/release/examples/${kind}_bench"
work="$(mktemp -d)"
pgdb="bench_${kind}_$$"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
  dropdb --if-exists -h 127.0.0.1 -U postgres "$pgdb" >/dev/null 2>&1 || true
}
trap cleanup EXIT
port=18890

# Seeds database $1 (empty: SQLite in the data directory; $2 is the seed-time URL), serves it, prints the
# latency table.
run() {
  local url="$1" seed_url="$2" dir="$work/server-$port"
  mkdir -p "$dir"
  cd "$dir"
  export SWITCHBOARD_LOG__LEVEL=warn SWITCHBOARD_JOBS__ENABLED=false
  export SWITCHBOARD_DATABASE__URL="$seed_url" SWITCHBOARD_DATABASE__SQLITE_SYNCHRONOUS=normal
  "$bin" init --workspace Bench --email bench@example.test --password bench-password >/dev/null
  "$bin" dev seed --conversations "$conversations" --messages "$messages" >&2
  export SWITCHBOARD_DATABASE__URL="$url" SWITCHBOARD_DATABASE__SQLITE_SYNCHRONOUS=full
  local token
  token=$("$bin" token create --email bench@example.test --name bench | tail -n 1)
  if [ "$kind" = search ]; then
    "$bin" reindex | tail -n 1
    echo
  else
    export SWITCHBOARD_SEARCH__ENABLED=false
  fi
  SWITCHBOARD_SERVER__LISTEN="127.0.0.1:$port" "$bin" serve 2>/dev/null &
  server=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.05; done
  if [ "$kind" = search ]; then
    "$bench" "http://127.0.0.1:$port" "$token" "$requests"
    echo
    echo "Server RSS after the run: $(($(awk '/VmRSS/ {print $2}' "/proc/$server/status") / 1024)) MiB; index size: $(du -sh "$dir/data/search" | cut -f1)"
  else
    local team
    team=$(curl -sf -H "authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/teams" |
      sed -n 's/^{"items":\[{"id":\([0-9]*\).*/\1/p')
    "$bench" "http://127.0.0.1:$port" "$token" "$team" "$requests"
  fi
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
  unset SWITCHBOARD_DATABASE__URL SWITCHBOARD_SEARCH__ENABLED
  cd "$root"
  port=$((port + 1))
}

echo "### SQLite"
echo
run "" ""
if [ "$pg" != off ] && pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  createdb -h 127.0.0.1 -U postgres "$pgdb"
  echo
  echo "### PostgreSQL"
  echo
  run "$pg/$pgdb" "$pg/$pgdb?options=-c%20synchronous_commit%3Doff"
fi
echo
echo "$conversations conversations, $messages messages, $requests requests each, $(nproc) cores, $(date -u +%Y-%m-%d)."
