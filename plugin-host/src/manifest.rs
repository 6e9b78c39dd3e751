//! `plugin.toml`: what a plugin is and what it needs (outbound hosts, key-value storage, the settings and
//! secrets a channel instance must provide). The admin's grants are intersected with these declarations.

use serde::{Deserialize, Serialize};

use super::egress::Grants;

/// The parsed manifest of one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub plugin: About,
    #[serde(default)]
    pub capabilities: Declared,
    /// Non-secret settings a channel instance (or the plugin) takes, e.g. a phone number id.
    #[serde(default)]
    pub config: Vec<Setting>,
    /// Secrets a channel instance provides, e.g. an access token; stored encrypted, never shown again.
    #[serde(default)]
    pub secrets: Vec<Setting>,
    /// Channel plugins: how the channel addresses contacts.
    #[serde(default)]
    pub channel: ChannelTraits,
}

/// The `[channel]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelTraits {
    /// How a contact's phone number is written as this channel's address, so that a conversation can be
    /// started with a contact who has never written: `digits` (`971501234567`, WhatsApp's ids) or `e164`
    /// (`+971501234567`, SMS). Absent: the channel learns addresses only from contacts who write first
    /// (Telegram, the website chat).
    pub phone_address: Option<PhoneAddress>,
    /// Contacts' e-mail addresses (lower-cased) are addresses here, so a conversation can be started with
    /// any contact who has one (e-mail).
    pub email_address: bool,
    /// The plugin takes outgoing files as bytes too (`data`, base64, beside the link) up to
    /// [`INLINE_MEDIA_BYTES`]: e-mail attaches them, where a link in a mail would expire.
    pub inline_media: bool,
}

/// The largest outgoing file handed to an `inline_media` channel as bytes (its base64 stays under the
/// default 4 MiB input cap of a call); bigger files go as links only.
pub const INLINE_MEDIA_BYTES: u64 = 2_500_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneAddress {
    Digits,
    E164,
}

impl PhoneAddress {
    /// The address of an E.164 phone number (`+` and digits).
    pub fn of(self, e164: &str) -> String {
        let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
        match self {
            PhoneAddress::Digits => digits,
            PhoneAddress::E164 => format!("+{digits}"),
        }
    }
}

/// The `[plugin]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct About {
    /// Stable identifier: lower-case letters, digits, `-` and `_`; channels refer to it.
    pub id: String,
    pub name: String,
    pub version: String,
    pub world: World,
    #[serde(default)]
    pub description: String,
    /// The component file, relative to the manifest (default: `<id>.wasm`).
    #[serde(default)]
    pub wasm: Option<String>,
}

/// Which interface a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    Channel,
    Step,
    Integration,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Channel => "channel",
            World::Step => "step",
            World::Integration => "integration",
        }
    }
}

/// The `[capabilities]` table: what the plugin asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Declared {
    /// Host patterns the plugin calls (`graph.facebook.com`, `*.twilio.com`, `http://localhost:9000`), or
    /// `*` for a plugin whose hosts come from its settings (a custom channel, an HTTP step): it then gets
    /// exactly the hosts the admin grants.
    pub outbound_hosts: Vec<String>,
    /// Whether it keeps state in its key-value storage.
    pub kv: bool,
    /// Whether it sends or reads mail through the host (interface 1.1.0), to hosts of `outbound_hosts`.
    pub mail: bool,
}

/// One `[[config]]` or `[[secrets]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
}

impl Manifest {
    /// Parses and checks a manifest; the error names the key at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| describe(text, &e))?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), String> {
        let id = &self.plugin.id;
        if id.is_empty()
            || id.len() > 64
            || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(format!("plugin.id: `{id}` must be 1-64 lower-case letters, digits, - and _"));
        }
        if self.plugin.name.trim().is_empty() {
            return Err("plugin.name: must not be empty".into());
        }
        if self.plugin.version.trim().is_empty() {
            return Err("plugin.version: must not be empty".into());
        }
        if let Some(wasm) = &self.plugin.wasm
            && (wasm.contains("..") || wasm.starts_with('/') || !wasm.ends_with(".wasm"))
        {
            return Err(format!("plugin.wasm: `{wasm}` must be a .wasm file beside the manifest"));
        }
        for pattern in &self.capabilities.outbound_hosts {
            check_host_pattern(pattern).map_err(|e| format!("capabilities.outbound_hosts: `{pattern}` {e}"))?;
        }
        for (table, list) in [("config", &self.config), ("secrets", &self.secrets)] {
            let mut seen = std::collections::BTreeSet::new();
            for s in list {
                if s.name.is_empty() || !s.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("{table}.name: `{}` must be letters, digits and _", s.name));
                }
                if !seen.insert(&s.name) {
                    return Err(format!("{table}.name: `{}` is declared twice", s.name));
                }
            }
        }
        Ok(())
    }

    /// The component's file name beside the manifest.
    pub fn wasm_file(&self) -> String {
        self.plugin.wasm.clone().unwrap_or_else(|| format!("{}.wasm", self.plugin.id))
    }

    /// What the plugin may use: its declarations intersected with the admin's grant. `None` from the
    /// admin means "what the plugin declares" (bundled plugins) or "nothing" (`trusted = false`).
    pub fn effective_grants(
        &self,
        granted_hosts: Option<&[String]>,
        kv_granted: bool,
        mail_granted: bool,
        trusted: bool,
    ) -> Grants {
        let declared = &self.capabilities.outbound_hosts;
        let outbound_hosts = match granted_hosts {
            None if trusted => declared.iter().filter(|p| p.as_str() != "*").cloned().collect(),
            None => Vec::new(),
            Some(granted) => intersect(declared, granted),
        };
        Grants { outbound_hosts, kv: self.capabilities.kv && kv_granted, mail: self.capabilities.mail && mail_granted }
    }
}

/// Patterns in both lists: a declared pattern the admin's covers, or an admin's pattern a declared one
/// covers (the narrower of the two is kept).
fn intersect(declared: &[String], granted: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for d in declared {
        for g in granted {
            let narrower = if covers(g, d) {
                Some(d)
            } else if covers(d, g) {
                Some(g)
            } else {
                None
            };
            if let Some(p) = narrower
                && !out.contains(p)
            {
                out.push(p.clone());
            }
        }
    }
    out
}

/// Whether every host `inner` allows is allowed by `outer`.
fn covers(outer: &str, inner: &str) -> bool {
    let norm = |p: &str| {
        let p = p.trim_end_matches('/').to_ascii_lowercase();
        if p.contains("://") { p } else { format!("https://{p}") }
    };
    if outer == "*" {
        return inner != "*";
    }
    let (outer, inner) = (norm(outer), norm(inner));
    if outer == inner {
        return true;
    }
    // `https://*.example.com` covers `https://api.example.com` and `https://*.eu.example.com`.
    match (outer.split_once("://*."), inner.split_once("://")) {
        (Some((o_scheme, o_suffix)), Some((i_scheme, i_host))) => {
            o_scheme == i_scheme && i_host.trim_start_matches("*.").ends_with(&format!(".{o_suffix}"))
        }
        _ => false,
    }
}

fn check_host_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let rest = match pattern.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        Some((scheme, _)) => return Err(format!("has scheme `{scheme}` (only http and https)")),
        None => pattern,
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('?') || host.contains('@') {
        return Err("must be a host name, optionally with a scheme and a port, without a path".into());
    }
    if host.contains('*') && !(host.starts_with("*.") && !host[2..].contains('*') && host[2..].contains('.')) {
        return Err("may only use `*.` at its start, followed by a domain with a dot".into());
    }
    Ok(())
}

/// A TOML error on one line, quoting the line so the key at fault is named.
fn describe(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let line_no = text[..start].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or_default().trim();
            format!("line {line_no} (`{line}`): {}", e.message().trim())
        }
        None => e.message().trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_addresses_are_written_as_the_channel_wants() {
        let m = Manifest::parse(
            "[plugin]\nid = \"sms\"\nname = \"S\"\nversion = \"1.0.0\"\nworld = \"channel\"\n\
             [channel]\nphone_address = \"e164\"\n",
        )
        .expect("manifest");
        assert_eq!(m.channel.phone_address.map(|p| p.of("+971501234567")), Some("+971501234567".into()));
        assert_eq!(PhoneAddress::Digits.of("+971501234567"), "971501234567");
        let bad = "[plugin]\nid = \"x\"\nname = \"X\"\nversion = \"1.0.0\"\nworld = \"channel\"\n\
                   [channel]\nphone_address = \"fax\"\n";
        assert!(Manifest::parse(bad).is_err());
    }

    const GOOD: &str = r#"
[plugin]
id = "acme-sms"
name = "Acme SMS"
version = "1.2.0"
world = "channel"

[capabilities]
outbound_hosts = ["api.acme.test", "*.cdn.acme.test"]
kv = true

[[config]]
name = "sender"
required = true

[[secrets]]
name = "api_key"
required = true
"#;

    #[test]
    fn a_good_manifest_parses() {
        let m = Manifest::parse(GOOD).expect("parses");
        assert_eq!(m.plugin.world, World::Channel);
        assert_eq!(m.wasm_file(), "acme-sms.wasm");
        assert_eq!(m.secrets[0].name, "api_key");
    }

    #[test]
    fn mistakes_name_the_key() {
        let bad_id = GOOD.replace("acme-sms", "Acme SMS");
        assert!(Manifest::parse(&bad_id).expect_err("bad id").contains("plugin.id"));
        let bad_world = GOOD.replace("\"channel\"", "\"gateway\"");
        assert!(Manifest::parse(&bad_world).expect_err("bad world").contains("world"));
        let bad_host = GOOD.replace("api.acme.test", "api.acme.test/path");
        assert!(Manifest::parse(&bad_host).expect_err("path").contains("outbound_hosts"));
        let unknown = GOOD.replace("kv = true", "kv = true\nfilesystem = true");
        assert!(Manifest::parse(&unknown).expect_err("unknown").contains("filesystem"));
        let escape = GOOD.replace("world = \"channel\"", "world = \"channel\"\nwasm = \"../x.wasm\"");
        assert!(Manifest::parse(&escape).expect_err("escape").contains("plugin.wasm"));
    }

    #[test]
    fn grants_are_the_intersection() {
        let m = Manifest::parse(GOOD).expect("parses");
        let hosts = |g: Grants| g.outbound_hosts;
        // Bundled (trusted) plugins get what they declare unless the admin narrows it.
        assert_eq!(hosts(m.effective_grants(None, true, true, true)), ["api.acme.test", "*.cdn.acme.test"]);
        // Third-party plugins get nothing the admin did not grant.
        assert!(hosts(m.effective_grants(None, true, true, false)).is_empty());
        // An admin's wildcard grants the declared names under it, never more.
        let g = m.effective_grants(Some(&["*.acme.test".into(), "evil.test".into()]), true, true, false);
        assert_eq!(hosts(g), ["api.acme.test", "*.cdn.acme.test"]);
        // An admin's narrower name inside a declared wildcard is kept as the admin's.
        let g = m.effective_grants(Some(&["img.cdn.acme.test".into()]), true, true, false);
        assert_eq!(hosts(g), ["img.cdn.acme.test"]);
        // Scheme must match: `http://` is never implied.
        assert!(hosts(m.effective_grants(Some(&["http://api.acme.test".into()]), true, true, false)).is_empty());
        // `*` declares "whatever the admin grants", and nothing without a grant.
        let open = Manifest::parse(&GOOD.replace("\"api.acme.test\", \"*.cdn.acme.test\"", "\"*\"")).expect("parses");
        assert!(hosts(open.effective_grants(None, true, true, true)).is_empty());
        let g = open.effective_grants(Some(&["http://127.0.0.1:9000".into(), "*".into()]), true, true, false);
        assert_eq!(hosts(g), ["http://127.0.0.1:9000"]);
        // kv needs both the declaration and the grant.
        assert!(m.effective_grants(None, true, true, true).kv);
        assert!(!m.effective_grants(None, false, true, true).kv);
    }
}
