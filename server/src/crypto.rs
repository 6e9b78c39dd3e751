//! Secrets handling: argon2id password hashes, API tokens and session ids (random, stored as SHA-256),
//! and the key that encrypts channel secrets at rest (XChaCha20-Poly1305).

use std::io::Write;
use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Prefix of every API token, so leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "sb_";

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks a password against a stored PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash computed for unknown users, so a login attempt takes as long whether or not the email exists.
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

/// A new random secret with the given prefix: 32 random bytes, URL-safe base64.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token or session id: SHA-256, hex. The secret itself is never stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Encrypts and decrypts channel secrets with the server's key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// A separate key for signing URLs, derived from the same secret.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<redacted>)")
    }
}

impl SecretBox {
    /// Builds the box from `security.secret_key` (base64 of 32 bytes) or, when that is empty, from
    /// `secret.key` in the data directory, generating that file with mode 0600 on first run.
    pub fn load(configured: &str, data_dir: &Path) -> Result<Self, String> {
        let encoded = if configured.trim().is_empty() {
            Self::read_or_create_key_file(&data_dir.join("secret.key"))?
        } else {
            configured.trim().to_owned()
        };
        let key = STANDARD.decode(encoded.trim()).map_err(|_| "security.secret_key: not valid base64".to_owned())?;
        if key.len() != 32 {
            return Err(format!("security.secret_key: must be 32 bytes, got {}", key.len()));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|e| e.to_string())?;
        let mac_key: [u8; 32] = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(b"switchboard url signing\0");
            h.update(&key);
            h.finalize().into()
        };
        Ok(Self { cipher, mac_key })
    }

    fn read_or_create_key_file(path: &Path) -> Result<String, String> {
        if path.exists() {
            return std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
        }
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let encoded = STANDARD.encode(key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        file.write_all(encoded.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(encoded)
    }

    /// An HMAC-SHA256 of `data` (hex), for URLs that must not be forged, such as signed media links.
    pub fn sign(&self, data: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.mac_key).expect("any key length");
        mac.update(data.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is [`SecretBox::sign`] of `data`, compared in constant time.
    pub fn verify(&self, data: &str, signature: &str) -> bool {
        constant_time_eq(&self.sign(data), signature)
    }

    /// Encrypts `plain`; the output is base64 of nonce ‖ ciphertext.
    pub fn seal(&self, plain: &[u8]) -> Result<String, String> {
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(XNonce::from_slice(&nonce), plain).map_err(|e| e.to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts what [`SecretBox::seal`] produced; a wrong key or tampered data is an error.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, String> {
        let raw = STANDARD.decode(sealed).map_err(|_| "sealed secret is not base64".to_owned())?;
        if raw.len() < 24 {
            return Err("sealed secret is too short".into());
        }
        let (nonce, data) = raw.split_at(24);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), data)
            .map_err(|_| "cannot decrypt secret: wrong key or damaged data".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_when_equal() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (random_token(TOKEN_PREFIX), random_token(TOKEN_PREFIX));
        assert_ne!(a, b);
        assert!(a.starts_with("sb_"));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(constant_time_eq(&a, &a.clone()) && !constant_time_eq(&a, &b));
    }

    #[test]
    fn key_file_is_generated_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = SecretBox::load("", dir.path()).expect("generate");
        let sealed = first.seal(b"token-123").expect("seal");
        assert!(!sealed.contains("token-123"));
        let again = SecretBox::load("", dir.path()).expect("reuse");
        assert_eq!(again.open(&sealed).expect("open"), b"token-123");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key")).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = SecretBox::load(&STANDARD.encode([7u8; 32]), dir.path()).expect("configured key");
        assert!(other.open(&sealed).is_err(), "another key must not open the secret");
        assert!(SecretBox::load("c2hvcnQ=", dir.path()).is_err(), "a short key is refused");
    }
}
