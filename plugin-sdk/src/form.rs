//! `application/x-www-form-urlencoded` text: query strings and form bodies, as providers send them
//! (Meta's `hub.*` handshake, Twilio's webhooks). No host call; usable in any world.

/// The `name=value` pairs of a query string or form body, percent-decoded (`+` is a space), in order.
/// A pair without `=` has an empty value; empty pairs are skipped.
pub fn pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of `name` among [`pairs`].
pub fn value(text: &str, name: &str) -> Option<String> {
    pairs(text).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Percent-decodes one component; `+` is a space, a malformed escape is kept as written and bytes that
/// are not UTF-8 become U+FFFD.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| Some((hex_digit(h[0])? << 4) | hex_digit(h[1])?));
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes one component as forms do (unreserved characters kept, space as `%20`).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `name=value&…` with every component percent-encoded.
pub fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k.as_ref()), encode(v.as_ref()))).collect::<Vec<_>>().join("&")
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms_as_browsers_encode_them() {
        assert_eq!(
            pairs("hub.mode=subscribe&hub.challenge=a%2Bb+c&flag&&x=%E2%9C%93"),
            vec![
                ("hub.mode".to_owned(), "subscribe".to_owned()),
                ("hub.challenge".to_owned(), "a+b c".to_owned()),
                ("flag".to_owned(), String::new()),
                ("x".to_owned(), "✓".to_owned()),
            ]
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(value("a=1&b=2&a=3", "a").as_deref(), Some("1"));
    }

    #[test]
    fn encoding_round_trips() {
        let text = "Hi there! ✓ a+b=c&d";
        assert_eq!(decode(&encode(text)), text);
        assert_eq!(encode_pairs(&[("To", "+1 555"), ("Body", "a&b")]), "To=%2B1%20555&Body=a%26b");
    }
}
