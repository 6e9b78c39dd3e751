//! Outbound HTTP for plugins: only to granted hosts, with DNS resolved by the host and loopback, private,
//! link-local and other non-public addresses refused unless the admin allows that exact address;
//! timeouts clamped, redirects not followed, response bodies capped, requests in flight capped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a plugin may reach: the intersection of what its manifest declares and what the admin grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grants {
    /// Host patterns: `api.example.com` or `*.example.com`, optionally with a scheme (`http://` must be
    /// explicit; the default is `https://` only) and a port.
    pub outbound_hosts: Vec<String>,
    /// Whether the plugin may use its key-value storage.
    pub kv: bool,
    /// Whether the plugin may use the `mail` interface (SMTP and IMAP to its granted hosts).
    pub mail: bool,
}

/// Admin-wide egress policy shared by every plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressPolicy {
    /// Non-public addresses plugins may still reach (e.g. `127.0.0.1` for a local test provider).
    pub allow_private_addresses: Vec<IpAddr>,
    /// Upper bound of a request's timeout, in milliseconds.
    pub max_timeout_ms: u64,
    /// Largest response body, in bytes.
    pub max_response_bytes: usize,
    /// Requests one plugin may have in flight at once.
    pub max_concurrent_per_plugin: usize,
    /// PEM certificates of CAs trusted besides the public web PKI's (a company's own mail or API server,
    /// a test server's CA).
    pub extra_root_certificates: Vec<String>,
}

impl EgressPolicy {
    pub fn standard() -> Self {
        Self {
            allow_private_addresses: Vec::new(),
            max_timeout_ms: 15_000,
            max_response_bytes: 16 << 20,
            max_concurrent_per_plugin: 16,
            extra_root_certificates: Vec::new(),
        }
    }
}

/// Why a request was not sent or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressError {
    Denied(String),
    Invalid(String),
    Timeout,
    Connection(String),
    TooLarge,
}

/// Whether an address is publicly routable; everything else needs the admin's explicit allowance.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && ip.segments()[1] == 0x0db8
        || first == 0x0064 && ip.segments()[1] == 0xff9b)
}

fn allowed_address(ip: IpAddr, policy: &EgressPolicy) -> bool {
    is_public(ip) || policy.allow_private_addresses.contains(&ip)
}

/// Whether `url` is covered by one of the plugin's granted host patterns.
pub fn is_granted(url: &url::Url, grants: &Grants) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let port = url.port_or_known_default();
    grants.outbound_hosts.iter().any(|pattern| {
        let (scheme, rest) = match pattern.split_once("://") {
            Some((s, r)) => (s, r),
            None => ("https", pattern.as_str()),
        };
        if scheme != url.scheme() {
            return false;
        }
        let rest = rest.trim_end_matches('/');
        let (pat_host, pat_port) = match rest.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().ok())
            }
            _ => (rest, None),
        };
        let pat_host = pat_host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if pat_port.is_some() && pat_port != port {
            return false;
        }
        match pat_host.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == pat_host,
        }
    })
}

/// Resolves names for the shared client and drops every address the policy refuses, so a granted name
/// that resolves to a private address (DNS rebinding, a metadata endpoint) is never connected to.
struct FilteringResolver {
    policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs.iter().copied().filter(|a| allowed_address(a.ip(), &policy)).collect();
            if allowed.is_empty() {
                let refused = addrs.first().map(|a| a.ip().to_string()).unwrap_or_else(|| "nothing".into());
                let err: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves to {refused}, a non-public address that is not allowed").into();
                return Err(err);
            }
            let iter: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(iter)
        })
    }
}

/// The HTTP client plugins' requests go through.
#[derive(Clone)]
pub struct Egress {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
    /// The server's own addresses (`host`, port), refused even when granted: a plugin calling the server
    /// that runs it (a workflow's HTTP request to its own webhook, say) could loop forever.
    own: Arc<std::sync::RwLock<Vec<(String, u16)>>>,
    /// TLS settings of mail connections (HTTP's are the client's own).
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress").field("policy", &self.policy).finish()
    }
}

/// One outbound request as a plugin asks for it.
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: Option<u32>,
}

/// The provider's answer.
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Egress {
    pub fn new(policy: EgressPolicy) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let tls = super::mail::tls_config(&policy.extra_root_certificates)?;
        let mut client = reqwest::Client::builder();
        for pem in &policy.extra_root_certificates {
            let cert =
                reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("a root certificate: {e}"))?;
            client = client.add_root_certificate(cert);
        }
        let client = client
            .dns_resolver(Arc::new(FilteringResolver { policy: policy.clone() }))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, policy, own: Arc::default(), tls })
    }

    /// Refuses requests to `host:port` from now on (the server's own listening address and public URL).
    pub fn block_origin(&self, host: &str, port: u16) {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if let Ok(mut own) = self.own.write()
            && !own.contains(&(host.clone(), port))
        {
            own.push((host, port));
        }
    }

    fn is_own(&self, url: &url::Url) -> bool {
        let host =
            url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(0);
        self.own.read().is_ok_and(|own| own.iter().any(|(h, p)| *h == host && *p == port))
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// The TLS settings of mail connections: the public roots and the admin's.
    pub(super) fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// The address a mail connection to `host:port` may use: the host granted (a pattern without a scheme
    /// covers mail as it covers HTTPS), not this server, resolved here with non-public addresses refused
    /// unless allowed.
    pub async fn mail_target(&self, grants: &Grants, host: &str, port: u16) -> Result<SocketAddr, EgressError> {
        let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
        let shown = if bare.contains(':') { format!("[{bare}]") } else { bare.to_owned() };
        let url = url::Url::parse(&format!("https://{shown}:{port}/"))
            .map_err(|e| EgressError::Invalid(format!("mail server `{host}`: {e}")))?;
        if self.is_own(&url) {
            return Err(EgressError::Denied(format!("{shown}:{port} is this server's own address")));
        }
        if !is_granted(&url, grants) {
            return Err(EgressError::Denied(format!("the mail server {shown} is not granted to this plugin")));
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| EgressError::Connection(format!("{bare}: {e}")))?
            .collect();
        addrs.iter().copied().find(|a| allowed_address(a.ip(), &self.policy)).ok_or_else(|| {
            let refused = addrs.first().map(|a| a.ip().to_string()).unwrap_or_else(|| "nothing".into());
            EgressError::Denied(format!("{bare} resolves to {refused}, a non-public address that is not allowed"))
        })
    }

    /// Sends the request if the grants and the policy allow it.
    pub async fn send(&self, grants: &Grants, req: OutboundRequest) -> Result<OutboundResponse, EgressError> {
        let url = url::Url::parse(&req.url).map_err(|e| EgressError::Invalid(format!("{}: {e}", req.url)))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(EgressError::Invalid(format!("unsupported scheme {}", url.scheme())));
        }
        if self.is_own(&url) {
            return Err(EgressError::Denied(format!(
                "{} is this server's own address",
                url.origin().ascii_serialization()
            )));
        }
        if !is_granted(&url, grants) {
            let host = url.host_str().unwrap_or_default();
            return Err(EgressError::Denied(format!("{}://{host} is not granted to this plugin", url.scheme())));
        }
        // The resolver never sees IP literals, so check them here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && !allowed_address(ip, &self.policy)
        {
            return Err(EgressError::Denied(format!("{ip} is a non-public address that is not allowed")));
        }
        let method = reqwest::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| EgressError::Invalid(format!("bad method {}", req.method)))?;
        let timeout = u64::from(req.timeout_ms.unwrap_or(u32::MAX)).min(self.policy.max_timeout_ms);
        let mut builder = self.client.request(method, url).timeout(Duration::from_millis(timeout)).body(req.body);
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > self.policy.max_response_bytes {
                return Err(EgressError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse { status, headers, body })
    }
}

fn classify(e: &reqwest::Error) -> EgressError {
    if e.is_timeout() {
        return EgressError::Timeout;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    if text.contains("non-public address") {
        EgressError::Denied(text)
    } else if e.is_builder() {
        EgressError::Invalid(text)
    } else {
        EgressError::Connection(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip} must not be public");
        }
        for ip in ["8.8.8.8", "157.240.1.1", "2a03:2880::1"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip} is public");
        }
    }

    #[test]
    fn grants_match_host_scheme_and_port() {
        let grants = Grants {
            outbound_hosts: vec!["graph.facebook.com".into(), "*.fbcdn.net".into(), "http://127.0.0.1:9000".into()],
            kv: false,
            mail: false,
        };
        let ok = |u: &str| is_granted(&url::Url::parse(u).expect("url"), &grants);
        assert!(ok("https://graph.facebook.com/v20.0/123/messages"));
        assert!(ok("https://scontent.fbcdn.net/x.jpg"));
        assert!(!ok("https://fbcdn.net/x.jpg"), "the wildcard needs a subdomain");
        assert!(!ok("http://graph.facebook.com/"), "plain http must be granted explicitly");
        assert!(!ok("https://graph.facebook.com.evil.test/"));
        assert!(ok("http://127.0.0.1:9000/messages"));
        assert!(!ok("http://127.0.0.1:9001/messages"), "another port");
        assert!(!ok("https://api.telegram.org/"));
    }
}
