//! A channel plugin built against `switchboard:plugin@2.0.0`, which the server must refuse by name.

wit_bindgen::generate!({ path: "wit", world: "channel-plugin" });

struct Future;

impl exports::switchboard::plugin::channel::Guest for Future {
    fn describe() -> String {
        switchboard::plugin::log::log("describing");
        "from the future".into()
    }
}

export!(Future);
