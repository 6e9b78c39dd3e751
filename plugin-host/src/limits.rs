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

/// An admin's per-plugin changes to the default limits; unset fields keep the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitOverrides {
    pub timeout_ms: Option<u64>,
    pub memory_bytes: Option<usize>,
    pub host_calls: Option<u32>,
    pub hostcall_bytes: Option<usize>,
    pub table_entries: Option<usize>,
    pub input_bytes: Option<usize>,
    pub output_bytes: Option<usize>,
    pub log_bytes: Option<usize>,
}

impl LimitOverrides {
    /// `base` with these overrides applied.
    pub fn apply(&self, base: Limits) -> Limits {
        Limits {
            timeout_ms: self.timeout_ms.unwrap_or(base.timeout_ms),
            memory_bytes: self.memory_bytes.unwrap_or(base.memory_bytes),
            host_calls: self.host_calls.unwrap_or(base.host_calls),
            hostcall_bytes: self.hostcall_bytes.unwrap_or(base.hostcall_bytes),
            table_entries: self.table_entries.unwrap_or(base.table_entries),
            input_bytes: self.input_bytes.unwrap_or(base.input_bytes),
            output_bytes: self.output_bytes.unwrap_or(base.output_bytes),
            log_bytes: self.log_bytes.unwrap_or(base.log_bytes),
        }
    }
}

impl Limits {
    /// Refuses limits that would make every call fail or let one call take the machine.
    pub fn validate(&self) -> Result<(), String> {
        let rules: [(&str, bool); 5] = [
            ("timeout_ms", (1..=300_000).contains(&self.timeout_ms)),
            ("memory_bytes", (1 << 20..=4 << 30).contains(&self.memory_bytes)),
            ("host_calls", self.host_calls >= 1),
            ("table_entries", self.table_entries >= 1),
            ("input_bytes", self.input_bytes >= 1 && self.output_bytes >= 1 && self.hostcall_bytes >= 1),
        ];
        match rules.iter().find(|(_, ok)| !ok) {
            Some(("timeout_ms", _)) => Err("timeout_ms: must be between 1 and 300000".into()),
            Some(("memory_bytes", _)) => Err("memory_bytes: must be between 1 MiB and 4 GiB".into()),
            Some((key, _)) => Err(format!("{key}: must be at least 1")),
            None => Ok(()),
        }
    }
}
