#!/usr/bin/env bash
# Inbox latency on a large workspace: the inbox's requests (views, filters, the next page, sidebar counts)
# timed by server/examples/inbox_bench.rs against a seeded database; how, in bench/seeded.sh.
#
# Usage: bench/inbox.sh [CONVERSATIONS] [MESSAGES] [REQUESTS]   (default 100000 1000000 300; BENCH_PG=off
# skips PostgreSQL)
exec "$(dirname "$0")/seeded.sh" inbox "$@"
