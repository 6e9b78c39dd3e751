//! The integration world: implement [`Integration`] and register it with
//! [`register_integration!`](crate::register_integration).

pub use crate::bindings::integration::exports::switchboard::plugin::integration::{ActionInfo, IntegrationInfo};

/// An integration: receives the events it subscribes to and offers actions.
pub trait Integration {
    /// Subscriptions and actions.
    fn describe() -> IntegrationInfo;

    /// One event of the log; the default ignores it.
    fn on_event(_event: serde_json::Value) -> Result<(), String> {
        Ok(())
    }

    /// Runs an action; the default knows none.
    fn run_action(name: &str, _input: serde_json::Value) -> Result<serde_json::Value, String> {
        Err(format!("unknown action {name}"))
    }
}

/// Glue used by [`register_integration!`](crate::register_integration).
#[doc(hidden)]
pub mod glue {
    use super::Integration;

    pub fn on_event<I: Integration>(event: &str) -> Result<(), String> {
        I::on_event(serde_json::from_str(event).map_err(|e| format!("bad event: {e}"))?)
    }

    pub fn run_action<I: Integration>(name: &str, input: &str) -> Result<String, String> {
        let input = serde_json::from_str(input).map_err(|e| format!("bad input: {e}"))?;
        I::run_action(name, input).map(|out| out.to_string())
    }
}

/// Registers an [`Integration`] implementation as the plugin's export.
#[macro_export]
macro_rules! register_integration {
    ($ty:ty) => {
        struct __SwitchboardIntegrationExport;

        impl $crate::bindings::integration::exports::switchboard::plugin::integration::Guest
            for __SwitchboardIntegrationExport
        {
            fn describe() -> $crate::integration::IntegrationInfo {
                <$ty as $crate::integration::Integration>::describe()
            }
            fn on_event(event: String) -> Result<(), String> {
                $crate::integration::glue::on_event::<$ty>(&event)
            }
            fn run_action(name: String, input: String) -> Result<String, String> {
                $crate::integration::glue::run_action::<$ty>(&name, &input)
            }
        }

        $crate::bindings::integration::export_integration_plugin!(
            __SwitchboardIntegrationExport with_types_in $crate::bindings::integration
        );
    };
}
