//! Marks what matched in a hit's text, and cuts long texts down to the part around the first match.

use crate::model::Highlight;

use super::analyzer;
use super::query::ParsedQuery;

/// How many characters of a long message a snippet keeps.
pub const SNIPPET_CHARS: usize = 160;

/// `text` (cut to about `max_chars` around the first match when longer) with its matching words marked.
pub fn words(text: &str, query: &ParsedQuery, max_chars: usize) -> Highlight {
    let marks: Vec<std::ops::Range<usize>> =
        analyzer::terms(text).into_iter().filter(|(term, _)| query.matches(term)).map(|(_, range)| range).collect();
    let (start, end) = window(text, marks.first().map_or(0, |r| r.start), max_chars);
    let mut fragment = String::new();
    let mut shift = 0usize;
    if start > 0 {
        fragment.push('…');
    }
    // Offsets in the fragment are counted in UTF-16 units from its start, ellipsis included.
    shift += fragment.encode_utf16().count();
    fragment.push_str(&text[start..end]);
    let utf16 = |byte: usize| shift + text[start..byte].encode_utf16().count();
    let marks = marks
        .into_iter()
        .filter(|r| r.start >= start && r.end <= end)
        .map(|r| [utf16(r.start), utf16(r.end)])
        .collect();
    if end < text.len() {
        fragment.push('…');
    }
    Highlight { text: fragment, marks }
}

/// `phone` with the run of digits that `digits` matched marked (spaces and `+` inside the run included).
pub fn digits(phone: &str, digits: &str) -> Option<Highlight> {
    let positions: Vec<(usize, char)> =
        phone.char_indices().filter(|(_, c)| analyzer::ascii_digit(*c).is_some()).collect();
    let all = analyzer::digits(phone);
    let at = all.find(digits)?;
    let first = positions.get(at)?.0;
    let (last, c) = *positions.get(at + digits.len() - 1)?;
    let end = last + c.len_utf8();
    let utf16 = |byte: usize| phone[..byte].encode_utf16().count();
    Some(Highlight { text: phone.to_string(), marks: vec![[utf16(first), utf16(end)]] })
}

/// The byte range of `text` to show: all of it when short, else about `max_chars` characters starting a
/// little before `focus`, cut at spaces where possible.
fn window(text: &str, focus: usize, max_chars: usize) -> (usize, usize) {
    if text.chars().count() <= max_chars {
        return (0, text.len());
    }
    let lead = max_chars / 4;
    let before: Vec<usize> = text[..focus].char_indices().map(|(i, _)| i).collect();
    let mut start = before.len().checked_sub(lead).map_or(0, |i| before[i]);
    if start > 0 {
        // Start at the next word rather than inside one.
        if let Some(space) = text[start..focus].find(char::is_whitespace) {
            start += space + 1;
        }
    }
    let mut end = text[start..].char_indices().nth(max_chars).map_or(text.len(), |(i, _)| start + i);
    if end < text.len()
        && let Some(space) = text[start..end].rfind(char::is_whitespace)
        && start + space > focus
    {
        end = start + space;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16_slice(text: &str, [a, b]: [usize; 2]) -> String {
        let units: Vec<u16> = text.encode_utf16().collect();
        String::from_utf16(&units[a..b]).expect("valid")
    }

    #[test]
    fn marks_the_original_spelling() {
        let q = ParsedQuery::parse("احمد");
        let h = words("👋 مرحبا أَحْمَد", &q, SNIPPET_CHARS);
        assert_eq!(h.marks.len(), 1);
        assert_eq!(utf16_slice(&h.text, h.marks[0]), "أَحْمَد");
    }

    #[test]
    fn long_text_is_cut_around_the_match() {
        let text = format!("{} the parcel number is 4411 {}", "lorem ipsum ".repeat(40), "dolor sit ".repeat(40));
        let q = ParsedQuery::parse("4411");
        let h = words(&text, &q, 80);
        assert!(h.text.starts_with('…') && h.text.ends_with('…'), "{}", h.text);
        assert!(h.text.chars().count() <= 82);
        assert_eq!(utf16_slice(&h.text, h.marks[0]), "4411");
    }

    #[test]
    fn prefix_of_the_last_word_is_marked() {
        let q = ParsedQuery::parse("order ref");
        let h = words("Order reference 12: refund", &q, SNIPPET_CHARS);
        let marked: Vec<String> = h.marks.iter().map(|m| utf16_slice(&h.text, *m)).collect();
        assert_eq!(marked, vec!["Order", "reference", "refund"]);
    }

    #[test]
    fn digit_runs_are_marked_across_spaces() {
        let h = digits("+971 50 123 4567", "5012").expect("valid");
        assert_eq!(utf16_slice(&h.text, h.marks[0]), "50 12");
        assert!(digits("+971 50 123 4567", "9999").is_none());
    }
}
