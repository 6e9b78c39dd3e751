#!/usr/bin/env bash
# Stops what start.sh DIR started, by the PID files in DIR/run only (never by process name:
# other tests' servers, or the system's dovecot, may be running beside this one).
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: stop.sh DIR" >&2; exit 1; }
RUN="$1/run"

# A daemon's parent is PID 1 here, which may reap it late: a zombie counts as stopped.
# (/proc, not ps: procps is not an essential package.)
alive() { local st; st="$(cat "/proc/$1/stat" 2>/dev/null)" && st="${st##*) }" && [ "${st:0:1}" != Z ]; }

stop_pid() { # pidfile expected-command-line-word
  [ -s "$1" ] || return 0
  local pid; pid="$(cat "$1")"
  # A stale file (server died, PID reused) must not make us signal somebody else's process.
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || { rm -f "$1"; return 0; }
  kill -TERM "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
  # Wait (<=10 s) so that a caller deleting DIR right after does not race a live process.
  for _ in $(seq 200); do alive "$pid" || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

stop_pid "$RUN/smtp.pid" smtp_server.py
# Dovecot's master takes its children (imap, lmtp, auth...) down with it on SIGTERM.
stop_pid "$RUN/master.pid" dovecot
exit 0
