#!/usr/bin/env bash
# Search on a large workspace: `switchboard reindex` timed, then searches (common and rare words, Arabic
# spelling variants, a word being typed, phone digits) timed by server/examples/search_bench.rs, then index
# freshness, against a seeded database; how, in bench/seeded.sh.
#
# Usage: bench/search.sh [CONVERSATIONS] [MESSAGES] [REQUESTS]   (default 100000 1000000 300; BENCH_PG=off
# skips PostgreSQL)
exec "$(dirname "$0")/seeded.sh" search "$@"
