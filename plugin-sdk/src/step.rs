//! The workflow-step world: implement [`Step`] and register it with [`register_step!`](crate::register_step).

pub use crate::bindings::step::exports::switchboard::plugin::step::{StepInfo, StepResult};

/// A workflow step. `describe` and `run` are required.
pub trait Step {
    /// Inputs (as a JSON Schema), outputs and branches.
    fn describe() -> StepInfo;

    /// Runs with the context (`contact`, `conversation`, `variables`) and the step's inputs, both JSON.
    fn run(context: serde_json::Value, inputs: serde_json::Value) -> Result<StepResult, String>;
}

/// A result that takes the `default` branch with these outputs.
pub fn outputs(outputs: serde_json::Value) -> StepResult {
    StepResult { outputs: outputs.to_string(), branch: "default".into() }
}

/// Glue used by [`register_step!`](crate::register_step).
#[doc(hidden)]
pub fn run_json<S: Step>(context: &str, inputs: &str) -> Result<StepResult, String> {
    let context = serde_json::from_str(context).map_err(|e| format!("bad context: {e}"))?;
    let inputs = serde_json::from_str(inputs).map_err(|e| format!("bad inputs: {e}"))?;
    S::run(context, inputs)
}

/// Registers a [`Step`] implementation as the plugin's export.
#[macro_export]
macro_rules! register_step {
    ($ty:ty) => {
        struct __SwitchboardStepExport;

        impl $crate::bindings::step::exports::switchboard::plugin::step::Guest for __SwitchboardStepExport {
            fn describe() -> $crate::step::StepInfo {
                <$ty as $crate::step::Step>::describe()
            }
            fn run(context: String, inputs: String) -> Result<$crate::step::StepResult, String> {
                $crate::step::run_json::<$ty>(&context, &inputs)
            }
        }

        $crate::bindings::step::export_step_plugin!(__SwitchboardStepExport with_types_in $crate::bindings::step);
    };
}
