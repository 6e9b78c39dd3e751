//! What a search box's text means: the words to find (the last one may be the start of a word, as the user
//! is still typing it) and, when the text is a phone number or part of one, the digits to match.

use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};

use super::analyzer::{self, MAX_PHONE_DIGITS, MIN_PHONE_DIGITS};

/// The shortest last word that also matches longer words starting with it.
const MIN_PREFIX_CHARS: usize = 2;
/// The same, in message texts.
const MIN_MESSAGE_PREFIX_CHARS: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Normalised words, all of which must match.
    pub terms: Vec<String>,
    /// Whether the last word also matches words it starts.
    pub prefix: bool,
    /// Digit strings to find inside phone numbers: what was typed, and without a trunk `0` or an
    /// international `00`.
    pub phone: Vec<String>,
}

impl ParsedQuery {
    pub fn parse(text: &str) -> Self {
        let mut terms: Vec<String> = Vec::new();
        for (term, _) in analyzer::terms(text) {
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        let prefix =
            !text.ends_with(char::is_whitespace) && terms.last().is_some_and(|t| t.chars().count() >= MIN_PREFIX_CHARS);
        let phone_like = text
            .trim()
            .chars()
            .all(|c| analyzer::ascii_digit(c).is_some() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        let mut phone = Vec::new();
        let digits = analyzer::digits(text);
        if phone_like {
            let variants = [Some(digits.as_str()), digits.strip_prefix("00"), digits.strip_prefix('0')];
            for d in variants.into_iter().flatten() {
                if (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&d.len()) && !phone.iter().any(|p| p == d) {
                    phone.push(d.to_string());
                }
            }
        }
        Self { terms, prefix, phone }
    }

    /// The query for message texts, where a two-letter start of a word would match too much.
    pub fn for_messages(&self) -> Self {
        let mut q = self.clone();
        q.prefix = q.prefix && q.terms.last().is_some_and(|t| t.chars().count() >= MIN_MESSAGE_PREFIX_CHARS);
        q
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.phone.is_empty()
    }

    /// Whether an indexed term matches one of the query's words.
    pub fn matches(&self, term: &str) -> bool {
        let last = self.terms.len().saturating_sub(1);
        self.terms
            .iter()
            .enumerate()
            .any(|(i, t)| t == term || (self.prefix && i == last && term.starts_with(t.as_str())))
    }

    /// A query matching documents where every word is in one of `fields` (each with its boost).
    pub fn words_query(&self, fields: &[(Field, f32)]) -> Option<Box<dyn Query>> {
        if self.terms.is_empty() {
            return None;
        }
        let last = self.terms.len() - 1;
        let clauses = self
            .terms
            .iter()
            .enumerate()
            .map(|(i, term)| (Occur::Must, word_query(fields, term, self.prefix && i == last)))
            .collect();
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    /// A query matching phone numbers that contain one of the digit strings.
    pub fn phone_query(&self, field: Field) -> Option<Box<dyn Query>> {
        if self.phone.is_empty() {
            return None;
        }
        let clauses = self
            .phone
            .iter()
            .map(|d| {
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(Term::from_field_text(field, d), IndexRecordOption::Basic));
                (Occur::Should, q)
            })
            .collect();
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}

/// One word in any of `fields`: the exact term, and (as the user may still be typing it, scoring lower)
/// the terms it starts.
fn word_query(fields: &[(Field, f32)], term: &str, prefix: bool) -> Box<dyn Query> {
    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for &(field, boost) in fields {
        let exact = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs);
        should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(exact), boost))));
        if prefix && let Ok(starts) = RegexQuery::from_pattern(&format!("{}.*", regex_escape(term)), field) {
            should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(starts), boost * 0.5))));
        }
    }
    Box::new(BooleanQuery::new(should))
}

fn regex_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if !c.is_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_normalised_and_the_last_is_a_prefix() {
        let q = ParsedQuery::parse("أحمد Ali");
        assert_eq!(q.terms, vec!["احمد", "ali"]);
        assert!(q.prefix);
        assert!(q.matches("alia") && q.matches("احمد") && !q.matches("احمدي"));
        assert!(!ParsedQuery::parse("ali ").prefix, "a finished word is not a prefix");
        assert!(!ParsedQuery::parse("a").prefix, "one letter is too short");
    }

    #[test]
    fn phone_numbers_in_any_format_become_digits() {
        assert_eq!(ParsedQuery::parse("+971 50 123").phone, vec!["97150123"]);
        assert_eq!(ParsedQuery::parse("050-1234").phone, vec!["0501234", "501234"]);
        assert_eq!(ParsedQuery::parse("00971501234567").phone, vec!["00971501234567", "971501234567", "0971501234567"]);
        assert_eq!(ParsedQuery::parse("٥٠١٢").phone, vec!["5012"]);
        assert!(ParsedQuery::parse("123").phone.is_empty(), "fewer than 4 digits");
        assert!(ParsedQuery::parse("order 4411").phone.is_empty(), "words are not a phone number");
        assert!(ParsedQuery::parse("1234567890123456").phone.is_empty(), "longer than E.164");
    }

    #[test]
    fn nothing_to_find() {
        assert!(ParsedQuery::parse("  ?! ").is_empty());
    }
}
