//! Folding: the one normal form text takes before it is indexed or searched.
//!
//! Full-width forms become their ASCII twins (`Ａ１` → `a1`, the ideographic space a
//! space), Traditional characters become Simplified (`銀行` → `银行`), and letters
//! become lower case. Folding never changes the number of characters, so a character's
//! place in folded text is its place in the original: highlights found in folded text
//! are drawn on the original.

use std::sync::LazyLock;

/// Folds `text` character by character; the result has as many `char`s as `text`.
#[must_use]
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut traditional = false;
    for c in text.chars() {
        let c = fold_width_and_case(c);
        traditional |= may_become_simplified(c);
        folded.push(c);
    }
    if traditional {
        // fast2s converts one character for one character, reading its neighbours
        // only to choose among a Traditional character's Simplified readings.
        fast2s::convert(&folded)
    } else {
        folded
    }
}

/// One character to half width and lower case, staying one character.
fn fold_width_and_case(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    if is_han(c) {
        // Han characters have no case (and most text is made of them).
        return c;
    }
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

/// Characters fast2s may change only beside certain neighbours (看著 → 看着,
/// 苧麻 → 苎麻) and leaves as they are alone.
const CHANGED_IN_CONTEXT_ONLY: [char; 3] = ['藉', '著', '苧'];

/// Which characters fast2s may change, one bit per character of the Basic
/// Multilingual Plane: it changes only characters of three UTF-8 bytes.
static MAY_BECOME_SIMPLIFIED: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut bits = vec![0_u64; 0x1_0000 / 64];
    let mut one = [0_u8; 4];
    for c in ('\u{0800}'..='\u{FFFF}').filter(|c| !c.is_ascii()) {
        let alone = c.encode_utf8(&mut one);
        if fast2s::convert(alone) != *alone || CHANGED_IN_CONTEXT_ONLY.contains(&c) {
            let code = c as usize;
            bits[code / 64] |= 1 << (code % 64);
        }
    }
    bits
});

/// Whether fast2s may change `c`: most text has no such character and skips it.
fn may_become_simplified(c: char) -> bool {
    let code = c as usize;
    code >= 0x0800
        && MAY_BECOME_SIMPLIFIED
            .get(code / 64)
            .is_some_and(|word| word & (1 << (code % 64)) != 0)
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
    fn characters_changed_only_beside_others_are_changed_there() {
        assert_eq!(fold("看著"), "看着");
        assert_eq!(fold("苧麻"), "苎麻");
        assert_eq!(fold("著"), "著");
        for text in ["藉口", "憑藉", "藉"] {
            assert_eq!(fold(text), fast2s::convert(text));
        }
    }

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

        /// Skipping fast2s for text without a character it may change changes
        /// nothing: the result is fast2s's on the whole text.
        #[test]
        fn folding_converts_as_fast2s_does(
            text in "[\\u{4E00}-\\u{9FFF}藉著苧畫乾兒覆於a-zA-Zａ-ｚ0-9 ]{0,30}"
        ) {
            let half: String = text.chars().map(fold_width_and_case).collect();
            prop_assert_eq!(fold(&text), fast2s::convert(&half));
        }

        #[test]
        fn folding_twice_is_folding_once(text in "[\\u{4E00}-\\u{9FFF}a-zA-Zａ-ｚ0-9 ]{0,30}") {
            let once = fold(&text);
            prop_assert_eq!(fold(&once), once);
        }
    }
}
