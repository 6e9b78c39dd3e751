//! The loopback mail system of `tests/mail` (Dovecot IMAP + an SMTP server, TLS with their own CA) for
//! the e-mail channel's tests, and the customer's side of it: sending over plain SMTP and reading a
//! mailbox over plain IMAP, as a mail client on the same machine would.

use std::collections::HashMap;
use std::process::Command;

use futures_util::TryStreamExt;

/// The business mailbox the channel reads and sends as, and the customer writing to it.
pub const SUPPORT: (&str, &str) = ("support@example.test", "support-pass");
pub const CUSTOMER: (&str, &str) = ("customer@example.test", "customer-pass");
/// A mailbox of someone who has not written yet, for conversations the business starts.
pub const NEWCOMER: (&str, &str) = ("nina@example.test", "nina-pass");

/// A running mail system under a temporary directory; stopped when dropped.
pub struct MailServer {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl MailServer {
    /// Starts Dovecot and the SMTP server (`tests/mail/start.sh`). Without their packages
    /// (`tests/mail/install.sh` installs them) the test is skipped, saying so, except under CI, where that
    /// fails it.
    pub fn start() -> Option<Self> {
        let dovecot = ["/usr/sbin/dovecot", "/usr/lib/dovecot/imap", "/usr/lib/dovecot/lmtp"];
        let aiosmtpd = Command::new("/usr/bin/python3").args(["-c", "import aiosmtpd"]).output();
        let present =
            dovecot.iter().all(|p| std::path::Path::new(p).exists()) && aiosmtpd.is_ok_and(|out| out.status.success());
        if !present {
            let what = "Dovecot and python3-aiosmtpd (bash tests/mail/install.sh)";
            assert!(std::env::var_os("CI").is_none(), "the e-mail test needs {what}");
            eprintln!("skipped: the e-mail test needs {what}");
            return None;
        }
        Some(Self::started())
    }

    fn started() -> Self {
        let dir = tempfile::Builder::new().prefix("sbm").tempdir_in("/tmp").expect("a temporary directory");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/mail/start.sh");
        let extra = format!("{}:{}", NEWCOMER.0, NEWCOMER.1);
        let out =
            Command::new("bash").arg(script).arg(dir.path()).env("MAIL_EXTRA_USERS", extra).output().expect("bash");
        assert!(out.status.success(), "the mail servers did not start: {}", String::from_utf8_lossy(&out.stderr));
        let env = std::fs::read_to_string(dir.path().join("env"))
            .expect("start.sh writes DIR/env")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self { dir, env }
    }

    /// A value of `DIR/env`: `IMAP_PORT`, `IMAPS_PORT`, `SMTP_PORT`, `SMTPS_PORT`, `MAIL_CA`….
    pub fn var(&self, key: &str) -> String {
        self.env.get(key).cloned().unwrap_or_else(|| panic!("{key} is not in the mail server's env"))
    }

    pub fn port(&self, key: &str) -> u16 {
        self.var(key).parse().expect("a port")
    }

    /// The servers' logs, for a failing test's message.
    pub fn logs(&self) -> String {
        ["dovecot.log", "smtp.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join("log").join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends a raw message from `from` to `to` over plain SMTP (loopback; recipients are the local users).
    pub async fn send(&self, from: &str, to: &str, raw: &str) {
        use lettre::address::Envelope;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
        let envelope =
            Envelope::new(Some(from.parse().expect("from")), vec![to.parse().expect("to")]).expect("envelope");
        let smtp =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(self.port("SMTP_PORT")).build();
        let raw = raw.replace("\r\n", "\n").replace('\n', "\r\n");
        smtp.send_raw(&envelope, raw.as_bytes()).await.unwrap_or_else(|e| panic!("SMTP: {e}\n{}", self.logs()));
    }

    /// Every message of `mailbox` of the user, oldest first, read over plain IMAP without changing it.
    pub async fn messages(&self, (user, password): (&str, &str), mailbox: &str) -> Vec<String> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port("IMAP_PORT"))).await.expect("IMAP");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting");
        let mut session = client.login(user, password).await.map_err(|(e, _)| e).expect("IMAP login");
        let state = session.examine(mailbox).await.expect("EXAMINE");
        let mut messages = Vec::new();
        if state.exists > 0 {
            let fetched: Vec<async_imap::types::Fetch> =
                session.fetch("1:*", "BODY.PEEK[]").await.expect("FETCH").try_collect().await.expect("FETCH");
            messages =
                fetched.iter().filter_map(|f| f.body()).map(|b| String::from_utf8_lossy(b).into_owned()).collect();
        }
        session.logout().await.expect("LOGOUT");
        messages
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let stop = concat!(env!("CARGO_MANIFEST_DIR"), "/mail/stop.sh");
        let _ = Command::new("bash").arg(stop).arg(self.dir.path()).status();
    }
}

/// The value of a header of a raw message (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw).replace("\r\n ", " ").replace("\r\n\t", " ");
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}
