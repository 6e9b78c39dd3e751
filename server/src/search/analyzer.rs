//! How text becomes search terms: words split on non-alphanumerics, lower-cased, Latin accents folded, and
//! Arabic normalised so spelling variants meet («أحمد», «احمد» and «أَحْمَد» are one term).
//!
//! The normaliser rewrites each token's text but keeps its offsets into the original, so highlights point
//! at what the user wrote.

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, NgramTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token,
    TokenFilter, TokenStream, Tokenizer,
};

/// The analyzer of every text field.
pub const TEXT: &str = "sb_text";
/// The analyzer of phone numbers' digits: every run of 4 to 15 digits (E.164 has at most 15).
pub const PHONE: &str = "sb_phone";
/// The shortest run of digits a phone search matches.
pub const MIN_PHONE_DIGITS: usize = 4;
pub const MAX_PHONE_DIGITS: usize = 15;

pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(ArabicNormalizer)
        .build()
}

pub fn phone_analyzer() -> TextAnalyzer {
    // The bounds are constants within what the tokenizer accepts.
    let ngrams = NgramTokenizer::all_ngrams(MIN_PHONE_DIGITS, MAX_PHONE_DIGITS).expect("valid n-gram bounds");
    TextAnalyzer::builder(ngrams).build()
}

/// The terms `text` is indexed (and searched) under, with their byte offsets in `text`.
pub fn terms(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut analyzer = text_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push((token.text.clone(), token.offset_from..token.offset_to));
    }
    out
}

/// The digits of `text` (Arabic-Indic and Persian digits read as 0–9), for phone numbers.
pub fn digits(text: &str) -> String {
    text.chars().filter_map(ascii_digit).collect()
}

/// `c` as an ASCII digit, when it is a digit of the Latin, Arabic-Indic or Persian set.
pub fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{0660}'..='\u{0669}' => char::from_u32(c as u32 - 0x0660 + '0' as u32),
        '\u{06F0}'..='\u{06F9}' => char::from_u32(c as u32 - 0x06F0 + '0' as u32),
        _ => None,
    }
}

/// Writes the normalised form of `word` into `out`: Arabic diacritics, Quranic marks and tatweel dropped;
/// alef forms (أ إ آ ٱ) → ا; alef maqsura ى → ي; taa marbuta ة → ه; Persian keheh and yeh → ك and ي;
/// Arabic-Indic digits → 0–9.
pub fn normalize_into(word: &str, out: &mut String) {
    out.clear();
    for c in word.chars() {
        let mapped = match c {
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' | '\u{06D6}'..='\u{06ED}' => continue,
            '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}' => '\u{0627}',
            '\u{0649}' | '\u{06CC}' => '\u{064A}',
            '\u{0629}' => '\u{0647}',
            '\u{06A9}' => '\u{0643}',
            c => ascii_digit(c).unwrap_or(c),
        };
        out.push(mapped);
    }
}

fn needs_normalizing(word: &str) -> bool {
    !word.is_ascii()
}

/// The Arabic normalisation as a tantivy token filter.
#[derive(Clone, Copy, Debug)]
pub struct ArabicNormalizer;

impl TokenFilter for ArabicNormalizer {
    type Tokenizer<T: Tokenizer> = ArabicNormalizerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        ArabicNormalizerFilter { inner: tokenizer, buffer: String::new() }
    }
}

#[derive(Clone)]
pub struct ArabicNormalizerFilter<T> {
    inner: T,
    buffer: String,
}

impl<T: Tokenizer> Tokenizer for ArabicNormalizerFilter<T> {
    type TokenStream<'a> = ArabicNormalizerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        ArabicNormalizerStream { tail: self.inner.token_stream(text), buffer: &mut self.buffer }
    }
}

pub struct ArabicNormalizerStream<'a, S> {
    tail: S,
    buffer: &'a mut String,
}

impl<S: TokenStream> TokenStream for ArabicNormalizerStream<'_, S> {
    fn advance(&mut self) -> bool {
        // A token made only of marks (a lone diacritic) normalises to nothing and is skipped.
        while self.tail.advance() {
            if !needs_normalizing(&self.tail.token().text) {
                return true;
            }
            normalize_into(&self.tail.token().text, self.buffer);
            if self.buffer.is_empty() {
                continue;
            }
            std::mem::swap(&mut self.tail.token_mut().text, self.buffer);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        terms(text).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn alef_forms_and_diacritics_meet() {
        let plain = words("احمد");
        assert_eq!(plain, vec!["احمد"]);
        assert_eq!(words("أحمد"), plain);
        assert_eq!(words("إحمد"), plain);
        assert_eq!(words("آحمد"), plain);
        assert_eq!(words("أَحْمَد"), plain);
        assert_eq!(words("أحـــمد"), plain, "tatweel");
    }

    #[test]
    fn yaa_and_taa_marbuta_forms_meet() {
        assert_eq!(words("مصطفى"), words("مصطفي"));
        assert_eq!(words("فاطمة"), words("فاطمه"));
        assert_eq!(words("مدرسةٌ"), words("مدرسه"));
        assert_ne!(words("فاطمة"), words("فاطمت"), "other letters stay apart");
    }

    #[test]
    fn offsets_point_at_the_original_text() {
        let text = "مرحبا يا أَحْمَد!";
        let found = terms(text);
        let (term, range) = &found[2];
        assert_eq!(term, "احمد");
        assert_eq!(&text[range.clone()], "أَحْمَد");
    }

    #[test]
    fn latin_is_lower_cased_and_folded() {
        assert_eq!(words("José MÜLLER, order #4411"), vec!["jose", "muller", "order", "4411"]);
    }

    #[test]
    fn arabic_indic_digits_read_as_digits() {
        assert_eq!(digits("+٩٧١ ٥٠ ١٢٣"), "97150123");
        assert_eq!(words("طلب ٤٤١١"), vec!["طلب", "4411"]);
        assert_eq!(digits("(050) 123-45 ۶۷"), "0501234567");
    }

    #[test]
    fn lone_marks_are_not_terms() {
        assert_eq!(words("ـ َ كتاب"), vec!["كتاب"]);
    }
}
