//! The `mail` host interface (since 1.1.0): SMTP sends and IMAP reads for plugins, over TLS only, to
//! granted hosts at allowed addresses, with the same resolver rules as outbound HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;

use super::bindings::channel::switchboard::plugin::mail::{self, FetchResult, Fetched, MailError, Security, Server};
use super::egress::{Egress, EgressError, Grants};
use super::host::{PluginState, Transport};

/// The most message bytes one `fetch` hands a plugin; past it the rest waits for the next call.
const FETCH_BYTES: usize = 8 << 20;
/// A message above this comes as its header only (the plugin says it stayed in the mailbox).
const MESSAGE_BYTES: u32 = 8 << 20;
/// The most messages one `fetch` returns, whatever the plugin asks.
const FETCH_COUNT: u32 = 100;

impl PluginState {
    /// Whether the plugin may use mail, and one of its connections in flight (shared with HTTP) while it does.
    fn mail_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, MailError> {
        if !self.net.grants.mail {
            return Err(MailError::Denied(
                "mail is not granted to this plugin (declare `mail = true` in its manifest)".into(),
            ));
        }
        self.net
            .inflight
            .clone()
            .try_acquire_owned()
            .map_err(|_| MailError::Limited("too many connections in flight for this plugin".into()))
    }
}

impl mail::Host for PluginState {
    async fn send(
        &mut self,
        server: Server,
        from: String,
        recipients: Vec<String>,
        message: Vec<u8>,
    ) -> wasmtime::Result<Result<(), MailError>> {
        self.charge()?;
        let _permit = match self.mail_permit() {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        let result = match &self.net.transport {
            Transport::Live(egress) => send_live(egress, &self.net.grants, &server, &from, &recipients, &message).await,
            Transport::Recorded(recorded) => {
                recorded.mail_send(&self.net.grants, &server, &from, &recipients, &message)
            }
        };
        count(&self.call.plugin_id, "send", &result);
        Ok(result)
    }

    async fn fetch(
        &mut self,
        server: Server,
        mailbox: String,
        after_uid: u32,
        limit: u32,
    ) -> wasmtime::Result<Result<FetchResult, MailError>> {
        self.charge()?;
        let _permit = match self.mail_permit() {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        let limit = limit.clamp(1, FETCH_COUNT);
        let result = match &self.net.transport {
            Transport::Live(egress) => fetch_live(egress, &self.net.grants, &server, &mailbox, after_uid, limit).await,
            Transport::Recorded(recorded) => recorded.mail_fetch(&self.net.grants, &server, &mailbox, after_uid, limit),
        };
        count(&self.call.plugin_id, "fetch", &result);
        Ok(result)
    }

    async fn append(
        &mut self,
        server: Server,
        mailbox: String,
        message: Vec<u8>,
    ) -> wasmtime::Result<Result<(), MailError>> {
        self.charge()?;
        let _permit = match self.mail_permit() {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        let result = match &self.net.transport {
            Transport::Live(egress) => append_live(egress, &self.net.grants, &server, &mailbox, &message).await,
            Transport::Recorded(recorded) => recorded.mail_append(&self.net.grants, &server, &mailbox, &message),
        };
        count(&self.call.plugin_id, "append", &result);
        Ok(result)
    }
}

fn count<T>(plugin: &str, op: &'static str, result: &Result<T, MailError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(MailError::Denied(_)) => "denied",
        Err(_) => "error",
    };
    metrics::counter!("switchboard_plugin_mail_operations_total", "plugin" => plugin.to_owned(), "op" => op, "outcome" => outcome)
        .increment(1);
}

fn denied(e: EgressError) -> MailError {
    match e {
        EgressError::Denied(why) | EgressError::Invalid(why) => MailError::Denied(why),
        EgressError::Timeout => MailError::Timeout,
        EgressError::Connection(why) => MailError::Connection(why),
        EgressError::TooLarge => MailError::TooLarge,
    }
}

/// Runs `work` under the egress policy's timeout.
async fn timed<T>(egress: &Egress, work: impl Future<Output = Result<T, MailError>>) -> Result<T, MailError> {
    let limit = Duration::from_millis(egress.policy().max_timeout_ms.max(1_000));
    tokio::time::timeout(limit, work).await.unwrap_or(Err(MailError::Timeout))
}

async fn send_live(
    egress: &Egress,
    grants: &Grants,
    server: &Server,
    from: &str,
    recipients: &[String],
    message: &[u8],
) -> Result<(), MailError> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;
    use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};

    if message.len() > egress.policy().max_response_bytes {
        return Err(MailError::TooLarge);
    }
    let parse = |a: &str| a.trim().parse::<Address>().map_err(|e| MailError::Rejected(format!("`{a}`: {e}")));
    let sender = parse(from)?;
    let to = recipients.iter().map(|r| parse(r)).collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(Some(sender.clone()), to).map_err(|e| MailError::Rejected(e.to_string()))?;
    let addr = egress.mail_target(grants, &server.host, server.port).await.map_err(denied)?;
    let mut tls = TlsParameters::builder(server.host.clone());
    for pem in &egress.policy().extra_root_certificates {
        let cert = Certificate::from_pem(pem.as_bytes()).map_err(|e| MailError::Connection(e.to_string()))?;
        tls = tls.add_root_certificate(cert);
    }
    let tls = tls.build_rustls().map_err(|e| MailError::Connection(e.to_string()))?;
    let tls = match server.security {
        Security::Tls => Tls::Wrapper(tls),
        Security::Starttls => Tls::Required(tls),
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(tls)
        .hello_name(ClientId::Domain(sender.domain().to_owned()))
        .credentials(Credentials::new(server.username.clone(), server.password.clone()))
        .timeout(Some(Duration::from_millis(egress.policy().max_timeout_ms)))
        .build();
    let sent = timed(egress, async {
        transport.send_raw(&envelope, message).await.map_err(|e| {
            let code = e.status().map(|c| c.to_string()).unwrap_or_default();
            let text = format!("{e}");
            if code.starts_with("535") || code.starts_with("534") || code.starts_with("530") {
                MailError::Auth(text)
            } else if e.is_permanent() {
                MailError::Rejected(text)
            } else if e.is_transient() {
                MailError::Temporary(text)
            } else if e.is_timeout() {
                MailError::Timeout
            } else {
                MailError::Connection(text)
            }
        })
    })
    .await;
    sent.map(|_| ())
}

/// A byte stream to an IMAP server, TLS either from the start or after STARTTLS.
type ImapStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn imap_login(
    egress: &Egress,
    grants: &Grants,
    server: &Server,
) -> Result<async_imap::Session<ImapStream>, MailError> {
    let addr: SocketAddr = egress.mail_target(grants, &server.host, server.port).await.map_err(denied)?;
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| MailError::Connection(format!("{addr}: {e}")))?;
    let name = rustls::pki_types::ServerName::try_from(server.host.clone())
        .map_err(|e| MailError::Denied(format!("{}: {e}", server.host)))?;
    let connector = tokio_rustls::TlsConnector::from(egress.tls_config());
    let tls_error = |e: std::io::Error| MailError::Connection(format!("TLS with {}: {e}", server.host));
    let stream = match server.security {
        Security::Tls => connector.connect(name, tcp).await.map_err(tls_error)?,
        Security::Starttls => {
            let mut plain = async_imap::Client::new(tcp);
            greeting(&mut plain).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| MailError::Connection(format!("{} refused STARTTLS: {e}", server.host)))?;
            connector.connect(name, plain.into_inner()).await.map_err(tls_error)?
        }
    };
    let mut client = async_imap::Client::new(stream);
    if server.security == Security::Tls {
        greeting(&mut client).await?;
    }
    client.login(&server.username, &server.password).await.map_err(|(e, _)| match e {
        async_imap::error::Error::No(why) | async_imap::error::Error::Bad(why) => MailError::Auth(why),
        other => MailError::Connection(other.to_string()),
    })
}

async fn greeting<T>(client: &mut async_imap::Client<T>) -> Result<(), MailError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(MailError::Connection("the IMAP server closed the connection".into())),
        Err(e) => Err(MailError::Connection(format!("IMAP greeting: {e}"))),
    }
}

fn imap_error(e: async_imap::error::Error) -> MailError {
    match e {
        async_imap::error::Error::No(why) => MailError::Rejected(why),
        async_imap::error::Error::Bad(why) => MailError::Rejected(why),
        other => MailError::Connection(other.to_string()),
    }
}

async fn fetch_live(
    egress: &Egress,
    grants: &Grants,
    server: &Server,
    mailbox: &str,
    after_uid: u32,
    limit: u32,
) -> Result<FetchResult, MailError> {
    timed(egress, async {
        let mut session = imap_login(egress, grants, server).await?;
        // EXAMINE, not SELECT: reading must not change what the mailbox's other clients see.
        let state = session.examine(mailbox).await.map_err(imap_error)?;
        let uid_validity = state.uid_validity.unwrap_or(0);
        let mut uids: Vec<u32> = session
            .uid_search(format!("UID {}:*", after_uid.saturating_add(1)))
            .await
            .map_err(imap_error)?
            .into_iter()
            .filter(|uid| *uid > after_uid)
            .collect();
        uids.sort_unstable();
        let mut more = uids.len() > limit as usize;
        uids.truncate(limit as usize);
        let mut messages = Vec::new();
        if !uids.is_empty() {
            let sizes = sizes(&mut session, &uids).await?;
            let (mut whole, mut headers, mut total) = (Vec::new(), Vec::new(), 0usize);
            for uid in &uids {
                let size = sizes.get(uid).copied().unwrap_or(0);
                if size > MESSAGE_BYTES {
                    headers.push(*uid);
                    continue;
                }
                if total + size as usize > FETCH_BYTES && !(whole.is_empty() && headers.is_empty()) {
                    more = true;
                    break;
                }
                total += size as usize;
                whole.push(*uid);
            }
            let last = whole.iter().chain(&headers).max().copied().unwrap_or(0);
            headers.retain(|u| *u <= last);
            messages.extend(fetch_parts(&mut session, &whole, "BODY.PEEK[]").await?);
            messages.extend(fetch_parts(&mut session, &headers, "BODY.PEEK[HEADER]").await?);
            messages.sort_by_key(|m: &Fetched| m.uid);
        }
        let _ = session.logout().await;
        Ok(FetchResult { uid_validity, messages, more })
    })
    .await
}

async fn sizes(
    session: &mut async_imap::Session<ImapStream>,
    uids: &[u32],
) -> Result<std::collections::HashMap<u32, u32>, MailError> {
    let set = uid_set(uids);
    let fetched: Vec<async_imap::types::Fetch> = session
        .uid_fetch(set, "(UID RFC822.SIZE)")
        .await
        .map_err(imap_error)?
        .try_collect()
        .await
        .map_err(imap_error)?;
    Ok(fetched.iter().filter_map(|f| Some((f.uid?, f.size.unwrap_or(0)))).collect())
}

async fn fetch_parts(
    session: &mut async_imap::Session<ImapStream>,
    uids: &[u32],
    what: &str,
) -> Result<Vec<Fetched>, MailError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let fetched: Vec<async_imap::types::Fetch> = session
        .uid_fetch(uid_set(uids), format!("(UID {what})"))
        .await
        .map_err(imap_error)?
        .try_collect()
        .await
        .map_err(imap_error)?;
    Ok(fetched
        .iter()
        .filter_map(|f| {
            let raw = f.body().or_else(|| f.header())?;
            Some(Fetched { uid: f.uid?, raw: raw.to_vec() })
        })
        .filter(|m| uids.contains(&m.uid))
        .collect())
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

async fn append_live(
    egress: &Egress,
    grants: &Grants,
    server: &Server,
    mailbox: &str,
    message: &[u8],
) -> Result<(), MailError> {
    if message.len() > egress.policy().max_response_bytes {
        return Err(MailError::TooLarge);
    }
    timed(egress, async {
        let mut session = imap_login(egress, grants, server).await?;
        session.append(mailbox, Some("(\\Seen)"), None, message).await.map_err(imap_error)?;
        let _ = session.logout().await;
        Ok(())
    })
    .await
}

/// The TLS settings of every mail connection: the public web PKI roots plus the admin's own.
pub(super) fn tls_config(extra_pems: &[String]) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for pem in extra_pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("a root certificate: {e}"))?;
            roots.add(cert).map_err(|e| format!("a root certificate: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
