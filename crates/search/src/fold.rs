//! Folding: the one normal form text takes before it is indexed or searched.
//!
//! Full-width forms become their ASCII twins (`Ａ１` → `a1`, the ideographic space a
//! space), Traditional characters become Simplified (`銀行` → `银行`), and letters
//! become lower case. Folding never changes the number of characters, so a character's
//! place in folded text is its place in the original: highlights found in folded text
//! are drawn on the original.

/// Folds `text` character by character; the result has as many `char`s as `text`.
#[must_use]
pub fn fold(text: &str) -> String {
    let half: String = text.chars().map(fold_width_and_case).collect();
    // fast2s converts one character for one character, reading its neighbours only to
    // choose among a Traditional character's Simplified readings.
    fast2s::convert(&half)
}

/// One character to half width and lower case, staying one character.
fn fold_width_and_case(c: char) -> char {
    let c = match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(one), None) => one,
        // A letter whose lower case is two characters (İ) stays as it is.
        _ => c,
    }
}

/// Whether `c` is a Han character (the CJK blocks people type).
#[must_use]
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2EBEF}')
}

/// Whether `c` is part of a Latin word or a number (after folding).
#[must_use]
pub fn is_latin_or_digit(c: char) -> bool {
    c.is_ascii_alphanumeric() || (c.is_alphabetic() && !is_han(c) && (c as u32) < 0x2E80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn traditional_full_width_and_case_fold() {
        assert_eq!(fold("中國農業發展銀行"), "中国农业发展银行");
        assert_eq!(fold("ＩＰｈｏｎｅ　維修"), "iphone 维修");
        assert_eq!(fold("微信支付"), "微信支付");
        assert_eq!(fold("Café"), "café");
    }

    proptest! {
        #[test]
        fn folding_keeps_the_character_count(text in "\\PC{0,40}") {
            prop_assert_eq!(fold(&text).chars().count(), text.chars().count());
        }

        #[test]
        fn folding_twice_is_folding_once(text in "[\\u{4E00}-\\u{9FFF}a-zA-Zａ-ｚ0-9 ]{0,30}") {
            let once = fold(&text);
            prop_assert_eq!(fold(&once), once);
        }
    }
}
