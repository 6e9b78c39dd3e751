#!/usr/bin/env bash
# Workflow throughput: CONTACTS contacts enter a workflow (send a message, wait 1 s, ask a question) when a
# tag is added, run by the server's own trigger reader and job worker; prints steps/s, the lag from tag to
# first step, and the baseline measured in the same run (one-transaction store changes/s). On SQLite, then
# on PostgreSQL when one answers at 127.0.0.1:5432 (database `test`, each run in a fresh database).
#
# Usage: bench/workflows.sh [CONTACTS]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
contacts="${1:-10000}"
cargo build --release --example workflow_bench >/dev/null 2>&1
bin="$PWD/target/release/examples/workflow_bench"
echo "== SQLite"
"$bin" "$contacts"
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  db="wfbench_$$"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db"
  trap 'psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db"' EXIT
  echo "== PostgreSQL"
  "$bin" "$contacts" "postgres://postgres@127.0.0.1:5432/$db"
fi
