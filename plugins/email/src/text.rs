//! Plain-text helpers without host calls, so they are unit-tested natively: cutting the quoted history off
//! a reply, names from a display name, `Re:` subjects, the media kind of a MIME type, quoting and escaping
//! for the replies we write.

/// `text` without the history a mail client quotes under a reply: a trailing block of `>` lines, and the
/// `On … wrote:` line that introduces it. A quote followed by more of the sender's own text (bottom
/// posting) is kept whole, and so is a text that is nothing but a quote (a forward without a comment).
pub fn strip_quoted(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let blank = |l: &str| l.trim().is_empty();
    let quoted = |l: &str| l.trim_start().starts_with('>');
    let mut end = lines.len();
    let mut saw_quote = false;
    while end > 0 && (blank(lines[end - 1]) || quoted(lines[end - 1])) {
        saw_quote |= quoted(lines[end - 1]);
        end -= 1;
    }
    if saw_quote && let Some(start) = attribution_above(&lines[..end]) {
        end = start;
    }
    let kept = lines[..end].join("\n");
    let kept = kept.trim_end();
    if kept.trim().is_empty() { text.trim_end().to_owned() } else { kept.to_owned() }
}

/// Where an `On … wrote:` line ends `lines` (blank lines after it allowed), also when a client wrapped it
/// over two lines (`On …, Jane <` / `jane@example.org> wrote:`).
fn attribution_above(lines: &[&str]) -> Option<usize> {
    let mut last = lines.len();
    while last > 0 && lines[last - 1].trim().is_empty() {
        last -= 1;
    }
    let closing = lines.get(last.checked_sub(1)?)?.trim();
    if !closing.ends_with("wrote:") {
        return None;
    }
    let opens = |l: &str| l.trim_start().starts_with("On ");
    if opens(closing) {
        return Some(last - 1);
    }
    let previous = lines.get(last.checked_sub(2)?)?;
    opens(previous).then_some(last - 2)
}

/// First and last name from a display name, split at the last space; one word is a first name.
pub fn split_name(display: &str) -> (Option<String>, Option<String>) {
    let display = display.trim().trim_matches('"').trim();
    if display.is_empty() || display.contains('@') {
        return (None, None);
    }
    match display.rsplit_once(' ') {
        Some((first, last)) => (Some(first.trim().to_owned()), Some(last.to_owned())),
        None => (Some(display.to_owned()), None),
    }
}

/// The subject of a reply in a thread: `Re: ` once, however the thread's subject already starts.
pub fn reply_subject(subject: &str) -> String {
    let subject = subject.trim();
    let already = subject.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:"));
    if already { subject.to_owned() } else { format!("Re: {subject}") }
}

/// The Switchboard media kind of a MIME type.
pub fn kind_of(mime_type: &str) -> &'static str {
    match mime_type.split('/').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "document",
    }
}

/// A byte count as people read it.
pub fn human_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes < KIB {
        format!("{bytes} bytes")
    } else if bytes < MIB {
        format!("{} KiB", bytes.div_ceil(KIB))
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// Each line of `text` quoted with `> ` (a blank line with a bare `>`), as mail clients quote.
pub fn quote(text: &str) -> String {
    text.lines()
        .map(|l| if l.trim().is_empty() { ">".to_owned() } else { format!("> {l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text as HTML paragraphs: a blank line starts a paragraph, a single line break stays one.
pub fn paragraphs(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br>\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Message-IDs named in a header value (`<a@x> <b@y>`), without brackets; a bare id counts too.
pub fn message_ids(value: &str) -> Vec<String> {
    let bracketed: Vec<String> = value
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>'))
        .map(|(id, _)| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    if !bracketed.is_empty() {
        return bracketed;
    }
    let bare = value.trim();
    if bare.is_empty() || bare.contains(char::is_whitespace) { Vec::new() } else { vec![bare.to_owned()] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_history_is_cut() {
        let reply = "Six people, please.\r\n\r\nAnna\r\n\r\nOn Mon, 5 Jan 2026, Shop <hello@shop.example> wrote:\r\n> Of course!\r\n>\r\n> > earlier\r\n";
        assert_eq!(strip_quoted(reply), "Six people, please.\n\nAnna");
        let wrapped = "Yes.\n\nOn Mon, Jan 5, 2026 at 10:00 AM Jane Doe <\njane@example.org> wrote:\n\n> Hi\n";
        assert_eq!(strip_quoted(wrapped), "Yes.");
        assert_eq!(strip_quoted("Thanks\n> old\n> lines\n\n"), "Thanks");
    }

    #[test]
    fn quotes_that_are_not_trailing_history_stay() {
        let bottom = "On Monday you wrote:\n> Can you come?\nYes, at five.";
        assert_eq!(strip_quoted(bottom), bottom);
        assert_eq!(strip_quoted("> only a quote\n"), "> only a quote");
        assert_eq!(strip_quoted("I wrote: hello\n> x"), "I wrote: hello");
        assert_eq!(strip_quoted("Plain text\n"), "Plain text");
    }

    #[test]
    fn reply_subjects_get_one_re() {
        assert_eq!(reply_subject("Order 42"), "Re: Order 42");
        assert_eq!(reply_subject("Re: Order 42"), "Re: Order 42");
        assert_eq!(reply_subject("RE: Order 42"), "RE: Order 42");
        assert_eq!(reply_subject("re:Order"), "re:Order");
        assert_eq!(reply_subject("Regarding the order"), "Re: Regarding the order");
    }

    #[test]
    fn names_split_at_the_last_space() {
        assert_eq!(split_name("Anna Maria Müller"), (Some("Anna Maria".into()), Some("Müller".into())));
        assert_eq!(split_name("\"Bob\""), (Some("Bob".into()), None));
        assert_eq!(split_name("  "), (None, None));
        assert_eq!(split_name("bob@example.net"), (None, None));
    }

    #[test]
    fn kinds_by_mime_type() {
        assert_eq!(kind_of("image/png"), "image");
        assert_eq!(kind_of("Video/MP4"), "video");
        assert_eq!(kind_of("audio/ogg"), "audio");
        assert_eq!(kind_of("application/pdf"), "document");
        assert_eq!(kind_of("text/calendar"), "document");
    }

    #[test]
    fn quoting_escaping_and_sizes() {
        assert_eq!(quote("a\n\nb"), "> a\n>\n> b");
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(paragraphs("one\ntwo\n\nthree <b>"), "<p>one<br>\ntwo</p>\n<p>three &lt;b&gt;</p>");
        assert_eq!(human_size(900), "900 bytes");
        assert_eq!(human_size(2048), "2 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
        assert_eq!(message_ids(" <a@x>\r\n <b@y> "), vec!["a@x", "b@y"]);
        assert_eq!(message_ids("bare@id"), vec!["bare@id"]);
    }
}
