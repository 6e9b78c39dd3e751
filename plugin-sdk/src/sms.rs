//! How many SMS segments a text takes: GSM 03.38 (7-bit, with its extension table) when every character
//! has a septet, UCS-2 otherwise, split as carriers concatenate messages. No host call; usable in any world.

/// The alphabet a text is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The GSM 03.38 default alphabet: 160 septets in one message, 153 per part of a longer one.
    Gsm7,
    /// UTF-16 code units: 70 in one message, 67 per part (a character beyond the BMP, such as most
    /// emoji, takes two).
    Ucs2,
}

/// The size of a text as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7; an extension character takes two) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Messages the text is split into; an empty text is still one message.
    pub count: usize,
}

/// GSM 03.38's default alphabet, one septet each.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table, reached through an escape septet: two septets each.
const EXTENSION: &str = "\x0c^{}\\[~]|€";

/// The segments `text` takes.
pub fn segments(text: &str) -> Segments {
    let gsm: Option<Vec<usize>> = text
        .chars()
        .map(|c| {
            if BASIC.contains(c) {
                Some(1)
            } else if EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .collect();
    let (encoding, sizes, single, part) = match gsm {
        Some(sizes) => (Encoding::Gsm7, sizes, 160, 153),
        None => (Encoding::Ucs2, text.chars().map(char::len_utf16).collect(), 70, 67),
    };
    let units = sizes.iter().sum();
    Segments { encoding, units, count: if units <= single { 1 } else { parts(&sizes, part) } }
}

/// Parts of at most `capacity` units; an escape sequence or a surrogate pair is never split, so a
/// character that does not fit whole starts the next part.
fn parts(sizes: &[usize], capacity: usize) -> usize {
    let mut count = 1;
    let mut used = 0;
    for &size in sizes {
        if used + size > capacity {
            count += 1;
            used = 0;
        }
        used += size;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str) -> (Encoding, usize, usize) {
        let s = segments(text);
        (s.encoding, s.units, s.count)
    }

    #[test]
    fn gsm_texts_take_160_then_153_per_part() {
        assert_eq!(seg(""), (Encoding::Gsm7, 0, 1));
        assert_eq!(seg(&"a".repeat(160)), (Encoding::Gsm7, 160, 1));
        assert_eq!(seg(&"a".repeat(161)), (Encoding::Gsm7, 161, 2));
        assert_eq!(seg(&"a".repeat(306)), (Encoding::Gsm7, 306, 2));
        assert_eq!(seg(&"a".repeat(307)), (Encoding::Gsm7, 307, 3));
        assert_eq!(seg("Ça va? 5 £, Ñandu @ home\r\n"), (Encoding::Gsm7, 26, 1));
        assert_eq!(seg("Ça coûte 5 £"), (Encoding::Ucs2, 12, 1), "û is not in GSM 03.38");
    }

    #[test]
    fn extension_characters_take_two_septets_and_are_never_split() {
        assert_eq!(seg("€"), (Encoding::Gsm7, 2, 1));
        assert_eq!(seg("{[~^|\\]}\x0c"), (Encoding::Gsm7, 18, 1));
        assert_eq!(seg(&"€".repeat(80)), (Encoding::Gsm7, 160, 1));
        assert_eq!(seg(&"€".repeat(81)), (Encoding::Gsm7, 162, 2));
        // 152 plain septets then a euro: the escape sequence moves whole to the second part.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(seg(&text), (Encoding::Gsm7, 306, 3));
    }

    #[test]
    fn other_scripts_take_ucs2_70_then_67_per_part() {
        assert_eq!(seg(&"ب".repeat(70)), (Encoding::Ucs2, 70, 1));
        assert_eq!(seg(&"ب".repeat(71)), (Encoding::Ucs2, 71, 2));
        assert_eq!(seg(&"ب".repeat(134)), (Encoding::Ucs2, 134, 2));
        assert_eq!(seg(&"ب".repeat(135)), (Encoding::Ucs2, 135, 3));
        // One character outside GSM turns the whole text into UCS-2.
        assert_eq!(seg(&format!("{}й", "a".repeat(69))), (Encoding::Ucs2, 70, 1));
    }

    #[test]
    fn an_emoji_takes_two_units_and_its_pair_stays_together() {
        assert_eq!(seg("👍"), (Encoding::Ucs2, 2, 1));
        assert_eq!(seg(&"👍".repeat(35)), (Encoding::Ucs2, 70, 1));
        assert_eq!(seg(&"👍".repeat(36)), (Encoding::Ucs2, 72, 2));
        let text = format!("{}👍{}", "a".repeat(66), "a".repeat(66));
        assert_eq!(seg(&text), (Encoding::Ucs2, 134, 3), "the pair cannot straddle the first part's end");
    }
}
