//! Per-call limits of a plugin, with safe defaults; each is enforced by wasmtime or by the host imports.

use serde::{Deserialize, Serialize};

/// What one plugin call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock deadline of one call, enforced with epoch interruption.
    pub timeout_ms: u64,
    /// Linear memory a call may grow to.
    pub memory_bytes: usize,
    /// Host calls (log, kv, config, http, clock) one call may make.
    pub host_calls: u32,
    /// Bytes the guest may pass to the host in one host call.
    pub hostcall_bytes: usize,
    /// Entries of the resource table (WASI handles).
    pub table_entries: usize,
    /// Largest input (webhook body, message) handed to a plugin.
    pub input_bytes: usize,
    /// Largest output (events, responses) accepted from a plugin.
    pub output_bytes: usize,
    /// Largest log message kept; longer ones are cut.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: 5_000,
            memory_bytes: 64 << 20,
            host_calls: 1_000,
            hostcall_bytes: 4 << 20,
            table_entries: 1_000,
            input_bytes: 4 << 20,
            output_bytes: 4 << 20,
            log_bytes: 4096,
        }
    }
}
