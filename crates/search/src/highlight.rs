//! Highlights: which characters of a result's original text the query matched —
//! directly, through a substring, a typo, or through pinyin and initials. Folding keeps
//! characters in place, so spans found in folded text mark the original.

use crate::analyze::{self, Analyzer, readings};
use crate::fold::{fold, is_latin_or_digit};
use crate::query::{Piece, ReadQuery, TYPO_MIN_LETTERS};

/// Spans `[start, end)` in characters of `text` that `read` matched, sorted, merged.
#[must_use]
pub fn spans(
    analyzer: &Analyzer,
    read: &ReadQuery,
    text: &str,
    with_pinyin: bool,
) -> Vec<[usize; 2]> {
    let folded: Vec<char> = fold(text).chars().collect();
    let folded_text: String = folded.iter().collect();
    let mut found: Vec<[usize; 2]> = Vec::new();
    for piece in &read.pieces {
        match piece {
            Piece::Han(run) => {
                let run_chars: Vec<char> = run.chars().collect();
                let direct = occurrences(&folded, &run_chars);
                if direct.is_empty() {
                    for word in analyzer.query_words(run) {
                        let word: Vec<char> = word.chars().collect();
                        found.extend(occurrences(&folded, &word));
                    }
                }
                found.extend(direct);
            }
            Piece::Latin(word) => {
                for (start, end) in latin_words(&folded) {
                    let candidate: String = folded[start..end].iter().collect();
                    let typo_ok = word.chars().count() >= TYPO_MIN_LETTERS
                        && within_one_edit(&candidate, word);
                    if candidate == *word || typo_ok {
                        found.push([start, end]);
                    }
                }
                if with_pinyin && word.chars().all(|c| c.is_ascii_lowercase()) {
                    found.extend(pinyin_spans(analyzer, &folded_text, word));
                }
            }
        }
    }
    merge(found)
}

/// Where `needle` occurs in `haystack`, by characters.
fn occurrences(haystack: &[char], needle: &[char]) -> Vec<[usize; 2]> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return Vec::new();
    }
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(start, _)| [start, start + needle.len()])
        .collect()
}

/// The Latin words and numbers of folded text, as character ranges.
fn latin_words(folded: &[char]) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for (at, c) in folded.iter().enumerate() {
        match (is_latin_or_digit(*c), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                words.push((from, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        words.push((from, folded.len()));
    }
    words
}

/// Words whose pinyin or initials are `word`, and name runs it begins.
fn pinyin_spans(analyzer: &Analyzer, folded: &str, word: &str) -> Vec<[usize; 2]> {
    let mut found = Vec::new();
    let (full, initials) = analyzer.pinyin_words(folded);
    for span in full.iter().chain(&initials) {
        if span.text == word {
            found.push([span.start, span.end]);
        }
    }
    for (run_start, run) in analyze::han_runs(folded) {
        let chars: Vec<char> = run.chars().collect();
        for offset in 0..chars.len().min(analyze::RUN_STARTS_MAX) {
            let suffix: String = chars[offset..].iter().collect();
            let covered = prefix_chars(&suffix, word);
            if covered > 0 {
                found.push([run_start + offset, run_start + offset + covered]);
                break;
            }
        }
    }
    found
}

/// How many characters of `run` the letters `typed` spell from its start, by full
/// pinyin or by initials (0 when they spell neither).
fn prefix_chars(run: &str, typed: &str) -> usize {
    let chars: Vec<char> = run.chars().collect();
    // Initials: one letter per character.
    let by_initials = typed.chars().count() <= chars.len()
        && typed
            .chars()
            .zip(&chars)
            .all(|(letter, c)| readings(*c).iter().any(|r| r.starts_with(letter)));
    if by_initials && typed.len() >= 2 {
        return typed.chars().count();
    }
    // Full pinyin: whole readings, the last one possibly begun.
    let mut rest = typed;
    for (index, c) in chars.iter().enumerate() {
        if rest.is_empty() {
            return index;
        }
        let options = readings(*c);
        if let Some(reading) = options
            .iter()
            .filter(|r| rest.starts_with(**r))
            .max_by_key(|r| r.len())
        {
            rest = &rest[reading.len()..];
        } else if options.iter().any(|r| r.starts_with(rest)) && index > 0 {
            return index + 1;
        } else {
            return 0;
        }
    }
    if rest.is_empty() { chars.len() } else { 0 }
}

/// Whether `a` and `b` differ by at most one insertion, deletion, substitution or swap
/// of neighbours.
#[must_use]
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    match long.len() - short.len() {
        0 => {
            let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            match differing.as_slice() {
                [_] => true,
                [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
                _ => false,
            }
        }
        1 => {
            let first = (0..short.len())
                .find(|&i| short[i] != long[i])
                .unwrap_or(short.len());
            short[first..] == long[first + 1..]
        }
        _ => false,
    }
}

fn merge(mut spans: Vec<[usize; 2]>) -> Vec<[usize; 2]> {
    spans.sort_unstable();
    let mut merged: Vec<[usize; 2]> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span[0] <= last[1] => last[1] = last[1].max(span[1]),
            _ => merged.push(span),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_come_through_substrings_pinyin_and_typos() {
        let analyzer = Analyzer::new();
        let at = |q: &str, text: &str| spans(&analyzer, &ReadQuery::read(q), text, true);
        assert_eq!(at("农业", "中国農業发展银行"), [[2, 4]]);
        assert_eq!(at("wx", "微信支付"), [[0, 2]]);
        assert_eq!(at("nongye", "中国农业发展银行"), [[2, 4]]);
        assert_eq!(at("zhongguo", "中国农业发展银行"), [[0, 2]]);
        assert_eq!(at("iphnoe 维修", "iPhone 屏幕维修"), [[0, 6], [9, 11]]);
    }

    #[test]
    fn one_edit_means_one() {
        assert!(within_one_edit("iphone", "iphnoe"));
        assert!(within_one_edit("starbucks", "starbuck"));
        assert!(within_one_edit("starbucks", "starbocks"));
        assert!(!within_one_edit("starbucks", "stabrocks"));
    }
}
