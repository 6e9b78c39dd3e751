#!/usr/bin/env bash
# Cold start and idle memory of the release binary, written to stdout as a Markdown table.
#
# Cold start: from exec of `switchboard serve` (SQLite, migrations applied, one workspace, bundled plugins
# loaded from the compile cache) to the first successful GET /healthz; also the very first start, which
# compiles the bundled plugins. Baseline in the same run: exec of `switchboard --version`, which pays process
# start-up and dynamic linking but opens no database. Idle RSS: VmRSS after the server has been idle for
# 2 s, against the baseline of a process that only sleeps (`sleep`), measured the same way.
#
# Usage: bench/startup.sh [RUNS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
cargo build --release -p switchboard >/dev/null 2>&1
bin="$PWD/target/release/switchboard"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin" init --workspace Bench --email bench@example.test --password bench-password >/dev/null
# The first start after install compiles the bundled plugins; later starts load them from data/plugin-cache.
rm -rf data/plugin-cache
t0=$(date +%s%N)
SWITCHBOARD_SERVER__LISTEN="127.0.0.1:18699" SWITCHBOARD_LOG__LEVEL=warn "$bin" serve 2>/dev/null &
pid=$!
until curl -sf "http://127.0.0.1:18699/healthz" >/dev/null 2>&1; do :; done
first=$(( ($(date +%s%N) - t0) / 1000 ))
until curl -sf "http://127.0.0.1:18699/readyz" >/dev/null 2>&1; do :; done
first_ready=$(( ($(date +%s%N) - t0) / 1000 ))
kill -TERM "$pid"; wait "$pid" || true

now_ns() { date +%s%N; }
port_base=18700
starts=()
readys=()
versions=()
rss=""
for i in $(seq 1 "$runs"); do
  t0=$(now_ns); "$bin" --version >/dev/null; t1=$(now_ns)
  versions+=($(( (t1 - t0) / 1000 )))
  port=$((port_base + i))
  t0=$(now_ns)
  SWITCHBOARD_SERVER__LISTEN="127.0.0.1:$port" SWITCHBOARD_LOG__LEVEL=warn "$bin" serve 2>/dev/null &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do :; done
  t1=$(now_ns)
  starts+=($(( (t1 - t0) / 1000 )))
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do :; done
  readys+=($(( ($(now_ns) - t0) / 1000 )))
  if [ "$i" = "$runs" ]; then
    sleep 2
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  fi
  kill -TERM "$pid"; wait "$pid" || true
done
sleep 30 & spid=$!; sleep 0.5
base_rss=$(awk '/VmRSS/ {print $2}' "/proc/$spid/status"); kill "$spid" 2>/dev/null || true

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
cold=$(median "${starts[@]}"); ver=$(median "${versions[@]}")
echo "| measure | value | baseline (same run) | ratio | target |"
echo "|---|---|---|---|---|"
echo "| cold start to first /healthz (median of $runs) | $(ms "$cold") ms | \`switchboard --version\`: $(ms "$ver") ms | $(awk -v a="$cold" -v b="$ver" 'BEGIN {printf "%.1f×", a / b}') | ≤ 500 ms |"
echo "| start to /readyz, plugins loaded from the cache (median of $runs) | $(ms "$(median "${readys[@]}")") ms | | | |"
echo "| first start ever, nothing cached: /healthz; /readyz (plugins compiled) | $(ms "$first") ms; $(ms "$first_ready") ms | | | |"
echo "| idle RSS after start (SQLite) | $(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}') MiB | \`sleep\`: $(awk -v k="$base_rss" 'BEGIN {printf "%.1f", k / 1024}') MiB | $(awk -v a="$rss" -v b="$base_rss" 'BEGIN {printf "%.1f×", a / b}') | ≤ 30 MiB |"
