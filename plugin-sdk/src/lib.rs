//! Guest-side SDK for Switchboard plugins (channels, workflow steps, integrations).
//!
//! The versioned WIT host interface (`plugin-sdk/wit/`), the traits per world, the register macro and
//! the offline test harness arrive with the plugin runtime (issue 3). This crate exists now so the
//! workspace layout is final and plugins have one obvious home for shared guest code.

/// The version of the plugin interface this SDK targets; frozen once released.
pub const INTERFACE_VERSION: &str = "1.0.0";
